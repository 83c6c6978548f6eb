/// @file
/// Timers for stages: a supervisor's shutdown timeouts and the clock its restart intensity reads.
///
/// A real runtime keeps one timer thread, started on the first timer; a runtime on a
/// `deterministic_executor` uses the executor's virtual time, so tests move the clock by hand.
#pragma once

#include <datamesh/runtime/detail/unique_function.hpp>

#include <chrono>
#include <memory>

namespace datamesh {
class deterministic_executor;
}

namespace datamesh::detail {

/// Thread safety: every member is thread-safe.
class timer_service {
 public:
  using clock = std::chrono::steady_clock;
  virtual ~timer_service() = default;

  /// The time timers are measured in.
  virtual clock::time_point now() const = 0;
  /// Calls `f` once `d` has passed: on the timer thread, or as a handler of the deterministic
  /// executor. `f` must be short and thread-safe; it posts a message to a stage.
  virtual void after(clock::duration d, unique_function f) = 0;
  /// Drops the pending timers; later `after` calls are ignored. Idempotent.
  virtual void shutdown() = 0;
};

/// Timers on a thread of their own, started lazily.
std::shared_ptr<timer_service> make_thread_timers();
/// Timers in `executor`'s virtual time.
std::shared_ptr<timer_service> make_deterministic_timers(deterministic_executor& executor);

}  // namespace datamesh::detail
