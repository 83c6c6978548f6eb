/// @file
/// The answer to a `sync_subscribe`, carried from the API through the consumer to the producer.
#pragma once

#include <datamesh/detail/reply_once.hpp>
#include <datamesh/error.hpp>
#include <datamesh/subscription.hpp>

#include <exception>
#include <future>
#include <memory>
#include <utility>

namespace datamesh::detail {

/// "The producer accepted the subscription", or why it did not. A reply nobody answered (its
/// request died in the mailbox of a stage that exited) fails with `no_stage`, so the waiting
/// future never breaks without a typed error. Thread safety: as `reply_once`'s.
class subscribe_reply {
 public:
  explicit subscribe_reply(subscription sub) : sub_(std::move(sub)) {}

  std::future<subscription> future() { return reply_.future(); }

  /// The producer took the subscription: its handle_subscribe returned and its dispatcher has
  /// the consumer.
  void accept() { reply_(sub_); }
  /// The subscription was refused; a second answer is ignored.
  void refuse(const error& e) noexcept { reply_.fail(std::make_exception_ptr(e)); }

 private:
  reply_once<subscription> reply_{
      "the subscription ended before its producer accepted it: the consumer or the producer "
      "exited"};
  subscription sub_;
};

using subscribe_reply_ptr = std::shared_ptr<subscribe_reply>;

}  // namespace datamesh::detail
