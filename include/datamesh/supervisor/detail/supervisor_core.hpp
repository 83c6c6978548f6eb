/// @file
/// The children table both supervisors share: starting, restarting by restart type and
/// intensity, terminating by shutdown policy, and stopping them all on shutdown.
///
/// It runs inside the supervisor's stage, so none of it needs a lock: children report their
/// exits through the `exit_queue`, and timers and retries come back as `handle_info` messages.
#pragma once

#include <datamesh/detail/stage_base.hpp>
#include <datamesh/exit_reason.hpp>
#include <datamesh/log.hpp>
#include <datamesh/runtime/detail/runtime_state.hpp>
#include <datamesh/supervisor/child_spec.hpp>
#include <datamesh/supervisor/restart.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace datamesh::detail {

/// Message to self: try again a restart whose start failed (SPEC rule 113).
struct retry_restart {
  child_id id;
};
/// Message from the timer: a terminating child's shutdown timeout ran out.
struct shutdown_timeout {
  child_id id;
  std::uint32_t generation;
};

/// Thread safety: not thread-safe; owned by one supervisor stage and used on its thread only.
class supervisor_core {
 public:
  /// The longest shutdown timeout armed as a timer (about 100 years); longer ones wait forever.
  static constexpr std::chrono::milliseconds max_timer = std::chrono::hours(24 * 365 * 100);
  /// One child.
  struct record {
    child_kind kind = child_kind::worker;
    restart_type restart = restart_type::temporary;
    shutdown_policy shutdown{};
    std::string name;
    child_start start;
    /// The host's tag: a consumer supervisor's subscription, 0 for none.
    std::uint64_t tag = 0;

    std::shared_ptr<running_child> run;  // null while restarting
    std::uint32_t generation = 0;        // bumped by each restart; older reports are stale
    bool terminating = false;
    std::vector<std::function<void()>> on_gone;  // terminate_child callers waiting
  };

  /// What the host supervisor does when the table changes.
  struct hooks {
    /// A child left the table for good (its slot is free).
    std::function<void(const record&)> gone;
    /// `shutdown(reason)` has finished, no child is left: the host exits with `reason`.
    std::function<void(const exit_reason&)> all_stopped;
    std::function<void(log_level, const std::string&)> log;
  };

  void init(std::weak_ptr<stage_base> self, runtime_state* rt, restart_intensity_options opts,
            hooks h);

  /// Starts a child and records it. Throws what its start function threw (rule 111): the
  /// child is then not recorded. A worker waits in the batch until `flush`.
  child_id start(record r);

  /// Posts the workers started since the last flush. Hosts call it after `start`.
  void flush() { post_jobs(*rt_, exits_, batch_); }

  /// Handles the exit reports queued (the `exits_ready` message).
  void on_exits();

  /// Handles a `retry_restart` message.
  void on_retry(child_id id);

  /// Handles a `shutdown_timeout` message: the child did not stop in time.
  void on_timeout(child_id id, std::uint32_t generation);

  /// Terminates child `id` by its shutdown policy (rules 116, 118); `done` runs once it is
  /// gone. False if there is no such child.
  bool terminate(child_id id, std::function<void()> done);

  /// Terminates every child; `all_stopped(reason)` runs once none is left (at once if none
  /// is). Later calls are ignored: the first reason is the exit reason.
  void shutdown(exit_reason reason);

  /// The supervisor is exiting without waiting (its own code threw): ask every child to stop.
  void abandon();

  bool stopping() const noexcept { return stopping_; }
  std::size_t size() const noexcept { return children_.size(); }

  /// The `which_children` row of child `id`, which must exist.
  child_info info_of(child_id id) const;
  /// `which_children`, ordered by id.
  std::vector<child_info> which() const;
  /// `count_children` with `specs` as the host counts them.
  child_counts counts(std::size_t specs) const;

 private:
  using iterator = std::unordered_map<child_id, record>::iterator;

  void restart(iterator it);

  void fail_restart(iterator it, const std::string& why);

  /// The child is gone for good: tell the host and the terminate_child callers.
  void finish(iterator it);

  void notify_stopped();

  static std::string describe(child_id id, const record& r);
  void log(log_level level, const std::string& text);

  std::shared_ptr<exit_queue> exits_;
  std::weak_ptr<stage_base> self_;
  runtime_state* rt_ = nullptr;
  restart_intensity intensity_{};
  hooks hooks_;
  std::unordered_map<child_id, record> children_;
  std::vector<exit_note> notes_;                    // reused between batches
  std::vector<std::shared_ptr<worker_job>> batch_;  // workers started, not yet posted
  child_id next_id_ = 1;
  bool stopping_ = false;
  exit_reason stop_reason_;  // set by the first shutdown
  bool stopped_notified_ = false;
};

}  // namespace datamesh::detail
