/// @file
/// A stage's mailbox: a multi-producer queue that hands its whole content to the stage at once.
///
/// Senders append under a mutex; the stage swaps the vector out and handles the messages
/// without the lock, so a message costs one uncontended lock and no allocation once the vectors
/// have grown. The `scheduled` flag makes the stage's handlers run one at a time: only the push
/// that finds it clear schedules the stage, and only an empty `take` clears it.
///
/// An urgent message (a stop) overtakes what is queued: `take` hands it out first, and a stage
/// part-way through the messages it took checks `has_urgent` between two of them.
#pragma once

#include <atomic>
#include <mutex>
#include <utility>
#include <vector>

namespace datamesh::detail {

template <class Message>
class mailbox {
 public:
  enum class push_result { closed, queued, schedule };

  /// Appends `m`; `schedule` means the caller must schedule the stage. Thread-safe.
  push_result push(Message&& m) {
    std::lock_guard lock(mutex_);
    if (closed_) return push_result::closed;
    queue_.push_back(std::move(m));
    if (scheduled_) return push_result::queued;
    scheduled_ = true;
    return push_result::schedule;
  }

  /// As `push`, but the message overtakes every message queued (see the file comment).
  push_result push_urgent(Message&& m) {
    std::lock_guard lock(mutex_);
    if (closed_) return push_result::closed;
    urgent_.push_back(std::move(m));
    has_urgent_.store(true, std::memory_order_release);
    if (scheduled_) return push_result::queued;
    scheduled_ = true;
    return push_result::schedule;
  }

  /// Whether an urgent message waits. Thread-safe, lock-free: the stage asks between messages.
  bool has_urgent() const noexcept { return has_urgent_.load(std::memory_order_acquire); }

  /// Moves the urgent messages into `out` (which must be empty). Stage context only.
  void take_urgent(std::vector<Message>& out) {
    std::lock_guard lock(mutex_);
    out.swap(urgent_);
    has_urgent_.store(false, std::memory_order_relaxed);
  }

  /// Moves every queued message into `out` (which must be empty), urgent ones first. Returns
  /// false, and clears the scheduled flag, when there was none. Stage context only.
  bool take(std::vector<Message>& out) {
    std::lock_guard lock(mutex_);
    if (!urgent_.empty()) {
      out.swap(urgent_);
      has_urgent_.store(false, std::memory_order_relaxed);
      for (auto& m : queue_) out.push_back(std::move(m));
      queue_.clear();
      return true;
    }
    if (queue_.empty()) {
      scheduled_ = false;
      return false;
    }
    out.swap(queue_);
    return true;
  }

  /// Refuses every later push and moves what is queued into `out`. Stage context only.
  void close(std::vector<Message>& out) {
    std::lock_guard lock(mutex_);
    closed_ = true;
    scheduled_ = true;  // nothing may schedule a closed stage
    for (auto& m : urgent_) out.push_back(std::move(m));
    for (auto& m : queue_) out.push_back(std::move(m));
    urgent_.clear();
    queue_.clear();
    has_urgent_.store(false, std::memory_order_relaxed);
  }

  bool closed() const {
    std::lock_guard lock(mutex_);
    return closed_;
  }

 private:
  mutable std::mutex mutex_;
  // All four guarded by mutex_.
  std::vector<Message> queue_;
  std::vector<Message> urgent_;
  bool scheduled_ = false;
  bool closed_ = false;
  // Written under mutex_, read without it: whether urgent_ holds a message. A cache line of its
  // own: the stage reads it between messages while senders write the mutex and the queue.
  alignas(64) std::atomic<bool> has_urgent_{false};
};

}  // namespace datamesh::detail
