// The DataMesh demo: a sensor network as a mesh, started from a text description and rewired
// while it runs. Sensors feed a threshold filter; an aggregator (supervised: it restarts after a
// fault) summarises each sensor's readings; a router sends each summary to "alerts" or
// "archive" by its mean. A third of the way in, an "audit" sink is connected to the filter and a
// fifth sensor joins; two thirds in, the audit sink is disconnected again. A progress line shows
// what flows; the end prints every node's and link's figures, checks that nothing went missing,
// and can write the topology with its figures as Graphviz DOT.
//
//   example_sensor_mesh                    about 9 million readings
//   example_sensor_mesh --quick            about 140 thousand (what the test suite runs)
//   example_sensor_mesh --dot mesh.dot     also write the graph (dot -Tsvg mesh.dot > mesh.svg)
//   example_sensor_mesh --faults           the aggregator meets corrupt readings and restarts
#include <datamesh/datamesh.hpp>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <unistd.h>
#include <vector>

namespace {

using datamesh::node_args;
using datamesh::node_context;

struct reading {
  std::int64_t sensor;
  double value;
};

struct summary {
  std::int64_t sensor;
  std::uint64_t count;
  double mean;
};

struct none {};

/// A sensor's node: turns raw samples (tenths of a degree) into readings.
struct sensor_node {
  std::int64_t init(const node_args& a) { return a.get<std::int64_t>("sensor"); }
  std::int64_t process(const int& tenths, std::int64_t id, node_context<reading>& ctx) {
    ctx.broadcast(reading{id, tenths / 10.0});
    return id;
  }
};

/// Passes readings at or above its threshold.
struct threshold_node {
  double init(const node_args& a) { return a.get<double>("threshold"); }
  double process(const reading& r, double threshold, node_context<reading>& ctx) {
    if (r.value >= threshold) ctx.broadcast(r);
    return threshold;
  }
};

/// Summarises every `window` readings of a sensor. A reading that is not a number is a fault:
/// it throws, and the node's supervisor restarts it with empty windows.
struct aggregator_node {
  struct window {
    std::uint64_t count = 0;
    double sum = 0;
  };
  struct state {
    std::uint64_t size;
    std::map<std::int64_t, window> open;
  };
  state init(const node_args& a) { return {a.get<std::uint64_t>("window"), {}}; }
  state process(const reading& r, state s, node_context<summary>& ctx) {
    if (std::isnan(r.value)) throw std::runtime_error("corrupt reading");
    window& w = s.open[r.sensor];
    w.sum += r.value;
    if (++w.count == s.size) {
      ctx.broadcast(summary{r.sensor, w.count, w.sum / static_cast<double>(w.count)});
      w = {};
    }
    return s;
  }
};

/// Sends a summary whose mean is at or above `alarm` to "alerts", the others to "archive".
struct router_node {
  double init(const node_args& a) { return a.get<double>("alarm"); }
  double process(const summary& s, double alarm, node_context<summary>& ctx) {
    ctx.send(s.mean >= alarm ? "alerts" : "archive", s);
    return alarm;
  }
};

/// A sink: counts what reaches it (the mesh's figures show it).
template <class T>
struct sink_node {
  none init(const node_args&) { return {}; }
  none process(const T&, none s, node_context<void>&) { return s; }
};

constexpr const char* network = R"(# the sensor network
node ("sensor", 1) = sensor(sensor = 1)
node ("sensor", 2) = sensor(sensor = 2)
node ("sensor", 3) = sensor(sensor = 3)
node ("sensor", 4) = sensor(sensor = 4)
node filter = threshold(threshold = 18.5)
node aggregator = aggregate(window = 50) [restart = transient]
node router = route(alarm = 24.0)
node alerts = summaries
node archive = summaries
link ("sensor", 1) -> filter
link ("sensor", 2) -> filter
link ("sensor", 3) -> filter
link ("sensor", 4) -> filter
link filter -> aggregator
link aggregator -> router
link router -> alerts [max_demand = 100]
link router -> archive
)";

/// Samples of one sensor: a slow daily wave plus noise, in tenths of a degree.
std::vector<int> samples(int sensor, std::size_t n, std::size_t first) {
  std::mt19937 rng(static_cast<unsigned>(sensor * 7919 + first));
  std::normal_distribution<double> noise(0.0, 1.5);
  std::vector<int> out(n);
  for (std::size_t i = 0; i < n; ++i) {
    const double t = static_cast<double>(first + i) / 5000.0;
    out[i] = static_cast<int>(10 * (20.0 + 4.0 * std::sin(t + sensor) + noise(rng)));
  }
  return out;
}

struct run_figures {
  std::atomic<std::uint64_t> triggered{0};
};

/// Feeds sensor `id` samples [first, first + n) in chunks, each back-pressured by its inlet.
void feed(datamesh::mesh& m, int id, std::size_t n, std::size_t first, run_figures& f) {
  constexpr std::size_t chunk = 1000;
  for (std::size_t done = 0; done < n; done += chunk) {
    const auto data = samples(id, std::min(chunk, n - done), first + done);
    m.trigger_all<int>(std::tuple{"sensor", id}, data);
    f.triggered.fetch_add(data.size(), std::memory_order_relaxed);
  }
}

std::uint64_t in_of(const datamesh::mesh_snapshot& s, const datamesh::node_id& id) {
  const auto* n = s.node(id);
  return n ? n->in : 0;
}

void progress(const datamesh::mesh_snapshot& s, const run_figures& f, double seconds, bool tty) {
  std::uint64_t filtered = 0;
  for (const auto& l : s.links) {
    if (l.from == datamesh::node_id("filter")) filtered = std::max(filtered, l.events);
  }
  std::printf(
      "%s[%5.1fs] triggered %9llu  filtered %9llu  summaries %6llu  alerts %5llu  "
      "archive %6llu  (%.2f M readings/s)%s",
      tty ? "\r" : "", seconds, static_cast<unsigned long long>(f.triggered.load()),
      static_cast<unsigned long long>(filtered),
      static_cast<unsigned long long>(in_of(s, "router")),
      static_cast<unsigned long long>(in_of(s, "alerts")),
      static_cast<unsigned long long>(in_of(s, "archive")),
      seconds > 0 ? static_cast<double>(f.triggered.load()) / seconds / 1e6 : 0.0, tty ? "" : "\n");
  std::fflush(stdout);
}

void print_summary(const datamesh::mesh_snapshot& s) {
  std::printf("\n%-16s %10s %10s %9s\n", "node", "in", "out", "restarts");
  for (const auto& n : s.nodes) {
    std::printf("%-16s %10llu %10llu %9llu\n", n.id.str().c_str(),
                static_cast<unsigned long long>(n.in), static_cast<unsigned long long>(n.out),
                static_cast<unsigned long long>(n.restarts));
  }
  std::printf("\n%-30s %10s\n", "link", "events");
  for (const auto& l : s.links) {
    const std::string name = l.from.str() + " -> " + l.to.str();
    std::printf("%-30s %10llu\n", name.c_str(), static_cast<unsigned long long>(l.events));
  }
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  bool faults = false;
  const char* dot_path = nullptr;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) quick = true;
    if (std::strcmp(argv[i], "--faults") == 0) faults = true;
    if (std::strcmp(argv[i], "--dot") == 0 && i + 1 < argc) dot_path = argv[++i];
  }
  const std::size_t per_sensor = quick ? 30'000 : 2'000'000;
  const bool tty = isatty(STDOUT_FILENO) != 0;

  datamesh::runtime rt;  // the library's own thread pool
  datamesh::mesh m(rt);
  datamesh::logic_catalog catalog;
  catalog.add<sensor_node>("sensor")
      .add<threshold_node>("threshold")
      .add<aggregator_node>("aggregate")
      .add<router_node>("route")
      .add<sink_node<summary>>("summaries")
      .add<sink_node<reading>>("audit");
  datamesh::start_mesh(m, network, catalog);
  std::printf(
      "started %zu nodes and %zu links from the description; %zu readings per sensor\n"
      "(sensor 5 joins a third of the way in, with the rest of its share)\n",
      m.nodes().size(), m.links().size(), per_sensor);

  run_figures figures;
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  // Three phases, each a third of every sensor's samples; the mesh is rewired between them,
  // while what the phase triggered is still flowing through it.
  int sensors = 4;
  std::uint64_t corrupt = 0;
  auto next_print = start;
  for (int phase = 0; phase < 3; ++phase) {
    const std::size_t first = phase * per_sensor / 3;
    const std::size_t n = (phase + 1) * per_sensor / 3 - first;
    std::atomic<int> running{sensors};
    std::vector<std::thread> feeders;
    for (int id = 1; id <= sensors; ++id) {
      feeders.emplace_back([&, id] {
        feed(m, id, n, first, figures);
        running.fetch_sub(1);
      });
    }
    if (faults) {  // straight into the aggregator's inlet, among the sensors' readings
      m.trigger_data("aggregator", reading{0, std::nan("")});
      ++corrupt;
    }
    while (running.load() > 0) {
      if (std::chrono::steady_clock::now() >= next_print) {
        progress(m.snapshot(), figures, elapsed(), tty);
        next_print += std::chrono::milliseconds(tty ? 100 : 500);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));  // the display's pace only
    }
    for (auto& t : feeders) t.join();
    if (phase == 0) {
      m.start_node("audit", sink_node<reading>{}, {});
      m.connect("filter", "audit");
      m.start_node(std::tuple{"sensor", 5}, sensor_node{}, {{"sensor", 5}});
      m.connect(std::tuple{"sensor", 5}, "filter");
      sensors = 5;
      std::printf("%s-- rewired: audit sink connected to filter; (sensor, 5) joined\n",
                  tty ? "\n" : "");
    } else if (phase == 1) {
      m.disconnect("filter", "audit");
      std::printf("%s-- rewired: audit sink disconnected\n", tty ? "\n" : "");
    }
  }
  const std::uint64_t total = figures.triggered.load();

  // Wait until everything triggered has been processed by every node it reached, then check
  // the figures: every reading went through, and the router has all the aggregator made.
  const bool quiet = m.settle_for(std::chrono::seconds(60));
  const datamesh::mesh_snapshot s = m.snapshot();
  auto settled = [&] {
    if (!quiet) return false;
    std::uint64_t sensors_out = 0;
    for (int id = 1; id <= 5; ++id) sensors_out += in_of(s, std::tuple{"sensor", id});
    const auto* agg = s.node("aggregator");
    if (sensors_out != total || !agg || in_of(s, "filter") != total) return false;
    if (in_of(s, "alerts") + in_of(s, "archive") != s.node("router")->out) return false;
    // A restart loses what the aggregator held; without faults nothing is lost anywhere.
    return faults || (agg->in == s.node("filter")->out && in_of(s, "router") == agg->out);
  };
  const double seconds = elapsed();
  progress(s, figures, seconds, tty);
  std::printf("%s", tty ? "\n" : "");
  print_summary(s);

  if (dot_path != nullptr) {
    std::ofstream(dot_path) << s.to_dot();
    std::printf("\nwrote the graph to %s (render: dot -Tsvg %s > mesh.svg)\n", dot_path, dot_path);
  }
  if (!settled()) {
    std::printf("\nFAILED: readings went missing (see the figures above)\n");
    return 1;
  }
  // The aggregator passes on every reading the filter passed, except those a fault took.
  const auto* agg = s.node("aggregator");
  if (agg->restarts != corrupt) {
    std::printf("\nFAILED: the aggregator restarted %llu times for %llu faults\n",
                static_cast<unsigned long long>(agg->restarts),
                static_cast<unsigned long long>(corrupt));
    return 1;
  }
  std::printf(
      "\n%llu readings in %.2f s (%.2f M/s): every one accounted for; aggregator "
      "restarts: %llu\n",
      static_cast<unsigned long long>(total), seconds, static_cast<double>(total) / seconds / 1e6,
      static_cast<unsigned long long>(agg->restarts));
  return 0;
}
