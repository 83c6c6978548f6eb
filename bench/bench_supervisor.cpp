// W5: producer -> consumer supervisor, one trivial worker per event, reported as workers
// started per second (items/s), beside a hand-written baseline: one task per event posted to an
// Asio thread pool, bounded by a semaphore of max_demand permits.
#include <datamesh/datamesh.hpp>

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <cstdint>
#include <semaphore>

#include "bench_support.hpp"

namespace {

using bench::check;
using bench::demand_of;
using bench::source;
using event = bench::event;

constexpr std::uint64_t workers_per_iteration = 1'000'000;

std::uint64_t expected_sum(std::uint64_t n) { return n * (n - 1) / 2; }

void BM_W5_consumer_supervisor(benchmark::State& state) {
  const std::uint64_t n = workers_per_iteration;
  datamesh::runtime rt(datamesh::runtime_options{.threads = 2});
  const std::uint64_t want = expected_sum(n);
  for (auto _ : state) {
    std::atomic<std::uint64_t> total{0};
    std::binary_semaphore all_done(0);
    auto p = rt.start<source>(n);
    auto sup = datamesh::consumer_supervisor<event>::start(
        rt, datamesh::worker_template<event>([&total, &all_done, want](event e) {
              // The worker that completes the sum says so (events are distinct, so once).
              if (e > 0 && total.fetch_add(e, std::memory_order_relaxed) + e == want) {
                all_done.release();
              }
            }).restart(datamesh::restart_type::temporary));
    // Transient: the producer's normal exit at its end does not stop the supervisor, whose
    // stop would start none of the workers still queued (SPEC: a stopping supervisor starts
    // nothing more); it is stopped once every worker has run.
    auto opts = demand_of(state);
    opts.cancel = datamesh::cancel_mode::transient;
    datamesh::subscribe(sup, p, opts);
    all_done.acquire();
    datamesh::stop(sup, datamesh::exit_reason::shutdown());
    sup.wait();
    check(state, total.load(), want);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * n));
}

void BM_W5_baseline_asio_post(benchmark::State& state) {
  const std::uint64_t n = workers_per_iteration;
  const auto max_demand = static_cast<std::ptrdiff_t>(state.range(0));
  boost::asio::thread_pool pool(2);
  for (auto _ : state) {
    std::atomic<std::uint64_t> total{0};
    std::counting_semaphore<> slots(max_demand);
    for (event e = 0; e < n; ++e) {
      slots.acquire();
      boost::asio::post(pool, [&total, &slots, e] {
        total.fetch_add(e, std::memory_order_relaxed);
        slots.release();
      });
    }
    for (std::ptrdiff_t i = 0; i < max_demand; ++i) slots.acquire();  // all done
    check(state, total.load(), expected_sum(n));
  }
  pool.join();
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * n));
}

void w5_demands(benchmark::internal::Benchmark* b) {
  b->ArgNames({"max", "min"})
      ->Args({50, 25})
      ->Args({1000, 500})
      ->Args({10, 5})
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
}

}  // namespace

BENCHMARK(BM_W5_consumer_supervisor)->Apply(w5_demands);
BENCHMARK(BM_W5_baseline_asio_post)->Apply(w5_demands);
