// W8: the mesh layer's cost. A 3-node mesh pipeline fed by trigger_data, and a 1-to-4 broadcast
// mesh, at default demand (1000/500), in source events per second, beside the same shapes built
// from plain stages (a source stage, an identity producer_consumer, summing consumers).
#include <datamesh/datamesh.hpp>

#include <atomic>
#include <cstdint>
#include <ranges>
#include <thread>
#include <vector>

#include "bench_support.hpp"

namespace {

using bench::check;
using bench::event;
using bench::source;
using bench::summer;

constexpr std::uint64_t events_per_iteration = 2'000'000;

std::uint64_t expected_sum(std::uint64_t n, std::uint64_t sinks) { return sinks * n * (n - 1) / 2; }

/// Broadcasts what it receives.
struct relay {
  datamesh::none init(const datamesh::node_args&) { return {}; }
  datamesh::none process(const event& x, datamesh::none s, datamesh::node_context<event>& ctx) {
    ctx.broadcast(x);
    return s;
  }
};

/// Where a summing sink reports: its sum once it has seen `expected` data.
struct sink_report {
  std::uint64_t expected;
  std::atomic<std::uint64_t>* total;
  std::atomic<int>* finished;
};

/// Sums what it receives; reports once all has arrived.
struct summing_sink {
  struct state {
    sink_report report;
    std::uint64_t seen = 0;
    std::uint64_t sum = 0;
  };
  state init(const sink_report& r) { return {r}; }
  state process(const event& x, state s, datamesh::node_context<void>&) {
    s.sum += x;
    if (++s.seen == s.report.expected) {
      s.report.total->fetch_add(s.sum);
      s.report.finished->fetch_add(1, std::memory_order_release);
      s.report.finished->notify_all();
    }
    return s;
  }
};

/// Passes events on unchanged: the plain pipeline's middle stage.
struct identity {
  void handle_events(std::span<const event> in, datamesh::context<event>& ctx) {
    ctx.push_range(in);
  }
};

/// The broadcast dispatcher, counting the asks it receives. A broadcast subscriber that joins
/// after demand went upstream receives only what it asks for from then on (broadcast.hpp), so
/// the plain broadcast lets its source in only once all four consumers have asked.
struct counting_broadcast : datamesh::broadcast_dispatcher<event> {
  struct options {
    std::atomic<int>* asked = nullptr;
  };
  std::atomic<int>* asked = nullptr;
  counting_broadcast() = default;
  explicit counting_broadcast(options o) : asked(o.asked) {}
  std::size_t ask(datamesh::subscription_id id, std::size_t n) {
    if (asked != nullptr) {
      asked->fetch_add(1, std::memory_order_release);
      asked->notify_all();
    }
    return broadcast_dispatcher::ask(id, n);
  }
};

/// The plain broadcast's middle stage: a producer_consumer broadcasting, as the mesh's hub does.
struct broadcast_hub : identity {
  using dispatcher_type = counting_broadcast;
};

// Blocks, as the plain benchmarks' wait() does: a caller spinning here would take a core from
// the two workers.
void wait_for(const std::atomic<int>& finished, int sinks) {
  for (int seen = finished.load(std::memory_order_acquire); seen < sinks;
       seen = finished.load(std::memory_order_acquire)) {
    finished.wait(seen, std::memory_order_acquire);
  }
}

void BM_W8_mesh_pipeline_3_nodes(benchmark::State& state) {
  const std::uint64_t n = events_per_iteration;
  datamesh::runtime rt(datamesh::runtime_options{.threads = 2});
  for (auto _ : state) {
    std::atomic<std::uint64_t> total{0};
    std::atomic<int> finished{0};
    datamesh::mesh m(rt);
    m.start_node("source", relay{}, {});
    m.start_node("middle", relay{}, {});
    m.start_node("sink", summing_sink{}, sink_report{n, &total, &finished});
    m.connect("source", "middle");
    m.connect("middle", "sink");
    m.trigger_all<event>("source", std::views::iota(event{0}, n));
    wait_for(finished, 1);
    check(state, total.load(), expected_sum(n, 1));
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * n));
}

void BM_W8_plain_pipeline_3_stages(benchmark::State& state) {
  const std::uint64_t n = events_per_iteration;
  datamesh::runtime rt(datamesh::runtime_options{.threads = 2});
  for (auto _ : state) {
    std::atomic<std::uint64_t> total{0};
    auto p = rt.start<source>(n);
    auto mid = rt.start<identity>();
    auto c = rt.start<summer>(&total);
    datamesh::subscribe(c, mid);
    datamesh::subscribe(mid, p);
    c.wait();
    check(state, total.load(), expected_sum(n, 1));
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * n));
}

void BM_W8_mesh_broadcast_1_to_4(benchmark::State& state) {
  const std::uint64_t n = events_per_iteration / 4;
  datamesh::runtime rt(datamesh::runtime_options{.threads = 2});
  for (auto _ : state) {
    std::atomic<std::uint64_t> total{0};
    std::atomic<int> finished{0};
    datamesh::mesh m(rt);
    m.start_node("hub", relay{}, {});
    for (int i = 0; i < 4; ++i) {
      m.start_node(i, summing_sink{}, sink_report{n, &total, &finished});
      m.connect("hub", i);
    }
    m.trigger_all<event>("hub", std::views::iota(event{0}, n));
    wait_for(finished, 4);
    check(state, total.load(), expected_sum(n, 4));
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * n));
}

void BM_W8_plain_broadcast_1_to_4(benchmark::State& state) {
  const std::uint64_t n = events_per_iteration / 4;
  datamesh::runtime rt(datamesh::runtime_options{.threads = 2});
  for (auto _ : state) {
    std::atomic<std::uint64_t> total{0};
    std::atomic<int> asked{0};
    auto p = rt.start<source>(n);
    auto h = rt.start<broadcast_hub>({.dispatcher_options = counting_broadcast::options{&asked}});
    std::vector<datamesh::stage_handle<summer>> cs;
    for (int i = 0; i < 4; ++i) cs.push_back(rt.start<summer>(&total));
    for (auto& c : cs) datamesh::subscribe(c, h);
    wait_for(asked, 4);  // each consumer's first ask; nothing flows to ask again before the source
    datamesh::subscribe(h, p);
    for (auto& c : cs) c.wait();
    check(state, total.load(), expected_sum(n, 4));
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * n));
}

void w8(benchmark::internal::Benchmark* b) { b->UseRealTime()->Unit(benchmark::kMillisecond); }

}  // namespace

BENCHMARK(BM_W8_mesh_pipeline_3_nodes)->Apply(w8);
BENCHMARK(BM_W8_plain_pipeline_3_stages)->Apply(w8);
BENCHMARK(BM_W8_mesh_broadcast_1_to_4)->Apply(w8);
BENCHMARK(BM_W8_plain_broadcast_1_to_4)->Apply(w8);
