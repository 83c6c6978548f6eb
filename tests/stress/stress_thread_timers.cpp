// The timer thread of a real runtime: a timer fires on it, never before its duration, in
// deadline order; shutdown drops what is pending and returns without waiting for it.
#include <datamesh/runtime/detail/timer_service.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

TEST_CASE("thread timers: each fires on the timer thread, not before its duration, in order") {
  auto timers = datamesh::detail::make_thread_timers();
  std::mutex m;
  std::vector<int> order;
  std::promise<void> last;
  auto all_fired = last.get_future();
  const auto start = timers->now();
  clock_type::time_point fired_at{};
  std::thread::id fired_on;
  timers->after(30ms, [&] {
    std::lock_guard lock(m);
    order.push_back(30);
    fired_at = clock_type::now();
    fired_on = std::this_thread::get_id();
    last.set_value();
  });
  timers->after(10ms, [&] {
    std::lock_guard lock(m);
    order.push_back(10);
  });
  timers->after(0ms, [&] {
    std::lock_guard lock(m);
    order.push_back(0);
  });
  REQUIRE(all_fired.wait_for(20s) == std::future_status::ready);  // a bound, not a pause
  std::lock_guard lock(m);
  CHECK(order == std::vector<int>{0, 10, 30});
  CHECK(fired_at - start >= 30ms);
  CHECK(fired_on != std::this_thread::get_id());
}

TEST_CASE("thread timers: shutdown drops pending timers at once and ignores later ones") {
  auto timers = datamesh::detail::make_thread_timers();
  std::atomic<int> fired{0};
  timers->after(1h, [&] { ++fired; });
  const auto before = clock_type::now();
  timers->shutdown();  // returns at once: the hour-long timer is dropped, not awaited
  CHECK(clock_type::now() - before < 10s);
  timers->after(0ms, [&] { ++fired; });
  timers->shutdown();  // idempotent
  CHECK(fired.load() == 0);
}
