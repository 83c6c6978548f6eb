// Timers for stages in virtual time: a runtime on a deterministic executor gets timers that
// fire as the test moves the executor's clock, and none after shutdown. (The timer thread of a
// real runtime is tested in tests/stress/stress_thread_timers.cpp.)
#include <datamesh/runtime/detail/timer_service.hpp>
#include <datamesh/runtime/deterministic_executor.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <vector>

using datamesh::deterministic_executor;
using namespace std::chrono_literals;

TEST_CASE("deterministic timers: now is the executor's virtual time, and a timer fires after d") {
  deterministic_executor ex;
  auto timers = datamesh::detail::make_deterministic_timers(ex);
  ex.advance(10s);
  CHECK(timers->now() == ex.now());

  std::vector<int> fired;
  timers->after(2s, [&] { fired.push_back(2); });
  timers->after(1s, [&] { fired.push_back(1); });
  timers->after(0s, [&] { fired.push_back(0); });  // due now: queued as a handler, not run inline
  CHECK(fired.empty());
  ex.run();
  CHECK(fired == std::vector<int>{0});

  ex.advance(1999ms);
  ex.run();
  CHECK(fired == std::vector<int>{0, 1});
  ex.advance(1ms);
  ex.run();
  CHECK(fired == std::vector<int>{0, 1, 2});
}

TEST_CASE("deterministic timers: shutdown drops the pending timers and ignores later ones") {
  deterministic_executor ex;
  auto timers = datamesh::detail::make_deterministic_timers(ex);
  int fired = 0;
  timers->after(1s, [&] { ++fired; });
  timers->after(0s, [&] { ++fired; });  // already queued on the executor
  timers->shutdown();
  timers->shutdown();  // idempotent
  timers->after(1s, [&] { ++fired; });
  ex.advance(5s);
  ex.run();
  CHECK(fired == 0);
}
