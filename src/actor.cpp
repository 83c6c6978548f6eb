// The runtime's actors and what they share: the registry, the log, the thread marks.
#include <datamesh/error.hpp>
#include <datamesh/runtime/detail/actor.hpp>
#include <datamesh/runtime/detail/runtime_state.hpp>
#include <datamesh/runtime/detail/thread_pool.hpp>

#include <boost/asio/execution/execute.hpp>
#include <boost/asio/post.hpp>

#include <cstdio>
#include <utility>

namespace datamesh::detail {

void runtime_state::write_log(log_level level, const std::string& text) const noexcept {
  if (!log) return;
  try {
    log(level, text);
  } catch (...) {
    // The logger is user code and may fail (a full disk): the line goes to stderr instead, and
    // the actor that logged goes on.
    std::fprintf(stderr, "datamesh: the logger threw (%s); the line was: %s\n",
                 exit_reason::from_exception(std::current_exception()).to_string().c_str(),
                 text.c_str());
  }
}

void post_task(runtime_state& rt, unique_function task, task_placement where) {
  if (rt.pool) {
    if (where == task_placement::local) {
      rt.pool->post_local(std::move(task));
    } else {
      rt.pool->post(std::move(task));
    }
    return;
  }
  boost::asio::post(rt.executor, std::move(task));
}

std::size_t pool_threads(const runtime_state& rt) noexcept { return rt.pool ? rt.pool->size() : 0; }

void throw_nothing_left_to_run(const std::string& what) {
  throw error(errc::would_deadlock,
              what +
                  "; the deterministic executor has nothing left to run, so waiting would "
                  "never end");
}

void report_handler_failure(const runtime_state* rt, const char* what) noexcept {
  try {
    const std::string text = std::string(what) + " threw: " +
                             exit_reason::from_exception(std::current_exception()).to_string() +
                             "; the exception was dropped";
    if (rt != nullptr && rt->log) {
      rt->write_log(log_level::error, text);
    } else {
      std::fprintf(stderr, "datamesh: %s\n", text.c_str());
    }
  } catch (...) {
  }
}

actor_ptr runtime_state::find(const actor* p) {
  std::lock_guard lock(mutex);
  auto it = actors.find(p);
  return it == actors.end() ? nullptr : it->second;
}

actor_ptr runtime_state::find(const std::string& name) {
  std::lock_guard lock(mutex);
  auto it = names.find(name);
  return it == names.end() ? nullptr : it->second.lock();
}

namespace {

// The runtime whose actor this thread runs now, if any.
thread_local const runtime_state* running_runtime = nullptr;

}  // namespace

bool on_runtime_thread(const runtime_state* rt) noexcept {
  if (rt == nullptr) return false;
  if (running_runtime == rt) return true;
  return rt->pool != nullptr && rt->pool->on_this_thread();
}

actor::actor(std::shared_ptr<runtime_state> rt, std::string name)
    : rt_(std::move(rt)), name_(std::move(name)) {}

actor::~actor() = default;

std::string actor::display_name() const {
  if (!name_.empty()) return name_;
  char buf[32];
  std::snprintf(buf, sizeof buf, "actor@%p", static_cast<const void*>(this));
  return buf;
}

void actor::run_scheduled() {
  struct scope {
    const runtime_state* previous;
    explicit scope(const runtime_state* rt) : previous(std::exchange(running_runtime, rt)) {}
    ~scope() { running_runtime = previous; }
  } marked(rt_.get());
  run();
}

void actor::register_actor() {
  std::lock_guard lock(rt_->mutex);
  if (rt_->stopping) {
    throw error(errc::runtime_stopped, "cannot start a stage: the runtime is stopping");
  }
  if (!name_.empty()) {
    auto it = rt_->names.find(name_);
    if (it != rt_->names.end() && !it->second.expired()) {
      throw error(errc::already_started, "a stage named '" + name_ + "' is already running");
    }
    rt_->names[name_] = weak_from_this();
  }
  rt_->actors.emplace(this, shared_from_this());
}

void actor::publish_exit(const exit_reason& reason) {
  std::vector<std::function<void(const exit_reason&)>> callbacks;
  {
    std::lock_guard lock(exit_mutex_);
    exit_reason_ = reason;
    exited_.store(true, std::memory_order_release);
    callbacks.swap(exit_callbacks_);
  }
  exit_cv_.notify_all();
  for (auto& f : callbacks) {
    try {
      f(reason);
    } catch (...) {
      // An on_exit callback is user code: its failure is logged, never the process's end.
      rt_->write_log(log_level::error,
                     display_name() + " an on_exit callback threw: " +
                         exit_reason::from_exception(std::current_exception()).to_string());
    }
  }
  actor_ptr owned;  // released outside the lock: it may be the last reference
  {
    std::lock_guard lock(rt_->mutex);
    if (auto it = rt_->actors.find(this); it != rt_->actors.end()) {
      owned = std::move(it->second);
      rt_->actors.erase(it);
    }
    if (!name_.empty()) {
      auto it = rt_->names.find(name_);
      if (it != rt_->names.end() && it->second.lock().get() == this) rt_->names.erase(it);
    }
  }
  rt_->changed.notify_all();
}

std::optional<exit_reason> actor::exit_reason_if_exited() const {
  std::lock_guard lock(exit_mutex_);
  return exit_reason_;
}

exit_reason actor::wait() const {
  std::unique_lock lock(exit_mutex_);
  exit_cv_.wait(lock, [&] { return exit_reason_.has_value(); });
  return *exit_reason_;
}

void actor::on_exit(std::function<void(const exit_reason&)> f) {
  std::unique_lock lock(exit_mutex_);
  if (exit_reason_) {
    auto reason = *exit_reason_;
    lock.unlock();
    f(reason);
    return;
  }
  exit_callbacks_.push_back(std::move(f));
}

void actor::schedule() {
  if (rt_->pool) {
    rt_->pool->schedule(shared_from_this());
    return;
  }
  boost::asio::execution::execute(rt_->executor,
                                  [self = shared_from_this()] { self->run_scheduled(); });
}

}  // namespace datamesh::detail
