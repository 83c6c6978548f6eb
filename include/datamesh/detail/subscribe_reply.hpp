/// @file
/// The answer to a `sync_subscribe`, carried from the API through the consumer to the producer.
#pragma once

#include <datamesh/error.hpp>
#include <datamesh/subscription.hpp>

#include <exception>
#include <future>
#include <memory>
#include <string>
#include <utility>

namespace datamesh::detail {

/// "The producer accepted the subscription", or why it did not. Answered once; a reply nobody
/// answered (its request died in the mailbox of a stage that exited) fails with `no_stage` when
/// the last holder lets it go, so the waiting future never breaks without a typed error.
///
/// Thread safety: it travels inside messages, so one stage at a time holds it; the mailbox
/// hand-over orders every access.
class subscribe_reply {
 public:
  explicit subscribe_reply(subscription sub) : sub_(std::move(sub)) {}
  subscribe_reply(const subscribe_reply&) = delete;
  subscribe_reply& operator=(const subscribe_reply&) = delete;
  ~subscribe_reply() {
    refuse(error(errc::no_stage,
                 "the subscription ended before its producer accepted it: the "
                 "consumer or the producer exited"));
  }

  std::future<subscription> future() { return promise_.get_future(); }

  /// The producer took the subscription: its handle_subscribe returned and its dispatcher has
  /// the consumer.
  void accept() {
    if (answered_) return;
    answered_ = true;
    promise_.set_value(sub_);
  }
  /// The subscription was refused; a second answer is ignored.
  void refuse(const error& e) noexcept {
    if (answered_) return;
    answered_ = true;
    try {
      promise_.set_exception(std::make_exception_ptr(e));
    } catch (...) {  // no future was taken: nobody waits
    }
  }

 private:
  std::promise<subscription> promise_;
  subscription sub_;
  bool answered_ = false;
};

using subscribe_reply_ptr = std::shared_ptr<subscribe_reply>;

}  // namespace datamesh::detail
