/// @file
/// The PartitionDispatcher (SPEC section H): each event goes to one partition, chosen by a hash
/// of the event, and each partition has exactly one consumer. Use it to keep every event of one
/// key on one consumer (a word count by word, per-account ordering).
///
///     struct words {
///       using dispatcher_type = datamesh::partition_dispatcher<std::string>;
///       ...
///     };
///     auto p = rt.start<words>({.dispatcher_options = words::dispatcher_type::options{
///                                   .partitions = 4}});
///     subscribe(counter0, p, {.dispatch = 0});  // partition 0; every partition needs its own
///
/// Where GenStage crashes the producer, DataMesh refuses and keeps it running:
///   - an unknown or missing partition at `subscribe` throws `errc::bad_options` at the call;
///   - a partition already taken is refused by the producer: that subscription is cancelled with
///     `exit_reason::refused` (the consumer's `handle_cancel` sees why; it is not made to exit);
///   - a hash that names an unknown partition drops that event, logs an error and counts it in
///     `dropped()` / `estimate_dropped_count`.
/// Unlike GenStage (rule 83), each partition's queue is bounded by the producer's `buffer_size`
/// (it keeps first or last as the buffer does) and counts in `estimate_buffered_count`.
/// A dropped event (the hash returned no partition, rule 79, or an unknown one) uses no demand:
/// the producer is asked for one more event in its place.
#pragma once

#include <datamesh/dispatch/detail/keyed_queues.hpp>
#include <datamesh/dispatch/dispatcher.hpp>
#include <datamesh/error.hpp>

#include <algorithm>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

namespace datamesh {

/// Options of the PartitionDispatcher: `partitions` (a count, naming them 0..n-1, for an integral
/// `Key`) or `keys` (the names), and an optional `hash`.
template <class Event, class Key = std::size_t>
struct partition_options {
  /// n partitions named 0..n-1; needs an integral `Key`.
  std::size_t partitions = 0;
  /// Or the partitions' names.
  std::vector<Key> keys{};
  /// The partition of an event; it may rewrite the event, and returns no partition to drop it
  /// (rule 79). Default: `std::hash<Event>` of the event, modulo the number of partitions.
  std::function<std::optional<Key>(Event&)> hash{};
};

/// Routes each event to one partition's single consumer (SPEC rules 78-85).
///
/// Thread safety: not thread-safe; owned by one producer, except `check_subscribe`.
template <class Event, class Key = std::size_t>
class partition_dispatcher : public detail::keyed_dispatcher_base<Event> {
  using base = detail::keyed_dispatcher_base<Event>;
  using base::slots_;
  using typename base::slots_type;

 public:
  using options = partition_options<Event, Key>;
  using key_type = Key;
  /// The most partitions a dispatcher takes.
  static constexpr std::size_t max_partitions = std::size_t{1} << 20;

  /// @throws datamesh::error `bad_options` when neither or both of `partitions` and `keys` are
  ///   given, beyond `max_partitions`, on a duplicate key, or without `hash` when the default one
  ///   cannot apply (rule 78).
  explicit partition_dispatcher(options opts) : hash_(std::move(opts.hash)) {
    if ((opts.partitions == 0) == opts.keys.empty()) {
      throw error(errc::bad_options,
                  "the partition dispatcher needs its partitions: a count (.partitions = n) or "
                  "their names (.keys = {...}), not both (SPEC rule 78)");
    }
    if (opts.partitions > max_partitions || opts.keys.size() > max_partitions) {
      // Checked before anything is allocated: 2^40 partitions would exhaust memory first.
      throw error(errc::bad_options,
                  "expected at most " + std::to_string(max_partitions) +
                      " partitions (each needs a consumer of its own), got " +
                      std::to_string(std::max(opts.partitions, opts.keys.size())));
    }
    if (opts.partitions > 0) {
      if constexpr (std::is_integral_v<Key>) {
        for (std::size_t i = 0; i < opts.partitions; ++i) opts.keys.push_back(static_cast<Key>(i));
        dense_ = true;
      } else {
        throw error(errc::bad_options,
                    "partitions given as a count need an integral key type; name them with "
                    ".keys = {...} instead (SPEC rule 78)");
      }
    }
    if (!hash_) {
      if constexpr (requires(const Event& e) { std::hash<Event>{}(e); }) {
        hash_ = [n = opts.keys.size(), keys = opts.keys](Event& e) -> std::optional<Key> {
          return keys[std::hash<Event>{}(e) % n];
        };
      } else {
        throw error(errc::bad_options,
                    "the event type has no std::hash: give the partition dispatcher a .hash "
                    "(SPEC rule 78)");
      }
    }
    for (const Key& k : opts.keys) {
      if (index_.count(k) != 0) {
        throw error(errc::bad_options, "the partition " + detail::describe_key(k) +
                                           " is named twice in .keys (SPEC rule 78)");
      }
      index_.emplace(k, slots_.add_slot("partition " + detail::describe_key(k)));
      keys_.push_back(k);
    }
  }

  void set_queue_limit(std::size_t limit, buffer_keep keep) { slots_.set_queue_limit(limit, keep); }

  /// Throws `bad_options` unless `opts.dispatch` names a known partition (rule 81). Thread-safe:
  /// reads only the partition names.
  void check_subscribe(const subscribe_options& opts) const { (void)slot_of(opts); }

  /// Takes the partition `opts.dispatch` names; a partition already taken is refused with
  /// `subscription_refused` (rule 81, without crashing the producer).
  std::size_t subscribe(subscription_id id, const subscribe_options& opts) {
    const std::size_t i = slot_of(opts);
    if (const subscription_id taken = slots_.subscriber(i); taken != 0) {
      throw error(errc::subscription_refused, "the partition " + detail::describe_key(keys_[i]) +
                                                  " is already taken by subscription " +
                                                  std::to_string(taken) + " (SPEC rule 81)");
    }
    this->bind(id, i);
    return 0;
  }

  std::size_t cancel(subscription_id id) {
    const std::size_t i = this->unbind(id);
    return i == slots_type::no_slot ? 0 : slots_.cancel(i);
  }

  template <class Send>
  void dispatch(std::vector<Event>& events, Send&& send) {
    auto route = [this](Event& e) -> std::size_t {
      std::optional<Key> k = hash_(e);
      if (!k) return slots_type::no_slot;  // rule 79
      if (dense_) {
        if constexpr (std::is_integral_v<Key>) {
          bool negative = false;
          if constexpr (std::is_signed_v<Key>) negative = *k < 0;
          if (!negative && static_cast<std::size_t>(*k) < keys_.size()) {
            return static_cast<std::size_t>(*k);
          }
        }
      } else if (auto f = index_.find(*k); f != index_.end()) {
        return f->second;
      }
      unknown(*k);
      return slots_type::no_slot;
    };
    slots_.dispatch(events, route, send);
  }

  // -- introspection, for tests and status ---

  std::size_t demand_of(const Key& k) const { return slots_.demand_of(index_.at(k)); }
  std::size_t queued_in(const Key& k) const { return slots_.queued_in(index_.at(k)); }
  const std::vector<Key>& keys() const noexcept { return keys_; }

 private:
  std::size_t slot_of(const subscribe_options& opts) const {
    if (!opts.dispatch.has_value()) {
      throw error(errc::bad_options,
                  "subscribing to a partition producer needs the partition: "
                  "subscribe_options{.dispatch = key} (SPEC rule 81)");
    }
    std::optional<Key> k = detail::key_from_any<Key>(opts.dispatch);
    auto it = k ? index_.find(*k) : index_.end();
    if (it == index_.end()) {
      std::string names;
      for (const Key& key : keys_) names += (names.empty() ? "" : ", ") + detail::describe_key(key);
      throw error(errc::bad_options,
                  "the partition must be one of [" + names + "], got " +
                      (k ? detail::describe_key(*k) : "a value of another type") +
                      " (SPEC rule 81)");
    }
    return it->second;
  }

  void unknown(const Key& k) {
    slots_.count_dropped(1);
    slots_.log(log_level::error, "the hash named the unknown partition " + detail::describe_key(k) +
                                     "; the event is discarded (SPEC rule 80)");
  }

  std::function<std::optional<Key>(Event&)> hash_;
  std::vector<Key> keys_;
  std::unordered_map<Key, std::size_t> index_;
  bool dense_ = false;
};

static_assert(dispatcher_for<partition_dispatcher<int>, int>);

}  // namespace datamesh
