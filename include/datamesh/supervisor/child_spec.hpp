/// @file
/// What a supervisor starts: child specs (a plain worker, a stage, or another supervisor), with
/// OTP's restart type and shutdown setting, and what it reports about its children.
///
/// A **worker** is a callable run to completion on the runtime's executor (or one named with
/// `on`), not an OS thread, so a million of them in a run are cheap. It may take a
/// `std::stop_token` first: that is how it hears a shutdown. It returns `void` (a normal exit)
/// or an `exit_reason`; an exception it throws becomes its exit reason.
///
/// C++ cannot kill a running function. When a worker outlives its shutdown timeout, or is
/// brutally killed, its supervisor requests its stop token, reports it `killed`, frees its slot
/// and ignores its late result; the thread it occupies is back only when it returns. Run
/// workers that may block on an executor of their own (`on`), so the runtime's threads stay
/// free.
#pragma once

#include <datamesh/detail/stage_base.hpp>
#include <datamesh/error.hpp>
#include <datamesh/exit_reason.hpp>
#include <datamesh/runtime/detail/runtime_state.hpp>
#include <datamesh/stage_ref.hpp>
#include <datamesh/supervisor/restart.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/execution/execute.hpp>

#include <algorithm>
#include <any>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace datamesh {

/// How a supervisor stops a child (OTP's `shutdown`; SPEC rule 118).
struct shutdown_policy {
  enum class kind {
    brutal_kill,  ///< stop waiting at once: the child is reported `killed`
    after,        ///< ask it to stop, and kill it after `timeout`
    infinity,     ///< ask it to stop, and wait as long as it takes
    /// The old name of `after`, which its factory always had; kept for one release.
    timeout [[deprecated("use shutdown_policy::kind::after")]] = after,
  };
  kind how = kind::after;
  std::chrono::milliseconds timeout = std::chrono::seconds(5);

  static shutdown_policy brutal_kill() { return {kind::brutal_kill, {}}; }
  static shutdown_policy infinity() { return {kind::infinity, {}}; }
  static shutdown_policy after(std::chrono::milliseconds t) { return {kind::after, t}; }

  /// Throws `datamesh::error` `bad_options` for a timeout that is not positive (rule 108's
  /// `invalid_shutdown`).
  void validate() const;
};
const char* to_string(shutdown_policy::kind k) noexcept;

/// What a child is, for `which_children` and `count_children`.
enum class child_kind { worker, supervisor };
const char* to_string(child_kind k) noexcept;

/// A child's id within its supervisor; ids are never reused.
using child_id = std::uint64_t;

/// One row of `which_children` (SPEC rule 114).
struct child_info {
  child_id id = 0;
  child_kind kind = child_kind::worker;
  /// Its restart is pending, after a start that failed (rule 113's `:restarting`).
  bool restarting = false;
  /// The child's stage; empty for a plain worker or while restarting.
  stage_ref stage;
  std::string name;
};

/// What `count_children` returns (SPEC rule 114).
struct child_counts {
  std::size_t specs = 0;    ///< child specs: one per child, or the one template
  std::size_t active = 0;   ///< children running (not restarting)
  std::size_t workers = 0;  ///< children of kind worker
  std::size_t supervisors = 0;
  friend bool operator==(const child_counts&, const child_counts&) = default;
};

namespace detail {

/// A running child, as its supervisor sees it. Owned by the supervisor; a worker's task shares
/// it to read whether it was abandoned.
class running_child {
 public:
  virtual ~running_child() = default;
  /// Asks the child to stop: its stop token, or `shutdown` for a stage. Its exit is reported
  /// as usual. Thread-safe.
  virtual void request_stop() = 0;
  /// Stops waiting for it; its late exit is ignored. Thread-safe.
  virtual void kill() = 0;
  virtual stage_ref stage() const { return {}; }
};

/// One exit report.
struct exit_note {
  child_id id;
  std::uint32_t generation;
  exit_reason reason;
};

/// The message that tells a supervisor its exit queue has reports. Empty, so `std::any` holds
/// it without allocating.
struct exits_ready {};

/// Where children report their exits: one queue per supervisor, drained in batches by the
/// supervisor's stage, which is woken once per batch rather than once per exit.
///
/// Thread safety: `push` from any thread; `take` from the supervisor's stage only.
class exit_queue {
 public:
  explicit exit_queue(std::weak_ptr<stage_base> owner) : owner_(std::move(owner)) {}

  void push(child_id id, std::uint32_t generation, exit_reason reason);

  /// Pushes several reports under one lock, waking the supervisor once.
  void push_bulk(std::vector<exit_note>& notes);

  void take(std::vector<exit_note>& out);

 private:
  std::weak_ptr<stage_base> owner_;
  std::mutex mutex_;
  std::vector<exit_note> notes_;  // guarded by mutex_
};

class worker_job;

/// What a start function gets from its supervisor.
struct child_env {
  runtime_state* rt;
  const std::shared_ptr<exit_queue>* exits;
  child_id id;
  std::uint32_t generation;
  /// Where a worker for the runtime's executor waits until its supervisor posts the batch
  /// (`post_jobs`), so the workers of one batch of events cost a few posts, not one each.
  std::vector<std::shared_ptr<worker_job>>* batch = nullptr;
};

/// Starts a child; throws if it cannot start (SPEC rule 111).
using child_start = std::function<std::shared_ptr<running_child>(const child_env&)>;

/// A worker: the child and its task in one object. `kill` sets `abandoned`: a job not yet run
/// then never runs, and a late result is dropped by its generation.
class worker_job : public running_child {
 public:
  worker_job(child_id id, std::uint32_t generation, bool stoppable)
      : id_(id), generation_(generation) {
    if (stoppable) stop_.emplace();
  }
  void request_stop() override {
    stop_requested_.store(true, std::memory_order_release);
    if (stop_) stop_->request_stop();
  }
  void kill() override {
    abandoned_.store(true, std::memory_order_release);
    request_stop();
  }
  bool abandoned() const noexcept { return abandoned_.load(std::memory_order_acquire); }

  /// Runs the work; its outcome as an exit report. A job asked to stop before it started never
  /// starts (a supervisor shutting down starts nothing more): it exits with `shutdown`.
  exit_note run() {
    if (stop_requested_.load(std::memory_order_acquire)) {
      return {id_, generation_, exit_reason::shutdown()};
    }
    return {id_, generation_, work()};
  }

 protected:
  std::stop_token token() const { return stop_ ? stop_->get_token() : std::stop_token(); }

 private:
  virtual exit_reason work() = 0;

  child_id id_;
  std::uint32_t generation_;
  std::optional<std::stop_source> stop_;
  std::atomic<bool> abandoned_{false};
  std::atomic<bool> stop_requested_{false};  // set by any thread, read by the runner
};

template <class F, class Args>
inline constexpr bool takes_stop_token = false;
template <class F, class... A>
inline constexpr bool takes_stop_token<F, std::tuple<A...>> =
    std::is_invocable_v<F&, std::stop_token, A&...>;

/// `fn(args...)`, or `fn(token, args...)`, as a job whose outcome is an exit reason.
template <class F, class Args>
class worker_job_for final : public worker_job {
 public:
  worker_job_for(const child_env& env, F fn, Args args)
      : worker_job(env.id, env.generation, takes_stop_token<F, Args>),
        fn_(std::move(fn)),
        args_(std::move(args)) {}

 private:
  exit_reason work() override {
    try {
      auto call = [this](auto&... a) {
        if constexpr (takes_stop_token<F, Args>) {
          return fn_(token(), a...);
        } else {
          return fn_(a...);
        }
      };
      using result = decltype(std::apply(call, args_));
      if constexpr (std::is_void_v<result>) {
        std::apply(call, args_);
        return exit_reason::normal();
      } else {
        static_assert(std::is_convertible_v<result, exit_reason>,
                      "a worker returns void or a datamesh::exit_reason");
        return std::apply(call, args_);
      }
    } catch (...) {
      return exit_reason::from_exception(std::current_exception());
    }
  }

  F fn_;
  Args args_;
};

/// Runs `jobs` in order on the calling thread and reports their exits in one push.
void run_jobs(std::vector<std::shared_ptr<worker_job>>& jobs, exit_queue& exits);

/// Posts the jobs of `batch` to the runtime's executor: on the library's pool in chunks of at
/// least `min_chunk` jobs, at most two chunks per thread, so a large batch keeps every thread
/// busy and a small one costs a single post; elsewhere (a borrowed or deterministic executor)
/// one post per job.
void post_jobs(runtime_state& rt, const std::shared_ptr<exit_queue>& exits,
               std::vector<std::shared_ptr<worker_job>>& batch);

/// Starts a worker: on `on` at once, or into the supervisor's batch for the runtime's executor.
template <class F, class Args>
std::shared_ptr<running_child> launch_worker(const child_env& env,
                                             const std::optional<boost::asio::any_io_executor>& on,
                                             F fn, Args args) {
  auto job = std::make_shared<worker_job_for<F, Args>>(env, std::move(fn), std::move(args));
  if (on) {
    boost::asio::execution::execute(*on, [job, exits = *env.exits]() {
      if (job->abandoned()) return;
      exit_note n = job->run();
      exits->push(n.id, n.generation, std::move(n.reason));
    });
  } else if (env.batch) {
    env.batch->push_back(job);
  } else {
    std::vector<std::shared_ptr<worker_job>> one{job};
    post_jobs(*env.rt, *env.exits, one);
  }
  return job;
}

/// A stage child: its exit is reported through `on_exit`.
class running_stage final : public running_child {
 public:
  explicit running_stage(stage_ref s) : stage_(std::move(s)) {}
  void request_stop() override { stage_.core_ptr()->post_stop(exit_reason::shutdown()); }
  void kill() override { stage_.core_ptr()->post_stop(exit_reason::killed()); }
  stage_ref stage() const override { return stage_; }

 private:
  stage_ref stage_;
};

/// Watches a stage the start function started.
std::shared_ptr<running_child> watch_stage(const child_env& env, stage_ref s);

}  // namespace detail

namespace detail {

/// The restart type, shutdown policy and name every child spec carries, with chainable setters.
template <class Derived>
class child_policy {
 public:
  explicit child_policy(child_kind kind) : kind_(kind) {
    if (kind == child_kind::supervisor) shutdown_ = shutdown_policy::infinity();
  }

  /// Permanent by default, as in OTP.
  Derived& restart(restart_type t) {
    restart_ = t;
    return self();
  }
  /// 5 s by default for workers and stages, `infinity` for supervisors, as in OTP.
  Derived& shutdown(shutdown_policy p) {
    shutdown_ = p;
    return self();
  }
  /// A name for logs and `which_children`.
  Derived& name(std::string n) {
    name_ = std::move(n);
    return self();
  }

  child_kind kind() const noexcept { return kind_; }
  restart_type restart() const noexcept { return restart_; }
  const shutdown_policy& shutdown() const noexcept { return shutdown_; }
  const std::string& name() const noexcept { return name_; }

 private:
  Derived& self() { return static_cast<Derived&>(*this); }

  child_kind kind_;
  restart_type restart_ = restart_type::permanent;
  shutdown_policy shutdown_{};
  std::string name_;
};

}  // namespace detail

/// A child of a dynamic supervisor (OTP's child spec). Built with `worker_spec`, `stage_spec`
/// or `supervisor_spec`, then adjusted with the setters.
///
/// Thread safety: a value type.
class child_spec : public detail::child_policy<child_spec> {
 public:
  child_spec(child_kind kind, detail::child_start start)
      : child_policy(kind), start_(std::move(start)) {}

  const detail::child_start& start() const noexcept { return start_; }

  /// Throws `bad_options` for an invalid shutdown or an empty start function.
  void validate() const;

 private:
  detail::child_start start_;
};

/// A worker child running `fn(args...)` (or `fn(stop_token, args...)`) to completion on the
/// runtime's executor, or on `on` when given. A restart runs it again with the same arguments.
template <class F, class... Args>
child_spec worker_spec(F fn, Args... args) {
  return child_spec(child_kind::worker,
                    [fn = std::move(fn),
                     args = std::tuple<Args...>(std::move(args)...)](const detail::child_env& env) {
                      return detail::launch_worker(env, std::nullopt, fn, args);
                    });
}

/// As `worker_spec`, on the executor `on` (for work that blocks).
template <class F, class... Args>
child_spec worker_spec_on(boost::asio::any_io_executor on, F fn, Args... args) {
  return child_spec(child_kind::worker,
                    [on = std::optional(std::move(on)), fn = std::move(fn),
                     args = std::tuple<Args...>(std::move(args)...)](const detail::child_env& env) {
                      return detail::launch_worker(env, on, fn, args);
                    });
}

/// A stage child: `start()` starts a stage (e.g. `rt.start<counter>()`) and returns its handle;
/// the supervisor watches it and stops it with `shutdown`. A restart calls `start()` again.
template <class F>
child_spec stage_spec(F start) {
  return child_spec(child_kind::worker, [start = std::move(start)](const detail::child_env& env) {
    return detail::watch_stage(env, stage_ref(start()));
  });
}

/// A supervisor child: as `stage_spec`, for a start function returning a supervisor.
template <class F>
child_spec supervisor_spec(F start) {
  return child_spec(child_kind::supervisor,
                    [start = std::move(start)](const detail::child_env& env) {
                      return detail::watch_stage(env, stage_ref(start()));
                    });
}

}  // namespace datamesh
