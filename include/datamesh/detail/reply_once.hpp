/// @file
/// `reply_once<T>`: the one answer to one request that crosses stages (a `call`, a
/// `sync_subscribe`, a supervisor request). The waiting side holds the future; the stage that
/// serves the request answers it, once.
#pragma once

#include <datamesh/error.hpp>

#include <exception>
#include <future>
#include <memory>
#include <utility>

namespace datamesh::detail {

/// A promise answered at most once (a second answer is ignored), shared by its copies. When the
/// last copy goes unanswered (the request died in the mailbox of a stage that exited), the
/// future fails with `error(errc::no_stage, unanswered)`, or with `std::future_error`
/// (broken promise) when `unanswered` is null.
///
/// Thread safety: copies travel inside messages, so one stage at a time answers; the mailbox
/// hand-over orders every access.
template <class T>
class reply_once {
 public:
  /// `unanswered`: a string literal (it is kept, not copied).
  explicit reply_once(const char* unanswered = nullptr) : s_(std::make_shared<state>(unanswered)) {}

  /// The answer; take it once, before the request is sent.
  std::future<T> future() { return s_->promise.get_future(); }
  bool answered() const noexcept { return s_->answered; }

  /// Answers with a value (none for `reply_once<void>`).
  template <class... V>
  void operator()(V&&... v) {
    if (s_->answered) return;
    s_->answered = true;
    s_->promise.set_value(std::forward<V>(v)...);
  }
  /// Answers with a failure.
  void fail(std::exception_ptr e) noexcept {
    if (s_->answered) return;
    s_->answered = true;
    s_->promise.set_exception(std::move(e));  // cannot throw: the promise is ours, unsatisfied
  }

 private:
  struct state {
    explicit state(const char* u) : unanswered(u) {}
    state(const state&) = delete;
    state& operator=(const state&) = delete;
    ~state() {
      if (!answered && unanswered) {
        promise.set_exception(std::make_exception_ptr(error(errc::no_stage, unanswered)));
      }
    }
    std::promise<T> promise;
    const char* unanswered;
    bool answered = false;
  };
  std::shared_ptr<state> s_;
};

}  // namespace datamesh::detail
