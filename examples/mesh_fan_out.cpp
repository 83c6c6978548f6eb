// Mesh fan-out: node "hub" broadcasts every event to four sinks. "alerts" is connected with a
// selector, so it receives only the errors; "archive" is slow and asks for little at a time, and
// a broadcast goes at the pace of the slowest link, so it sets the pace for everyone. Events are
// handed to the hub with async_trigger_data, keeping a bounded number in flight.
//
//   example_mesh_fan_out [--quick]
#include <datamesh/datamesh.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <iomanip>
#include <iostream>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace {

struct event {
  int seq;
  bool error;
};

/// What one sink saw; written by that sink only, read by main.
struct sink_probe {
  std::atomic<std::uint64_t> count{0};
  std::atomic<std::uint64_t> seq_sum{0};
  std::atomic<bool> out_of_order{false};
};

/// Passes each event on to every connected node.
struct hub {
  struct state {};
  state init(const datamesh::node_args&) { return {}; }
  state process(const event& e, state s, datamesh::node_context<event>& ctx) {
    ctx.broadcast(e);
    return s;
  }
};

/// A sink, started with its own argument struct: where to record, and how slow to be.
struct sink {
  struct setup {
    sink_probe* probe;
    int pause_every = 0;  // 0: never pauses
  };
  struct state {
    setup how;
    int last = -1;
  };
  state init(const setup& how) { return {how}; }
  state process(const event& e, state s, datamesh::node_context<void>&) {
    if (e.seq <= s.last) s.how.probe->out_of_order = true;
    s.last = e.seq;
    if (s.how.pause_every > 0 && e.seq % s.how.pause_every == 0) {
      std::this_thread::sleep_for(std::chrono::microseconds(200));  // a slow disk
    }
    s.how.probe->seq_sum.fetch_add(static_cast<std::uint64_t>(e.seq), std::memory_order_relaxed);
    s.how.probe->count.fetch_add(1, std::memory_order_release);
    return s;
  }
};

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const int events = quick ? 2000 : 100'000;
  const int in_flight = 256;  // async triggers not yet accepted, at most
  auto is_error = [](int seq) { return seq % 10 == 3; };

  const std::vector<std::string> names = {"audit", "metrics", "archive", "alerts"};
  std::vector<sink_probe> probes(names.size());  // outlive the mesh
  std::atomic<int> settled{0};                   // async triggers completed
  std::atomic<int> refused{0};                   // ... of which with an error
  datamesh::runtime rt;
  datamesh::mesh m(rt);
  m.start_node("hub", hub{}, {});
  for (std::size_t i = 0; i < names.size(); ++i) {
    const int pause_every = names[i] == "archive" ? 64 : 0;
    m.start_node(names[i], sink{}, sink::setup{&probes[i], pause_every});
  }
  m.connect("hub", "audit");
  m.connect("hub", "metrics");
  m.connect("hub", "archive", {.max_demand = 16});
  m.connect("hub", "alerts",
            {.select = datamesh::selector<event>([](const event& e) { return e.error; })});

  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < events; ++i) {
    for (int s = settled.load(); i - s >= in_flight; s = settled.load()) settled.wait(s);
    m.async_trigger_data("hub", event{i, is_error(i)}, [&](std::error_code ec) {
      if (ec) refused.fetch_add(1);
      settled.fetch_add(1);
      settled.notify_all();
    });
  }

  // What each sink should get: everything, except alerts (errors only).
  std::uint64_t all_sum = 0, error_count = 0, error_sum = 0;
  for (int i = 0; i < events; ++i) {
    all_sum += static_cast<std::uint64_t>(i);
    if (is_error(i)) {
      ++error_count;
      error_sum += static_cast<std::uint64_t>(i);
    }
  }
  auto expected_count = [&](std::size_t i) {
    return names[i] == "alerts" ? error_count : std::uint64_t(events);
  };
  // Every asynchronous trigger answered, then every event processed by every sink it reached.
  for (int s = settled.load(); s != events; s = settled.load()) settled.wait(s);
  const bool done = m.settle_for(std::chrono::seconds(60));
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;

  std::cout << "hub broadcast " << events << " events to " << names.size() << " sinks in "
            << std::fixed << std::setprecision(2) << took.count()
            << " s,\n  at the pace of archive (asks for 16 at a time, pauses every 64)\n";
  bool ok = done && refused.load() == 0;
  for (std::size_t i = 0; i < names.size(); ++i) {
    const auto& p = probes[i];
    const bool alerts = names[i] == "alerts";
    const bool right = p.count.load() == expected_count(i) &&
                       p.seq_sum.load() == (alerts ? error_sum : all_sum) && !p.out_of_order;
    ok = ok && right;
    std::cout << "  " << std::left << std::setw(8) << names[i] << " got " << p.count.load()
              << (alerts ? " errors (by its selector)" : " events")
              << (p.out_of_order ? " OUT OF ORDER" : "") << (right ? "" : "  <- wrong") << "\n";
  }
  if (!ok) {
    std::cerr << (done ? "FAILED: a sink got the wrong events\n" : "FAILED: timed out waiting\n");
    return 1;
  }
  std::cout << "ok: every sink got exactly its events, in order\n";
  return 0;
}
