// Bounded multi-threaded stress on the real thread pool: several producers and consumers,
// subscribed and cancelled while events flow, checked by exact sums. Seeded; the seed is printed
// and `DATAMESH_STRESS_SEED=<n>` replays one.
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <thread>

#include "support/harness.hpp"
#include "support/stress.hpp"

using namespace datamesh;

namespace {

/// Emits 1..limit exactly once each, then stops normally.
struct numbers {
  std::uint64_t next = 1;
  std::uint64_t limit;
  std::atomic<std::uint64_t>* emitted;
  numbers(std::uint64_t l, std::atomic<std::uint64_t>* e) : limit(l), emitted(e) {}
  void handle_demand(std::size_t n, context<std::uint64_t>& ctx) {
    for (; n > 0 && next <= limit; --n) ctx.push(next++);
    if (next > limit) ctx.stop();
  }
  void terminate(const exit_reason&) { emitted->fetch_add(next - 1); }
};

/// Adds each batch to a shared sum and count, and wakes whoever waits on the count.
struct adder {
  std::atomic<std::uint64_t>* sum;
  std::atomic<std::uint64_t>* count;
  void handle_events(std::span<const std::uint64_t> in) {
    std::uint64_t s = 0;
    for (auto x : in) s += x;
    sum->fetch_add(s);
    count->fetch_add(in.size());
    count->notify_all();
  }
};

/// Passes events through unchanged.
struct pass {
  void handle_events(std::span<const std::uint64_t> in, context<std::uint64_t>& ctx) {
    ctx.push_range(in);
  }
};

}  // namespace

TEST_CASE("stress: producers, producer_consumers and consumers on the thread pool lose nothing" *
          doctest::timeout(120)) {
  const std::uint64_t seed = dmtest::stress_seed();
  std::mt19937_64 rng(seed);
  for (int round = 0; round < 4; ++round) {
    runtime rt(runtime_options{.threads = 2});
    constexpr int producers = 3;
    constexpr std::uint64_t per_producer = 200'000;
    std::atomic<std::uint64_t> emitted{0}, sum{0}, count{0};
    // Each producer feeds a relay; the relays share 3 consumers through the DemandDispatcher.
    // Consumers are temporary, so they outlive the producers and are stopped at the end.
    std::vector<stage_handle<adder>> consumers;
    for (int i = 0; i < 3; ++i) consumers.push_back(rt.start<adder>(&sum, &count));
    std::vector<stage_handle<pass>> relays;
    std::vector<stage_handle<numbers>> sources;
    for (int i = 0; i < producers; ++i) {
      relays.push_back(rt.start<pass>());
      sources.push_back(rt.start<numbers>(per_producer, &emitted));
    }
    const auto demand = [&] {
      const std::size_t max = std::uniform_int_distribution<std::size_t>(1, 200)(rng);
      const std::size_t min = std::uniform_int_distribution<std::size_t>(0, max - 1)(rng);
      return subscribe_options{.max_demand = max, .min_demand = min};
    };
    for (auto& r : relays) {
      for (auto& c : consumers) {
        auto o = demand();
        o.cancel = cancel_mode::temporary;
        subscribe(c, r, o);
      }
    }
    // Subscribe the relays while the sources already run; each source also feeds its
    // neighbour's relay through an extra subscription that is cancelled while events flow.
    // Relays are transient: a source's normal end does not take them (and their buffers) down.
    std::vector<subscription> extra;
    for (int i = 0; i < producers; ++i) {
      auto o = demand();
      o.cancel = cancel_mode::transient;
      subscribe(relays[i], sources[i], o);
      auto t = demand();
      t.cancel = cancel_mode::temporary;
      extra.push_back(subscribe(relays[(i + 1) % producers], sources[i], t));
    }
    std::this_thread::yield();
    for (auto& s : extra) cancel(s);
    for (auto& src : sources) src.wait();
    // Wait, bounded by the test timeout, until every emitted event has been counted.
    const std::uint64_t total = producers * per_producer;
    for (std::uint64_t seen = count.load(); seen < total; seen = count.load()) count.wait(seen);
    rt.stop();
    CHECK(emitted.load() == producers * per_producer);
    // Every event emitted reached exactly one consumer: 1+..+n per producer.
    CHECK(count.load() == producers * per_producer);
    CHECK(sum.load() == producers * (per_producer * (per_producer + 1) / 2));
  }
}

TEST_CASE("the owned thread pool runs a pipeline and stops cleanly" * doctest::timeout(120)) {
  runtime rt(runtime_options{.threads = 2});
  struct limited {
    int next = 0;
    void handle_demand(std::size_t n, context<int>& ctx) {
      for (; n > 0 && next < 10'000; --n) ctx.push(next++);
      if (next == 10'000) ctx.stop();
    }
  };
  struct total {
    long* sum;
    void handle_events(std::span<const int> in) {
      for (int x : in) *sum += x;
    }
  };
  long sum = 0;
  auto p = rt.start<limited>();
  auto c = rt.start<total>(&sum);
  subscribe(c, p, {.max_demand = 10});
  CHECK(c.wait().is_normal());  // permanent: follows the producer's normal exit
  CHECK(sum == 10'000L * 9'999 / 2);
  rt.stop();
  CHECK(rt.stage_count() == 0);
}
