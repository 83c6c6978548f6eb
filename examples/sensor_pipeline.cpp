// A sensor pipeline: a sensor producer, a threshold filter (producer_consumer) and an aggregator
// (consumer), on the runtime's own thread pool. It prints the first readings that pass the
// filter as they flow, then a summary: events, events per second, and the demand exchanged.
//
//   example_sensor_pipeline            10 million readings
//   example_sensor_pipeline --quick    100 thousand readings (what the test suite runs)
#include <datamesh/datamesh.hpp>

#include <any>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <span>
#include <string>

namespace {

// [reading]
struct reading {
  std::uint32_t sensor;
  std::uint64_t seq;
  double value;
};
// [reading]

/// Counts what flows, shared by the stages and read by main once they have exited.
struct figures {
  std::atomic<std::uint64_t> produced{0};
  std::atomic<std::uint64_t> asks{0};
  std::atomic<std::uint64_t> demand{0};
  std::atomic<std::uint64_t> passed{0};
  std::atomic<std::uint64_t> aggregated{0};
  std::atomic<double> sum{0};
};

// [stages]
/// Produces `limit` readings from 8 sensors, exactly as many as asked, then stops.
struct sensor {
  figures* f;
  std::uint64_t limit;
  std::uint64_t seq = 0;
  void handle_demand(std::size_t n, datamesh::context<reading>& ctx) {
    f->asks.fetch_add(1, std::memory_order_relaxed);
    f->demand.fetch_add(n, std::memory_order_relaxed);
    for (; n > 0 && seq < limit; --n, ++seq) {
      // A deterministic wave per sensor, so runs are comparable.
      const auto id = static_cast<std::uint32_t>(seq % 8);
      ctx.push(reading{id, seq, static_cast<double>((seq * 7 + id * 13) % 100)});
    }
    f->produced.store(seq, std::memory_order_relaxed);
    // The last readings are pushed: drain the pipeline. Each stage passes on what it holds,
    // then exits, down to the aggregator; nothing is lost on the way.
    if (seq == limit) datamesh::drain(ctx.self());
  }
};

/// Passes readings at or above `threshold`.
struct threshold_filter {
  figures* f;
  double threshold;
  void handle_events(std::span<const reading> in, datamesh::context<reading>& ctx) {
    for (const reading& r : in) {
      if (r.value < threshold) continue;
      ctx.push(r);
      if (f->passed.fetch_add(1, std::memory_order_relaxed) < 5) {
        std::printf("  sensor %u  seq %-8llu value %5.1f  passed the filter\n", r.sensor,
                    static_cast<unsigned long long>(r.seq), r.value);
      }
    }
  }
};

/// Aggregates: count and sum of what reaches it.
struct aggregator {
  figures* f;
  std::uint64_t count = 0;
  double sum = 0;
  void handle_events(std::span<const reading> in) {
    for (const reading& r : in) sum += r.value;
    count += in.size();
  }
  void terminate(const datamesh::exit_reason&) {
    f->aggregated.store(count);
    f->sum.store(sum);
  }
};
// [stages]

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const std::uint64_t limit = quick ? 100'000 : 10'000'000;
  figures f;

  std::printf("DataMesh sensor pipeline: sensor -> threshold_filter(>= 50) -> aggregator\n");
  // [pipeline]
  datamesh::runtime rt;  // a thread pool, one thread per core
  auto src = rt.start<sensor>(&f, limit);
  auto filter = rt.start<threshold_filter>(&f, 50.0);
  auto sink = rt.start<aggregator>(&f);
  const auto t0 = std::chrono::steady_clock::now();
  datamesh::subscribe(sink, filter, {.max_demand = 1000, .min_demand = 500});
  datamesh::subscribe(filter, src, {.max_demand = 1000, .min_demand = 500});
  const datamesh::exit_reason why = sink.wait();  // the source drains, the others follow
  // [pipeline]
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  rt.stop();

  const std::uint64_t produced = f.produced.load();
  std::printf("\nsummary\n");
  std::printf("  events produced      %llu\n", static_cast<unsigned long long>(produced));
  std::printf("  events passed        %llu\n", static_cast<unsigned long long>(f.passed.load()));
  std::printf("  events aggregated    %llu (mean value %.2f)\n",
              static_cast<unsigned long long>(f.aggregated.load()),
              f.aggregated.load() ? f.sum.load() / static_cast<double>(f.aggregated.load()) : 0.0);
  std::printf("  throughput           %.1f M events/s (%.3f s)\n",
              static_cast<double>(produced) / seconds / 1e6, seconds);
  std::printf("  demand exchanged     %llu asks reached the sensor, for %llu events in all\n",
              static_cast<unsigned long long>(f.asks.load()),
              static_cast<unsigned long long>(f.demand.load()));
  std::printf("  aggregator exit      %s\n", why.to_string().c_str());

  // Every reading passed the filter exactly once and reached the aggregator.
  const bool ok = produced == limit && f.aggregated.load() == f.passed.load();
  if (!ok) std::printf("ERROR: events were lost or duplicated\n");
  return ok ? 0 : 1;
}
