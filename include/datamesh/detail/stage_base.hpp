/// @file
/// The type-erased core of every stage: identity, lifecycle, and the messages other stages and
/// the API send it. The typed engine (`stage_impl.hpp`) implements the `post_*` calls.
#pragma once

#include <datamesh/demand.hpp>
#include <datamesh/exit_reason.hpp>
#include <datamesh/log.hpp>
#include <datamesh/runtime/detail/timer_service.hpp>
#include <datamesh/stage_role.hpp>
#include <datamesh/subscribe_options.hpp>
#include <datamesh/subscription_id.hpp>

#include <boost/asio/any_io_executor.hpp>

#include <any>
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <typeindex>
#include <unordered_map>
#include <vector>

namespace datamesh::detail {

class stage_base;
class worker_pool;
using stage_ptr = std::shared_ptr<stage_base>;

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

/// State shared by a runtime and its stages: the executor, the registry, the logger.
///
/// Thread safety: thread-safe; `mutex` guards `stages`, `names`, `stopping`.
struct runtime_state {
  boost::asio::any_io_executor executor;
  // The runtime's own pool, when it has one: stages are scheduled on it directly, without
  // wrapping each hand-off in an Asio function object. Null with a borrowed executor.
  worker_pool* pool = nullptr;
  log_function log;
  // Set once, before any stage starts, by a runtime on a deterministic_executor: runs one queued
  // handler, false if none was queued. A stream iterated there drives the executor with it
  // instead of blocking (flow/stream.hpp). Empty on other runtimes. Read-only afterwards.
  std::function<bool()> drive_one;
  // Set once, before any stage starts: the clock and timers of supervisors. Read-only afterwards.
  std::shared_ptr<timer_service> timers;
  std::atomic<subscription_id> next_subscription{1};

  std::mutex mutex;
  std::condition_variable changed;
  // Guarded by mutex: every stage that has started and not yet exited. The runtime owns them:
  // a stage runs until it exits (stopped, failed, or by `runtime::stop`), whether or not any
  // handle to it is left, and leaves this map, and the runtime's ownership, as it exits.
  std::unordered_map<stage_base*, stage_ptr> stages;
  // Guarded by mutex: the names of running stages.
  std::unordered_map<std::string, std::weak_ptr<stage_base>> names;
  // Guarded by mutex.
  bool stopping = false;

  /// Logs through the user's hook, if any; a hook that throws is reported on stderr. Thread-safe.
  void write_log(log_level level, const std::string& text) const noexcept;
  /// The live stage at `p`, or null (used to answer a peer known only by address). Thread-safe.
  stage_ptr find(stage_base* p);
};

/// Whether the calling thread is one of `rt`'s: running one of its stages (any executor), or a
/// thread of its own pool. A call that waits for the runtime's stages would wait for itself
/// there, and throws `would_deadlock` instead. Never blocks.
bool on_runtime_thread(const runtime_state* rt) noexcept;

/// Logs the exception being handled, thrown by user code that runs outside any stage (`what`
/// names it), to `rt`'s logger, or to stderr without a runtime. Call only inside a catch block.
void report_handler_failure(const runtime_state* rt, const char* what) noexcept;

/// The type-erased stage.
///
/// Thread safety: the `post_*` calls and the lifecycle queries are thread-safe; everything else
/// belongs to the stage's own handlers, which never run concurrently.
class stage_base : public std::enable_shared_from_this<stage_base> {
 public:
  stage_base(std::shared_ptr<runtime_state> rt, stage_role role, std::type_index input,
             std::type_index output, std::string name);
  virtual ~stage_base();
  stage_base(const stage_base&) = delete;
  stage_base& operator=(const stage_base&) = delete;

  // -- identity ---
  stage_role role() const noexcept { return role_; }
  /// The event type consumed (`typeid(void)` for a producer).
  std::type_index input_type() const noexcept { return input_; }
  /// The event type produced (`typeid(void)` for a consumer).
  std::type_index output_type() const noexcept { return output_; }
  const std::string& name() const noexcept { return name_; }
  /// The name, or a generated one, for logs and errors.
  std::string display_name() const;
  const std::shared_ptr<runtime_state>& runtime() const noexcept { return rt_; }

  // -- messages: each returns false if the stage has exited ---
  /// API -> consumer: subscribe to `producer`.
  virtual bool post_subscribe_to(stage_ptr producer, subscription_id id,
                                 subscribe_options opts) = 0;
  /// consumer -> producer: `consumer` subscribes; `sink` is its `event_sink<Output>`.
  virtual bool post_subscribe(stage_ptr consumer, void* sink, subscription_id id,
                              subscribe_options opts) = 0;
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
  virtual bool post_call(std::any request, std::shared_ptr<std::promise<std::any>> reply) = 0;
  /// API -> stage: a message for `handle_info`, delivered at once.
  virtual bool post_message(std::any msg) = 0;
  /// API -> producer: a note for its dispatcher, delivered at once (a dispatcher that keeps a
  /// place for a consumer away learns it will not come back: mesh/mesh_dispatcher.hpp).
  virtual bool post_dispatcher_note(std::any note) = 0;
  /// API -> producer: switch demand mode (SPEC rules 48-52).
  virtual bool post_demand_mode(producer_demand mode) = 0;
  /// API -> stage: drain (see `datamesh::drain`), behind what is queued.
  virtual bool post_drain() = 0;
  /// API -> stage: stop with `reason`, ahead of what is queued (it overtakes queued events).
  virtual bool post_stop(exit_reason reason) = 0;
  /// As `post_stop`, but behind the messages queued now (a stream's cancels go out first).
  virtual bool post_stop_queued(exit_reason reason) = 0;

  /// Throws `errc::bad_options` if this producer's dispatcher can never accept `opts` (an
  /// unknown partition, a selector of the wrong type). Thread-safe.
  virtual void check_subscribe(const subscribe_options& opts) const = 0;

  // -- lifecycle, thread-safe ---
  bool alive() const noexcept { return !exited_.load(std::memory_order_acquire); }
  /// The exit reason once exited.
  std::optional<exit_reason> exit_reason_if_exited() const;
  /// Blocks until the stage has exited. Never call it from the stage's own executor thread.
  exit_reason wait() const;
  /// Calls `f(reason)` once the stage has exited (at once if it has). Thread-safe.
  void on_exit(std::function<void(const exit_reason&)> f);

  /// Handles queued messages. Called by the scheduler the stage was given to, never twice at
  /// once (the mailbox's scheduled flag). Marks the thread as the runtime's meanwhile.
  void run_scheduled();

  // -- figures, thread-safe estimates ---
  std::size_t buffered_estimate() const noexcept {
    return buffered_.load(std::memory_order_relaxed);
  }
  std::uint64_t dropped_estimate() const noexcept {
    return dropped_.load(std::memory_order_relaxed);
  }
  producer_demand demand_mode_estimate() const noexcept {
    return accumulating_.load(std::memory_order_relaxed) ? producer_demand::accumulate
                                                         : producer_demand::forward;
  }

 protected:
  /// Registers with the runtime (name checked). Throws `errc::already_started` or
  /// `errc::runtime_stopped`.
  void register_stage();
  /// Records the exit, wakes waiters, runs exit callbacks, leaves the registry.
  void publish_exit(const exit_reason& reason);
  /// Schedules `run()` on the executor.
  void schedule();
  /// Handles queued messages; runs on the executor.
  virtual void run() = 0;

  std::shared_ptr<runtime_state> rt_;
  // Written by the stage, read from any thread.
  std::atomic<std::size_t> buffered_{0};
  std::atomic<bool> accumulating_{false};
  // Written by the stage, read from any thread: events its dispatcher discarded so far.
  std::atomic<std::uint64_t> dropped_{0};

 private:
  stage_role role_;
  std::type_index input_;
  std::type_index output_;
  std::string name_;

  std::atomic<bool> exited_{false};
  mutable std::mutex exit_mutex_;
  mutable std::condition_variable exit_cv_;
  // Guarded by exit_mutex_.
  std::optional<exit_reason> exit_reason_;
  // Guarded by exit_mutex_.
  std::vector<std::function<void(const exit_reason&)>> exit_callbacks_;
};

}  // namespace datamesh::detail
