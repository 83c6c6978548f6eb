/// @file
/// `runtime`: owns or borrows the executor the stages run on, starts stages, and shuts them all
/// down cleanly.
///
/// By default it owns a thread pool (one thread per core). Embedded in a service, it takes the
/// service's Asio executor instead; in tests, a `deterministic_executor`'s.
#pragma once

#include <datamesh/fwd.hpp>
#include <datamesh/log.hpp>
#include <datamesh/runtime/detail/runtime_state.hpp>
#include <datamesh/runtime/deterministic_executor.hpp>

#include <boost/asio/any_io_executor.hpp>

#include <cstddef>
#include <memory>
#include <string>
#include <tuple>
#include <type_traits>

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

  // -- starting stages: declared here, defined by the stage layer (<datamesh/start.hpp>, which
  // <datamesh/datamesh.hpp> includes), since they build the stage engine the runtime below
  // knows nothing of. Each returns a `stage_handle<S>` ---

  /// Starts a stage of type `S` (a `stage_logic`), constructed from `args` (its start
  /// arguments), with `opts`. Returns once it is running: its `init` has run and its
  /// `subscribe_to` requests are sent.
  /// @throws datamesh::error `bad_options` (rules 2-4), `not_a_producer` or `type_mismatch` (a
  ///   `subscribe_to` entry, checked as `subscribe` checks), `already_started` (rule 6),
  ///   `start_failed` (the constructor or `init` threw or stopped, rule 1), `runtime_stopped`.
  /// Thread-safe.
  template <class S, class... Args>
  auto start(const stage_options& opts, Args&&... args);

  /// Starts a stage of type `S` with default options.
  template <class S, class... Args>
  requires(sizeof...(Args) == 0 ||
           !std::is_same_v<std::remove_cvref_t<std::tuple_element_t<0, std::tuple<Args...>>>,
                           stage_options>) auto start(Args&&... args);

  // -- stages from functions (function_stage.hpp); without `opts`, `stage_options{}` ---

  /// A producer of `Out` calling `f(demand, context<Out>&)`.
  template <class Out, class F>
  auto start_producer(F&& f);
  template <class Out, class F>
  auto start_producer(F&& f, const stage_options& opts);
  /// A producer_consumer emitting `f(e)` for each event `e` of type `In`.
  template <class In, class F>
  auto start_map(F&& f);
  template <class In, class F>
  auto start_map(F&& f, const stage_options& opts);
  /// A producer_consumer passing on the events `e` for which `f(e)` is true.
  template <class In, class F>
  auto start_filter(F&& f);
  template <class In, class F>
  auto start_filter(F&& f, const stage_options& opts);
  /// A consumer calling `f(std::span<const In>)` for each batch.
  template <class In, class F>
  auto start_consumer(F&& f);
  template <class In, class F>
  auto start_consumer(F&& f, const stage_options& opts);

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

}  // namespace datamesh
