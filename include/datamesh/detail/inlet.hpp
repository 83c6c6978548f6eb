/// @file
/// The inlet: a producer fed from outside any stage, through a bounded queue, so that data
/// entering a mesh (`mesh::trigger_data`) is back-pressured like everything else. A caller
/// either waits for room, is told the queue is full, or has a completion run once its item is
/// accepted; the inlet stage takes items from the queue as its consumer asks for them.
///
/// A caller with a whole range (`mesh::trigger_all`) may also hand over the range itself as a
/// feed: the inlet stage then takes from it as demand comes, on its own thread, while the caller
/// waits. Data then go from the caller's range straight into the stage's output, without a copy
/// into the queue and without the caller and the stage waking each other once per queueful,
/// which on a busy machine cost more than the data's processing (bench/ W8).
#pragma once

#include <datamesh/context.hpp>
#include <datamesh/error.hpp>
#include <datamesh/reason.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <any>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <iterator>
#include <memory>
#include <mutex>
#include <ranges>
#include <system_error>
#include <utility>
#include <vector>

namespace datamesh::detail {

/// A type-erased, move-only completion `void(std::error_code)`, run on the handler's associated
/// executor (or the fallback one), never inline under the inlet's lock.
class completion {
 public:
  completion() = default;
  template <class Handler>
  completion(Handler h, boost::asio::any_io_executor fallback)
      : impl_(std::make_unique<model<Handler>>(std::move(h), std::move(fallback))) {}
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
    model(Handler h, boost::asio::any_io_executor fallback)
        : handler(std::move(h)), fallback(std::move(fallback)) {}
    void complete(std::error_code ec) override {
      auto ex = boost::asio::get_associated_executor(handler, fallback);
      boost::asio::post(ex, [h = std::move(handler), ec]() mutable { h(ec); });
    }
    Handler handler;
    boost::asio::any_io_executor fallback;
  };
  std::unique_ptr<concept_t> impl_;
};

/// A range handed over whole: the inlet stage takes its data while its owner waits (see the file
/// comment). Owned by the waiting caller, who withdraws it only once it is `done`.
template <class T>
class inlet_feed {
 public:
  /// Pushes up to `n` data; how many. Sets `exhausted` once the range has no more. Called by the
  /// inlet stage only, without the queue's lock; may throw what the range throws.
  virtual std::size_t fill(context<T>& ctx, std::size_t n, bool& exhausted) = 0;

  // Guarded by the queue's mutex.
  bool done = false;           // taken whole, failed, or refused: the stage no longer uses it
  bool refused = false;        // the inlet stage exited first
  std::exception_ptr failure;  // what `fill` threw

 protected:
  ~inlet_feed() = default;
};

/// A feed over the iterator and sentinel of a caller's range, each datum converted to `T`.
template <class T, class It, class End>
class range_feed final : public inlet_feed<T> {
 public:
  range_feed(It& it, const End& end) : it_(it), end_(end) {}
  std::size_t fill(context<T>& ctx, std::size_t n, bool& exhausted) override {
    auto& out = context_access::batch(ctx);
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

/// What callers and the inlet stage share.
///
/// Thread safety: `mutex` guards everything below it; `room` is notified when items leave,
/// `fed` when a feed is done.
template <class T>
struct inlet_queue {
  explicit inlet_queue(std::size_t cap) : capacity(cap) {}
  const std::size_t capacity;
  std::mutex mutex;
  std::condition_variable room;
  std::condition_variable fed;
  std::deque<T> items;                           // accepted, not yet asked for
  std::deque<std::pair<T, completion>> waiting;  // asynchronous, not yet accepted
  std::deque<inlet_feed<T>*> feeds;              // taken from once `items` is empty, in order
  bool closed = false;                           // the inlet stage has exited
  // A wake is posted and the stage has not pulled since: later items need no wake of their own,
  // so a burst of triggers costs the stage one message, not one each.
  bool wake_pending = false;

  /// Accepts `v`; true if the caller must wake the stage. Call with `mutex` held.
  bool accept(T&& v) {
    items.push_back(std::move(v));
    return !std::exchange(wake_pending, true);
  }
  /// Queues `f`; true if the caller must wake the stage. Call with `mutex` held.
  bool add_feed(inlet_feed<T>& f) {
    feeds.push_back(&f);
    return !std::exchange(wake_pending, true);
  }
  /// Drops `f` before it is done (its owner gives up waiting). Call with `mutex` held, and only
  /// where the stage cannot be filling from it (its owner runs the stage's executor).
  void withdraw(inlet_feed<T>& f) { std::erase(feeds, &f); }
};

/// The message that tells the inlet stage its queue has items.
struct inlet_wake {};

/// The stage side: a producer of the queue's items and the feeds' data.
template <class T>
class inlet_stage {
 public:
  explicit inlet_stage(std::shared_ptr<inlet_queue<T>> q) : queue_(std::move(q)) {}
  inlet_stage(const inlet_stage&) = delete;
  inlet_stage& operator=(const inlet_stage&) = delete;
  // A stage destroyed without its terminate (one that never ran) must not leave callers waiting.
  ~inlet_stage() { close(); }

  void handle_demand(std::size_t n, context<T>& ctx) {
    demand_ += n;
    pull(ctx);
  }
  void handle_info(std::any&, context<T>& ctx) { pull(ctx); }
  void terminate(const exit_reason&) { close(); }

 private:
  // Refuses what waits and whatever comes later. Idempotent.
  void close() {
    std::vector<completion> refused;
    {
      std::lock_guard lock(queue_->mutex);
      if (std::exchange(queue_->closed, true)) return;
      for (auto& w : queue_->waiting) refused.push_back(std::move(w.second));
      queue_->waiting.clear();
      for (auto* f : queue_->feeds) f->done = f->refused = true;
      queue_->feeds.clear();
    }
    queue_->room.notify_all();
    queue_->fed.notify_all();
    for (auto& c : refused) c(make_error_code(errc::no_stage));
  }

  // Emits what demand covers; accepts waiting asynchronous items as room frees.
  void pull(context<T>& ctx) {
    std::vector<completion> accepted;
    {
      std::unique_lock lock(queue_->mutex);
      auto& q = *queue_;
      q.wake_pending = false;
      bool freed = false;
      for (;;) {
        if (const std::size_t n = std::min(demand_, q.items.size()); n > 0) {
          const auto last = q.items.begin() + static_cast<std::ptrdiff_t>(n);
          ctx.push_range(std::ranges::subrange(std::make_move_iterator(q.items.begin()),
                                               std::make_move_iterator(last)));
          q.items.erase(q.items.begin(), last);
          demand_ -= n;
          freed = true;
        }
        if (q.waiting.empty() || q.items.size() >= q.capacity) break;
        while (!q.waiting.empty() && q.items.size() < q.capacity) {
          q.items.push_back(std::move(q.waiting.front().first));
          accepted.push_back(std::move(q.waiting.front().second));
          q.waiting.pop_front();
        }
      }
      if (freed) q.room.notify_all();
      // The queue is empty or demand is spent: what demand remains goes to the feeds.
      while (demand_ > 0 && q.items.empty() && !q.feeds.empty()) {
        fill_from(*q.feeds.front(), lock, ctx);
      }
    }
    for (auto& c : accepted) c(std::error_code{});
  }

  // Takes what demand covers from `f`, the front feed, with the queue's lock (held by `lock`)
  // released meanwhile; retires it once taken whole or failed.
  void fill_from(inlet_feed<T>& f, std::unique_lock<std::mutex>& lock, context<T>& ctx) {
    bool exhausted = false;
    std::exception_ptr failure;
    lock.unlock();
    try {
      demand_ -= f.fill(ctx, demand_, exhausted);
    } catch (...) {
      failure = std::current_exception();
    }
    lock.lock();
    if (!exhausted && !failure) return;
    std::erase(queue_->feeds, &f);
    f.done = true;
    f.failure = std::move(failure);
    queue_->fed.notify_all();
  }

  std::shared_ptr<inlet_queue<T>> queue_;
  std::size_t demand_ = 0;  // stage-owned
};

}  // namespace datamesh::detail
