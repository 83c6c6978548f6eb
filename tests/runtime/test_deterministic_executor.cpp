// The deterministic executor that every semantics test runs on: nothing runs until the test
// steps it, handlers run in FIFO order or in the one order a seed names, posting never runs a
// handler inline, and timers fire only when the test moves the virtual clock.
#include <datamesh/runtime/deterministic_executor.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/post.hpp>
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <numeric>
#include <vector>

using datamesh::deterministic_executor;
using namespace std::chrono_literals;

namespace {

/// The order in which `n` handlers, posted as 0..n-1, run on an executor seeded with `seed`.
std::vector<int> order_of(std::uint64_t seed, int n) {
  deterministic_executor ex(seed);
  std::vector<int> order;
  for (int i = 0; i < n; ++i)
    boost::asio::post(ex.get_executor(), [&order, i] { order.push_back(i); });
  ex.run();
  return order;
}

}  // namespace

TEST_CASE("deterministic executor: nothing runs until stepped, then FIFO, one handler a step") {
  deterministic_executor ex;
  std::vector<int> order;
  for (int i = 0; i < 5; ++i)
    boost::asio::post(ex.get_executor(), [&order, i] { order.push_back(i); });
  CHECK(order.empty());
  CHECK(ex.pending() == 5);
  CHECK(ex.steps() == 0);

  CHECK(ex.run_one());
  CHECK(order == std::vector<int>{0});
  CHECK(ex.pending() == 4);
  CHECK(ex.steps() == 1);

  CHECK(ex.run() == 4);
  CHECK(order == std::vector<int>{0, 1, 2, 3, 4});
  CHECK_FALSE(ex.run_one());
  CHECK(ex.steps() == 5);
}

TEST_CASE("deterministic executor: a handler's post runs after it, never inline (blocking.never)") {
  deterministic_executor ex;
  std::vector<int> order;
  boost::asio::post(ex.get_executor(), [&] {
    boost::asio::post(ex.get_executor(), [&] { order.push_back(2); });
    order.push_back(1);  // the inner handler has not run yet
  });
  boost::asio::post(ex.get_executor(), [&] { order.push_back(3); });
  ex.run();
  CHECK(order == std::vector<int>{1, 3, 2});
}

TEST_CASE("deterministic executor: a seed names one schedule, a permutation of what was posted") {
  for (std::uint64_t seed : {1u, 7u, 42u, 1234u}) {
    const auto a = order_of(seed, 30);
    CHECK(a == order_of(seed, 30));  // replayable
    auto sorted = a;
    std::sort(sorted.begin(), sorted.end());
    std::vector<int> all(30);
    std::iota(all.begin(), all.end(), 0);
    CHECK(sorted == all);  // each handler exactly once
  }
  // Seeds explore: among a few, some order is not FIFO and two differ from each other.
  std::vector<int> fifo(30);
  std::iota(fifo.begin(), fifo.end(), 0);
  bool some_not_fifo = false;
  bool two_differ = false;
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    some_not_fifo = some_not_fifo || order_of(seed, 30) != fifo;
    two_differ = two_differ || order_of(seed, 30) != order_of(seed + 1, 30);
  }
  CHECK(some_not_fifo);
  CHECK(two_differ);
}

TEST_CASE(
    "deterministic executor: run stops at max_steps, run_until at done or at an empty queue") {
  deterministic_executor ex;
  int ran = 0;
  for (int i = 0; i < 10; ++i) boost::asio::post(ex.get_executor(), [&ran] { ++ran; });
  CHECK(ex.run(3) == 3);
  CHECK(ran == 3);

  CHECK(ex.run_until([&] { return ran == 5; }));
  CHECK(ran == 5);  // stopped as soon as done held
  CHECK(ex.pending() == 5);

  CHECK_FALSE(ex.run_until([&] { return ran == 100; }));  // the queue ran dry first
  CHECK(ran == 10);
  CHECK(ex.run_until([] { return true; }));  // done at once, nothing queued: still true
}

TEST_CASE(
    "deterministic executor: timers fire in deadline order, only as the virtual clock moves") {
  deterministic_executor ex;
  const auto t0 = ex.now();
  CHECK(t0 == deterministic_executor::clock::time_point{});
  std::vector<int> fired;
  ex.add_timer(t0 + 3s, [&] { fired.push_back(3); });
  ex.add_timer(t0 + 1s, [&] { fired.push_back(1); });
  ex.add_timer(t0 + 2s, [&] { fired.push_back(2); });
  CHECK(ex.pending_timers() == 3);
  CHECK(ex.pending() == 0);

  ex.run();
  CHECK(fired.empty());
  ex.advance(999ms);
  ex.run();
  CHECK(fired.empty());  // not due yet: real time does not count

  ex.advance(1s);  // t0 + 1.999 s: the first is due, and only queued until run
  CHECK(ex.pending() == 1);
  CHECK(fired.empty());
  ex.run();
  CHECK(fired == std::vector<int>{1});

  ex.advance(10s);  // both others at once, in deadline order
  CHECK(ex.pending_timers() == 0);
  ex.run();
  CHECK(fired == std::vector<int>{1, 2, 3});
  CHECK(ex.now() == t0 + 11s + 999ms);
}

TEST_CASE(
    "deterministic executor: advance_to_next_timer jumps to the earliest deadline, never back") {
  deterministic_executor ex;
  CHECK_FALSE(ex.advance_to_next_timer());  // no timer: the clock stays
  CHECK(ex.now() == deterministic_executor::clock::time_point{});

  int fired = 0;
  ex.advance(5s);
  ex.add_timer(ex.now() + 2s, [&] { ++fired; });
  ex.add_timer(ex.now() + 4s, [&] { ++fired; });
  CHECK(ex.advance_to_next_timer());
  CHECK(ex.now() == deterministic_executor::clock::time_point{} + 7s);
  CHECK(ex.pending_timers() == 1);
  ex.run();
  CHECK(fired == 1);

  // A deadline already past is queued at once, and the clock does not go back for it.
  ex.add_timer(deterministic_executor::clock::time_point{}, [&] { ++fired; });
  CHECK(ex.pending() == 1);
  CHECK(ex.now() == deterministic_executor::clock::time_point{} + 7s);
  ex.run();
  CHECK(fired == 2);
}

TEST_CASE("deterministic executor: its executor is an Asio executor of this context") {
  deterministic_executor ex;
  deterministic_executor other;
  CHECK(ex.get_executor() == ex.get_executor());
  CHECK(ex.get_executor() != other.get_executor());
  CHECK(&ex.get_executor().context() == &ex);
  CHECK(&boost::asio::query(ex.get_executor(), boost::asio::execution::context) == &ex);
  CHECK(boost::asio::query(ex.get_executor(), boost::asio::execution::blocking) ==
        boost::asio::execution::blocking.never);

  // Type-erased as Asio's any_io_executor (how a runtime borrows it), it still posts here.
  boost::asio::any_io_executor any = ex.get_executor();
  int ran = 0;
  boost::asio::post(any, [&ran] { ++ran; });
  CHECK(ran == 0);
  CHECK(ex.pending() == 1);
  ex.run();
  CHECK(ran == 1);
}

TEST_CASE(
    "deterministic executor: destroyed, it destroys its handlers and timers without running them") {
  auto owned = std::make_shared<int>(0);
  bool ran = false;
  {
    deterministic_executor ex;
    boost::asio::post(ex.get_executor(), [owned, &ran] { ran = true; });
    ex.add_timer(ex.now() + 1s, [owned, &ran] { ran = true; });
    CHECK(owned.use_count() == 3);
  }
  CHECK(owned.use_count() == 1);
  CHECK_FALSE(ran);
}
