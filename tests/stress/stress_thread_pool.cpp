// The runtime's own thread pool: everything posted or scheduled runs exactly once, join runs
// what is queued, it is a usable Asio executor, and long tasks use every worker.
#include <datamesh/runtime/detail/thread_pool.hpp>

#include <boost/asio/post.hpp>
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <thread>

using datamesh::detail::thread_pool;

namespace {

/// Spins until `done()` holds or `limit` passes; the bound turns a hang into a failed check.
template <class F>
bool eventually(F done, std::chrono::seconds limit = std::chrono::seconds(20)) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::yield();
  }
  return true;
}

}  // namespace

TEST_CASE("thread pool: every posted function runs exactly once, from outside and inside") {
  std::atomic<int> ran{0};
  {
    thread_pool pool(2);
    for (int i = 0; i < 1000; ++i) {
      pool.post([&pool, &ran] {
        ran.fetch_add(1);
        pool.post([&ran] { ran.fetch_add(1); });  // from a worker
      });
    }
    CHECK(eventually([&] { return ran.load() == 2000; }));
    pool.join();
  }
  CHECK(ran.load() == 2000);
}

TEST_CASE("thread pool: join runs what is already queued before the workers stop") {
  std::atomic<int> ran{0};
  thread_pool pool(1);
  for (int i = 0; i < 100; ++i) pool.post([&ran] { ran.fetch_add(1); });
  pool.join();
  CHECK(ran.load() == 100);
  pool.join();  // idempotent
}

TEST_CASE("thread pool: it is an Asio executor") {
  std::atomic<bool> ran{false};
  thread_pool pool(1);
  boost::asio::post(pool.get_executor(), [&ran] { ran.store(true); });
  CHECK(eventually([&] { return ran.load(); }));
  pool.join();
}

TEST_CASE("thread pool: two long tasks run at the same time on two workers") {
  // Each task waits for the other to start: only concurrent workers can finish both.
  std::atomic<int> started{0};
  std::atomic<int> finished{0};
  thread_pool pool(2);
  for (int i = 0; i < 2; ++i) {
    pool.post([&] {
      started.fetch_add(1);
      if (eventually([&] { return started.load() == 2; })) finished.fetch_add(1);
    });
  }
  CHECK(eventually([&] { return finished.load() == 2; }));
  pool.join();
}

TEST_CASE("thread pool: post_local runs every task exactly once, from a worker or from outside") {
  std::atomic<int> ran{0};
  {
    thread_pool pool(2);
    for (int i = 0; i < 1000; ++i) {
      pool.post_local([&pool, &ran] {  // from outside: a plain post
        ran.fetch_add(1);
        pool.post_local([&ran] { ran.fetch_add(1); });
      });
    }
    CHECK(eventually([&] { return ran.load() == 2000; }));
    pool.join();
  }
  CHECK(ran.load() == 2000);
}

TEST_CASE("thread pool: a task queued locally by a busy worker is taken by an idle one") {
  // The poster waits for its own local task: only another worker stealing it can run it.
  std::atomic<bool> local_ran{false};
  std::atomic<bool> poster_saw_it{false};
  thread_pool pool(2);
  pool.post([&] {
    pool.post_local([&] { local_ran.store(true); });
    poster_saw_it.store(eventually([&] { return local_ran.load(); }));
  });
  CHECK(eventually([&] { return poster_saw_it.load(); }));
  pool.join();
}

TEST_CASE("thread pool: join runs tasks still queued locally") {
  std::atomic<int> ran{0};
  thread_pool pool(1);
  pool.post([&] {
    for (int i = 0; i < 100; ++i) pool.post_local([&ran] { ran.fetch_add(1); });
  });
  pool.join();
  CHECK(ran.load() == 100);
}

TEST_CASE("thread pool: work from outside runs while busy workers' own queues never empty") {
  // Found by stress/stress_shutdown.cpp: a supervisor's start_child from the test's thread
  // waited forever behind pipelines that kept every worker's local queue full.
  std::atomic<bool> stop{false};
  std::atomic<bool> outside_ran{false};
  thread_pool pool(1);
  struct chain {
    thread_pool* pool;
    std::atomic<bool>* stop;
    void operator()() const {
      if (!stop->load()) pool->post_local(chain{*this});  // always one more queued
    }
  };
  pool.post(chain{&pool, &stop});
  pool.post([&] { outside_ran.store(true); });
  CHECK(eventually([&] { return outside_ran.load(); }));
  stop.store(true);
  pool.join();
}
