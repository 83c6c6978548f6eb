/// @file
/// Subscriptions: the directed link consumer -> producer, with its own options and demand, and
/// the calls that make and end them (SPEC sections B and I).
#pragma once

#include <datamesh/stage_ref.hpp>
#include <datamesh/subscribe_options.hpp>
#include <datamesh/subscription_id.hpp>

#include <future>
#include <memory>
#include <string>
#include <type_traits>
#include <typeindex>
#include <utility>

namespace datamesh {

/// A handle to one subscription. It does not keep either stage alive.
///
/// Thread safety: a value type; every member is thread-safe.
class subscription {
 public:
  subscription() = default;
  subscription(subscription_id id, const detail::stage_ptr& consumer,
               const detail::stage_ptr& producer)
      : id_(id), consumer_(consumer), producer_(producer) {}

  subscription_id id() const noexcept { return id_; }
  /// The consumer, or an empty handle once it is gone.
  stage_ref consumer() const { return stage_ref(consumer_.lock()); }
  /// The producer, or an empty handle once it is gone.
  stage_ref producer() const { return stage_ref(producer_.lock()); }
  explicit operator bool() const noexcept { return id_ != 0; }

  friend bool operator==(const subscription& a, const subscription& b) noexcept {
    return a.id_ == b.id_;
  }

 private:
  subscription_id id_ = 0;
  std::weak_ptr<detail::stage_base> consumer_;
  std::weak_ptr<detail::stage_base> producer_;
};

namespace detail {
subscription subscribe(const stage_ref& consumer, const stage_ref& producer,
                       subscribe_options opts);
std::future<subscription> sync_subscribe(const stage_ref& consumer, const stage_ref& producer,
                                         subscribe_options opts);
/// The checks of every way of subscribing (`subscribe`, `stage_options::subscribe_to`): the
/// options, the roles, the event types and the producer's dispatcher. Throws `bad_options`,
/// `not_a_consumer`, `not_a_producer` or `type_mismatch`.
void check_subscription(stage_role consumer_role, std::type_index input,
                        const std::string& consumer_name, const stage_ref& producer,
                        const subscribe_options& opts);

/// The compile-time checks of typed handles, shared by every subscribe call.
template <class Consumer, class Producer>
constexpr void check_handles() {
  static_assert(std::is_base_of_v<stage_ref, Consumer> && std::is_base_of_v<stage_ref, Producer>,
                "subscribe(consumer, producer) takes stage handles");
  if constexpr (requires { typename Consumer::input_type; }) {
    static_assert(!std::is_void_v<typename Consumer::input_type>,
                  "subscribe: the first argument must be a consumer or producer_consumer; a pure "
                  "producer cannot subscribe (SPEC rule 24)");
  }
  if constexpr (requires { typename Producer::output_type; }) {
    static_assert(!std::is_void_v<typename Producer::output_type>,
                  "subscribe: the second argument must be a producer or producer_consumer");
  }
  if constexpr (requires {
                  typename Consumer::input_type;
                  typename Producer::output_type;
                }) {
    static_assert(std::is_same_v<typename Consumer::input_type, typename Producer::output_type>,
                  "subscribe: the producer's event type differs from the consumer's input type");
  }
}
}  // namespace detail

/// Subscribes `consumer` to `producer` and returns once the request is sent (SPEC rule 20): the
/// consumer then asks `max_demand` (rule 36) unless the subscription is manual.
///
/// Typed handles are checked at compile time; `stage_ref`s at run time.
/// @throws datamesh::error `bad_options` (rule 22), `no_stage` when the consumer has exited
///   (rule 25), `not_a_consumer` for a pure producer (rule 24), `not_a_producer`,
///   `type_mismatch`. An unknown or dead producer is not an error here: the consumer exits with
///   `noproc` unless the subscription is temporary (rule 26).
/// Thread-safe. Never blocks.
template <class Consumer, class Producer>
subscription subscribe(const Consumer& consumer, const Producer& producer,
                       subscribe_options opts = {}) {
  detail::check_handles<Consumer, Producer>();
  return detail::subscribe(consumer, producer, std::move(opts));
}

/// Like `subscribe`, and the future is ready once the producer has accepted the subscription:
/// its `handle_subscribe` has returned and its dispatcher has the consumer, so every event the
/// producer dispatches from then on can reach it. A broadcast producer started in `accumulate`
/// and switched to `forward` once each consumer's future is ready gives every consumer its first
/// event. GenStage's `sync_subscribe` returns earlier, once the consumer has sent the request.
///
/// Throws at once as `subscribe` does. The future throws `datamesh::error`: `no_stage` when the
/// producer is gone (the consumer then exits with `noproc` unless the subscription is temporary)
/// or when either stage exits before the producer answers; `already_subscribed` (rule 35) or
/// `subscription_refused` when the producer refuses it.
/// Thread-safe. Never blocks: wait on the future, never from the consumer's or the producer's own
/// thread (a deterministic executor must run to make it ready).
template <class Consumer, class Producer>
std::future<subscription> sync_subscribe(const Consumer& consumer, const Producer& producer,
                                         subscribe_options opts = {}) {
  detail::check_handles<Consumer, Producer>();
  return detail::sync_subscribe(consumer, producer, std::move(opts));
}

/// Like `subscribe`, but never throws for a bad request: the consumer logs it and keeps running
/// (GenStage's `async_subscribe`, rule 31). Returns the subscription's handle, empty when the
/// consumer has exited. Thread-safe. Never blocks.
subscription async_subscribe(const stage_ref& consumer, const stage_ref& producer,
                             subscribe_options opts = {}) noexcept;

/// Cancels `sub` with `reason` (SPEC rule 86): the producer confirms, then the consumer runs
/// `handle_cancel` and follows its cancel mode (rules 87-92). The request goes through the
/// consumer, so a cancel made right after `subscribe` still cancels it. A gone subscription is
/// ignored.
/// Thread-safe. Never blocks.
void cancel(const subscription& sub, exit_reason reason = exit_reason::normal()) noexcept;

/// Like `cancel`, and the future is ready once the consumer has run `handle_cancel` for `sub`
/// and followed its cancel mode (or at once if the subscription or its consumer is gone).
/// Thread-safe. Never blocks: wait on the future, never from the consumer's own thread.
std::future<void> sync_cancel(const subscription& sub, exit_reason reason = exit_reason::normal());

/// Sends `n` more demand on a manual subscription (SPEC rule 41); `n == 0` does nothing.
/// Thread-safe. Never blocks.
void ask(const subscription& sub, std::size_t n) noexcept;

}  // namespace datamesh
