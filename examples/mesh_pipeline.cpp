// Mesh pipeline: raw lines enter node "source" through trigger_data and flow
// source -> parse -> scale -> sink, one small node logic per step, in each form a logic takes:
// "source" is a lambda, "parse" keeps its separator as its state, "scale" takes its factor and
// offset as named node_args, and the sink keeps no state (its probe is a member of the logic).
// The per-node figures show where data went.
//
//   example_mesh_pipeline [--quick]
#include <datamesh/datamesh.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <iomanip>
#include <iostream>
#include <string>
#include <vector>

namespace {

struct reading {
  int sensor;
  int value;
};

/// What the sink saw; written by the sink node only, read by main.
struct sink_probe {
  std::atomic<std::uint64_t> count{0};
  std::atomic<std::int64_t> sum{0};
};

/// Parses "sensor<sep>value"; a line that does not parse is dropped.
struct parse {
  char init(const datamesh::node_args& a) { return a.get<std::string>("separator").at(0); }
  char process(const std::string& line, char sep, datamesh::node_context<reading>& ctx) {
    const auto at = line.find(sep);
    if (at == std::string::npos) return sep;  // malformed: nothing goes on
    ctx.broadcast(reading{std::stoi(line.substr(0, at)), std::stoi(line.substr(at + 1))});
    return sep;
  }
};

/// value * factor + offset, both named arguments.
struct scale {
  struct state {
    int factor;
    int offset;
  };
  state init(const datamesh::node_args& a) {
    return {a.get<int>("factor"), a.get_or<int>("offset", 0)};
  }
  state process(const reading& r, state s, datamesh::node_context<reading>& ctx) {
    ctx.broadcast(reading{r.sensor, r.value * s.factor + s.offset});
    return s;
  }
};

/// The end of the line: counts and sums into its probe. It keeps no state, so it has no `init`:
/// the probe is a member of the logic, copied into the node.
struct reading_sink {
  sink_probe* probe;
  void process(const reading& r, datamesh::node_context<void>&) {
    probe->sum.fetch_add(r.value, std::memory_order_relaxed);
    probe->count.fetch_add(1, std::memory_order_release);
  }
};

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const int lines = quick ? 1000 : 200'000;

  sink_probe probe;  // outlives the mesh that writes it
  datamesh::runtime rt;
  datamesh::mesh m(rt);
  // The entry point, a lambda: passes each line on as it came.
  m.start_node("source", [](const std::string& line, datamesh::node_context<std::string>& ctx) {
    ctx.broadcast(line);
  });
  m.start_node("parse", parse{}, {{"separator", ","}});
  m.start_node("scale", scale{}, {{"factor", 10}, {"offset", -5}});
  m.start_node("sink", reading_sink{&probe});
  m.connect("source", "parse");
  m.connect("parse", "scale");
  m.connect("scale", "sink");

  // Every 50th line is malformed; the rest are "sensor,value".
  std::uint64_t good = 0;
  std::int64_t expected_sum = 0;
  for (int i = 0; i < lines; ++i) {
    const bool malformed = i % 50 == 49;
    if (!malformed) {
      ++good;
      expected_sum += (i % 100) * 10 - 5;
    }
    // A std::string, not a literal: the datum's type must be the node's input type.
    m.trigger_data("source", malformed ? std::string("garbage")
                                       : std::to_string(i % 8) + "," + std::to_string(i % 100));
  }
  std::cout << "fed " << lines << " lines to source (" << lines - good << " malformed)\n";

  struct expect {
    const char* node;
    std::uint64_t in, out;
  };
  const std::vector<expect> expected = {
      {"source", std::uint64_t(lines), std::uint64_t(lines)},
      {"parse", std::uint64_t(lines), good},
      {"scale", good, good},
      {"sink", good, 0},
  };
  auto settled = [&] {
    for (const auto& e : expected) {
      const auto f = m.figures(e.node);
      if (f.in != e.in || f.out != e.out) return false;
    }
    return probe.count.load(std::memory_order_acquire) == good;
  };
  // Returns once every line fed has been processed by every node it reached.
  const bool done = m.settle_for(std::chrono::seconds(60)) && settled();

  bool ok = done;
  for (const auto& e : expected) {
    const auto f = m.figures(e.node);
    const bool right = f.in == e.in && f.out == e.out;
    ok = ok && right;
    std::cout << "  " << std::left << std::setw(7) << e.node << " in " << std::setw(7) << f.in
              << " out " << f.out << (right ? "" : "  <- expected other counts") << "\n";
  }
  const std::int64_t sum = probe.sum.load();
  std::cout << "sink saw " << probe.count.load() << " readings, sum " << sum << " (expected "
            << expected_sum << ")\n";
  ok = ok && sum == expected_sum;
  if (!ok) {
    std::cerr << (done ? "FAILED: counts or sum differ\n" : "FAILED: timed out waiting\n");
    return 1;
  }
  std::cout << "ok: every well-formed line reached the sink, scaled\n";
  return 0;
}
