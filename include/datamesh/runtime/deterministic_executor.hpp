/// @file
/// `deterministic_executor`: a single-threaded Asio executor that tests drive step by step.
///
/// Nothing runs until the test calls `run_one`, `run` or `run_until`. With a seed, `run_one`
/// picks the next handler at random among those queued (schedule exploration); without, it runs
/// them in FIFO order. A semantics test never depends on timing.
///
/// Time is virtual too: a timer set through `add_timer` (a supervisor's shutdown timeout, the
/// window of its restart intensity) fires only when the test moves the clock with `advance`, so
/// "the child is killed after 5 s" takes no time at all and never flakes.
#pragma once

#include <datamesh/runtime/detail/posting_executor.hpp>
#include <datamesh/runtime/detail/unique_function.hpp>

#include <boost/asio/execution_context.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>

namespace datamesh {
namespace detail {
struct schedule_rng;
}  // namespace detail

/// A deterministic executor for tests.
///
/// Thread safety: `execute` (posting) is thread-safe; the `run*` calls must come from one thread
/// at a time, and handlers run on that thread.
class deterministic_executor : public boost::asio::execution_context {
 public:
  /// FIFO order.
  deterministic_executor();
  /// Seeded random order among the queued handlers (schedule exploration).
  explicit deterministic_executor(std::uint64_t seed);

  ~deterministic_executor();

  /// The Asio executor that posts into this queue (`context()` gives this executor back).
  using executor_type = detail::posting_executor<deterministic_executor>;
  executor_type get_executor() noexcept { return executor_type(*this); }

  /// Runs one queued handler; false if none was queued.
  bool run_one();
  /// Runs handlers until none is queued, at most `max_steps`; returns how many ran.
  std::size_t run(std::size_t max_steps = 100'000'000);
  /// Runs handlers until `done()` holds or none is queued; returns whether `done()` holds.
  bool run_until(const std::function<bool()>& done, std::size_t max_steps = 100'000'000);
  /// Handlers queued and not yet run.
  std::size_t pending() const;
  /// Handlers run so far.
  std::size_t steps() const noexcept { return steps_; }

  // -- virtual time ---
  using clock = std::chrono::steady_clock;
  /// The virtual time: starts at the real clock's epoch and moves only by `advance`.
  clock::time_point now() const;
  /// Queues `f` as a handler once the virtual time reaches `deadline` (at once if it has).
  /// Thread-safe.
  void add_timer(clock::time_point deadline, detail::unique_function f);
  /// Moves the virtual time forward by `d`, queuing the handlers of the timers now due, in
  /// deadline order. Runs nothing itself.
  void advance(clock::duration d);
  /// Moves the virtual time to the earliest pending timer and queues it; false if none.
  bool advance_to_next_timer();
  /// Timers not yet due.
  std::size_t pending_timers() const;

 private:
  friend executor_type;
  /// Queues `f` (what the executor's `execute` does). Thread-safe.
  void post(detail::unique_function f);
  /// Queues the timers due at `now_`. Requires `mutex_`.
  void release_due_timers();

  mutable std::mutex mutex_;
  // Guarded by mutex_.
  std::deque<detail::unique_function> queue_;
  // Guarded by mutex_: the virtual time and the timers not yet due, earliest first.
  clock::time_point now_{};
  std::multimap<clock::time_point, detail::unique_function> timers_;
  // The seeded generator of schedule exploration, null in FIFO order; src/ keeps <random>.
  std::unique_ptr<detail::schedule_rng> rng_;
  std::size_t steps_ = 0;
};

}  // namespace datamesh
