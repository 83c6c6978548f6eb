#include <datamesh/runtime/detail/timer_service.hpp>
#include <datamesh/runtime/deterministic_executor.hpp>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

namespace datamesh::detail {

namespace {

class thread_timers final : public timer_service {
 public:
  ~thread_timers() override { shutdown(); }

  clock::time_point now() const override { return clock::now(); }

  void after(clock::duration d, unique_function f) override {
    std::lock_guard lock(mutex_);
    if (stopped_) return;
    timers_.emplace(clock::now() + d, std::move(f));
    if (!thread_.joinable()) thread_ = std::thread([this] { loop(); });
    cv_.notify_one();
  }

  void shutdown() override {
    std::multimap<clock::time_point, unique_function> dropped;
    std::thread t;
    {
      std::lock_guard lock(mutex_);
      stopped_ = true;
      dropped.swap(timers_);
      t = std::move(thread_);
    }
    cv_.notify_one();
    if (t.joinable()) t.join();
  }

 private:
  void loop() {
    std::unique_lock lock(mutex_);
    while (!stopped_) {
      if (timers_.empty()) {
        cv_.wait(lock);
        continue;
      }
      auto first = timers_.begin();
      if (first->first > clock::now()) {
        cv_.wait_until(lock, first->first);
        continue;
      }
      unique_function f = std::move(first->second);
      timers_.erase(first);
      lock.unlock();
      f();
      lock.lock();
    }
  }

  std::mutex mutex_;
  std::condition_variable cv_;
  // Guarded by mutex_.
  std::multimap<clock::time_point, unique_function> timers_;
  bool stopped_ = false;
  std::thread thread_;
};

class deterministic_timers final : public timer_service {
 public:
  explicit deterministic_timers(deterministic_executor& ex) : ex_(&ex) {}

  clock::time_point now() const override { return ex_->now(); }

  void after(clock::duration d, unique_function f) override {
    if (stopped_->load()) return;
    // The executor keeps the timer; the flag makes one that comes due after shutdown a no-op,
    // so that shutdown drops the pending timers as a timer thread's does.
    ex_->add_timer(ex_->now() + d, [stopped = stopped_, f = std::move(f)]() mutable {
      if (!stopped->load()) f();
    });
  }

  void shutdown() override { stopped_->store(true); }

 private:
  deterministic_executor* ex_;
  std::shared_ptr<std::atomic<bool>> stopped_ = std::make_shared<std::atomic<bool>>(false);
};

}  // namespace

std::shared_ptr<timer_service> make_thread_timers() { return std::make_shared<thread_timers>(); }

std::shared_ptr<timer_service> make_deterministic_timers(deterministic_executor& executor) {
  return std::make_shared<deterministic_timers>(executor);
}

}  // namespace datamesh::detail
