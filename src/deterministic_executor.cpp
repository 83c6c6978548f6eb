#include <datamesh/runtime/deterministic_executor.hpp>

#include <utility>

namespace datamesh {

deterministic_executor::~deterministic_executor() {
  // Handlers own stages; destroy them before the execution context's services.
  std::deque<detail::unique_function> rest;
  {
    std::lock_guard lock(mutex_);
    rest.swap(queue_);
  }
  rest.clear();
  shutdown();
  destroy();
}

void deterministic_executor::enqueue(detail::unique_function f) {
  std::lock_guard lock(mutex_);
  queue_.push_back(std::move(f));
}

bool deterministic_executor::run_one() {
  detail::unique_function f;
  {
    std::lock_guard lock(mutex_);
    if (queue_.empty()) return false;
    std::size_t index = 0;
    if (rng_) index = std::uniform_int_distribution<std::size_t>(0, queue_.size() - 1)(*rng_);
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

std::size_t deterministic_executor::pending() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

}  // namespace datamesh
