/// @file
/// The mesh dispatcher: how a node's output reaches the nodes connected to it. Each event is
/// either broadcast (every connected node, at the pace of the slowest) or sent to one connected
/// node (at that node's pace), in the order the node's logic made them.
///
/// A node's output events are its data, as they are: every hop copies each, so nothing rides
/// along. Which events were sent, and to which link, travels beside the batch in the node's
/// `mesh_targets`; every other event is a broadcast. Each link subscribes with a `mesh_link<T>`
/// in `subscribe_options::dispatch`: its key, and an optional selector that filters the
/// broadcasts it receives (an event sent to it by key always arrives).
///
/// Demand: an event is sent only when every one of its targets has demand for it; the first
/// event that cannot go is held, with all after it, in order, until the target asks again.
/// What goes upstream keeps the events awaited and held within the smallest demand of any link,
/// so nothing queues without bound (a broadcast node runs at the pace of its slowest link). A node
/// without links is given `unlinked_window` events of demand, so that it keeps processing what it
/// receives (its broadcasts go nowhere).
///
/// A link whose receiver restarts keeps its place: the node's stage marks it away when its
/// cancel comes (mesh_targets::away), and the dispatcher keeps the slot, parked, without demand.
/// Events for it are held as for any link without demand, so the node runs at the pace of its
/// restarting link (its unlinked window does not apply) and the receiver, once back, subscribes
/// again with the same key and gets what was held for it. A restarted node starts with its
/// links parked (`options::away`) for the same reason. A note `link_withdrawn{key}` (the
/// receiver will not come back, or the link was removed) releases the place: what was held
/// for it alone is dropped, and counted.
///
/// A link made after an event was made never receives it: the dispatcher numbers the events it
/// takes, a link records the count when it was made, and events numbered before it skip that
/// link. (A node's events reach the dispatcher in the callback that made them, before any new
/// link can, so the count at a link's making is the count of events made.)
///
/// Thread safety: not thread-safe; owned by one node's stage, except `check_subscribe`.
#pragma once

#include <datamesh/demand.hpp>
#include <datamesh/dispatch/broadcast.hpp>
#include <datamesh/dispatch/detail/info_marks.hpp>
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

/// The sends among the events a node's callback emits: (position in that batch, link key), in
/// order; every other event is a broadcast. Written by the node's stage as its logic sends, taken
/// by its dispatcher with the batch. Stage-owned: the node's stage and its dispatcher share it,
/// and both run on that stage only.
struct mesh_targets {
  /// The target of a broadcast; never a link's key.
  static constexpr std::uint32_t everyone = 0;
  std::vector<std::pair<std::size_t, std::uint32_t>> sends;
  /// The keys of links whose receivers are away (restarting): the node's stage adds one when
  /// such a link's cancel comes, before its dispatcher sees the cancel; the dispatcher removes
  /// it when the receiver is back or the place is withdrawn.
  std::vector<std::uint32_t> away;
  /// Set by the dispatcher when it withdrew a place; the node's stage then forgets the link.
  bool withdrawn = false;

  bool is_away(std::uint32_t key) const noexcept {
    return std::find(away.begin(), away.end(), key) != away.end();
  }
  void back(std::uint32_t key) { std::erase(away, key); }
};

/// A note for a node's dispatcher (through `post_dispatcher_note`): the receiver of link `key`
/// will not come back (it was given up or stopped), or the link was removed.
struct link_withdrawn {
  std::uint32_t key = 0;
};

/// One link's figures, written by the sending node's dispatcher, read by anyone (relaxed: a
/// snapshot). The mesh keeps it across restarts of either end, so `events` counts the link's
/// whole life.
struct link_gauge {
  std::atomic<std::uint64_t> events{0};  // events sent on the link
  std::atomic<std::size_t> demand{0};    // asked for by the receiver, not yet sent
  std::atomic<std::size_t> held{0};      // events the sender holds that this link will receive
  /// Set by the mesh once the link is removed or its receiver given up: from then on its sender
  /// keeps no place for it when it is cancelled (a note releases one kept before).
  std::atomic<bool> withdrawn{false};
};

/// What one link tells the sending node's dispatcher.
template <class T>
struct mesh_link {
  std::uint32_t key = 0;                // the receiving node's link key; never `everyone`
  selector<T> select{};                 // empty: every broadcast
  std::shared_ptr<link_gauge> gauge{};  // where to publish the link's figures; may be empty
};

/// Broadcast or targeted dispatch of a node's events (see the file comment).
template <class T>
class mesh_dispatcher {
 public:
  static constexpr std::uint32_t everyone = mesh_targets::everyone;
  struct options {
    /// Where the node's stage notes its sends; the dispatcher makes its own when empty.
    std::shared_ptr<mesh_targets> targets{};
    /// The demand given to a node while it has no link.
    std::size_t unlinked_window = 1000;
    /// Links whose receivers will subscribe again (a restarted node's): their places are kept
    /// from the start, so the node does not run ahead of them.
    std::vector<std::uint32_t> away{};
  };

  mesh_dispatcher() : mesh_dispatcher(options{}) {}
  explicit mesh_dispatcher(options opts) : opts_(std::move(opts)) {
    if (!opts_.targets) opts_.targets = std::make_shared<mesh_targets>();
    if (opts_.unlinked_window == 0) {
      throw error(errc::bad_options, "the mesh dispatcher's unlinked_window must be at least 1");
    }
    for (const std::uint32_t key : opts_.away) {
      if (key == everyone || opts_.targets->is_away(key)) continue;
      slots_.push_back(slot{parked, key, {}, 0, 0, 0, {}, {}});
      opts_.targets->away.push_back(key);
    }
  }

  void set_logger(log_function) {}

  /// The demand a producer_consumer starts with: the unlinked window, or none while places
  /// are kept.
  std::size_t initial_demand() { return top_up(); }

  /// Throws `bad_options` unless `opts.dispatch` holds a `mesh_link<T>`. Thread-safe.
  void check_subscribe(const subscribe_options& opts) const { (void)link_of(opts); }

  /// Adds a link with no demand yet; a key already linked is refused. A key whose place is
  /// kept (its receiver restarted) takes its place back, with what was held for it.
  std::size_t subscribe(subscription_id id, const subscribe_options& opts) {
    const mesh_link<T>& l = link_of(opts);
    for (auto& s : slots_) {
      if (s.key != l.key) continue;
      if (s.id != parked) {
        throw error(errc::subscription_refused, "this node is already linked to that node");
      }
      s.id = id;
      s.select = l.select;
      if (l.gauge) s.gauge = l.gauge;
      opts_.targets->back(s.key);
      publish(s);
      return 0;
    }
    if (slots_.empty()) {
      // The unlinked window ends with the first link: the node emits no more than its links
      // ask for, so it never runs ahead of them (what it would hold, a crash would lose).
      taken_back_ += std::exchange(waiting_, 0);
    }
    slots_.push_back(slot{id, l.key, l.select, made(), 0, 0, {}, l.gauge});
    publish(slots_.back());
    return 0;
  }

  /// Demand given upstream that the node must not use any more (the unlinked window, once a
  /// link exists); the producer_consumer takes it off its downstream demand.
  std::size_t take_back() noexcept { return std::exchange(taken_back_, 0); }

  /// Removes a link; the demand it held no longer limits the others. The last one leaving gives
  /// the node its unlinked window back. Held events wait for the next call that can send.
  std::size_t cancel(subscription_id id) {
    auto ignore = [](subscription_id, std::vector<T>&&) {};
    return cancel_impl(id, ignore, false);
  }

  /// Removes a link and releases what was held only because of it: the events it was the
  /// slowest for go to the links that remain (those sent to it alone are dropped, and counted),
  /// and the demand its departure frees goes upstream. Without this, a remaining link waiting
  /// for held events would wait for good: no ask comes (it waits for those very events) and no
  /// dispatch comes (no demand goes upstream while they are held).
  template <class Send>
  std::size_t cancel(subscription_id id, Send&& send) {
    return cancel_impl(id, send, true);
  }

  /// The demand dispatcher's form, for callers without a `send`: held events wait for the next
  /// call that can send.
  std::size_t ask(subscription_id id, std::size_t n) {
    auto ignore = [](subscription_id, std::vector<T>&&) {};
    return ask_impl(id, n, ignore, false);
  }

  /// Adds demand to a link and sends what it releases from the held events.
  template <class Send>
  std::size_t ask(subscription_id id, std::size_t n, Send&& send) {
    return ask_impl(id, n, send, true);
  }

  /// Takes every event, with the sends noted among them: sends, in order, each whose targets all
  /// have demand, and holds the rest from the first that cannot go (never handing leftovers
  /// back, which the producer would send after events it makes later).
  template <class Send>
  void dispatch(std::vector<T>& events, Send&& send) {
    auto& sends = opts_.targets->sends;
    const std::size_t length = events.size();
    waiting_ -= std::min(waiting_, length);
    const bool behind = !held_.empty();
    std::size_t done = 0;
    std::size_t next = 0;  // the first of `sends` not yet reached
    if (!behind) {
      // The common case: route straight from the batch; only what cannot go is held.
      done = broadcast_run(events, sends.empty() ? length : sends.front().first);
      for (; done < length; ++done) {
        const std::uint32_t to = target_of(sends, next, done);
        if (!route(events[done], to, popped_, false)) {
          hold(std::move(events[done]), to);
          ++done;
          break;
        }
        ++popped_;
      }
    }
    for (; done < length; ++done) hold(std::move(events[done]), target_of(sends, next, done));
    if (!held_.empty()) {
      for (const auto& s : slots_) publish(s);
    }
    if (behind) {
      flush(send);  // keeps the order: what was held goes first
    } else {
      send_batches(send);
    }
    events.clear();
    sends.clear();
    owed_ += top_up();
  }

  /// Delivered once every event held now has gone.
  template <class Info, class Deliver>
  void info(Info&& msg, Deliver&& deliver) {
    if (held_.empty()) {
      deliver(std::any(std::forward<Info>(msg)));
      return;
    }
    infos_.add(popped_ + held_.size(), std::any(std::forward<Info>(msg)));
  }

  template <class Reask, class Deliver, class Serve>
  void drain(Reask&&, Deliver&& deliver, Serve&& serve) {
    if (owed_ > 0) serve(std::exchange(owed_, 0));
    infos_.pass(popped_, deliver);
  }

  /// Handles a `link_withdrawn` note: the place of that link is released (see the file
  /// comment); what it frees is sent, and the demand to pass upstream returned.
  template <class Send>
  std::size_t note(std::any& n, Send&& send) {
    const auto* w = std::any_cast<link_withdrawn>(&n);
    if (w == nullptr) return 0;
    const auto it = std::find_if(slots_.begin(), slots_.end(),
                                 [&](const slot& s) { return s.id == parked && s.key == w->key; });
    if (it == slots_.end()) return 0;  // back already, or never kept
    opts_.targets->back(w->key);
    opts_.targets->withdrawn = true;
    slots_.erase(it);
    return released(send, true);
  }

  /// Links whose places are kept while their receivers are away.
  std::size_t away() const noexcept {
    std::size_t n = 0;
    for (const auto& s : slots_) n += s.id == parked ? 1 : 0;
    return n;
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
  // The id of a kept place: no subscription has it (ids start at 1).
  static constexpr subscription_id parked = 0;

  struct slot {
    subscription_id id;
    std::uint32_t key;
    selector<T> select;
    std::uint64_t since;  // events numbered before this never reach it
    std::size_t demand;
    std::size_t held;      // events in held_ this link takes
    std::vector<T> batch;  // being built by the current dispatch
    std::shared_ptr<link_gauge> gauge;
  };

  static void publish(const slot& s) {
    if (!s.gauge) return;
    s.gauge->demand.store(s.demand, std::memory_order_relaxed);
    s.gauge->held.store(s.held, std::memory_order_relaxed);
  }

  // Events taken so far, sent, dropped or held: the number the next one gets.
  std::uint64_t made() const noexcept { return popped_ + held_.size(); }

  // An event held back, with its target.
  struct held_event {
    T data;
    std::uint32_t to;
  };

  // The target of the event at `position` of the batch: a send's link, or everyone. `next` walks
  // `sends` (in position order) along with the positions asked.
  static std::uint32_t target_of(const std::vector<std::pair<std::size_t, std::uint32_t>>& sends,
                                 std::size_t& next, std::size_t position) {
    if (next < sends.size() && sends[next].first == position) return sends[next++].second;
    return everyone;
  }

  // Appends an event to held_, counting it in the links that take it (published by the caller).
  void hold(T&& data, std::uint32_t to) {
    const std::uint64_t index = made();
    for (auto& s : slots_) {
      if (takes(s, data, to, index)) ++s.held;
    }
    held_.push_back(held_event{std::move(data), to});
  }

  static const mesh_link<T>& link_of(const subscribe_options& opts) {
    // The type is checked before the cast: GCC 12 otherwise warns (array-bounds) on the key read
    // when it inlines a cast it cannot see fail.
    const bool is_link = opts.dispatch.type() == typeid(mesh_link<T>);
    const auto* l = is_link ? std::any_cast<mesh_link<T>>(&opts.dispatch) : nullptr;
    if (l == nullptr || l->key == everyone) {
      throw error(errc::bad_options,
                  "subscribing to a mesh node needs a mesh_link of its event type in "
                  "subscribe_options::dispatch");
    }
    return *l;
  }

  // Whether link `s` takes `data`, sent `to`, numbered `index`.
  static bool takes(const slot& s, const T& data, std::uint32_t to, std::uint64_t index) {
    if (index < s.since) return false;
    if (to != everyone) return to == s.key;
    return !s.select || s.select(data);
  }

  template <class Send>
  std::size_t ask_impl(subscription_id id, std::size_t n, Send& send, bool can_send) {
    for (auto& s : slots_) {
      if (s.id == id) {
        s.demand = add_demand(s.demand, n);
        if (can_send) flush(send);
        publish(s);
        return top_up();
      }
    }
    return 0;
  }

  template <class Send>
  std::size_t cancel_impl(subscription_id id, Send& send, bool can_send) {
    const auto it =
        std::find_if(slots_.begin(), slots_.end(), [id](const slot& s) { return s.id == id; });
    if (it == slots_.end()) return 0;
    if (opts_.targets->is_away(it->key)) {
      // Its receiver restarts: keep the place, parked, without demand.
      it->id = parked;
      it->demand = 0;
      it->batch.clear();
      publish(*it);
      return 0;
    }
    slots_.erase(it);
    return released(send, can_send);
  }

  // After a place was released: sends what no longer waits for it (when it can send), and
  // returns the demand to pass upstream.
  template <class Send>
  std::size_t released(Send& send, bool can_send) {
    if (can_send) {
      flush(send);
      for (const auto& s : slots_) publish(s);
    }
    return top_up();
  }

  // Sends held events from the front while every target of each has demand.
  template <class Send>
  void flush(Send& send) {
    std::size_t done = 0;
    for (auto& h : held_) {
      if (!route(h.data, h.to, popped_, true)) break;
      ++popped_;
      ++done;
    }
    held_.erase(held_.begin(), held_.begin() + static_cast<std::ptrdiff_t>(done));
    send_batches(send);
  }

  // The leading broadcasts that every link takes and has demand for, copied to every batch in
  // bulk: the usual shape of a relay's output, where routing one by one costs most. The last
  // link takes the whole batch itself when it can: a pipeline then copies nothing here. Returns
  // how many, at most `first_send`; 0 when a link filters (a selector). Call only with nothing
  // held, so every link is older than these events.
  std::size_t broadcast_run(std::vector<T>& events, std::size_t first_send) {
    if (slots_.empty() || events.empty()) return 0;
    std::size_t k = std::min(events.size(), first_send);
    for (const auto& s : slots_) {
      if (s.select) return 0;
      k = std::min(k, s.demand);
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

  // Puts `data`, sent `to` and numbered `index`, in its targets' batches if every target has
  // demand; false if one has none. One that no link takes is dropped (and counted).
  bool route(T& data, std::uint32_t to, std::uint64_t index, bool from_held) {
    bool any = false;
    for (const auto& s : slots_) {
      if (!takes(s, data, to, index)) continue;
      if (s.demand == 0) return false;
      any = true;
    }
    if (!any) {
      ++dropped_;
      return true;
    }
    slot* last = nullptr;
    for (auto& s : slots_) {
      if (!takes(s, data, to, index)) continue;
      if (last != nullptr) last->batch.push_back(data);  // a copy for all but the last target
      last = &s;
      --s.demand;
      if (from_held) --s.held;
    }
    last->batch.push_back(std::move(data));
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
  std::size_t waiting_ = 0;     // demand passed upstream, not yet dispatched
  std::size_t owed_ = 0;        // demand to pass upstream after a dispatch, handed over by `drain`
  std::size_t taken_back_ = 0;  // demand withdrawn, handed over by `take_back`
  std::uint64_t dropped_ = 0;
  std::deque<held_event> held_;         // from the first event a target without demand holds back
  std::uint64_t popped_ = 0;            // events that ever left held_: info positions are absolute
  detail::info_marks<std::any> infos_;  // infos behind the held events
};

static_assert(dispatcher_for<mesh_dispatcher<int>, int>);

}  // namespace datamesh
