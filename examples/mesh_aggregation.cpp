// Mesh aggregation: several sensor nodes, ids ("sensor", i), all connected into one node
// "aggregator". It keeps running stats per sensor in its state and broadcasts a summary to node
// "board" every K samples. Each sensor is fed from its own thread with trigger_all.
//
//   example_mesh_aggregation [--quick]
#include <datamesh/datamesh.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <iostream>
#include <map>
#include <mutex>
#include <thread>
#include <tuple>
#include <vector>

namespace {

struct sample {
  int sensor;
  int value;
};

struct sensor_stats {
  std::uint64_t count = 0;
  std::int64_t sum = 0;
  int min = 0, max = 0;
  bool operator==(const sensor_stats&) const = default;
};

struct summary {
  std::uint64_t samples;                // over all sensors, so far
  std::map<int, sensor_stats> sensors;  // running stats by sensor number
};

/// Where the board keeps the latest summary; written by the board node, read by main.
struct board_probe {
  std::mutex mutex;
  summary latest{};  // guarded by mutex
  std::atomic<int> summaries{0};
};

/// A sensor: stamps each value with its number (a named argument) and passes it on.
struct sensor {
  int init(const datamesh::node_args& a) { return a.get<int>("number"); }
  int process(const int& value, int number, datamesh::node_context<sample>& ctx) {
    ctx.broadcast(sample{number, value});
    return number;
  }
};

/// Keeps stats per sensor; every `every` samples, broadcasts a summary of them.
struct aggregator {
  struct state {
    std::uint64_t every;
    summary so_far{};
  };
  state init(const datamesh::node_args& a) { return {a.get<std::uint64_t>("every")}; }
  state process(const sample& x, state s, datamesh::node_context<summary>& ctx) {
    auto [it, first] = s.so_far.sensors.try_emplace(x.sensor);
    sensor_stats& st = it->second;
    st.min = first ? x.value : std::min(st.min, x.value);
    st.max = first ? x.value : std::max(st.max, x.value);
    ++st.count;
    st.sum += x.value;
    if (++s.so_far.samples % s.every == 0) ctx.broadcast(s.so_far);
    return s;
  }
};

/// The sink: keeps the latest summary.
struct board {
  board_probe* init(board_probe* probe) { return probe; }
  board_probe* process(const summary& sum, board_probe* p, datamesh::node_context<void>&) {
    {
      std::lock_guard lock(p->mutex);
      p->latest = sum;
    }
    p->summaries.fetch_add(1);
    return p;
  }
};

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const int sensors = 4;
  const int per_sensor = quick ? 500 : 50'000;
  const int every = quick ? 100 : 1000;  // divides sensors * per_sensor

  // Sensor i reads (j * (i + 1)) % 1000 at step j; its expected stats follow.
  std::vector<std::vector<int>> values(sensors);
  std::map<int, sensor_stats> expected;
  for (int i = 0; i < sensors; ++i) {
    for (int j = 0; j < per_sensor; ++j) values[i].push_back((j * (i + 1)) % 1000);
    const auto [lo, hi] = std::ranges::minmax(values[i]);
    std::int64_t sum = 0;
    for (int v : values[i]) sum += v;
    expected[i] = {std::uint64_t(per_sensor), sum, lo, hi};
  }

  board_probe probe;  // outlives the mesh that writes it
  datamesh::runtime rt;
  datamesh::mesh m(rt);
  m.start_node("aggregator", aggregator{}, {{"every", every}});
  m.start_node("board", board{}, &probe);
  m.connect("aggregator", "board");
  for (int i = 0; i < sensors; ++i) {
    m.start_node(std::tuple{"sensor", i}, sensor{}, {{"number", i}});
    m.connect(std::tuple{"sensor", i}, "aggregator");
  }

  // All sensors at once, each from its own thread.
  {
    std::vector<std::jthread> feeders;
    for (int i = 0; i < sensors; ++i) {
      feeders.emplace_back([&m, &values, i] {
        m.trigger_all<int>(std::tuple{"sensor", i}, values[i]);
      });
    }
  }
  const std::uint64_t total = std::uint64_t(sensors) * per_sensor;
  const int summaries = static_cast<int>(total / every);
  std::cout << sensors << " sensors sent " << total << " samples to the aggregator\n";

  // Done once every sample, and every summary made from them, has been processed.
  const bool done = m.settle_for(std::chrono::seconds(60));
  std::lock_guard lock(probe.mutex);
  const summary& last = probe.latest;
  const auto f = m.figures("aggregator");
  std::cout << "aggregator took " << f.in << " and sent " << f.out << " summaries (one every "
            << every << "); the last covers " << last.samples << " samples:\n";
  bool ok = done && last.samples == total && f.in == total && f.out == std::uint64_t(summaries) &&
            probe.summaries.load() == summaries;
  for (const auto& [number, want] : expected) {
    const auto it = last.sensors.find(number);
    const sensor_stats got = it != last.sensors.end() ? it->second : sensor_stats{};
    ok = ok && got == want;
    std::cout << "  sensor " << number << ": count " << got.count << ", sum " << got.sum << ", min "
              << got.min << ", max " << got.max << (got == want ? "" : "  <- wrong") << "\n";
  }
  if (!ok) {
    std::cerr << (done ? "FAILED: the totals differ\n" : "FAILED: timed out waiting\n");
    return 1;
  }
  std::cout << "ok: the summaries account for every sample of every sensor\n";
  return 0;
}
