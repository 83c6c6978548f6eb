// Bounded multi-threaded stress of the broadcast, partition and route dispatchers on the real
// thread pool, checked by exact sums per subscriber. Seeded; the seed is printed and
// `DATAMESH_STRESS_SEED=<n>` replays one.
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>
#include <random>
#include <vector>

#include "support/harness.hpp"
#include "support/stress.hpp"

using namespace datamesh;

namespace {

constexpr std::uint64_t total = 400'000;
constexpr std::uint64_t expected_sum = total * (total + 1) / 2;
constexpr std::uint64_t keys = 4;

/// Emits 1..total once each through dispatcher `D`, then waits (it never stops itself, so no
/// queued event is dropped with it).
template <class D>
struct numbers {
  using dispatcher_type = D;
  std::atomic<std::uint64_t>* subscribed;
  std::uint64_t next = 1;
  explicit numbers(std::atomic<std::uint64_t>* s) : subscribed(s) {}
  void handle_demand(std::size_t n, context<std::uint64_t>& ctx) {
    for (; n > 0 && next <= total; --n) ctx.push(next++);
  }
  void handle_subscribe(peer_role, const subscription&, const subscribe_options&,
                        context<std::uint64_t>&) {
    subscribed->fetch_add(1);
    subscribed->notify_all();
  }
};

/// What one consumer saw: counts and sums, and whether an event of another key reached it.
struct tally {
  std::atomic<std::uint64_t> sum{0};
  std::atomic<std::uint64_t> count{0};
  std::atomic<bool> foreign{false};
};

struct counting {
  tally* t;
  std::optional<std::uint64_t> key;  // the only key it may see, if any
  void handle_events(std::span<const std::uint64_t> in) {
    std::uint64_t s = 0;
    for (auto x : in) {
      s += x;
      if (key && x % keys != *key) t->foreign.store(true);
    }
    t->sum.fetch_add(s);
    t->count.fetch_add(in.size());
    t->count.notify_all();
  }
};

subscribe_options random_demand(std::mt19937_64& rng) {
  const std::size_t max = std::uniform_int_distribution<std::size_t>(1, 300)(rng);
  const std::size_t min = std::uniform_int_distribution<std::size_t>(0, max - 1)(rng);
  return {.max_demand = max, .min_demand = min, .cancel = cancel_mode::temporary};
}

void wait_for(const std::atomic<std::uint64_t>& count, std::uint64_t target) {
  for (std::uint64_t seen = count.load(); seen < target; seen = count.load()) count.wait(seen);
}

/// Starts a producer with dispatcher `D` in accumulate mode: demand goes through once every
/// consumer has subscribed (`release`), so no subscriber misses the start.
template <class D>
stage_handle<numbers<D>> start_source(runtime& rt, std::any dispatcher_options,
                                      std::atomic<std::uint64_t>& subscribed) {
  return rt.start<numbers<D>>(stage_options{.demand = producer_demand::accumulate,
                                            .dispatcher_options = std::move(dispatcher_options)},
                              &subscribed);
}

template <class P>
void release(const P& src, std::atomic<std::uint64_t>& subscribed, std::uint64_t consumers) {
  wait_for(subscribed, consumers);
  demand(src, producer_demand::forward);
}

/// Each key's events all reached its one consumer, and together they are every event once.
void check_one_consumer_per_key(const std::vector<std::unique_ptr<tally>>& tallies) {
  std::uint64_t sum = 0;
  for (std::uint64_t k = 0; k < keys; ++k) {
    CHECK_FALSE(tallies[k]->foreign.load());
    CHECK(tallies[k]->count.load() == total / keys);
    sum += tallies[k]->sum.load();
  }
  CHECK(sum == expected_sum);
}

}  // namespace

TEST_CASE("stress: broadcast, every subscriber's sum is the total" * doctest::timeout(120)) {
  const std::uint64_t seed = dmtest::stress_seed();
  std::mt19937_64 rng(seed);
  for (int round = 0; round < 2; ++round) {
    runtime rt(runtime_options{.threads = 2});
    std::atomic<std::uint64_t> subscribed{0};
    auto src = start_source<broadcast_dispatcher<std::uint64_t>>(rt, {}, subscribed);
    std::vector<std::unique_ptr<tally>> tallies;
    for (int i = 0; i < 4; ++i) {
      tallies.push_back(std::make_unique<tally>());
      auto c = rt.start<counting>(tallies.back().get(), std::nullopt);
      subscribe(c, src, random_demand(rng));
    }
    // Subscriptions are asynchronous: let demand through once all four are in the dispatcher.
    release(src, subscribed, 4);
    for (auto& t : tallies) wait_for(t->count, total);
    rt.stop();
    for (auto& t : tallies) {
      CHECK(t->count.load() == total);
      CHECK(t->sum.load() == expected_sum);
    }
  }
}

TEST_CASE("stress: partition, every key lands on one consumer and nothing is lost" *
          doctest::timeout(120)) {
  const std::uint64_t seed = dmtest::stress_seed();
  std::mt19937_64 rng(seed);
  using D = partition_dispatcher<std::uint64_t>;
  for (int round = 0; round < 2; ++round) {
    runtime rt(runtime_options{.threads = 2});
    std::atomic<std::uint64_t> subscribed{0};
    auto src = start_source<D>(
        rt,
        D::options{.partitions = keys,
                   .hash = [](std::uint64_t& x) { return std::optional<std::size_t>(x % keys); }},
        subscribed);
    std::vector<std::unique_ptr<tally>> tallies;
    for (std::uint64_t k = 0; k < keys; ++k) {
      tallies.push_back(std::make_unique<tally>());
      auto c = rt.start<counting>(tallies.back().get(), k);
      auto o = random_demand(rng);
      o.dispatch = static_cast<std::size_t>(k);
      subscribe(c, src, o);
    }
    release(src, subscribed, 4);
    for (auto& t : tallies) wait_for(t->count, total / keys);
    rt.stop();
    check_one_consumer_per_key(tallies);
  }
}

TEST_CASE("stress: route, each target gets exactly its own events" * doctest::timeout(120)) {
  const std::uint64_t seed = dmtest::stress_seed();
  std::mt19937_64 rng(seed);
  using D = route_dispatcher<std::uint64_t, std::uint64_t>;
  for (int round = 0; round < 2; ++round) {
    runtime rt(runtime_options{.threads = 2});
    std::atomic<std::uint64_t> subscribed{0};
    auto src = start_source<D>(
        rt, D::options{.key = [](const std::uint64_t& x) { return x % keys; }}, subscribed);
    std::vector<std::unique_ptr<tally>> tallies;
    for (std::uint64_t k = 0; k < keys; ++k) {
      tallies.push_back(std::make_unique<tally>());
      auto c = rt.start<counting>(tallies.back().get(), k);
      auto o = random_demand(rng);
      o.dispatch = k;
      subscribe(c, src, o);
    }
    release(src, subscribed, 4);
    for (auto& t : tallies) wait_for(t->count, total / keys);
    CHECK(estimate_dropped_count(src) == 0);
    rt.stop();
    check_one_consumer_per_key(tallies);
  }
}
