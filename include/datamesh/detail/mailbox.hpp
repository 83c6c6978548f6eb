/// @file
/// A stage's mailbox: a multi-producer queue that hands its whole content to the stage at once.
///
/// Senders append under a mutex; the stage swaps the vector out and handles the messages
/// without the lock, so a message costs one uncontended lock and no allocation once the vectors
/// have grown. The `scheduled` flag makes the stage's handlers run one at a time: only the push
/// that finds it clear schedules the stage, and only an empty `take` clears it.
#pragma once

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

  /// Moves every queued message into `out` (which must be empty). Returns false, and clears the
  /// scheduled flag, when there was none. Stage context only.
  bool take(std::vector<Message>& out) {
    std::lock_guard lock(mutex_);
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
    for (auto& m : queue_) out.push_back(std::move(m));
    queue_.clear();
  }

  bool closed() const {
    std::lock_guard lock(mutex_);
    return closed_;
  }

 private:
  mutable std::mutex mutex_;
  // All three guarded by mutex_.
  std::vector<Message> queue_;
  bool scheduled_ = false;
  bool closed_ = false;
};

}  // namespace datamesh::detail
