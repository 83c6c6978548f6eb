// W3, W6, W7: one producer feeding 4 consumers through the broadcast, partition (key x % 4) and
// route (target x % 4) dispatchers, beside baselines that do the same fan-out by hand between two
// dedicated threads through boost::lockfree::spsc_queues. Rates are *source* events per second of
// wall time (a broadcast event counts once, though 4 consumers receive it). Every run checks the
// exact sums and fails the benchmark instead of reporting a number when an event was lost or
// duplicated.
//
// Arguments: max_demand/min_demand of each consumer.
#include <datamesh/datamesh.hpp>

#include <benchmark/benchmark.h>
#include <boost/lockfree/spsc_queue.hpp>

#include <array>
#include <atomic>
#include <cstdint>
#include <optional>
#include <span>
#include <thread>
#include <vector>

#include "bench_support.hpp"

namespace {

using bench::check;
using bench::demand_of;
using bench::demands;
using bench::summer;
using event = bench::event;
constexpr std::size_t fan_out = 4;

std::uint64_t events_for(std::size_t max_demand) {
  return max_demand >= 1000 ? 10'000'000 : 1'000'000;
}

std::uint64_t expected_sum(std::uint64_t n) { return n * (n - 1) / 2; }

struct done {};  // the source's own info: everything before it has been dispatched

/// Emits 0..limit-1 through dispatcher `D`, and stops once an info queued behind the last
/// events comes back, so events still in a dispatcher's per-consumer queues are delivered first.
/// Counts its subscribers, so the benchmark lets demand through once all are in.
template <class D>
struct source {
  using dispatcher_type = D;
  std::uint64_t next = 0;
  std::uint64_t limit;
  std::atomic<std::size_t>* subscribed;
  source(std::uint64_t l, std::atomic<std::size_t>* s) : limit(l), subscribed(s) {}
  void handle_demand(std::size_t n, datamesh::context<event>& ctx) {
    if (next == limit) return;
    const std::uint64_t end = std::min<std::uint64_t>(limit, next + n);
    for (; next < end; ++next) ctx.push(next);
    if (next == limit) ctx.async_info(done{});
  }
  void handle_info(std::any& msg, datamesh::context<event>& ctx) {
    if (std::any_cast<done>(&msg)) ctx.stop();
  }
  void handle_subscribe(datamesh::peer_role, const datamesh::subscription&,
                        const datamesh::subscribe_options&, datamesh::context<event>&) {
    subscribed->fetch_add(1);
    subscribed->notify_all();
  }
};

/// One run: a source with dispatcher `D` and 4 summers, subscribed with `opts_for(i)`; demand
/// goes through once all four are in. Returns the summers' total.
template <class D, class OptsFor>
std::uint64_t run_fan_out(datamesh::runtime& rt, std::uint64_t n, std::any dispatcher_options,
                          OptsFor opts_for) {
  std::atomic<std::uint64_t> total{0};
  std::atomic<std::size_t> subscribed{0};
  auto p = rt.start<source<D>>({.demand = datamesh::producer_demand::accumulate,
                                .dispatcher_options = std::move(dispatcher_options)},
                               n, &subscribed);
  std::vector<datamesh::stage_handle<summer>> cs;
  for (std::size_t i = 0; i < fan_out; ++i) {
    cs.push_back(rt.start<summer>(&total));
    datamesh::subscribe(cs.back(), p, opts_for(i));
  }
  for (std::size_t seen = subscribed.load(); seen < fan_out; seen = subscribed.load()) {
    subscribed.wait(seen);
  }
  datamesh::demand(p, datamesh::producer_demand::forward);
  for (auto& c : cs) c.wait();
  return total.load();
}

// -- DataMesh ---

void BM_W3_broadcast_4_consumers(benchmark::State& state) {
  const std::uint64_t n = events_for(state.range(0));
  datamesh::runtime rt(datamesh::runtime_options{.threads = 2});
  for (auto _ : state) {
    const std::uint64_t total = run_fan_out<datamesh::broadcast_dispatcher<event>>(
        rt, n, {}, [&](std::size_t) { return demand_of(state); });
    check(state, total, fan_out * expected_sum(n));
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * n));
}

void BM_W6_partition_4_consumers(benchmark::State& state) {
  using D = datamesh::partition_dispatcher<event>;
  const std::uint64_t n = events_for(state.range(0));
  datamesh::runtime rt(datamesh::runtime_options{.threads = 2});
  for (auto _ : state) {
    const std::uint64_t total = run_fan_out<D>(
        rt, n,
        D::options{.partitions = fan_out,
                   .hash = [](event& x) { return std::optional<std::size_t>(x % fan_out); }},
        [&](std::size_t i) {
          auto o = demand_of(state);
          o.dispatch = i;
          return o;
        });
    check(state, total, expected_sum(n));
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * n));
}

void BM_W7_route_4_targets(benchmark::State& state) {
  using D = datamesh::route_dispatcher<event, std::uint64_t>;
  const std::uint64_t n = events_for(state.range(0));
  datamesh::runtime rt(datamesh::runtime_options{.threads = 2});
  for (auto _ : state) {
    const std::uint64_t total = run_fan_out<D>(
        rt, n, D::options{.key = [](const event& x) { return x % fan_out; }}, [&](std::size_t i) {
          auto o = demand_of(state);
          o.dispatch = static_cast<std::uint64_t>(i);
          return o;
        });
    check(state, total, expected_sum(n));
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * n));
}

// -- baseline: a producer thread fans out into 4 spsc queues, a consumer thread drains them ---

using queue = boost::lockfree::spsc_queue<event>;

void push_all(queue& q, const event* data, std::size_t count) {
  while (count > 0) {
    const std::size_t k = q.push(data, count);
    if (k == 0) std::this_thread::yield();
    data += k;
    count -= k;
  }
}

// `broadcast`: every batch goes to every queue; otherwise event x goes to queue x % 4.
std::uint64_t spsc_fan_out(std::uint64_t n, std::size_t cap, std::size_t batch, bool broadcast) {
  std::vector<std::unique_ptr<queue>> qs;
  for (std::size_t i = 0; i < fan_out; ++i) qs.push_back(std::make_unique<queue>(cap));
  std::thread producer([&] {
    std::vector<event> buf(batch);
    std::array<std::vector<event>, fan_out> parts;
    for (event next = 0; next < n;) {
      std::size_t got = 0;
      for (; got < batch && next < n; ++got) buf[got] = next++;
      if (broadcast) {
        for (auto& q : qs) push_all(*q, buf.data(), got);
        continue;
      }
      for (auto& p : parts) p.clear();
      for (std::size_t i = 0; i < got; ++i) parts[buf[i] % fan_out].push_back(buf[i]);
      for (std::size_t i = 0; i < fan_out; ++i) push_all(*qs[i], parts[i].data(), parts[i].size());
    }
  });
  const std::uint64_t want = broadcast ? fan_out * n : n;
  std::vector<event> buf(batch);
  std::uint64_t sum = 0;
  for (std::uint64_t seen = 0; seen < want;) {
    std::size_t round = 0;
    for (auto& q : qs) {
      const std::size_t got = q->pop(buf.data(), batch);
      for (std::size_t i = 0; i < got; ++i) sum += buf[i];
      round += got;
    }
    if (round == 0) std::this_thread::yield();
    seen += round;
  }
  producer.join();
  return sum;
}

void BM_W3_baseline_spsc_broadcast(benchmark::State& state) {
  const std::uint64_t n = events_for(state.range(0));
  const auto batch = static_cast<std::size_t>(state.range(0) - state.range(1));
  for (auto _ : state) {
    check(state, spsc_fan_out(n, static_cast<std::size_t>(state.range(0)), batch, true),
          fan_out * expected_sum(n));
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * n));
}

void BM_W6_baseline_spsc_partition(benchmark::State& state) {
  const std::uint64_t n = events_for(state.range(0));
  const auto batch = static_cast<std::size_t>(state.range(0) - state.range(1));
  for (auto _ : state) {
    check(state, spsc_fan_out(n, static_cast<std::size_t>(state.range(0)), batch, false),
          expected_sum(n));
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * n));
}

}  // namespace

BENCHMARK(BM_W3_broadcast_4_consumers)->Apply(demands);
BENCHMARK(BM_W3_baseline_spsc_broadcast)->Apply(demands);
BENCHMARK(BM_W6_partition_4_consumers)->Apply(demands);
BENCHMARK(BM_W6_baseline_spsc_partition)->Apply(demands);
BENCHMARK(BM_W7_route_4_targets)->Apply(demands);
