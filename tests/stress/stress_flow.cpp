// Bounded multi-threaded stress of the flow adapters on the real thread pool: a stream iterated
// from the test thread over two range producers, blocking on its condition variable while the
// pool runs the stages, checked by exact sums. Seeded; the seed is printed and
// `DATAMESH_STRESS_SEED=<n>` replays one.
#include <datamesh/flow/from_range.hpp>
#include <datamesh/flow/stream.hpp>

#include <cstdint>
#include <cstdlib>
#include <random>
#include <ranges>
#include <thread>
#include <vector>

#include "support/harness.hpp"
#include "support/stress.hpp"

using namespace datamesh;

TEST_CASE("stress: a stream over two range producers on the thread pool loses nothing" *
          doctest::timeout(120)) {
  const std::uint64_t seed = dmtest::stress_seed();
  std::mt19937_64 rng(seed);
  constexpr std::uint64_t per_producer = 100'000;
  const auto demand = [&] {
    const std::size_t max = std::uniform_int_distribution<std::size_t>(1, 300)(rng);
    const std::size_t min = std::uniform_int_distribution<std::size_t>(0, max - 1)(rng);
    return subscribe_options{.max_demand = max, .min_demand = min};
  };
  for (int round = 0; round < 8; ++round) {
    runtime rt(runtime_options{.threads = 2});
    // 1..n from a view, n+1..2n from an owned vector: both paths of range_source.
    std::vector<std::uint64_t> upper;
    for (std::uint64_t i = per_producer + 1; i <= 2 * per_producer; ++i) upper.push_back(i);
    auto low = start_from_range(rt, std::views::iota(std::uint64_t{1}, per_producer + 1));
    auto high = start_from_range(rt, std::move(upper));
    std::uint64_t sum = 0, count = 0, last_low = 0, last_high = per_producer;
    bool ordered = true;
    const bool early = round % 2 == 1;  // odd rounds stop the stream early
    const std::uint64_t stop_after =
        std::uniform_int_distribution<std::uint64_t>(1, 2 * per_producer - 1)(rng);
    {
      auto s = datamesh::stream<std::uint64_t>(rt, {{low, demand()}, {high, demand()}});
      for (std::uint64_t x : s) {
        sum += x;
        ++count;
        // Each producer's events arrive in its order, whatever the interleaving.
        std::uint64_t& last = x <= per_producer ? last_low : last_high;
        ordered = ordered && x == last + 1;
        last = x;
        if (early && count == stop_after) break;
      }
    }
    if (early) {
      CHECK(count == stop_after);
      CHECK(sum == (last_low * (last_low + 1) / 2) +
                       (last_high * (last_high + 1) / 2 - per_producer * (per_producer + 1) / 2));
    } else {
      CHECK(count == 2 * per_producer);
      CHECK(sum == 2 * per_producer * (2 * per_producer + 1) / 2);
      CHECK(low.wait().is_normal());  // both ended after their last event was dispatched
      CHECK(high.wait().is_normal());
    }
    CHECK(ordered);
    rt.stop();
  }
  // stop() from another thread ends an iteration blocked on a producer that never emits.
  {
    dmtest::journal j;
    runtime rt(runtime_options{.threads = 2});
    auto silent = rt.start<dmtest::manual_source>(&j);
    auto s = datamesh::stream<int>(rt, {silent});
    std::size_t seen = 0;
    std::thread stopper([&s] { s.stop(); });
    for (int x : s) seen += static_cast<std::size_t>(x) + 1;
    stopper.join();
    CHECK(seen == 0);
    CHECK(silent.alive());
    rt.stop();
  }
}
