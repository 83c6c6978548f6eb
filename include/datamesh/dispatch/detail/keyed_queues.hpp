/// @file
/// The state machine the partition and route dispatchers share: a set of slots (one per partition
/// or target), each with at most one subscriber, its own demand, and a bounded queue for events
/// routed to it beyond that demand (SPEC rules 82-85).
#pragma once

#include <datamesh/buffer.hpp>
#include <datamesh/demand.hpp>
#include <datamesh/dispatch/detail/info_marks.hpp>
#include <datamesh/log.hpp>
#include <datamesh/subscription_id.hpp>

#include <algorithm>
#include <any>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

namespace datamesh::detail {

/// Reads a dispatcher key of type `Key` out of `subscribe_options::dispatch`, accepting the
/// spellings a user would write: any integer for an integral key, a string literal for a
/// `std::string` key.
template <class Key>
std::optional<Key> key_from_any(const std::any& a) {
  if (const auto* k = std::any_cast<Key>(&a)) return *k;
  if constexpr (std::is_integral_v<Key>) {
    std::optional<Key> found;
    auto try_int = [&]<class T>(std::type_identity<T>) {
      if (found) return;
      if (const auto* v = std::any_cast<T>(&a)) {
        if constexpr (std::is_signed_v<T> && !std::is_signed_v<Key>) {
          if (*v < 0) return;
        }
        found = static_cast<Key>(*v);
      }
    };
    try_int(std::type_identity<int>{});
    try_int(std::type_identity<long>{});
    try_int(std::type_identity<long long>{});
    try_int(std::type_identity<unsigned>{});
    try_int(std::type_identity<unsigned long>{});
    try_int(std::type_identity<unsigned long long>{});
    try_int(std::type_identity<short>{});
    try_int(std::type_identity<unsigned short>{});
    if (found) return found;
  }
  if constexpr (std::is_same_v<Key, std::string>) {
    if (const auto* s = std::any_cast<const char*>(&a)) return std::string(*s);
    if (const auto* s = std::any_cast<char*>(&a)) return std::string(*s);
  }
  return std::nullopt;
}

/// A key as text for errors and logs: its `operator<<` form, or "<key>" when it has none.
template <class Key>
std::string describe_key(const Key& k) {
  if constexpr (requires(std::ostream & os) { os << k; }) {
    std::ostringstream os;
    os << k;
    return os.str();
  } else {
    return "<key>";
  }
}

/// Slots with per-slot demand and queues; the upstream arithmetic of the PartitionDispatcher.
///
/// `waiting_` is the demand passed upstream and not yet dispatched: a dispatch routes at most
/// that many events, the rest are the producer's leftovers. `pending_` is demand of cancelled
/// subscribers, taken out of later asks before anything goes upstream (as rule 66).
///
/// Thread safety: not thread-safe; owned by one producer.
template <class Event>
class keyed_queues {
 public:
  static constexpr std::size_t no_slot = static_cast<std::size_t>(-1);

  void set_logger(log_function log) { log_ = std::move(log); }
  void set_queue_limit(std::size_t limit, buffer_keep keep) {
    limit_ = limit;
    keep_ = keep;
  }

  /// Adds a slot (no subscriber, no demand); returns its index.
  std::size_t add_slot(std::string name) {
    if (!free_.empty()) {
      const std::size_t i = free_.back();
      free_.pop_back();
      slots_[i] = slot{};
      slots_[i].name = std::move(name);
      return i;
    }
    slots_.emplace_back();
    slots_.back().name = std::move(name);
    return slots_.size() - 1;
  }
  /// Drops a slot that has no subscriber and nothing queued, for reuse.
  void remove_slot(std::size_t i) {
    slots_[i] = slot{};
    free_.push_back(i);
  }

  subscription_id subscriber(std::size_t i) const { return slots_[i].id; }
  void set_subscriber(std::size_t i, subscription_id id) { slots_[i].id = id; }

  /// Adds `n` to slot `i`'s demand, sending from its queue first (rule 82); returns the demand
  /// to pass upstream: `n` less what cancelled subscribers left pending.
  template <class Send>
  std::size_t ask(std::size_t i, std::size_t n, Send& send) {
    slot& s = slots_[i];
    s.demand = add_demand(s.demand, send_from_queue(s, n, send));
    const std::size_t already_sent = std::min(pending_, n);
    pending_ -= already_sent;
    waiting_ = add_demand(waiting_, n - already_sent);
    return n - already_sent;
  }

  /// Ends slot `i`'s subscription. Queued events are dropped (and counted) and returned as new
  /// upstream demand (regenerated, not redelivered); unfilled demand becomes pending (rule 84).
  std::size_t cancel(std::size_t i) {
    slot& s = slots_[i];
    const std::size_t dropped = s.queue.size();
    const std::size_t demand = s.demand;
    dropped_ += dropped;
    queued_ -= dropped;
    s.popped += dropped;
    s.queue.clear();
    pass_marks(s);
    s.id = 0;
    s.demand = 0;
    s.popped = 0;
    if (dropped > 0) {
      waiting_ += dropped;
      return dropped;
    }
    pending_ = add_demand(pending_, demand);
    return 0;
  }

  /// Routes up to `waiting_` events: `route(event)` returns the slot (it may rewrite the event),
  /// or `no_slot` to drop it without using demand: the producer is asked for one more in its
  /// place (`drain`). The rest stay in `events` as leftovers. Returns how many were dropped.
  template <class Route, class Send>
  std::size_t dispatch(std::vector<Event>& events, Route& route, Send& send) {
    const std::size_t now = std::min(waiting_, events.size());
    if (now == 0) return 0;
    waiting_ -= now;
    std::size_t unrouted = 0;
    const auto first = events.begin();
    const auto last = first + static_cast<std::ptrdiff_t>(now);
    for (auto p = first; p != last; ++p) {
      const std::size_t i = route(*p);
      if (i == no_slot) {
        ++unrouted;
        continue;
      }
      slot& s = slots_[i];
      if (s.scratch.empty()) touched_.push_back(i);
      s.scratch.push_back(std::move(*p));
    }
    events.erase(first, last);
    for (std::size_t i : touched_) flush(i, send);
    touched_.clear();
    waiting_ += unrouted;
    owed_ += unrouted;
    return unrouted;
  }

  /// Queues `msg` behind every non-empty queue; delivers it at once when there is none (rule 85).
  template <class Info, class Deliver>
  void info(Info&& msg, Deliver& deliver) {
    std::size_t behind = 0;
    const std::uint64_t id = next_info_++;
    for (auto& s : slots_) {
      if (s.queue.empty()) continue;
      s.marks.add(s.popped + s.queue.size(), id);
      ++behind;
    }
    if (behind == 0) {
      deliver(std::any(std::forward<Info>(msg)));
      return;
    }
    infos_.emplace(id, waiting_info{std::any(std::forward<Info>(msg)), behind});
  }

  /// Hands over the infos every queue has passed, and the demand owed for dropped events.
  template <class Deliver, class Serve>
  void drain(Deliver& deliver, Serve& serve) {
    if (owed_ > 0) serve(std::exchange(owed_, 0));
    if (ready_.empty()) return;
    std::vector<std::any> due;
    due.swap(ready_);
    for (auto& m : due) deliver(std::move(m));
  }

  std::size_t queued() const noexcept { return queued_; }
  std::uint64_t dropped() const noexcept { return dropped_; }
  void count_dropped(std::size_t n) noexcept { dropped_ += n; }
  std::size_t waiting() const noexcept { return waiting_; }
  std::size_t pending() const noexcept { return pending_; }
  std::size_t demand_of(std::size_t i) const { return slots_[i].demand; }
  std::size_t queued_in(std::size_t i) const { return slots_[i].queue.size(); }
  void log(log_level level, const std::string& text) const {
    if (log_) log_(level, text);
  }

 private:
  struct slot {
    std::string name;                 // for logs
    subscription_id id = 0;           // 0: no subscriber
    std::size_t demand = 0;           // unfilled demand; 0 while the queue is not empty
    std::deque<Event> queue;          // routed beyond demand, oldest first
    std::uint64_t popped = 0;         // events that ever left the queue: positions are absolute
    info_marks<std::uint64_t> marks;  // the ids of the infos waiting behind this queue
    std::vector<Event> scratch;       // routed to this slot by the current dispatch
  };
  struct waiting_info {
    std::any msg;
    std::size_t behind;  // queues that have not passed it yet
  };

  // Sends up to `n` queued events, in batches cut at info marks; returns the demand left.
  template <class Send>
  std::size_t send_from_queue(slot& s, std::size_t n, Send& send) {
    while (n > 0 && !s.queue.empty()) {
      std::size_t take = std::min(n, s.queue.size());
      take = s.marks.limit(s.popped, take);
      if (take > 0) {
        std::vector<Event> batch(std::make_move_iterator(s.queue.begin()),
                                 std::make_move_iterator(s.queue.begin() + take));
        s.queue.erase(s.queue.begin(), s.queue.begin() + take);
        s.popped += take;
        queued_ -= take;
        n -= take;
        if (s.id != 0) send(s.id, std::move(batch));
      }
      pass_marks(s);
    }
    return n;
  }

  // Every mark the queue has reached is passed: an info waits for nothing queued before it.
  void pass_marks(slot& s) {
    s.marks.pass(s.popped, [this](std::uint64_t id) {
      auto it = infos_.find(id);
      if (it != infos_.end() && --it->second.behind == 0) {
        ready_.push_back(std::move(it->second.msg));
        infos_.erase(it);
      }
    });
  }

  // Sends what slot `i`'s demand covers and queues the rest, within the limit.
  template <class Send>
  void flush(std::size_t i, Send& send) {
    slot& s = slots_[i];
    std::vector<Event> batch;
    batch.swap(s.scratch);
    std::size_t sent = 0;
    if (s.queue.empty() && s.demand > 0 && s.id != 0) {
      sent = std::min(s.demand, batch.size());
      s.demand -= sent;
      if (sent == batch.size()) {
        send(s.id, std::move(batch));
        s.scratch.reserve(sent);  // keep the scratch's capacity for the next dispatch
        return;
      }
      send(s.id, std::vector<Event>(std::make_move_iterator(batch.begin()),
                                    std::make_move_iterator(batch.begin() + sent)));
    }
    s.queue.insert(s.queue.end(), std::make_move_iterator(batch.begin() + sent),
                   std::make_move_iterator(batch.end()));
    queued_ += batch.size() - sent;
    batch.clear();
    s.scratch.swap(batch);
    if (s.queue.size() > limit_) discard(s, s.queue.size() - limit_);
  }

  // A full queue keeps its oldest or newest events, as the producer's buffer does (rule 54).
  void discard(slot& s, std::size_t excess) {
    if (keep_ == buffer_keep::first) {
      s.queue.erase(s.queue.end() - static_cast<std::ptrdiff_t>(excess), s.queue.end());
    } else {
      s.queue.erase(s.queue.begin(), s.queue.begin() + static_cast<std::ptrdiff_t>(excess));
      s.popped += excess;
      pass_marks(s);
    }
    queued_ -= excess;
    dropped_ += excess;
    log(log_level::warning, "the queue of " + s.name + " is full (" + std::to_string(limit_) +
                                " events); discarded " + std::to_string(excess) + " events");
  }

  std::vector<slot> slots_;
  std::vector<std::size_t> free_;
  std::vector<std::size_t> touched_;
  std::size_t waiting_ = 0;
  std::size_t pending_ = 0;
  std::size_t queued_ = 0;
  std::uint64_t dropped_ = 0;
  std::size_t owed_ = 0;  // demand to ask again for dropped events, handed over by `drain`
  std::size_t limit_ = infinity;
  buffer_keep keep_ = buffer_keep::last;
  std::uint64_t next_info_ = 1;
  std::unordered_map<std::uint64_t, waiting_info> infos_;
  std::vector<std::any> ready_;
  log_function log_;
};

/// What the partition and route dispatchers share: the slots, and the dispatcher members that
/// only pass through to them.
template <class Event>
class keyed_dispatcher_base {
 public:
  void set_logger(log_function log) { slots_.set_logger(std::move(log)); }

  /// Queued behind every non-empty queue; delivered once all have passed it (rule 85).
  template <class Info, class Deliver>
  void info(Info&& msg, Deliver&& deliver) {
    slots_.info(std::forward<Info>(msg), deliver);
  }

  /// Infos every queue has passed, and the demand owed for dropped events.
  template <class Reask, class Deliver, class Serve>
  void drain(Reask&&, Deliver&& deliver, Serve&& serve) {
    slots_.drain(deliver, serve);
  }

  /// The demand dispatcher's form, for callers without a `send`.
  std::size_t ask(subscription_id id, std::size_t n) {
    auto ignore = [](subscription_id, std::vector<Event>&&) {};
    return ask(id, n, ignore);
  }

  /// Sends from the subscriber's queue first, then adds the rest to its demand (rule 82).
  template <class Send>
  std::size_t ask(subscription_id id, std::size_t n, Send&& send) {
    auto it = by_id_.find(id);
    if (it == by_id_.end()) return 0;
    return slots_.ask(it->second, n, send);
  }

  // -- introspection, for tests and status ---

  std::size_t queued() const noexcept { return slots_.queued(); }
  std::uint64_t dropped() const noexcept { return slots_.dropped(); }
  std::size_t pending() const noexcept { return slots_.pending(); }
  std::size_t waiting() const noexcept { return slots_.waiting(); }

 protected:
  using slots_type = keyed_queues<Event>;

  /// Gives slot `i` the subscriber `id`.
  void bind(subscription_id id, std::size_t i) {
    slots_.set_subscriber(i, id);
    by_id_.emplace(id, i);
  }
  /// Forgets subscriber `id`; its slot, or `no_slot` when unknown.
  std::size_t unbind(subscription_id id) {
    auto it = by_id_.find(id);
    if (it == by_id_.end()) return slots_type::no_slot;
    const std::size_t i = it->second;
    by_id_.erase(it);
    return i;
  }

  slots_type slots_;
  std::unordered_map<subscription_id, std::size_t> by_id_;  // subscriber -> its slot
};

}  // namespace datamesh::detail
