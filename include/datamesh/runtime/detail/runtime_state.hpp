/// @file
/// What a runtime shares with the actors it runs: the executor, the registry, the logger, the
/// timers. Included by the runtime's own code and the engines, never by a stage handle (it
/// brings in Asio's executor types).
#pragma once

#include <datamesh/log.hpp>
#include <datamesh/runtime/detail/actor.hpp>
#include <datamesh/runtime/detail/timer_service.hpp>
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

class worker_pool;

/// Thread safety: thread-safe; `mutex` guards `actors`, `names`, `stopping`.
struct runtime_state {
  boost::asio::any_io_executor executor;
  // The runtime's own pool, when it has one: actors are scheduled on it directly, without
  // wrapping each hand-off in an Asio function object. Null with a borrowed executor.
  worker_pool* pool = nullptr;
  log_function log;
  // Set once, before any actor starts, by a runtime on a deterministic_executor: runs one queued
  // handler, false if none was queued. A stream iterated there drives the executor with it
  // instead of blocking (flow/stream.hpp). Empty on other runtimes. Read-only afterwards.
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

/// Logs the exception being handled, thrown by user code that runs outside any actor (`what`
/// names it), to `rt`'s logger, or to stderr without a runtime. Call only inside a catch block.
void report_handler_failure(const runtime_state* rt, const char* what) noexcept;

}  // namespace datamesh::detail
