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
            hooks h) {
    exits_ = std::make_shared<exit_queue>(self);
    self_ = std::move(self);
    rt_ = rt;
    intensity_ = restart_intensity(opts);
    hooks_ = std::move(h);
  }

  /// Starts a child and records it. Throws what its start function threw (rule 111): the
  /// child is then not recorded. A worker waits in the batch until `flush`.
  child_id start(record r) {
    const child_id id = next_id_++;
    r.run = r.start(child_env{rt_, &exits_, id, 0, &batch_});
    children_.emplace(id, std::move(r));
    return id;
  }

  /// Posts the workers started since the last flush. Hosts call it after `start`.
  void flush() { post_jobs(*rt_, exits_, batch_); }

  /// Handles the exit reports queued (the `exits_ready` message).
  void on_exits() {
    exits_->take(notes_);
    for (auto& n : notes_) {
      auto it = children_.find(n.id);
      if (it == children_.end() || it->second.generation != n.generation || !it->second.run) {
        continue;  // a killed child's late report, or a stale generation
      }
      record& r = it->second;
      if (r.terminating || stopping_) {
        finish(it);
      } else if (should_restart(r.restart, n.reason)) {
        log(log_level::warning,
            "child " + describe(n.id, r) + " exited (" + n.reason.to_string() + "); restarting it");
        restart(it);
      } else {
        if (!n.reason.is_clean()) {
          log(log_level::error, "child " + describe(n.id, r) + " exited: " + n.reason.to_string());
        }
        finish(it);
      }
      if (stopping_ && children_.empty()) break;
    }
    notes_.clear();
    flush();  // the restarted workers
  }

  /// Handles a `retry_restart` message.
  void on_retry(child_id id) {
    auto it = children_.find(id);
    if (it == children_.end() || it->second.run || it->second.terminating || stopping_) return;
    restart(it);
    flush();
  }

  /// Handles a `shutdown_timeout` message: the child did not stop in time.
  void on_timeout(child_id id, std::uint32_t generation) {
    auto it = children_.find(id);
    if (it == children_.end() || it->second.generation != generation || !it->second.terminating) {
      return;
    }
    log(log_level::warning,
        "child " + describe(id, it->second) + " did not stop within its shutdown timeout; killed");
    it->second.run->kill();
    finish(it);
  }

  /// Terminates child `id` by its shutdown policy (rules 116, 118); `done` runs once it is
  /// gone. False if there is no such child.
  bool terminate(child_id id, std::function<void()> done) {
    auto it = children_.find(id);
    if (it == children_.end()) return false;
    record& r = it->second;
    if (done) r.on_gone.push_back(std::move(done));
    if (r.terminating) return true;
    r.terminating = true;
    if (!r.run) {  // restarting: nothing runs
      finish(it);
      return true;
    }
    switch (r.shutdown.how) {
      case shutdown_policy::kind::brutal_kill:
        r.run->kill();
        finish(it);
        break;
      case shutdown_policy::kind::after:
        r.run->request_stop();
        // A timeout beyond any clock's range (milliseconds::max()) waits as infinity does:
        // converting it to the clock's nanoseconds would overflow into the past.
        if (r.shutdown.timeout < max_timer) {
          rt_->timers->after(r.shutdown.timeout, [self = self_, id, g = r.generation] {
            if (auto s = self.lock()) s->post_message(std::any(shutdown_timeout{id, g}));
          });
        }
        break;
      case shutdown_policy::kind::infinity:
        r.run->request_stop();
        break;
    }
    return true;
  }

  /// Terminates every child; `all_stopped(reason)` runs once none is left (at once if none
  /// is). Later calls are ignored: the first reason is the exit reason.
  void shutdown(exit_reason reason) {
    if (stopping_) return;
    stopping_ = true;
    stop_reason_ = std::move(reason);
    std::vector<child_id> ids;
    ids.reserve(children_.size());
    for (const auto& [id, r] : children_) ids.push_back(id);
    for (child_id id : ids) terminate(id, {});
    if (children_.empty()) notify_stopped();
  }

  /// The supervisor is exiting without waiting (its own code threw): ask every child to stop.
  void abandon() {
    for (auto& [id, r] : children_) {
      if (r.run) r.run->request_stop();
    }
    children_.clear();
  }

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

  void restart(iterator it) {
    record& r = it->second;
    if (!intensity_.add_restart(rt_->timers->now())) {
      log(log_level::error, "reached its maximum restart intensity (" +
                                std::to_string(intensity_.options().max_restarts) +
                                " restarts); shutting down");
      r.run.reset();
      finish(it);
      shutdown(exit_reason::shutdown("reached maximum restart intensity"));  // SPEC rule 113
      return;
    }
    ++r.generation;
    try {
      r.run = r.start(child_env{rt_, &exits_, it->first, r.generation, &batch_});
    } catch (const std::exception& e) {
      fail_restart(it, e.what());
    } catch (...) {
      fail_restart(it, "a non-standard exception");
    }
  }

  void fail_restart(iterator it, const std::string& why) {
    it->second.run.reset();
    log(log_level::error, "child " + describe(it->first, it->second) +
                              " failed to restart: " + why + "; trying again");
    if (auto s = self_.lock()) s->post_message(std::any(retry_restart{it->first}));
  }

  /// The child is gone for good: tell the host and the terminate_child callers.
  void finish(iterator it) {
    std::vector<std::function<void()>> waiting = std::move(it->second.on_gone);
    if (hooks_.gone) hooks_.gone(it->second);
    children_.erase(it);
    for (auto& f : waiting) f();
    if (stopping_ && children_.empty()) notify_stopped();
  }

  void notify_stopped() {
    if (stopped_notified_) return;
    stopped_notified_ = true;
    hooks_.all_stopped(stop_reason_);
  }

  static std::string describe(child_id id, const record& r) {
    return r.name.empty() ? "#" + std::to_string(id) : r.name + " #" + std::to_string(id);
  }
  void log(log_level level, const std::string& text) {
    if (hooks_.log) hooks_.log(level, text);
  }

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
