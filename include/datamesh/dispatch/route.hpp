/// @file
/// The route dispatcher: targeted routing. Each event goes to the one subscriber a key function
/// names (a node id, a subscription tag), at the pace of that subscriber's own demand. This is
/// how a DataMesh node sends to one specific node.
///
///     struct router {
///       using dispatcher_type = datamesh::route_dispatcher<reading, std::string>;
///       ...
///     };
///     auto r = rt.start<router>({.dispatcher_options = router::dispatcher_type::options{
///                                    .key = [](const reading& x) { return x.room; }}});
///     subscribe(kitchen, r, {.dispatch = std::string("kitchen")});
///
/// Demand works as in the partition dispatcher (SPEC rules 82, 84, 85): what goes upstream is the
/// sum of the targets' asks; events for a target without demand wait in its queue, bounded by
/// `queue_limit` (default: the producer's `buffer_size`), and count in `estimate_buffered_count`.
/// An event whose key names no subscribed target goes to `default_target` if that one is
/// subscribed; otherwise `on_unknown` is told of it (if set) and it is dropped, counted in
/// `dropped()` / `estimate_dropped_count`, and replaced by one more event of upstream demand.
#pragma once

#include <datamesh/dispatch/detail/keyed_queues.hpp>
#include <datamesh/dispatch/dispatcher.hpp>
#include <datamesh/error.hpp>

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace datamesh {

/// Options of the route dispatcher.
template <class Event, class Key>
struct route_options {
  /// The target of an event. Required.
  std::function<Key(const Event&)> key{};
  /// Where events for an unknown target go, when that target is subscribed.
  std::optional<Key> default_target{};
  /// Told of each event no subscribed target takes, before it is dropped. Runs in the producer;
  /// an exception from it stops the producer.
  std::function<void(const Event&, const Key&)> on_unknown{};
  /// The most events queued for one target; 0 means the producer's `buffer_size`.
  std::size_t queue_limit = 0;
};

/// Sends each event to the subscriber its key names, at that subscriber's pace.
///
/// Thread safety: not thread-safe; owned by one producer, except `check_subscribe`.
template <class Event, class Key>
class route_dispatcher : public detail::keyed_dispatcher_base<Event> {
  using base = detail::keyed_dispatcher_base<Event>;
  using base::slots_;
  using typename base::slots_type;

 public:
  using options = route_options<Event, Key>;
  using key_type = Key;

  /// @throws datamesh::error `bad_options` without a key function.
  explicit route_dispatcher(options opts) : opts_(std::move(opts)) {
    if (!opts_.key) {
      throw error(errc::bad_options, "the route dispatcher needs a key function: .key");
    }
  }

  void set_queue_limit(std::size_t limit, buffer_keep keep) {
    slots_.set_queue_limit(opts_.queue_limit > 0 ? opts_.queue_limit : limit, keep);
  }

  /// Throws `bad_options` unless `opts.dispatch` holds a target key. Thread-safe.
  void check_subscribe(const subscribe_options& opts) const { (void)key_of(opts); }

  /// Registers the target `opts.dispatch` names; a target already subscribed is refused with
  /// `subscription_refused`.
  std::size_t subscribe(subscription_id id, const subscribe_options& opts) {
    Key k = key_of(opts);
    if (auto it = targets_.find(k); it != targets_.end()) {
      throw error(errc::subscription_refused, "the route target " + detail::describe_key(k) +
                                                  " is already subscribed by " + "subscription " +
                                                  std::to_string(slots_.subscriber(it->second)));
    }
    const std::size_t i = slots_.add_slot("target " + detail::describe_key(k));
    this->bind(id, i);
    targets_.emplace(std::move(k), i);
    return 0;
  }

  /// Its queued events are dropped and asked for again; its unfilled demand becomes pending.
  std::size_t cancel(subscription_id id) {
    const std::size_t i = this->unbind(id);
    if (i == slots_type::no_slot) return 0;
    std::erase_if(targets_, [i](const auto& kv) { return kv.second == i; });  // cancels are rare
    const std::size_t demand = slots_.cancel(i);
    slots_.remove_slot(i);
    return demand;
  }

  template <class Send>
  void dispatch(std::vector<Event>& events, Send&& send) {
    std::size_t silent = 0;
    auto route = [&](Event& e) -> std::size_t {
      Key k = opts_.key(e);
      if (auto it = targets_.find(k); it != targets_.end()) return it->second;
      if (opts_.default_target) {
        if (auto it = targets_.find(*opts_.default_target); it != targets_.end()) {
          return it->second;
        }
      }
      if (opts_.on_unknown) {
        opts_.on_unknown(e, k);
      } else {
        ++silent;
      }
      return slots_type::no_slot;
    };
    const std::size_t unrouted = slots_.dispatch(events, route, send);
    slots_.count_dropped(unrouted);
    if (silent > 0) {
      slots_.log(log_level::warning, "dropped " + std::to_string(silent) +
                                         " events whose route target is not subscribed");
    }
  }

  // -- introspection, for tests and status ---

  std::size_t demand_of(const Key& k) const { return slots_.demand_of(targets_.at(k)); }
  std::size_t queued_in(const Key& k) const { return slots_.queued_in(targets_.at(k)); }
  std::size_t target_count() const noexcept { return targets_.size(); }

 private:
  static Key key_of(const subscribe_options& opts) {
    if (!opts.dispatch.has_value()) {
      throw error(errc::bad_options,
                  "subscribing to a route producer needs the target's key: "
                  "subscribe_options{.dispatch = key}");
    }
    std::optional<Key> k = detail::key_from_any<Key>(opts.dispatch);
    if (!k) {
      throw error(errc::bad_options,
                  "subscribe_options::dispatch holds a value of another type than the route "
                  "producer's key type");
    }
    return std::move(*k);
  }

  options opts_;
  std::unordered_map<Key, std::size_t> targets_;
};

static_assert(dispatcher_for<route_dispatcher<int, int>, int>);

}  // namespace datamesh
