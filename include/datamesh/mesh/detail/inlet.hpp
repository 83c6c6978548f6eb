/// @file
/// The inlet: how data enter a mesh node from outside any stage (`mesh::trigger_data`), through
/// a bounded queue, back-pressured like everything else. A caller either waits for room, is
/// told the queue is full, or has a completion run once its item is accepted. The node's own
/// stage takes items from the queue as its downstream demand allows (`handle_spare_demand`,
/// stage.hpp) and runs its logic over them: the inlet is not a stage of its own, so data from
/// outside cost one stage hop less than data from a link.
///
/// A caller with a whole range (`mesh::trigger_all`) may also hand over the range itself as a
/// feed: the node's stage then reads it as demand comes, on its own thread, while the caller
/// waits. Data then go from the caller's range straight to the node's logic, without a copy
/// into the queue and without the caller and the stage waking each other once per queueful,
/// which on a busy machine cost more than the data's processing (bench/ W8).
#pragma once

#include <datamesh/detail/assert.hpp>
#include <datamesh/detail/stage_base.hpp>
#include <datamesh/error.hpp>
#include <datamesh/runtime/detail/runtime_state.hpp>
#include <datamesh/stage_ref.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <any>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <iterator>
#include <memory>
#include <mutex>
#include <system_error>
#include <utility>
#include <vector>

namespace datamesh::detail {

/// A type-erased, move-only completion `void(std::error_code)`, run on the handler's associated
/// executor (or the fallback one), never inline under the inlet's lock. A handler that throws
/// is user code failing outside any stage: its exception is logged to `rt`, and goes no further.
class completion {
 public:
  completion() = default;
  template <class Handler>
  completion(Handler h, boost::asio::any_io_executor fallback,
             std::shared_ptr<const runtime_state> rt)
      : impl_(std::make_unique<model<Handler>>(std::move(h), std::move(fallback), std::move(rt))) {}
  void operator()(std::error_code ec) {
    if (impl_) std::exchange(impl_, nullptr)->complete(ec);
  }

 private:
  struct concept_t {
    virtual ~concept_t() = default;
    virtual void complete(std::error_code ec) = 0;
  };
  template <class Handler>
  struct model final : concept_t {
    model(Handler h, boost::asio::any_io_executor fallback, std::shared_ptr<const runtime_state> r)
        : handler(std::move(h)), fallback(std::move(fallback)), rt(std::move(r)) {}
    void complete(std::error_code ec) override {
      auto ex = boost::asio::get_associated_executor(handler, fallback);
      boost::asio::post(ex, [h = std::move(handler), ec, rt = std::move(rt)]() mutable {
        try {
          h(ec);
        } catch (...) {
          report_handler_failure(rt.get(), "an async_trigger_data completion handler");
        }
      });
    }
    Handler handler;
    boost::asio::any_io_executor fallback;
    std::shared_ptr<const runtime_state> rt;
  };
  std::unique_ptr<concept_t> impl_;
};

/// A range handed over whole: the node's stage reads it while its owner waits (see the file
/// comment). Owned by the waiting caller, who withdraws it only once it is `done`.
template <class T>
class inlet_feed {
 public:
  /// Appends up to `n` data to `out`; how many. Sets `exhausted` once the range has no more.
  /// Called by the node's stage only, without the queue's lock; may throw what the range throws
  /// (what it appended before stays).
  virtual std::size_t fill(std::vector<T>& out, std::size_t n, bool& exhausted) = 0;

  // Guarded by the queue's mutex.
  bool done = false;           // read whole, failed, or refused: the stage no longer uses it
  bool refused = false;        // the node stopped for good first
  std::exception_ptr failure;  // what `fill` threw

 protected:
  ~inlet_feed() = default;
};

/// A feed over the iterator and sentinel of a caller's range, each datum converted to `T`.
template <class T, class It, class End>
class range_feed final : public inlet_feed<T> {
 public:
  range_feed(It& it, const End& end) : it_(it), end_(end) {}
  std::size_t fill(std::vector<T>& out, std::size_t n, bool& exhausted) override {
    if constexpr (std::sized_sentinel_for<End, It>) {
      out.reserve(out.size() + std::min(n, static_cast<std::size_t>(end_ - it_)));
    }
    // Local copies through the loop, which the compiler keeps in registers; the caller's
    // iterator is written back once (after a throw it is never read again).
    It it = std::move(it_);
    const End end = end_;
    std::size_t k = 0;
    for (; k < n && it != end; ++k, ++it) out.push_back(T(*it));
    exhausted = it == end;
    it_ = std::move(it);
    return k;
  }

 private:
  It& it_;  // the caller's, so it knows where a failure left off
  const End& end_;
};

/// The message that tells a node's stage its inlet has data.
struct inlet_wake {};

/// Asks `stage` to take from its inlet; nothing if it has gone (its successor is woken when it
/// attaches, see `inlet_queue::attach`).
inline void wake(const stage_ptr& stage) {
  if (stage) stage->post_message(std::any(inlet_wake{}));
}

/// What the mesh keeps of a node's inlet, whatever its data type.
struct inlet_base {
  virtual ~inlet_base() = default;
  /// Refuses what waits and whatever comes later: the node has stopped for good. Returns how
  /// many accepted data it discards, never taken (0 when already closed). Idempotent.
  virtual std::size_t close() = 0;
  /// Data accepted or waiting to be, not yet taken by the node.
  virtual std::size_t depth() = 0;
  /// Data the node has taken so far, over its whole life (`mesh::settle` watches it move).
  virtual std::uint64_t taken() = 0;
  /// Makes `s` the stage that runs the node, and wakes it for what waits; nothing once closed.
  virtual void attach(const stage_ref& s) = 0;
};

/// What callers and the node's stage share. The mesh's registry and each stage that runs the
/// node hold it, so it outlives a supervised node's restarts with what waits in it.
///
/// Thread safety: `mutex` guards everything below it; `room` is notified when items leave,
/// `fed` when a feed is done.
template <class T>
struct inlet_queue final : inlet_base {
  explicit inlet_queue(std::size_t cap) : capacity(cap) {}
  const std::size_t capacity;
  std::mutex mutex;
  std::condition_variable room;
  std::condition_variable fed;
  std::deque<T> items;                           // accepted, not yet taken
  std::deque<std::pair<T, completion>> waiting;  // asynchronous, not yet accepted
  std::deque<inlet_feed<T>*> feeds;              // read once `items` is empty, in order
  std::weak_ptr<stage_base> stage;               // the stage that runs the node now
  inlet_feed<T>* reading = nullptr;              // the feed the stage reads, lock released
  bool closed = false;                           // the node has stopped for good
  // A wake is posted and the stage has not taken since: later items need no wake of their own,
  // so a burst of triggers costs the stage one message, not one each.
  bool wake_pending = false;
  std::uint64_t taken_total = 0;  // data handed to the node by `take`

  /// Accepts `v`; the stage to wake, if any. Call with `mutex` held, and wake after releasing.
  stage_ptr accept(T&& v) {
    items.push_back(std::move(v));
    return to_wake();
  }
  /// Queues `f`; the stage to wake, if any. Call with `mutex` held, and wake after releasing.
  stage_ptr add_feed(inlet_feed<T>& f) {
    feeds.push_back(&f);
    return to_wake();
  }
  /// Drops `f` before it is done (its owner gives up waiting). Call with `mutex` held, and only
  /// where the stage cannot be reading it (its owner runs the stage's executor).
  void withdraw(inlet_feed<T>& f) { std::erase(feeds, &f); }
  /// Whether the node can take more from it: a wake, or demand, finds data.
  bool has_data() const { return !items.empty() || !feeds.empty(); }

  void attach(const stage_ref& s) override {
    {
      std::lock_guard lock(mutex);
      if (closed) return;
      stage = s.core_ptr();
      wake_pending = true;
    }
    wake(s.core_ptr());
  }

  std::size_t close() override {
    std::vector<completion> refused;
    std::size_t discarded = 0;
    {
      std::lock_guard lock(mutex);
      if (std::exchange(closed, true)) return 0;
      discarded = items.size();
      items.clear();
      for (auto& w : waiting) refused.push_back(std::move(w.second));
      waiting.clear();
      // The feed being read is the reader's to retire: its owner must not return meanwhile.
      for (auto* f : feeds) f->done = f->refused = true;
      if (reading != nullptr) reading->done = false;
      feeds.clear();
      stage.reset();
    }
    room.notify_all();
    fed.notify_all();
    for (auto& c : refused) c(make_error_code(errc::no_stage));
    return discarded;
  }

  std::size_t depth() override {
    std::lock_guard lock(mutex);
    return items.size() + waiting.size();
  }

  std::uint64_t taken() override {
    std::lock_guard lock(mutex);
    return taken_total;
  }

  /// Appends to `out` up to `n` data, from the items and then the feeds, and accepts waiting
  /// asynchronous items as room frees. Returns whether data remain. Called by the node's stage.
  bool take(std::size_t n, std::vector<T>& out) {
    std::vector<completion> accepted;
    bool more = false;
    const std::size_t had = out.size();
    {
      std::unique_lock lock(mutex);
      wake_pending = false;
      bool freed = false;
      for (;;) {
        if (const std::size_t k = std::min(n - out.size(), items.size()); k > 0) {
          const auto last = items.begin() + static_cast<std::ptrdiff_t>(k);
          out.insert(out.end(), std::make_move_iterator(items.begin()),
                     std::make_move_iterator(last));
          items.erase(items.begin(), last);
          freed = true;
        }
        if (waiting.empty() || items.size() >= capacity) break;
        while (!waiting.empty() && items.size() < capacity) {
          items.push_back(std::move(waiting.front().first));
          accepted.push_back(std::move(waiting.front().second));
          waiting.pop_front();
        }
      }
      if (freed) room.notify_all();
      // The queue is empty or `n` is met: what is left of `n` comes from the feeds.
      while (out.size() < n && items.empty() && !feeds.empty()) read(*feeds.front(), n, lock, out);
      more = has_data();
      DATAMESH_ASSERT(out.size() - had <= n, "an inlet hands its node no more than it asked");
      taken_total += out.size() - had;
    }
    for (auto& c : accepted) c(std::error_code{});
    return more;
  }

 private:
  stage_ptr to_wake() { return std::exchange(wake_pending, true) ? nullptr : stage.lock(); }

  // Reads from `f`, the front feed, until `out` holds `n`, with the lock (held by `lock`)
  // released meanwhile; retires `f` once read whole or failed.
  void read(inlet_feed<T>& f, std::size_t n, std::unique_lock<std::mutex>& lock,
            std::vector<T>& out) {
    bool exhausted = false;
    std::exception_ptr failure;
    reading = &f;
    lock.unlock();
    try {
      f.fill(out, n - out.size(), exhausted);
    } catch (...) {
      failure = std::current_exception();
    }
    lock.lock();
    reading = nullptr;
    if (closed) {  // refused meanwhile (close): only now may its owner return
      f.done = true;
      fed.notify_all();
      return;
    }
    if (!exhausted && !failure) return;
    std::erase(feeds, &f);
    f.done = true;
    f.failure = std::move(failure);
    fed.notify_all();
  }
};

}  // namespace datamesh::detail
