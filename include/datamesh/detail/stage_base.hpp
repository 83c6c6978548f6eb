/// @file
/// The type-erased core of every stage: identity, lifecycle, and the messages other stages and
/// the API send it. The typed engine (`stage_impl.hpp`) implements the `post_*` calls.
#pragma once

#include <datamesh/demand.hpp>
#include <datamesh/detail/reply_once.hpp>
#include <datamesh/exit_reason.hpp>
#include <datamesh/runtime/detail/actor.hpp>
#include <datamesh/stage_role.hpp>
#include <datamesh/subscribe_options.hpp>
#include <datamesh/subscription_id.hpp>

#include <any>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <future>
#include <memory>
#include <string>
#include <typeindex>
#include <vector>

namespace datamesh::detail {

class stage_base;
using stage_ptr = std::shared_ptr<stage_base>;
class subscribe_reply;  // subscribe_reply.hpp

/// What a consumer gives its producers to receive events of type T. Implemented by the
/// consumer's engine; `post_events` is the hot path.
template <class T>
class event_sink {
 public:
  /// Delivers one batch from `from`. Thread-safe. Returns false if the consumer has exited.
  virtual bool post_events(subscription_id id, std::vector<T>&& events, stage_base* from) = 0;

 protected:
  ~event_sink() = default;
};

/// The type-erased stage: an actor of the runtime that speaks GenStage's protocol.
///
/// Thread safety: the `post_*` calls and the lifecycle queries are thread-safe; everything else
/// belongs to the stage's own handlers, which never run concurrently.
class stage_base : public actor {
 public:
  stage_base(std::shared_ptr<runtime_state> rt, stage_role role, std::type_index input,
             std::type_index output, std::string name);
  ~stage_base() override;
  stage_base(const stage_base&) = delete;
  stage_base& operator=(const stage_base&) = delete;

  // -- identity ---
  stage_role role() const noexcept { return role_; }
  /// The event type consumed (`typeid(void)` for a producer).
  std::type_index input_type() const noexcept { return input_; }
  /// The event type produced (`typeid(void)` for a consumer).
  std::type_index output_type() const noexcept { return output_; }
  /// The name, or "role@address", for logs and errors.
  std::string display_name() const override;
  /// This stage, shared. Only while it is owned by a `stage_ptr` (always, once started).
  stage_ptr self() { return std::static_pointer_cast<stage_base>(shared_from_this()); }

  // -- messages: each returns false if the stage has exited ---
  /// API -> consumer: subscribe to `producer`; `reply`, if any, hears whether the producer
  /// accepted (`sync_subscribe`).
  virtual bool post_subscribe_to(stage_ptr producer, subscription_id id, subscribe_options opts,
                                 std::shared_ptr<subscribe_reply> reply) = 0;
  /// consumer -> producer: `consumer` subscribes. It is an `event_sink<Output>` (the
  /// subscribe call checked the types); the producer takes that interface once, here.
  virtual bool post_subscribe(stage_ptr consumer, subscription_id id, subscribe_options opts,
                              std::shared_ptr<subscribe_reply> reply) = 0;
  /// consumer -> producer: more demand. `from` is the sender, used only on an unknown id.
  virtual bool post_ask(subscription_id id, std::size_t n, stage_base* from) = 0;
  /// API -> consumer: ask `n` more on its subscription `id` (manual demand). Going through the
  /// consumer keeps the ask behind the consumer's own subscribe.
  virtual bool post_ask_request(subscription_id id, std::size_t n) = 0;
  /// consumer -> producer: cancel (`down`: the consumer exited).
  virtual bool post_cancel(subscription_id id, exit_reason reason, bool down) = 0;
  /// API -> consumer: cancel subscription `id` and fulfil `done` (if any) once handle_cancel has
  /// run.
  virtual bool post_cancel_request(subscription_id id, exit_reason reason,
                                   std::shared_ptr<std::promise<void>> done) = 0;
  /// producer -> consumer: the subscription ended (`down`: the producer exited).
  virtual bool post_cancelled(subscription_id id, exit_reason reason, bool down) = 0;
  /// API -> stage: an info delivered behind the events buffered now (SPEC section E).
  virtual bool post_info(std::any msg, std::shared_ptr<std::promise<void>> done) = 0;
  /// API -> stage: a request for `handle_call`, answered through `reply`.
  virtual bool post_call(std::any request, reply_once<std::any> reply) = 0;
  /// API -> stage: a message for `handle_info`, delivered at once.
  virtual bool post_message(std::any msg) = 0;
  /// API -> producer: a note for its dispatcher, delivered at once (its optional `note`
  /// member: dispatch/dispatcher.hpp).
  virtual bool post_dispatcher_note(std::any note) = 0;
  /// API -> producer: switch demand mode (SPEC rules 48-52).
  virtual bool post_demand_mode(producer_demand mode) = 0;
  /// API -> stage: drain (see `datamesh::drain`), behind what is queued.
  virtual bool post_drain() = 0;
  // API -> stage: stop with `reason`, ahead of what is queued (it overtakes queued events):
  // actor::post_stop.
  /// As `post_stop`, but behind the messages queued now (a stream's cancels go out first).
  virtual bool post_stop_queued(exit_reason reason) = 0;

  /// Throws `errc::bad_options` if this producer's dispatcher can never accept `opts` (an
  /// unknown partition, a selector of the wrong type). Thread-safe.
  virtual void check_subscribe(const subscribe_options& opts) const = 0;

  // -- figures, thread-safe estimates ---
  std::size_t buffered_estimate() const noexcept {
    return buffered_.load(std::memory_order_relaxed);
  }
  std::uint64_t dropped_estimate() const noexcept {
    return dropped_.load(std::memory_order_relaxed);
  }
  /// Upstream messages a producer_consumer holds until downstream demand lets it handle them
  /// (rule 45); 0 for the other roles.
  std::size_t waiting_estimate() const noexcept { return waiting_.load(std::memory_order_relaxed); }
  producer_demand demand_mode_estimate() const noexcept {
    return accumulating_.load(std::memory_order_relaxed) ? producer_demand::accumulate
                                                         : producer_demand::forward;
  }

 protected:
  // Written by the stage, read from any thread.
  std::atomic<std::size_t> buffered_{0};
  std::atomic<bool> accumulating_{false};
  // Written by a producer_consumer, read from any thread: its queue's length.
  std::atomic<std::size_t> waiting_{0};
  // Written by the stage, read from any thread: events its dispatcher discarded so far.
  std::atomic<std::uint64_t> dropped_{0};

 private:
  stage_role role_;
  std::type_index input_;
  std::type_index output_;
};

}  // namespace datamesh::detail
