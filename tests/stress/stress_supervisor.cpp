// Bounded multi-threaded stress of the consumer supervisor on the real thread pool: 1,000,000
// events, one worker each, workers failing at random and restarted (transient). Checks that
// every event's work completed exactly once and that the events handed out and not yet done
// never exceed max_demand. Seeded; `DATAMESH_STRESS_SEED=<n>` replays one.
#include <datamesh/flow/from_range.hpp>
#include <datamesh/supervisor/consumer_supervisor.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <future>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

#include "support/harness.hpp"
#include "support/stress.hpp"

using namespace datamesh;
using namespace std::chrono_literals;

namespace {

/// Whether attempt `attempt` of event `e` fails: about 1 in 50, decided by the seed alone.
bool fails(std::uint64_t seed, std::uint32_t e, std::uint32_t attempt) {
  std::uint64_t x = seed ^ (std::uint64_t{e} << 20) ^ attempt;
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  return x % 50 == 0;
}

struct tally {
  explicit tally(std::size_t n) : done(n), attempts(n) {}
  std::vector<std::atomic<std::uint8_t>> done;
  std::vector<std::atomic<std::uint8_t>> attempts;
  std::atomic<std::uint64_t> produced{0};
  std::atomic<std::uint64_t> completed{0};
  std::atomic<std::uint64_t> failures{0};
  std::atomic<std::uint64_t> worst_outstanding{0};
  std::promise<void> all_done;  // set by the worker completing the last event
};

/// The supervisor's counts once every exit it was sent is handled.
child_counts await_counts(const consumer_supervisor<std::uint32_t>& sup) {
  for (;;) {
    child_counts c = sup.count_children().get();
    if (c.workers == 0) return c;
    std::this_thread::yield();  // the last exits may still be on their way
  }
}

}  // namespace

TEST_CASE("stress: 1M events through a consumer supervisor with failing workers" *
          doctest::timeout(600)) {
  const std::uint64_t seed = dmtest::stress_seed();
  std::mt19937_64 rng(seed);
  constexpr std::uint32_t total = 1'000'000;
  const std::size_t max_demand = std::uniform_int_distribution<std::size_t>(10, 1000)(rng);
  const std::size_t min_demand = std::uniform_int_distribution<std::size_t>(0, max_demand - 1)(rng);
  MESSAGE("max_demand " << max_demand << ", min_demand " << min_demand);

  auto t = std::make_shared<tally>(total);
  {
    runtime rt(runtime_options{.threads = 2});
    auto producer = start_from_generator(rt, [t, next = std::uint32_t{0}]() mutable {
      if (next == total) return std::optional<std::uint32_t>();
      t->produced.fetch_add(1, std::memory_order_seq_cst);
      return std::optional<std::uint32_t>(next++);
    });
    auto worker = [t, seed](std::uint32_t e) {
      const std::uint32_t attempt = t->attempts[e].fetch_add(1, std::memory_order_relaxed);
      if (fails(seed, e, attempt)) {
        t->failures.fetch_add(1, std::memory_order_relaxed);
        throw std::runtime_error("injected failure");
      }
      t->done[e].fetch_add(1, std::memory_order_relaxed);
      // Produced first, then completed: a slot is freed only after its work completed, so
      // the producer can be ahead of the completions by at most max_demand.
      const std::uint64_t produced = t->produced.load(std::memory_order_seq_cst);
      const std::uint64_t completed = t->completed.fetch_add(1, std::memory_order_seq_cst) + 1;
      const std::uint64_t outstanding = produced > completed ? produced - completed : 0;
      std::uint64_t worst = t->worst_outstanding.load(std::memory_order_relaxed);
      while (outstanding > worst &&
             !t->worst_outstanding.compare_exchange_weak(worst, outstanding)) {
      }
      if (completed == total) t->all_done.set_value();
    };
    auto sup = consumer_supervisor<std::uint32_t>::start(
        rt, worker_template<std::uint32_t>(worker).restart(restart_type::transient),
        // Failures are expected here; only a runaway would exceed this.
        {.intensity = {.max_restarts = total, .period = std::chrono::seconds(60)}});
    auto sub = subscribe(
        sup, producer,
        {.max_demand = max_demand, .min_demand = min_demand, .cancel = cancel_mode::temporary});
    // A bound, not a delay: the last worker's completion wakes this at once.
    auto finished = t->all_done.get_future();
    CHECK(finished.wait_for(std::chrono::minutes(5)) == std::future_status::ready);
    CHECK(await_counts(sup).workers == 0);
    CHECK(sup.alive());
    rt.stop();
  }
  CHECK(t->completed.load() == total);
  std::uint64_t wrong = 0;
  for (std::uint32_t e = 0; e < total; ++e) wrong += t->done[e].load() == 1 ? 0 : 1;
  CHECK(wrong == 0);
  CHECK(t->failures.load() > 0);
  CHECK(t->worst_outstanding.load() <= max_demand);
  MESSAGE("failures restarted: " << t->failures.load()
                                 << ", worst outstanding: " << t->worst_outstanding.load());
}

TEST_CASE("rule 118: a blocked worker on its own executor is given up after its timeout" *
          doctest::timeout(120)) {
  runtime blocking(runtime_options{.threads = 1});  // a real thread for the blocking work
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> ran{0};
  {
    dmtest::journal pj;
    dmtest::fixture f;
    auto producer = f.rt.start<dmtest::counter>(&pj);
    auto sup = consumer_supervisor<int>::start(
        f.rt, worker_template_on<int>(blocking.executor(),
                                      [released, &ran](int) {
                                        ++ran;
                                        released.wait();  // blocks, deaf to its stop token
                                      })
                  .restart(restart_type::temporary)
                  .shutdown(shutdown_policy::after(2s)));
    subscribe(sup, producer, {.max_demand = 1});
    f.run();
    stop(sup, exit_reason::shutdown());
    f.run();
    CHECK(sup.alive());
    f.ex.advance(2s);
    f.run();
    CHECK_FALSE(sup.alive());  // the supervisor is free although the worker still blocks
    CHECK(sup.exit_reason_if_exited()->get_kind() == exit_reason::kind::shutdown);
  }
  release.set_value();
  blocking.stop();
  CHECK(ran.load() <= 1);
}
