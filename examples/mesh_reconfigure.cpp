// Mesh reconfiguration: a feeder thread hands 0, 1, 2, ... to node "feed" without pause while
// the main thread rewires the mesh around it: it connects a new sink, disconnects an old one, and
// stops node "mirror" (a relay in front of "mirror sink") and starts it again. "steady" stays
// connected throughout and must see everything.
//
// What a link promises: it receives what is broadcast after `connect` returns and nothing after
// `disconnect` returns; what it received before, it keeps.
//
//   example_mesh_reconfigure [--quick]
#include <datamesh/datamesh.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <iostream>
#include <thread>

namespace {

/// The run of values one sink saw; written by that sink only, read by main.
struct sink_probe {
  std::atomic<std::uint64_t> count{0};
  std::atomic<int> first{-1}, last{-1};
  std::atomic<int> gaps{0}, reorders{0};
  std::atomic<int> gap_from{-1}, resumed_at{-1};  // the latest gap: [gap_from, resumed_at)
};

/// Passes each value on to every connected node.
struct relay {
  struct state {};
  state init(const datamesh::node_args&) { return {}; }
  state process(const int& x, state s, datamesh::node_context<int>& ctx) {
    ctx.broadcast(x);
    return s;
  }
};

/// Records the run of values it receives into its probe.
struct sink {
  sink_probe* init(sink_probe* probe) { return probe; }
  sink_probe* process(const int& x, sink_probe* p, datamesh::node_context<void>&) {
    const int last = p->last.load();
    if (last < 0) p->first = x;
    if (last >= 0 && x <= last) ++p->reorders;
    if (last >= 0 && x > last + 1) {
      ++p->gaps;
      p->gap_from = last + 1;
      p->resumed_at = x;
    }
    p->last = x;
    ++p->count;
    return p;
  }
};

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  // Data "feed" processes between two changes; above a link's demand (1000), so that each
  // change happens well after the one before.
  const std::uint64_t step = quick ? 3000 : 50'000;

  sink_probe steady, old, fresh, mirrored;  // outlive the mesh
  std::atomic<int> fed{0};
  std::atomic<bool> stop_feeding{false}, feeder_failed{false};
  datamesh::runtime rt;
  datamesh::mesh m(rt);
  m.start_node("feed", relay{}, {});
  m.start_node("mirror", relay{}, {});
  m.start_node("steady", sink{}, &steady);
  m.start_node("old", sink{}, &old);
  m.start_node("new", sink{}, &fresh);
  m.start_node("mirror sink", sink{}, &mirrored);
  m.connect("feed", "steady");
  m.connect("feed", "old");
  m.connect("mirror", "mirror sink");
  m.connect("feed", "mirror");

  std::jthread feeder([&] {
    try {
      for (int x = 0; !stop_feeding; ++x) {
        m.trigger_data("feed", x);
        fed = x + 1;
        fed.notify_all();
      }
    } catch (const std::exception& e) {
      std::cerr << "feeder: " << e.what() << "\n";
      feeder_failed = true;
    }
  });
  // Lets the feeder hand in `step` more values while the mesh runs (the feeder, blocked by
  // back-pressure, moves only as fast as the mesh takes them).
  auto let_flow = [&] {
    const int until = fed.load() + static_cast<int>(step);
    for (int f = fed.load(); f < until && !feeder_failed; f = fed.load()) fed.wait(f);
    return !feeder_failed;
  };

  bool ok = let_flow();
  const int before_connect = static_cast<int>(m.figures("feed").in);
  m.connect("feed", "new");
  const int after_connect = fed;
  ok = ok && let_flow();
  m.disconnect("feed", "old");  // after "new" is in: the hand-over leaves no hole
  const int after_disconnect = fed;
  ok = ok && let_flow();
  m.stop_node("mirror");
  ok = ok && let_flow();
  m.start_node("mirror", relay{}, {});  // a new state; its links went with the old one
  m.connect("mirror", "mirror sink");
  const int before_restart = static_cast<int>(m.figures("feed").in);
  m.connect("feed", "mirror");
  ok = ok && let_flow();
  stop_feeding = true;
  feeder.join();
  const int total = fed;

  // Once the mesh has processed every value fed, each sink's figures are final.
  ok = ok && !feeder_failed && m.settle_for(std::chrono::seconds(60)) &&
       m.figures("feed").in == std::uint64_t(total) && steady.last == total - 1 &&
       fresh.last == total - 1 && mirrored.last == total - 1 && m.figures("old").in == old.count &&
       m.figures("mirror").in == std::uint64_t(total - mirrored.resumed_at);

  std::cout << "the feeder handed " << total << " values to feed while main rewired the mesh\n"
            << "  steady      got [" << steady.first << ", " << steady.last + 1
            << "), connected throughout\n"
            << "  old         got [" << old.first << ", " << old.last + 1 << "), disconnected when "
            << after_disconnect << " were fed\n"
            << "  new         got [" << fresh.first << ", " << fresh.last + 1
            << "), connected when feed had processed " << before_connect << "\n"
            << "  mirror sink got " << mirrored.count << ", all but [" << mirrored.gap_from << ", "
            << mirrored.resumed_at << "), broadcast while mirror was stopped\n";

  auto expect = [&ok](bool holds, const char* what) {
    if (!holds) std::cerr << "FAILED: " << what << "\n";
    ok = ok && holds;
  };
  auto unbroken = [](const sink_probe& p) { return p.gaps == 0 && p.reorders == 0; };
  expect(unbroken(steady) && steady.first == 0 && steady.count == std::uint64_t(total),
         "steady should have every value, in order");
  expect(unbroken(old) && old.first == 0 && old.last <= after_disconnect,
         "old should have an unbroken run from 0 that ends at its disconnect");
  expect(unbroken(fresh) && fresh.first >= before_connect && fresh.first <= after_connect + 1 &&
             fresh.count == std::uint64_t(total - fresh.first),
         "new should have an unbroken run from its connect to the end");
  expect(old.last + 1 >= fresh.first, "the hand-over from old to new should lose nothing");
  expect(mirrored.gaps == 1 && mirrored.reorders == 0 && mirrored.first == 0 &&
             mirrored.resumed_at >= before_restart &&
             mirrored.count == std::uint64_t(mirrored.gap_from + total - mirrored.resumed_at) &&
             m.figures("mirror").in == std::uint64_t(total - mirrored.resumed_at),
         "mirror sink should have two unbroken runs, around the restart");
  if (!ok) {
    std::cerr << "FAILED (a timeout or a check above)\n";
    return 1;
  }
  std::cout << "ok: each link saw exactly the data of its lifetime; totals add up\n";
  return 0;
}
