/// @file
/// What a runtime shares with the actors it runs: the executor, the registry, the logger, the
/// timers. Included by the runtime's own code and the engines, never by a stage handle (it
/// brings in Asio's executor types).
#pragma once

#include <datamesh/log.hpp>
#include <datamesh/runtime/detail/actor.hpp>
#include <datamesh/runtime/detail/timer_service.hpp>
#include <datamesh/runtime/detail/unique_function.hpp>
#include <datamesh/subscription_id.hpp>

#include <boost/asio/any_io_executor.hpp>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace datamesh::detail {

class thread_pool;

/// Thread safety: thread-safe; `mutex` guards `actors`, `names`, `stopping`.
struct runtime_state {
  boost::asio::any_io_executor executor;
  // The runtime's own pool, when it has one: actors are scheduled on it directly, without
  // wrapping each hand-off in an Asio function object. Null with a borrowed executor.
  thread_pool* pool = nullptr;
  log_function log;
  // Set once, before any actor starts, by a runtime on a deterministic_executor: runs one queued
  // handler, false if none was queued. Empty on other runtimes. Read-only afterwards. Waiting
  // calls reach it through `drive_until`.
  std::function<bool()> drive_one;
  // Set once, before any actor starts: the clock and timers of supervisors. Read-only
  // afterwards.
  std::shared_ptr<timer_service> timers;
  std::atomic<subscription_id> next_subscription{1};

  std::mutex mutex;
  std::condition_variable changed;
  // Guarded by mutex: every actor that has started and not yet exited. The runtime owns them:
  // an actor runs until it exits (stopped, failed, or by `runtime::stop`), whether or not any
  // handle to it is left, and leaves this map, and the runtime's ownership, as it exits.
  std::unordered_map<const actor*, actor_ptr> actors;
  // Guarded by mutex: the names of running actors.
  std::unordered_map<std::string, std::weak_ptr<actor>> names;
  // Guarded by mutex.
  bool stopping = false;

  /// Logs through the user's hook, if any; a hook that throws is reported on stderr. Thread-safe.
  void write_log(log_level level, const std::string& text) const noexcept;
  /// The live actor at `p`, or null (used to answer a peer known only by address). Thread-safe.
  actor_ptr find(const actor* p);
  /// The running actor named `name`, or null. Thread-safe.
  actor_ptr find(const std::string& name);
};

/// Whether the calling thread is one of `rt`'s: running one of its actors (any executor), or a
/// thread of its own pool. A call that waits for the runtime's actors would wait for itself
/// there, and throws `would_deadlock` instead. Never blocks.
bool on_runtime_thread(const runtime_state* rt) noexcept;

/// Where a task posted with `post_task` should run.
enum class task_placement {
  spread,  // on any thread: one of several tasks worth running side by side
  local,   // a small task the calling thread just made: on the library's pool, that thread's
           // own queue (another thread takes it only if it waits behind longer work)
};

/// Runs `task` once on the runtime's executor: on the library's pool directly, elsewhere (a
/// borrowed or deterministic executor) by an Asio post. Thread-safe. The way code of upper
/// layers (a supervisor starting workers) hands the runtime work that is not an actor.
void post_task(runtime_state& rt, unique_function task,
               task_placement where = task_placement::spread);

/// The threads of the runtime's own pool; 0 on a borrowed or deterministic executor, whose
/// parallelism the library does not know. Thread-safe.
std::size_t pool_threads(const runtime_state& rt) noexcept;

/// Throws `errc::would_deadlock`: `what` waits for the runtime's actors, and the deterministic
/// executor that runs them has nothing left to run, so the wait would never end.
[[noreturn]] void throw_nothing_left_to_run(const std::string& what);

/// How a thread outside the runtime waits for its actors, on every runtime. Where the executor
/// runs only when driven (a deterministic executor), blocking would wait forever: this runs
/// the executor's handlers on the calling thread, one at a time, until `ready()`, and returns
/// true. Elsewhere it returns false at once, and the caller blocks as usual (a future, a
/// condition variable). `describe()` names the wait for the `would_deadlock` thrown when
/// nothing is left to run before `ready()`. Any call that waits for actors (the mesh's, a
/// stream's, a user's extension) waits through this.
template <class Ready, class Describe>
bool drive_until(const runtime_state& rt, Ready&& ready, Describe&& describe) {
  if (!rt.drive_one) return false;
  while (!ready()) {
    if (!rt.drive_one()) throw_nothing_left_to_run(describe());
  }
  return true;
}

/// Logs the exception being handled, thrown by user code that runs outside any actor (`what`
/// names it), to `rt`'s logger, or to stderr without a runtime. Call only inside a catch block.
void report_handler_failure(const runtime_state* rt, const char* what) noexcept;

}  // namespace datamesh::detail
