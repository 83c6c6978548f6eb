/// @file
/// What the runtime runs: an `actor` has a mailbox the scheduler drains (`run`), a lifecycle
/// (running, then exited with a reason) others can wait for, and a place in its runtime's
/// registry. The stage layer's `stage_base` is one; the runtime knows nothing of stages.
///
/// Boost-free on purpose: every stage handle includes this, so the executor types stay in
/// `runtime_state.hpp`, which only the runtime's own code and the engines include.
#pragma once

#include <datamesh/exit_reason.hpp>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace datamesh::detail {

struct runtime_state;
class actor;
using actor_ptr = std::shared_ptr<actor>;

/// Thread safety: the lifecycle queries and `on_exit` are thread-safe; `run` belongs to the
/// scheduler, which never runs it twice at once.
class actor : public std::enable_shared_from_this<actor> {
 public:
  actor(std::shared_ptr<runtime_state> rt, std::string name);
  virtual ~actor();
  actor(const actor&) = delete;
  actor& operator=(const actor&) = delete;

  /// The name given at start; empty for none.
  const std::string& name() const noexcept { return name_; }
  /// The name, or a generated one, for logs and errors.
  virtual std::string display_name() const;
  const std::shared_ptr<runtime_state>& runtime() const noexcept { return rt_; }

  // -- lifecycle, thread-safe ---
  bool alive() const noexcept { return !exited_.load(std::memory_order_acquire); }
  /// The exit reason once exited.
  std::optional<exit_reason> exit_reason_if_exited() const;
  /// Blocks until the actor has exited. Never call it from the actor's own executor thread.
  exit_reason wait() const;
  /// Calls `f(reason)` once the actor has exited (at once if it has). Thread-safe.
  void on_exit(std::function<void(const exit_reason&)> f);

  /// Asks the actor to stop with `reason`, ahead of what is queued; it exits once it has
  /// finished the message it is handling. Returns false if it has exited. Thread-safe.
  virtual bool post_stop(exit_reason reason) = 0;

  /// Handles queued messages. Called by the scheduler the actor was given to, never twice at
  /// once (the mailbox's scheduled flag). Marks the thread as the runtime's meanwhile.
  void run_scheduled();

 protected:
  /// Registers with the runtime (name checked). Throws `errc::already_started` or
  /// `errc::runtime_stopped`.
  void register_actor();
  /// Records the exit, wakes waiters, runs exit callbacks, leaves the registry.
  void publish_exit(const exit_reason& reason);
  /// Schedules `run()` on the runtime's executor.
  void schedule();
  /// Handles queued messages; runs on the executor.
  virtual void run() = 0;

  std::shared_ptr<runtime_state> rt_;

 private:
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
