/// @file
/// The runtime's own thread pool: a work-stealing scheduler of stages that keeps a hand-off on
/// the thread that made it.
///
/// Why not `asio::thread_pool`: a stage made runnable by another stage's message is best run
/// next, on the same thread, while the batch it just received is in that core's cache. Asio's
/// pool puts it in a shared queue and wakes another thread, so each small batch crosses cores and
/// pays a futex wake (measured in bench/: W2 at 10/5 ran 3x faster on one Asio thread than on
/// two). Here each worker has a `next` slot (the stage it scheduled last, run next without a
/// lock) and a local queue that idle workers steal from, but only once its oldest stage has
/// waited `steal_after`, or the queue is deep: a worker churning through small batches keeps
/// them, and their cache lines, while one busy with long tasks gets help. A small task a stage
/// makes (a consumer supervisor's batch of workers) goes to the same local queue by
/// `post_local`, by the same rules. Idle workers read each queue's length and age from atomics
/// before taking its lock, so their search does not contend with the busy owner (measured in
/// bench/: W6 and W7 at 10/5 ran twice as fast, W5 at 10/5 four times). Sleeping workers are
/// woken for a deep queue and look again every millisecond, never for the `next` slot. It is also
/// an Asio execution context, so `runtime::executor()` can post plain functions to it.
///
/// The scheme follows the LIFO slot and local run queues of work-stealing schedulers (Tokio's
/// "Making the Tokio scheduler 10x faster", 2019), simplified to mutex-guarded queues: the hot
/// path, the `next` slot, takes no lock at all.
#pragma once

#include <datamesh/runtime/detail/actor.hpp>
#include <datamesh/runtime/detail/posting_executor.hpp>
#include <datamesh/runtime/detail/unique_function.hpp>

#include <boost/asio/execution_context.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace datamesh::detail {

/// Thread safety: `schedule`, `post` and the executor are thread-safe; `join` once, from a
/// thread that is not a worker.
class thread_pool : public boost::asio::execution_context {
 public:
  explicit thread_pool(std::size_t threads);
  ~thread_pool();
  thread_pool(const thread_pool&) = delete;
  thread_pool& operator=(const thread_pool&) = delete;

  /// Makes `stage` runnable. From a worker: into its `next` slot, without a lock.
  void schedule(actor_ptr stage);
  /// Runs `f` on some worker, waking a sleeping one for it.
  void post(unique_function f);
  /// Runs `f` on the calling worker, after what it already has queued, unless another worker
  /// steals it by the rules that apply to stages: small tasks made by a stage then run on the
  /// core that holds their data, without a wake. From a thread that is not a worker: `post`.
  void post_local(unique_function f);
  /// Runs what is queued, then stops and joins the workers. Idempotent.
  void join();
  /// Its threads.
  std::size_t size() const noexcept { return workers_.size(); }
  /// Whether the calling thread is one of this pool's. Never blocks.
  bool on_this_thread() const noexcept;

  /// The Asio executor posting to this pool.
  using executor_type = posting_executor<thread_pool>;
  executor_type get_executor() noexcept { return executor_type(*this); }

 private:
  // A stage to run, or else a task.
  struct queued {
    actor_ptr stage;
    unique_function task;
    std::chrono::steady_clock::time_point since;
  };
  struct worker {
    // Guards `queue`.
    std::mutex mutex;
    std::deque<queued> queue;
    // Written under `mutex` with `queue`, read without it by idle workers deciding whether to
    // steal, so that a spinning worker does not contend for the lock of a busy one: the queue's
    // length, and when its front was queued (in steady_clock ticks).
    std::atomic<std::size_t> length{0};
    std::atomic<std::int64_t> front_since{0};
    /// Appends `q`; returns the new length. Takes `mutex`.
    std::size_t push(queued q);
    /// Updates the hints; call with `mutex` held.
    void note_front() noexcept;
    // Owned by this worker's thread only: the stage it runs next, and how many times it has
    // looked for work (every `shared_every`-th look serves the shared queue first).
    actor_ptr next;
    std::uint32_t looks = 0;
  };

  void work(std::size_t index);
  /// Takes a stage for worker `self`: its own queue first, then the shared queue, then the
  /// oldest of another worker's. Runs a task instead when one comes first, and returns false.
  bool find_work(worker& self, std::size_t index, actor_ptr& out);
  /// Takes the front of `w`'s queue into `out` or `task`.
  static void take_front(worker& w, actor_ptr& out, unique_function& task);
  /// Runs a task posted from outside the pool, or else takes a stage scheduled from outside into
  /// `out`. Returns whether it found either.
  bool take_shared(actor_ptr& out);
  bool run_posted();
  bool any_work();
  void wake_one();

  std::vector<std::unique_ptr<worker>> workers_;
  std::vector<std::thread> threads_;

  // Guards `shared_` and `posted_`: work from threads that are not workers.
  std::mutex shared_mutex_;
  std::deque<actor_ptr> shared_;
  std::deque<unique_function> posted_;
  // `shared_` and `posted_` hold something: written under shared_mutex_, read without it as a
  // hint by idle workers (work queued there also wakes one).
  std::atomic<bool> shared_pending_{false};

  // Guards `sleepers_`, `wake_epoch_`, `stopping_`; `sleep_cv_` waits on it.
  std::mutex sleep_mutex_;
  std::condition_variable sleep_cv_;
  std::uint64_t wake_epoch_ = 0;
  bool stopping_ = false;
  // Written under sleep_mutex_, read without it as a hint (a missed hint only delays a steal:
  // the queue's owner runs the work itself).
  std::atomic<std::size_t> sleepers_{0};
  bool joined_ = false;
};

}  // namespace datamesh::detail
