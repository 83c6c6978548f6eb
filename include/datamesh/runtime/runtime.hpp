/// @file
/// `runtime`: owns or borrows the executor the stages run on, starts stages, and shuts them all
/// down cleanly.
///
/// By default it owns a thread pool (one thread per core). Embedded in a service, it takes the
/// service's Asio executor instead; in tests, a `deterministic_executor`'s.
#pragma once

#include <datamesh/detail/stage_impl.hpp>
#include <datamesh/error.hpp>
#include <datamesh/function_stage.hpp>
#include <datamesh/log.hpp>
#include <datamesh/runtime/detail/runtime_state.hpp>
#include <datamesh/runtime/deterministic_executor.hpp>
#include <datamesh/stage.hpp>

#include <boost/asio/any_io_executor.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace datamesh {

/// Options of a runtime.
struct runtime_options {
  /// Threads of the owned pool; 0 means one per core. Ignored with a borrowed executor.
  std::size_t threads = 0;
  /// Where stages' log lines go; none by default.
  log_function logger{};
};

/// Starts and stops stages.
///
/// Thread safety: thread-safe, except that `stop` and the destructor must not run on one of the
/// runtime's own executor threads (they wait for the stages there).
class runtime {
 public:
  /// Owns a thread pool.
  runtime() : runtime(runtime_options{}) {}
  explicit runtime(runtime_options opts);
  /// Borrows `executor` (an `io_context`'s, a strand's, a `deterministic_executor`'s, ...). See
  /// `stop` for what a borrowed executor must keep doing.
  explicit runtime(boost::asio::any_io_executor executor, runtime_options opts = {});
  /// Borrows a deterministic executor; `stop` then drives it until every stage has exited.
  explicit runtime(deterministic_executor& executor, runtime_options opts = {});
  /// Stops every stage and joins the owned threads.
  ~runtime();
  runtime(const runtime&) = delete;
  runtime& operator=(const runtime&) = delete;

  /// Starts a stage of type `S`, constructed from `args` (its start arguments), with `opts`.
  /// Returns once it is running: its `init` has run and its `subscribe_to` requests are sent.
  /// @throws datamesh::error `bad_options` (rules 2-4), `not_a_producer` or `type_mismatch` (a
  ///   `subscribe_to` entry, checked as `subscribe` checks), `already_started` (rule 6),
  ///   `start_failed` (the constructor or `init` threw or stopped, rule 1), `runtime_stopped`.
  /// Thread-safe.
  template <stage_logic S, class... Args>
  stage_handle<S> start(const stage_options& opts, Args&&... args) {
    opts.validate(stage_traits<S>::role, typeid(typename stage_traits<S>::input_type));
    std::shared_ptr<detail::stage_impl<S>> impl;
    try {
      impl = std::make_shared<detail::stage_impl<S>>(state_, opts, std::forward<Args>(args)...);
    } catch (const error&) {
      throw;
    } catch (const std::exception& e) {
      throw error(errc::start_failed, std::string("stage constructor threw: ") + e.what());
    } catch (...) {
      throw error(errc::start_failed, "stage constructor threw a non-standard exception");
    }
    impl->start(opts);
    return stage_handle<S>(std::move(impl));
  }

  /// Starts a stage of type `S` with default options.
  template <stage_logic S, class... Args>
  requires(sizeof...(Args) == 0 ||
           !std::is_same_v<std::remove_cvref_t<std::tuple_element_t<0, std::tuple<Args...>>>,
                           stage_options>) stage_handle<S> start(Args&&... args) {
    return start<S>(stage_options{}, std::forward<Args>(args)...);
  }

  // -- stages from functions (function_stage.hpp) ---

  /// A producer of `Out` calling `f(demand, context<Out>&)`.
  template <class Out, class F>
  stage_handle<function_producer<Out, std::decay_t<F>>> start_producer(F&& f,
                                                                       stage_options opts = {}) {
    return start<function_producer<Out, std::decay_t<F>>>(opts, std::forward<F>(f));
  }
  /// A producer_consumer emitting `f(e)` for each event `e` of type `In`.
  template <class In, class F>
  stage_handle<function_map<In, std::decay_t<F>>> start_map(F&& f, stage_options opts = {}) {
    return start<function_map<In, std::decay_t<F>>>(opts, std::forward<F>(f));
  }
  /// A producer_consumer passing on the events `e` for which `f(e)` is true.
  template <class In, class F>
  stage_handle<function_filter<In, std::decay_t<F>>> start_filter(F&& f, stage_options opts = {}) {
    return start<function_filter<In, std::decay_t<F>>>(opts, std::forward<F>(f));
  }
  /// A consumer calling `f(std::span<const In>)` for each batch.
  template <class In, class F>
  stage_handle<function_consumer<In, std::decay_t<F>>> start_consumer(F&& f,
                                                                      stage_options opts = {}) {
    return start<function_consumer<In, std::decay_t<F>>>(opts, std::forward<F>(f));
  }

  /// Stops every stage with reason `shutdown`, waits until each has run `terminate` and exited,
  /// then joins the owned threads. Idempotent. With a borrowed executor, the stops run on it:
  /// keep running it until `stop` returns. A borrowed `io_context` whose `run()` has returned
  /// (nobody runs it any more) is run by `stop` itself, on the calling thread.
  /// @throws datamesh::error `would_deadlock` from a stage callback or a thread of this runtime,
  ///   which it would wait for.
  void stop();

  /// The running stage named `name`, or an empty handle. Thread-safe.
  stage_ref whereis(const std::string& name) const;
  /// Stages started and not yet exited. Thread-safe.
  std::size_t stage_count() const;
  /// The executor stages run on.
  boost::asio::any_io_executor executor() const { return state_->executor; }
  /// What the runtime shares with its stages. Internal: for the library's upper layers.
  const std::shared_ptr<detail::runtime_state>& internal_state() const noexcept { return state_; }

 private:
  struct pool;
  std::shared_ptr<detail::runtime_state> state_;
  std::unique_ptr<pool> pool_;
  deterministic_executor* deterministic_ = nullptr;
  boost::asio::io_context* io_ = nullptr;  // the borrowed executor's io_context, if it is one
  bool stopped_ = false;
};

// -- calls on running stages ---

/// Stops `stage` with `reason`: it finishes the message it is handling, runs `terminate`, and its
/// peers follow their cancel modes. Thread-safe. Never blocks.
/// @throws datamesh::error `no_stage` if it has already exited.
void stop(const stage_ref& stage, exit_reason reason = exit_reason::normal());

/// Drains `stage` and, after it, the stages it feeds: the way to end a pipeline without loss.
/// Behind what is queued to it, the stage takes no more input (it cancels its own
/// subscriptions; what they had sent still arrives; a producer's `handle_demand` is no longer
/// called), passes on everything it holds as its consumers ask, then exits with
/// `exit_reason::drained()` (a normal exit). Each consumer of it whose producers have all
/// drained then does the same, whatever its cancel mode, down to the last stage: wait for that
/// one (`wait()`) to know the pipeline is empty. A stage whose held events nobody asks for (no
/// consumer) waits until one does, or until it is stopped. Thread-safe. Never blocks.
/// @throws datamesh::error `no_stage`.
void drain(const stage_ref& stage);

/// Queues `msg` for the stage's `handle_info` behind the events its buffer holds now (SPEC
/// rules 59-62). The future is ready once it is queued. Thread-safe. Never blocks.
/// @throws datamesh::error `no_stage`.
std::future<void> sync_info(const stage_ref& stage, std::any msg);
/// As `sync_info`, without the future. Ignored if the stage has exited. Thread-safe.
void async_info(const stage_ref& stage, std::any msg) noexcept;
/// Sends `request` to the stage's `handle_call` (SPEC rules 10, 11); the future holds its reply,
/// `errc::not_supported` if the stage has no `handle_call`, or what `handle_call` threw.
/// Thread-safe. Never blocks: wait on the future, never from the stage's own thread.
/// @throws datamesh::error `no_stage`.
std::future<std::any> call(const stage_ref& stage, std::any request);
/// Sends `msg` straight to the stage's `handle_info`. Thread-safe.
/// @throws datamesh::error `no_stage`.
void send(const stage_ref& stage, std::any msg);

/// Events in a producer's buffer, as last published by the stage (SPEC rule 57). On a consumer:
/// 0, and an error is logged. Thread-safe. Never blocks.
std::size_t estimate_buffered_count(const stage_ref& producer);
/// Events the stage has lost so far, as last published by it: its dispatcher's drops (an
/// unknown partition or route target, a full partition or target queue, a cancelled
/// consumer's queue, a mesh broadcast no link took), its buffer's overflow, batches a consumer
/// refused because it had exited, events on an unknown subscription, and what it held or had
/// queued when it exited. Every loss the library causes is counted here, and logged. Any stage.
/// Thread-safe. Never blocks.
/// @throws datamesh::error `no_stage` (an exited stage: its last count is in its exit log).
std::uint64_t estimate_dropped_count(const stage_ref& producer);
/// A producer's demand mode, as last published by the stage (rule 49). Thread-safe.
producer_demand demand(const stage_ref& producer);
/// Switches a producer's demand mode (rules 48-52). Asynchronous. Thread-safe.
/// @throws datamesh::error `no_stage`.
void demand(const stage_ref& producer, producer_demand mode);

}  // namespace datamesh
