/// @file
/// The inlet: a producer fed from outside any stage, through a bounded queue, so that data
/// entering a mesh (`mesh::trigger_data`) is back-pressured like everything else. A caller
/// either waits for room, is told the queue is full, or has a completion run once its item is
/// accepted; the inlet stage takes items from the queue as its consumer asks for them.
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
#include <iterator>
#include <memory>
#include <mutex>
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

/// What callers and the inlet stage share.
///
/// Thread safety: `mutex` guards everything below it; `room` is notified when items leave.
template <class T>
struct inlet_queue {
  explicit inlet_queue(std::size_t cap) : capacity(cap) {}
  const std::size_t capacity;
  std::mutex mutex;
  std::condition_variable room;
  std::deque<T> items;                           // accepted, not yet asked for
  std::deque<std::pair<T, completion>> waiting;  // asynchronous, not yet accepted
  bool closed = false;                           // the inlet stage has exited
  // A wake is posted and the stage has not pulled since: later items need no wake of their own,
  // so a burst of triggers costs the stage one message, not one each.
  bool wake_pending = false;

  /// Accepts `v`; true if the caller must wake the stage. Call with `mutex` held.
  bool accept(T&& v) {
    items.push_back(std::move(v));
    return !std::exchange(wake_pending, true);
  }
};

/// The message that tells the inlet stage its queue has items.
struct inlet_wake {};

/// The stage side: a producer of `Event`s made from the queue's items by `Make`, a functor
/// `Event(T&&)` (a type, not a `std::function`: it runs once per datum on the hot path).
template <class T, class Event, class Make>
class inlet_stage {
 public:
  explicit inlet_stage(std::shared_ptr<inlet_queue<T>> q, Make make = {})
      : queue_(std::move(q)), make_(std::move(make)) {}

  void handle_demand(std::size_t n, context<Event>& ctx) {
    demand_ += n;
    pull(ctx);
  }
  void handle_info(std::any&, context<Event>& ctx) { pull(ctx); }
  void terminate(const exit_reason&) {
    std::vector<completion> refused;
    {
      std::lock_guard lock(queue_->mutex);
      queue_->closed = true;
      for (auto& w : queue_->waiting) refused.push_back(std::move(w.second));
      queue_->waiting.clear();
    }
    queue_->room.notify_all();
    for (auto& c : refused) c(make_error_code(errc::no_stage));
  }

 private:
  // Emits what demand covers; accepts waiting asynchronous items as room frees.
  void pull(context<Event>& ctx) {
    std::vector<completion> accepted;
    {
      std::lock_guard lock(queue_->mutex);
      auto& q = *queue_;
      q.wake_pending = false;
      bool freed = false;
      for (;;) {
        if (const std::size_t n = std::min(demand_, q.items.size()); n > 0) {
          ctx.reserve(n);
          const auto last = q.items.begin() + static_cast<std::ptrdiff_t>(n);
          for (auto it = q.items.begin(); it != last; ++it) ctx.push(make_(std::move(*it)));
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
    }
    for (auto& c : accepted) c(std::error_code{});
  }

  std::shared_ptr<inlet_queue<T>> queue_;
  Make make_;
  std::size_t demand_ = 0;  // stage-owned
};

}  // namespace datamesh::detail
