/// @file
/// The BroadcastDispatcher (SPEC section G): every subscriber gets every event, at the pace of the
/// slowest. This is how a DataMesh node broadcasts to all the nodes connected to it.
///
/// A subscriber may pass a `selector<Event>` in `subscribe_options::dispatch` to receive only the
/// events it selects; the dispatcher asks again on its behalf for those it filtered out, so its
/// demand never leaks (rule 75):
///
///     subscribe(evens, producer, {.dispatch = datamesh::selector<int>(
///                                     [](const int& x) { return x % 2 == 0; })});
#pragma once

#include <datamesh/demand.hpp>
#include <datamesh/dispatch/dispatcher.hpp>
#include <datamesh/error.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iterator>
#include <limits>
#include <string>
#include <utility>
#include <vector>

namespace datamesh {

/// A broadcast subscriber's filter: true keeps the event for that subscriber.
template <class Event>
using selector = std::function<bool(const Event&)>;

/// Sends every event to every subscriber; demand upstream is the minimum over subscribers
/// (SPEC rules 71-77, 35).
///
/// Each subscriber's counter is its outstanding demand *beyond* `waiting_`, the demand already
/// passed upstream and not yet dispatched; the smallest counter is always 0. A late subscriber
/// starts at `-waiting_`: it has asked for nothing yet (rule 74), and its first asks are covered
/// by the events already awaited.
///
/// Unlike GenStage, a late subscriber whose asks do not cover all the events awaited when it
/// joined never receives more than it asked for: it skips the first events of its first batch
/// and gets the most recent ones, so what it sees is still an unbroken tail of the stream. (In
/// GenStage it receives the whole batch and logs "events in excess".) Skipped events raise its
/// counter, which may release demand upstream.
///
/// Thread safety: not thread-safe; owned by one producer, except `check_subscribe`.
template <class Event>
class broadcast_dispatcher {
 public:
  struct options {};

  broadcast_dispatcher() = default;
  explicit broadcast_dispatcher(options) {}

  void set_logger(log_function log) { log_ = std::move(log); }

  /// Throws `bad_options` unless `opts.dispatch` is empty or a `selector<Event>` (rule 76, at the
  /// call rather than in the producer). Thread-safe.
  void check_subscribe(const subscribe_options& opts) const { (void)selector_of(opts); }

  std::size_t subscribe(subscription_id id, const subscribe_options& opts) {
    return subscribe(id, opts, nullptr);
  }

  /// A second subscription from the same consumer is refused with `already_subscribed` (rule 35).
  std::size_t subscribe(subscription_id id, const subscribe_options& opts, const void* consumer) {
    selector<Event> sel = selector_of(opts);
    if (consumer != nullptr) {
      for (const auto& e : entries_) {
        if (e.consumer == consumer) {
          throw error(errc::already_subscribed,
                      "the consumer is already subscribed to this broadcast producer; the new "
                      "subscription is discarded (SPEC rule 35)");
        }
      }
    }
    entries_.push_back(
        entry{id, -static_cast<std::int64_t>(waiting_), std::move(sel), consumer, waiting_ > 0});
    return 0;
  }

  /// Removing the slowest subscriber may release demand (rule 73).
  std::size_t cancel(subscription_id id) {
    auto it = find(id);
    if (it == entries_.end()) return 0;
    entries_.erase(it);
    if (entries_.empty()) {
      waiting_ = 0;
      return 0;
    }
    return rebase();
  }

  /// Passes upstream only what every subscriber now wants, once (rules 71, 72).
  std::size_t ask(subscription_id id, std::size_t n) {
    auto it = find(id);
    if (it == entries_.end()) return 0;
    // Saturates so that counter + waiting_ never passes INT64_MAX: a huge ask means "no bound",
    // never a negative counter (and dispatch reads waiting_ as an int64).
    const std::int64_t top =
        std::numeric_limits<std::int64_t>::max() - static_cast<std::int64_t>(waiting_);
    if (it->counter < top) {
      const std::uint64_t room =
          static_cast<std::uint64_t>(top) - static_cast<std::uint64_t>(it->counter);
      it->counter = n >= room ? top : it->counter + static_cast<std::int64_t>(n);
    }
    return rebase();
  }

  /// Sends up to `waiting_` events to every subscriber, moving the batch into the last one; the
  /// rest are leftovers (rule 77).
  template <class Send>
  void dispatch(std::vector<Event>& events, Send&& send) {
    if (waiting_ == 0 || entries_.empty()) return;
    const std::size_t now = std::min(waiting_, events.size());
    const auto awaited = static_cast<std::int64_t>(waiting_);
    waiting_ -= now;
    const auto last = events.begin() + static_cast<std::ptrdiff_t>(now);
    bool skipped = false;
    for (std::size_t i = 0; i < entries_.size(); ++i) {
      entry& e = entries_[i];
      const bool final = i + 1 == entries_.size();
      auto first = events.begin();
      if (e.late) {  // see the class comment
        const std::int64_t asked = std::max<std::int64_t>(e.counter + awaited, 0);
        const auto skip = static_cast<std::size_t>(
            std::max<std::int64_t>(static_cast<std::int64_t>(now) - asked, 0));
        if (skip > 0) {
          e.counter += static_cast<std::int64_t>(skip);
          first += static_cast<std::ptrdiff_t>(skip);
          skipped = true;
        }
        e.late = skip == now;  // late until it has received something
        if (first == last) continue;
      }
      if (e.select) {
        std::vector<Event> selected;
        std::size_t discarded = 0;
        for (auto p = first; p != last; ++p) {
          if (e.select(*p)) {
            selected.push_back(*p);
          } else {
            ++discarded;
          }
        }
        if (discarded > 0) reasks_.emplace_back(e.id, discarded);
        if (!selected.empty()) send(e.id, std::move(selected));
      } else if (final && now == events.size() && first == events.begin()) {
        send(e.id, std::move(events));
        events.clear();
        break;
      } else {
        send(e.id, std::vector<Event>(first, last));
      }
    }
    if (!events.empty()) events.erase(events.begin(), last);
    if (skipped) owed_ += rebase();
  }

  /// Infos are delivered at once: no queue here.
  template <class Info, class Deliver>
  void info(Info&& msg, Deliver&& deliver) {
    deliver(std::forward<Info>(msg));
  }

  /// Hands over the asks to make on behalf of subscribers whose selector filtered events out.
  template <class Reask, class Deliver, class Serve>
  void drain(Reask&& reask, Deliver&&, Serve&& serve) {
    if (owed_ > 0) serve(std::exchange(owed_, 0));
    if (reasks_.empty()) return;
    std::vector<std::pair<subscription_id, std::size_t>> due;
    due.swap(reasks_);
    for (auto& [id, n] : due) reask(id, n);
  }

  // -- introspection, for tests and status ---

  /// A subscriber's outstanding demand: what it asked for and has not received.
  std::int64_t demand_of(subscription_id id) const {
    for (const auto& e : entries_)
      if (e.id == id) return e.counter + static_cast<std::int64_t>(waiting_);
    return 0;
  }
  /// Demand passed upstream and not yet dispatched.
  std::size_t waiting() const noexcept { return waiting_; }
  std::size_t subscriber_count() const noexcept { return entries_.size(); }

 private:
  struct entry {
    subscription_id id;
    std::int64_t counter;
    selector<Event> select;
    const void* consumer;
    bool late;  // joined while demand was awaited, and has received nothing yet
  };

  static selector<Event> selector_of(const subscribe_options& opts) {
    if (!opts.dispatch.has_value()) return {};
    if (const auto* s = std::any_cast<selector<Event>>(&opts.dispatch)) {
      if (!*s) throw error(errc::bad_options, "a broadcast selector must not be empty");
      return *s;
    }
    throw error(errc::bad_options,
                "subscribe_options::dispatch of a broadcast producer must hold a "
                "datamesh::selector<Event> (a std::function<bool(const Event&)>) (SPEC rule 76)");
  }

  typename std::vector<entry>::iterator find(subscription_id id) {
    return std::find_if(entries_.begin(), entries_.end(),
                        [id](const entry& e) { return e.id == id; });
  }

  // Moves the smallest counter into waiting_ and returns it: the demand every subscriber shares.
  std::size_t rebase() {
    std::int64_t least = entries_.front().counter;
    for (const auto& e : entries_) least = std::min(least, e.counter);
    if (least <= 0) return 0;
    for (auto& e : entries_) e.counter -= least;
    waiting_ += static_cast<std::size_t>(least);
    return static_cast<std::size_t>(least);
  }

  std::vector<entry> entries_;
  std::size_t waiting_ = 0;
  std::size_t owed_ = 0;  // demand released by late subscribers' skips, for `drain`
  std::vector<std::pair<subscription_id, std::size_t>> reasks_;
  log_function log_;
};

static_assert(dispatcher_for<broadcast_dispatcher<int>, int>);

}  // namespace datamesh
