#include <datamesh/runtime/deterministic_executor.hpp>

#include <algorithm>
#include <random>
#include <utility>

namespace datamesh {

namespace detail {
// std::mt19937_64 as before the generator left the header: a seed names the same schedule it
// always has.
struct schedule_rng {
  std::mt19937_64 engine;
};
}  // namespace detail

deterministic_executor::deterministic_executor() = default;

deterministic_executor::deterministic_executor(std::uint64_t seed)
    : rng_(std::make_unique<detail::schedule_rng>(detail::schedule_rng{std::mt19937_64(seed)})) {}

deterministic_executor::~deterministic_executor() {
  // Handlers own stages; destroy them before the execution context's services.
  std::deque<detail::unique_function> rest;
  std::multimap<clock::time_point, detail::unique_function> timers;
  {
    std::lock_guard lock(mutex_);
    rest.swap(queue_);
    timers.swap(timers_);
  }
  rest.clear();
  timers.clear();
  shutdown();
  destroy();
}

void deterministic_executor::post(detail::unique_function f) {
  std::lock_guard lock(mutex_);
  queue_.push_back(std::move(f));
}

bool deterministic_executor::run_one() {
  detail::unique_function f;
  {
    std::lock_guard lock(mutex_);
    if (queue_.empty()) return false;
    std::size_t index = 0;
    if (rng_)
      index = std::uniform_int_distribution<std::size_t>(0, queue_.size() - 1)(rng_->engine);
    f = std::move(queue_[index]);
    queue_.erase(queue_.begin() + static_cast<std::ptrdiff_t>(index));
  }
  ++steps_;
  f();
  return true;
}

std::size_t deterministic_executor::run(std::size_t max_steps) {
  std::size_t n = 0;
  while (n < max_steps && run_one()) ++n;
  return n;
}

bool deterministic_executor::run_until(const std::function<bool()>& done, std::size_t max_steps) {
  for (std::size_t n = 0; n < max_steps; ++n) {
    if (done()) return true;
    if (!run_one()) break;
  }
  return done();
}

deterministic_executor::clock::time_point deterministic_executor::now() const {
  std::lock_guard lock(mutex_);
  return now_;
}

void deterministic_executor::add_timer(clock::time_point deadline, detail::unique_function f) {
  std::lock_guard lock(mutex_);
  timers_.emplace(deadline, std::move(f));
  release_due_timers();
}

void deterministic_executor::advance(clock::duration d) {
  std::lock_guard lock(mutex_);
  now_ += d;
  release_due_timers();
}

bool deterministic_executor::advance_to_next_timer() {
  std::lock_guard lock(mutex_);
  if (timers_.empty()) return false;
  now_ = std::max(now_, timers_.begin()->first);
  release_due_timers();
  return true;
}

std::size_t deterministic_executor::pending_timers() const {
  std::lock_guard lock(mutex_);
  return timers_.size();
}

void deterministic_executor::release_due_timers() {
  while (!timers_.empty() && timers_.begin()->first <= now_) {
    queue_.push_back(std::move(timers_.begin()->second));
    timers_.erase(timers_.begin());
  }
}

std::size_t deterministic_executor::pending() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

}  // namespace datamesh
