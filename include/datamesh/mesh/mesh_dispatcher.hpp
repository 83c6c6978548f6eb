/// @file
/// The mesh dispatcher: how a node's output reaches the nodes connected to it. Each event is
/// either broadcast (every connected node, at the pace of the slowest) or sent to one connected
/// node (at that node's pace), in the order the node's logic made them.
///
/// A node's output events are `mesh_event<T>`: the data and its target (`mesh_event<T>::everyone`,
/// or the link key of one connected node). Each link
/// subscribes with a `mesh_link<T>` in `subscribe_options::dispatch`: its key, and an optional
/// selector that filters the broadcasts it receives (an event sent to it by key always arrives).
///
/// Demand: an event is sent only when every one of its targets has demand for it; the first
/// event that cannot go is held, with all after it, in order, until the target asks again.
/// What goes upstream keeps the events awaited and held within the smallest demand of any link,
/// so nothing queues without bound (a broadcast node runs at the pace of its slowest link). A node
/// without links is given `unlinked_window` events of demand, so that it keeps processing what it
/// receives (its broadcasts go nowhere).
///
/// A link made after an event was made never receives it: the dispatcher numbers the events it
/// takes, a link records the count when it was made, and events numbered before it skip that
/// link. (A node's events reach the dispatcher in the callback that made them, before any new
/// link can, so the count at a link's making is the count of events made.)
///
/// Thread safety: not thread-safe; owned by one node's stage, except `check_subscribe`.
#pragma once

#include <datamesh/dispatch/broadcast.hpp>
#include <datamesh/dispatch/dispatcher.hpp>
#include <datamesh/error.hpp>

#include <algorithm>
#include <any>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <iterator>
#include <limits>
#include <memory>
#include <span>
#include <typeinfo>
#include <utility>
#include <vector>

namespace datamesh {

/// An event on a mesh link. Kept small: every event is copied once per hop.
template <class T>
struct mesh_event {
  static constexpr std::uint32_t everyone = 0;
  T data;
  std::uint32_t to = everyone;  // a link key, or everyone
};

/// One link's figures, written by the sending node's dispatcher, read by anyone (relaxed: a
/// snapshot). The mesh keeps it across restarts of either end, so `events` counts the link's
/// whole life.
struct link_gauge {
  std::atomic<std::uint64_t> events{0};  // events sent on the link
  std::atomic<std::size_t> demand{0};    // asked for by the receiver, not yet sent
  std::atomic<std::size_t> held{0};      // events the sender holds that this link will receive
};

/// What one link tells the sending node's dispatcher.
template <class T>
struct mesh_link {
  std::uint32_t key = 0;                // the receiving node's link key; never `everyone`
  selector<T> select{};                 // empty: every broadcast
  std::shared_ptr<link_gauge> gauge{};  // where to publish the link's figures; may be empty
};

/// Broadcast or targeted dispatch of `mesh_event<T>` (see the file comment).
template <class T>
class mesh_dispatcher {
 public:
  using event = mesh_event<T>;
  struct options {
    /// The demand given to a node while it has no link.
    std::size_t unlinked_window = 1000;
  };

  mesh_dispatcher() : mesh_dispatcher(options{}) {}
  explicit mesh_dispatcher(options opts) : opts_(std::move(opts)) {
    if (opts_.unlinked_window == 0) {
      throw error(errc::bad_options, "the mesh dispatcher's unlinked_window must be at least 1");
    }
  }

  void set_logger(log_function) {}

  /// The demand a producer_consumer starts with: the unlinked window.
  std::size_t initial_demand() {
    waiting_ = opts_.unlinked_window;
    return waiting_;
  }

  /// Throws `bad_options` unless `opts.dispatch` holds a `mesh_link<T>`. Thread-safe.
  void check_subscribe(const subscribe_options& opts) const { (void)link_of(opts); }

  /// Adds a link with no demand yet; a key already linked is refused.
  std::size_t subscribe(subscription_id id, const subscribe_options& opts) {
    const mesh_link<T>& l = link_of(opts);
    for (const auto& s : slots_) {
      if (s.key == l.key) {
        throw error(errc::subscription_refused, "this node is already linked to that node");
      }
    }
    slots_.push_back(slot{id, l.key, l.select, made(), 0, 0, {}, l.gauge});
    publish(slots_.back());
    return 0;
  }

  /// Removes a link; the demand it held no longer limits the others. The last one leaving gives
  /// the node its unlinked window back.
  std::size_t cancel(subscription_id id) {
    std::erase_if(slots_, [id](const slot& s) { return s.id == id; });
    return top_up();
  }

  /// The demand dispatcher's form, for callers without a `send`: held events wait for the next
  /// call that can send.
  std::size_t ask(subscription_id id, std::size_t n) {
    auto ignore = [](subscription_id, std::vector<event>&&) {};
    return ask_impl(id, n, ignore, false);
  }

  /// Adds demand to a link and sends what it releases from the held events.
  template <class Send>
  std::size_t ask(subscription_id id, std::size_t n, Send&& send) {
    return ask_impl(id, n, send, true);
  }

  /// Takes every event: sends, in order, each whose targets all have demand, and holds the rest
  /// from the first that cannot go (never handing leftovers back, which the producer would send
  /// after events it makes later).
  template <class Send>
  void dispatch(std::vector<event>& events, Send&& send) {
    const std::size_t length = events.size();
    waiting_ -= std::min(waiting_, length);
    if (held_.empty()) {
      // The common case: route straight from the batch; only what cannot go is held.
      std::size_t done = broadcast_run(events);
      if (done < length) {
        done += route_front(std::span(events).subspan(done), false);
        hold(events.begin() + static_cast<std::ptrdiff_t>(done), events.end());
      }
      send_batches(send);
    } else {  // behind held events: keep the order
      hold(events.begin(), events.end());
      flush(send);
    }
    events.clear();
    owed_ += top_up();
  }

  /// Delivered once every event held now has gone.
  template <class Info, class Deliver>
  void info(Info&& msg, Deliver&& deliver) {
    if (held_.empty()) {
      deliver(std::any(std::forward<Info>(msg)));
      return;
    }
    infos_.emplace_back(popped_ + held_.size(), std::any(std::forward<Info>(msg)));
  }

  template <class Reask, class Deliver, class Serve>
  void drain(Reask&&, Deliver&& deliver, Serve&& serve) {
    if (owed_ > 0) serve(std::exchange(owed_, 0));
    while (!infos_.empty() && infos_.front().first <= popped_) {
      deliver(std::move(infos_.front().second));
      infos_.pop_front();
    }
  }

  /// Events held for a link without demand.
  std::size_t queued() const noexcept { return held_.size(); }

  /// Events that reached no link (a broadcast with none selecting it, a link gone meanwhile).
  std::uint64_t dropped() const noexcept { return dropped_; }

  // -- introspection, for tests and status ---
  std::size_t link_count() const noexcept { return slots_.size(); }
  std::size_t waiting() const noexcept { return waiting_; }
  /// The demand of link `key`, or 0.
  std::size_t demand_of(std::uint32_t key) const {
    for (const auto& s : slots_) {
      if (s.key == key) return s.demand;
    }
    return 0;
  }

 private:
  struct slot {
    subscription_id id;
    std::uint32_t key;
    selector<T> select;
    std::uint64_t since;  // events numbered before this never reach it
    std::size_t demand;
    std::size_t held;          // events in held_ this link takes
    std::vector<event> batch;  // being built by the current dispatch
    std::shared_ptr<link_gauge> gauge;
  };

  static void publish(const slot& s) {
    if (!s.gauge) return;
    s.gauge->demand.store(s.demand, std::memory_order_relaxed);
    s.gauge->held.store(s.held, std::memory_order_relaxed);
  }

  // Events taken so far, sent, dropped or held: the number the next one gets.
  std::uint64_t made() const noexcept { return popped_ + held_.size(); }

  // Moves [first, last) to the end of held_, counting each in the links that take it.
  template <class It>
  void hold(It first, It last) {
    if (first == last) return;
    std::uint64_t index = made();
    for (auto it = first; it != last; ++it, ++index) {
      for (auto& s : slots_) {
        if (takes(s, *it, index)) ++s.held;
      }
    }
    held_.insert(held_.end(), std::make_move_iterator(first), std::make_move_iterator(last));
    for (const auto& s : slots_) publish(s);
  }

  static const mesh_link<T>& link_of(const subscribe_options& opts) {
    // The type is checked before the cast: GCC 12 otherwise warns (array-bounds) on the key read
    // when it inlines a cast it cannot see fail.
    const bool is_link = opts.dispatch.type() == typeid(mesh_link<T>);
    const auto* l = is_link ? std::any_cast<mesh_link<T>>(&opts.dispatch) : nullptr;
    if (l == nullptr || l->key == event::everyone) {
      throw error(errc::bad_options,
                  "subscribing to a mesh node needs a mesh_link of its event type in "
                  "subscribe_options::dispatch");
    }
    return *l;
  }

  // Whether link `s` takes `e`, numbered `index`.
  static bool takes(const slot& s, const event& e, std::uint64_t index) {
    if (index < s.since) return false;
    if (e.to != event::everyone) return e.to == s.key;
    return !s.select || s.select(e.data);
  }

  template <class Send>
  std::size_t ask_impl(subscription_id id, std::size_t n, Send& send, bool can_send) {
    for (auto& s : slots_) {
      if (s.id == id) {
        s.demand += n;
        if (can_send) flush(send);
        publish(s);
        return top_up();
      }
    }
    return 0;
  }

  // Sends held events from the front while every target of each has demand.
  template <class Send>
  void flush(Send& send) {
    const std::size_t done = route_front(held_, true);
    held_.erase(held_.begin(), held_.begin() + static_cast<std::ptrdiff_t>(done));
    send_batches(send);
  }

  // The leading broadcasts that every link takes and has demand for, copied to every batch in
  // bulk: the usual shape of a relay's output, where routing one by one costs most. The last
  // link takes the whole batch itself when it can: a pipeline then copies nothing here. Returns
  // how many; 0 when a link filters (a selector). Call only with nothing held, so every link is
  // older than these events.
  std::size_t broadcast_run(std::vector<event>& events) {
    if (slots_.empty() || events.empty()) return 0;
    std::size_t n = events.size();
    for (const auto& s : slots_) {
      if (s.select) return 0;
      n = std::min(n, s.demand);
    }
    // Usually every event is a broadcast: one pass the compiler vectorises answers that, and
    // only a batch with sends is scanned for its first.
    std::uint32_t targeted = 0;
    for (std::size_t i = 0; i < n; ++i) targeted |= events[i].to;
    std::size_t k = n;
    if (targeted != event::everyone) {
      k = 0;
      while (k < n && events[k].to == event::everyone) ++k;
    }
    if (k == 0) return 0;
    const auto first = events.begin();
    const auto last = first + static_cast<std::ptrdiff_t>(k);
    for (std::size_t i = 0; i + 1 < slots_.size(); ++i) {
      slots_[i].batch.insert(slots_[i].batch.end(), first, last);
      slots_[i].demand -= k;
    }
    auto& back = slots_.back();
    if (k == events.size() && back.batch.empty()) {
      back.batch.swap(events);
    } else {
      back.batch.insert(back.batch.end(), std::make_move_iterator(first),
                        std::make_move_iterator(last));
    }
    back.demand -= k;
    popped_ += k;
    return k;
  }

  // Routes events from the front of `events`, the next to go (held_, or a batch behind nothing
  // held), while each can go; returns how many went.
  template <class Events>
  std::size_t route_front(Events&& events, bool from_held) {
    std::size_t done = 0;
    for (auto& e : events) {
      if (!route(e, popped_ + done, from_held)) break;
      ++done;
    }
    popped_ += done;
    return done;
  }

  template <class Send>
  void send_batches(Send& send) {
    for (auto& s : slots_) {
      if (s.batch.empty()) continue;
      if (s.gauge) {
        s.gauge->events.fetch_add(s.batch.size(), std::memory_order_relaxed);
        publish(s);
      }
      send(s.id, std::exchange(s.batch, {}));
    }
  }

  // Puts `e`, numbered `index`, in its targets' batches if every target has demand; false if one
  // has none.
  bool route(event& e, std::uint64_t index, bool from_held) {
    bool any = false;
    for (const auto& s : slots_) {
      if (!takes(s, e, index)) continue;
      if (s.demand == 0) return false;
      any = true;
    }
    if (!any) {
      ++dropped_;
      return true;
    }
    slot* last = nullptr;
    for (auto& s : slots_) {
      if (!takes(s, e, index)) continue;
      if (last != nullptr) last->batch.push_back(e);  // a copy for all but the last target
      last = &s;
      --s.demand;
      if (from_held) --s.held;
    }
    last->batch.push_back(std::move(e));
    return true;
  }

  // The demand to pass upstream now: what is awaited and held stays within the smallest link
  // demand (each held event may need every link), or within the unlinked window.
  std::size_t top_up() {
    std::size_t room = opts_.unlinked_window;
    if (!slots_.empty()) {
      room = std::numeric_limits<std::size_t>::max();
      for (const auto& s : slots_) room = std::min(room, s.demand);
    }
    const std::size_t busy = waiting_ + held_.size();
    if (room <= busy) return 0;
    const std::size_t more = room - busy;
    waiting_ += more;
    return more;
  }

  options opts_;
  std::vector<slot> slots_;
  std::size_t waiting_ = 0;  // demand passed upstream, not yet dispatched
  std::size_t owed_ = 0;     // demand to pass upstream after a dispatch, handed over by `drain`
  std::uint64_t dropped_ = 0;
  std::deque<event> held_;    // events from the first that a target without demand holds back
  std::uint64_t popped_ = 0;  // events that ever left held_: info positions are absolute
  std::deque<std::pair<std::uint64_t, std::any>> infos_;  // (position, info), in order
};

static_assert(dispatcher_for<mesh_dispatcher<int>, mesh_event<int>>);

}  // namespace datamesh
