#include <datamesh/error.hpp>
#include <datamesh/runtime/detail/thread_pool.hpp>

#include <chrono>
#include <exception>
#include <string>
#include <utility>

namespace datamesh::detail {

namespace {

// The pool and worker the current thread belongs to, if any.
thread_local thread_pool* current_pool = nullptr;
thread_local void* current_worker = nullptr;

// How many times in a row a worker runs its `next` slot before it looks at its queue, so a
// ping-pong between two stages cannot starve the rest.
constexpr int max_next_streak = 16;
// Every this many looks for work, a worker takes from the shared queue before its own: work from
// threads outside the pool (a service's send, subscribe, start_child or stop) must not wait
// behind local queues that busy stages keep from ever emptying. Prime, so it does not fall into
// step with a pipeline's period; the same choice as Tokio's global queue interval.
constexpr std::uint32_t shared_every = 61;
// How many rounds an idle worker searches before it sleeps: a hand-off that arrives meanwhile
// is picked up without a wake.
constexpr int idle_spins = 64;
// A queue this deep is taken from, and wakes a sleeper, whatever its owner's progress.
constexpr std::size_t deep_queue = 8;
// Another worker's queued stage is taken once it has waited this long. A worker running small
// batches gets to its queue sooner, and moving them to another core would cost more (the
// batches' cache lines, a wake) than it saves; one busy with long tasks does not. Measured in
// bench/ (W4 and W4_heavy): at 20 us the light W4 at 1000/500 stole thousands of times and ran
// at half speed; at 100 us it keeps its work, and heavy consumers still use both cores.
constexpr auto steal_after = std::chrono::microseconds(100);
// A sleeping worker looks again this often, to help a worker stuck in a long task with a short
// queue (which never wakes anyone).
constexpr auto idle_recheck = std::chrono::milliseconds(1);

}  // namespace

thread_pool::thread_pool(std::size_t threads) {
  if (threads == 0) threads = 1;
  for (std::size_t i = 0; i < threads; ++i) workers_.push_back(std::make_unique<worker>());
  try {
    for (std::size_t i = 0; i < threads; ++i) threads_.emplace_back([this, i] { work(i); });
  } catch (const std::exception& e) {
    // The threads already running are joined, not left joinable (which would terminate the
    // process as the constructor unwinds); the caller gets a typed error.
    const std::size_t started = threads_.size();
    join();
    throw error(errc::bad_options, "runtime_options::threads = " + std::to_string(threads) +
                                       ": only " + std::to_string(started) +
                                       " threads could be started (" + e.what() + ")");
  }
}

thread_pool::~thread_pool() {
  join();
  shutdown();
  destroy();
}

void thread_pool::schedule(actor_ptr stage) {
  if (current_pool == this) {
    auto& w = *static_cast<worker*>(current_worker);
    if (!w.next) {
      w.next = std::move(stage);
      return;
    }
    // The slot is taken: the older stage waits in the queue, where an idle worker may take it.
    const std::size_t queued = w.push({std::move(w.next), {}, std::chrono::steady_clock::now()});
    w.next = std::move(stage);
    if (queued >= deep_queue && sleepers_.load(std::memory_order_relaxed) > 0) wake_one();
    return;
  }
  {
    std::lock_guard lock(shared_mutex_);
    shared_.push_back(std::move(stage));
    shared_pending_.store(true, std::memory_order_relaxed);
  }
  wake_one();
}

void thread_pool::post(unique_function f) {
  {
    std::lock_guard lock(shared_mutex_);
    posted_.push_back(std::move(f));
    shared_pending_.store(true, std::memory_order_relaxed);
  }
  wake_one();
}

void thread_pool::post_local(unique_function f) {
  if (current_pool != this) return post(std::move(f));
  auto& w = *static_cast<worker*>(current_worker);
  const std::size_t queued = w.push({nullptr, std::move(f), std::chrono::steady_clock::now()});
  if (queued >= deep_queue && sleepers_.load(std::memory_order_relaxed) > 0) wake_one();
}

void thread_pool::wake_one() {
  std::lock_guard lock(sleep_mutex_);
  if (sleepers_.load(std::memory_order_relaxed) == 0) return;
  ++wake_epoch_;
  sleep_cv_.notify_one();
}

std::size_t thread_pool::worker::push(queued q) {
  std::lock_guard lock(mutex);
  queue.push_back(std::move(q));
  note_front();
  return queue.size();
}

void thread_pool::worker::note_front() noexcept {
  length.store(queue.size(), std::memory_order_relaxed);
  front_since.store(queue.empty() ? 0 : queue.front().since.time_since_epoch().count(),
                    std::memory_order_relaxed);
}

bool thread_pool::run_posted() {
  unique_function f;
  {
    std::lock_guard lock(shared_mutex_);
    if (posted_.empty()) return false;
    f = std::move(posted_.front());
    posted_.pop_front();
    shared_pending_.store(!posted_.empty() || !shared_.empty(), std::memory_order_relaxed);
  }
  f();
  return true;
}

void thread_pool::take_front(worker& w, actor_ptr& out, unique_function& task) {
  auto& front = w.queue.front();
  if (front.stage) {
    out = std::move(front.stage);
  } else {
    task = std::move(front.task);
  }
  w.queue.pop_front();
  w.note_front();
}

bool thread_pool::take_shared(actor_ptr& out) {
  if (run_posted()) return true;
  std::lock_guard lock(shared_mutex_);
  if (shared_.empty()) return false;
  out = std::move(shared_.front());
  shared_.pop_front();
  shared_pending_.store(!posted_.empty() || !shared_.empty(), std::memory_order_relaxed);
  return true;
}

bool thread_pool::find_work(worker& self, std::size_t index, actor_ptr& out) {
  if (++self.looks % shared_every == 0 && shared_pending_.load(std::memory_order_relaxed) &&
      take_shared(out)) {
    return static_cast<bool>(out);
  }
  unique_function task;
  if (self.length.load(std::memory_order_relaxed) > 0) {
    std::lock_guard lock(self.mutex);
    if (!self.queue.empty()) take_front(self, out, task);
  }
  if (!out && !task && shared_pending_.load(std::memory_order_relaxed) && take_shared(out)) {
    return static_cast<bool>(out);
  }
  // Steal the oldest entry of a worker that is behind; the hints spare the lock of one that is
  // not.
  if (!out && !task) {
    const auto now = std::chrono::steady_clock::now();
    const auto ripe = (now - steal_after).time_since_epoch().count();
    for (std::size_t k = 1; k < workers_.size() && !out && !task; ++k) {
      auto& victim = *workers_[(index + k) % workers_.size()];
      const std::size_t length = victim.length.load(std::memory_order_relaxed);
      if (length == 0 ||
          (length < deep_queue && victim.front_since.load(std::memory_order_relaxed) > ripe)) {
        continue;
      }
      std::lock_guard lock(victim.mutex);
      if (!victim.queue.empty() &&
          (now - victim.queue.front().since >= steal_after || victim.queue.size() >= deep_queue)) {
        take_front(victim, out, task);
      }
    }
  }
  if (task) task();
  return static_cast<bool>(out);
}

bool thread_pool::any_work() {
  {
    std::lock_guard lock(shared_mutex_);
    if (!shared_.empty() || !posted_.empty()) return true;
  }
  for (auto& w : workers_) {
    std::lock_guard lock(w->mutex);
    if (!w->queue.empty()) return true;
  }
  return false;
}

void thread_pool::work(std::size_t index) {
  worker& self = *workers_[index];
  current_pool = this;
  current_worker = &self;
  int streak = 0;
  int idle = 0;
  for (;;) {
    actor_ptr s;
    if (self.next && streak < max_next_streak) {
      s = std::move(self.next);
      ++streak;
    } else {
      streak = 0;
      if (!find_work(self, index, s) && self.next) s = std::move(self.next);
    }
    if (s) {
      idle = 0;
      s->run_scheduled();
      continue;
    }
    if (++idle < idle_spins) {
      std::this_thread::yield();
      continue;
    }
    // Sleep. Counting ourselves as a sleeper and re-checking the queues under sleep_mutex_
    // means a producer that queued work before we counted is seen here, and one after sees us
    // in wake_one (which takes the same mutex).
    std::unique_lock lock(sleep_mutex_);
    if (stopping_ && !any_work()) break;
    sleepers_.fetch_add(1, std::memory_order_relaxed);
    if (!any_work()) {
      const std::uint64_t epoch = wake_epoch_;
      sleep_cv_.wait_for(lock, idle_recheck, [&] { return wake_epoch_ != epoch || stopping_; });
    }
    sleepers_.fetch_sub(1, std::memory_order_relaxed);
    idle = 0;
  }
  current_pool = nullptr;
  current_worker = nullptr;
}

bool thread_pool::on_this_thread() const noexcept { return current_pool == this; }

void thread_pool::join() {
  if (joined_) return;
  joined_ = true;
  {
    std::lock_guard lock(sleep_mutex_);
    stopping_ = true;
    ++wake_epoch_;
  }
  sleep_cv_.notify_all();
  for (auto& t : threads_) t.join();
}

}  // namespace datamesh::detail
