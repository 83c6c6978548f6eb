// W1, W2, W4: linear pipelines and work-sharing over the DemandDispatcher, beside baselines
// that move the same events between dedicated threads through a boost::lockfree::spsc_queue and
// through a mutex-guarded deque. Events are 64-bit integers; every run checks the exact sum and
// fails the benchmark instead of reporting a number when an event was lost or duplicated.
//
// Arguments: max_demand/min_demand. Rates are events per second of wall time (items_per_second).
#include <datamesh/datamesh.hpp>

#include <benchmark/benchmark.h>
#include <boost/lockfree/spsc_queue.hpp>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

#include "bench_support.hpp"

namespace {

using bench::check;
using bench::demand_of;
using bench::demands;
using bench::source;
using bench::summer;
using event = bench::event;

// Enough events per iteration that stage start-up is noise.
std::uint64_t events_for(std::size_t max_demand) {
  return max_demand >= 1000 ? 20'000'000 : 2'000'000;
}

std::uint64_t expected_sum(std::uint64_t n, std::uint64_t factor) {
  return factor * (n * (n - 1) / 2);
}

struct doubler {
  void handle_events(std::span<const event> in, datamesh::context<event>& ctx) {
    ctx.reserve(in.size());
    for (event x : in) ctx.push(x * 2);
  }
};

// -- DataMesh ---

void BM_W1_producer_consumer(benchmark::State& state) {
  const std::uint64_t n = events_for(state.range(0));
  datamesh::runtime rt(datamesh::runtime_options{.threads = 2});
  for (auto _ : state) {
    std::atomic<std::uint64_t> total{0};
    auto p = rt.start<source>(n);
    auto c = rt.start<summer>(&total);
    datamesh::subscribe(c, p, demand_of(state));
    c.wait();
    check(state, total.load(), expected_sum(n, 1));
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * n));
}

void BM_W2_producer_pc_consumer(benchmark::State& state) {
  const std::uint64_t n = events_for(state.range(0));
  datamesh::runtime rt(datamesh::runtime_options{.threads = 2});
  for (auto _ : state) {
    std::atomic<std::uint64_t> total{0};
    auto p = rt.start<source>(n);
    auto d = rt.start<doubler>();
    auto c = rt.start<summer>(&total);
    datamesh::subscribe(c, d, demand_of(state));
    datamesh::subscribe(d, p, demand_of(state));
    c.wait();
    check(state, total.load(), expected_sum(n, 2));
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * n));
}

void BM_W4_producer_4_consumers(benchmark::State& state) {
  const std::uint64_t n = events_for(state.range(0));
  datamesh::runtime rt(datamesh::runtime_options{.threads = 2});
  for (auto _ : state) {
    std::atomic<std::uint64_t> total{0};
    auto p = rt.start<source>(n);
    std::vector<datamesh::stage_handle<summer>> cs;
    for (int i = 0; i < 4; ++i) cs.push_back(rt.start<summer>(&total));
    for (auto& c : cs) datamesh::subscribe(c, p, demand_of(state));
    for (auto& c : cs) c.wait();
    check(state, total.load(), expected_sum(n, 1));
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * n));
}

/// Sums with about 2,000 multiply-adds of work per event: enough that two cores should halve
/// the time, so the scheduler's locality must not cost parallelism.
struct heavy_summer {
  std::atomic<std::uint64_t>* total;
  std::uint64_t sum = 0;
  explicit heavy_summer(std::atomic<std::uint64_t>* t) : total(t) {}
  void handle_events(std::span<const event> in) {
    for (event x : in) {
      std::uint64_t h = x;
      for (int i = 0; i < 2000; ++i) h = h * 31 + static_cast<std::uint64_t>(i);
      benchmark::DoNotOptimize(h);
      sum += x;
    }
  }
  void terminate(const datamesh::exit_reason&) { total->fetch_add(sum); }
};

// W4 with CPU-heavy consumers, on a runtime of 1 or 2 threads: the ratio is the scaling.
void BM_W4_heavy_consumers(benchmark::State& state) {
  const std::uint64_t n = 50'000;
  datamesh::runtime rt(
      datamesh::runtime_options{.threads = static_cast<std::size_t>(state.range(2))});
  for (auto _ : state) {
    std::atomic<std::uint64_t> total{0};
    auto p = rt.start<source>(n);
    std::vector<datamesh::stage_handle<heavy_summer>> cs;
    for (int i = 0; i < 4; ++i) cs.push_back(rt.start<heavy_summer>(&total));
    for (auto& c : cs) datamesh::subscribe(c, p, demand_of(state));
    for (auto& c : cs) c.wait();
    check(state, total.load(), expected_sum(n, 1));
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * n));
}

// -- baseline: dedicated threads and boost::lockfree::spsc_queue, batched push and pop ---

// Moves 0..n-1 from `in` (or a counter when null) through `out`, times `factor`.
void spsc_stage(boost::lockfree::spsc_queue<event>* in, boost::lockfree::spsc_queue<event>& out,
                std::uint64_t n, std::uint64_t factor, std::size_t batch) {
  std::vector<event> buf(batch);
  std::uint64_t moved = 0;
  std::uint64_t next = 0;
  while (moved < n) {
    std::size_t got = 0;
    if (in) {
      got = in->pop(buf.data(), batch);
    } else {
      for (; got < batch && next < n; ++got) buf[got] = next++;
    }
    if (got == 0) {
      std::this_thread::yield();
      continue;
    }
    for (std::size_t i = 0; i < got; ++i) buf[i] *= factor;
    std::size_t pushed = 0;
    while (pushed < got) {
      const std::size_t k = out.push(buf.data() + pushed, got - pushed);
      if (k == 0) std::this_thread::yield();
      pushed += k;
    }
    moved += got;
  }
}

std::uint64_t spsc_drain(boost::lockfree::spsc_queue<event>& in, std::uint64_t n,
                         std::size_t batch) {
  std::vector<event> buf(batch);
  std::uint64_t sum = 0;
  std::uint64_t seen = 0;
  while (seen < n) {
    const std::size_t got = in.pop(buf.data(), batch);
    if (got == 0) {
      std::this_thread::yield();
      continue;
    }
    for (std::size_t i = 0; i < got; ++i) sum += buf[i];
    seen += got;
  }
  return sum;
}

void BM_W1_baseline_spsc(benchmark::State& state) {
  const std::uint64_t n = events_for(state.range(0));
  const auto cap = static_cast<std::size_t>(state.range(0));
  const auto batch = static_cast<std::size_t>(state.range(0) - state.range(1));
  for (auto _ : state) {
    boost::lockfree::spsc_queue<event> q(cap);
    std::thread producer([&] { spsc_stage(nullptr, q, n, 1, batch); });
    const std::uint64_t sum = spsc_drain(q, n, batch);
    producer.join();
    check(state, sum, expected_sum(n, 1));
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * n));
}

void BM_W2_baseline_spsc(benchmark::State& state) {
  const std::uint64_t n = events_for(state.range(0));
  const auto cap = static_cast<std::size_t>(state.range(0));
  const auto batch = static_cast<std::size_t>(state.range(0) - state.range(1));
  for (auto _ : state) {
    boost::lockfree::spsc_queue<event> q1(cap);
    boost::lockfree::spsc_queue<event> q2(cap);
    std::thread producer([&] { spsc_stage(nullptr, q1, n, 1, batch); });
    std::thread middle([&] { spsc_stage(&q1, q2, n, 2, batch); });
    const std::uint64_t sum = spsc_drain(q2, n, batch);
    producer.join();
    middle.join();
    check(state, sum, expected_sum(n, 2));
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * n));
}

// -- baseline: dedicated threads and a mutex-guarded deque of batches ---

void BM_W1_baseline_mutex_deque(benchmark::State& state) {
  const std::uint64_t n = events_for(state.range(0));
  const auto batch = static_cast<std::size_t>(state.range(0) - state.range(1));
  const std::size_t max_batches = static_cast<std::size_t>(state.range(0)) / batch + 1;
  for (auto _ : state) {
    std::mutex m;
    std::condition_variable cv;
    std::deque<std::vector<event>> q;
    std::thread producer([&] {
      std::uint64_t next = 0;
      while (next < n) {
        std::vector<event> b;
        b.reserve(batch);
        for (; b.size() < batch && next < n; ++next) b.push_back(next);
        std::unique_lock lock(m);
        cv.wait(lock, [&] { return q.size() < max_batches; });
        q.push_back(std::move(b));
        cv.notify_all();
      }
    });
    std::uint64_t sum = 0;
    std::uint64_t seen = 0;
    while (seen < n) {
      std::vector<event> b;
      {
        std::unique_lock lock(m);
        cv.wait(lock, [&] { return !q.empty(); });
        b = std::move(q.front());
        q.pop_front();
        cv.notify_all();
      }
      for (event x : b) sum += x;
      seen += b.size();
    }
    producer.join();
    check(state, sum, expected_sum(n, 1));
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * n));
}

}  // namespace

BENCHMARK(BM_W1_producer_consumer)->Apply(demands);
BENCHMARK(BM_W1_baseline_spsc)->Apply(demands);
BENCHMARK(BM_W1_baseline_mutex_deque)->Apply(demands);
BENCHMARK(BM_W2_producer_pc_consumer)->Apply(demands);
BENCHMARK(BM_W2_baseline_spsc)->Apply(demands);
BENCHMARK(BM_W4_producer_4_consumers)->Apply(demands);
BENCHMARK(BM_W4_heavy_consumers)
    ->ArgNames({"max", "min", "threads"})
    ->ArgsProduct({{1000}, {500}, {1, 2}})
    ->Args({10, 5, 1})
    ->Args({10, 5, 2})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
