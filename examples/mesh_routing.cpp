// Mesh routing: node "router" sends each ticket to one desk, picked by its severity: severity n
// goes to node ("desk", n). There is no desk for critical tickets, so try_send fails for them and
// the router sends them to node "triage" instead. Tickets enter with try_trigger_data, falling
// back to the blocking trigger_data while the router's small inlet is full.
//
//   example_mesh_routing [--quick]
#include <datamesh/datamesh.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <iomanip>
#include <iostream>
#include <string>
#include <tuple>
#include <vector>

namespace {

enum class severity { info, warning, error, critical };
constexpr int severities = 4;

const char* to_string(severity s) {
  static const char* names[] = {"info", "warning", "error", "critical"};
  return names[static_cast<int>(s)];
}

struct ticket {
  int id;
  severity level;
};

/// Tickets one desk handled, by severity; written by that desk only, read by main.
struct desk_probe {
  std::array<std::atomic<std::uint64_t>, severities> by_severity{};
};

/// Sends each ticket to the desk of its severity, or to triage when that desk is not connected.
struct router {
  struct state {};
  state init(const datamesh::node_args&) { return {}; }
  state process(const ticket& t, state s, datamesh::node_context<ticket>& ctx) {
    if (!ctx.try_send(std::tuple{"desk", static_cast<int>(t.level)}, t)) ctx.send("triage", t);
    return s;
  }
};

/// A desk: counts what it handled into its probe.
struct desk {
  desk_probe* init(desk_probe* probe) { return probe; }
  desk_probe* process(const ticket& t, desk_probe* p, datamesh::node_context<void>&) {
    p->by_severity[static_cast<int>(t.level)].fetch_add(1);
    return p;
  }
};

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const int tickets = quick ? 2000 : 200'000;
  // Six in ten are info, two warning, one error, one critical.
  auto level_of = [](int id) {
    const int r = id % 10;
    return r < 6   ? severity::info
           : r < 8 ? severity::warning
           : r < 9 ? severity::error
                   : severity::critical;
  };

  // Desks 0..2 (info, warning, error) and triage, which takes what has no desk.
  std::vector<datamesh::node_id> desks = {std::tuple{"desk", 0}, std::tuple{"desk", 1},
                                          std::tuple{"desk", 2}, "triage"};
  std::vector<desk_probe> probes(desks.size());  // outlive the mesh
  datamesh::runtime rt;
  datamesh::mesh m(rt);
  m.start_node("router", router{}, {}, {.inlet_capacity = 64});
  for (std::size_t i = 0; i < desks.size(); ++i) {
    m.start_node(desks[i], desk{}, &probes[i]);
    m.connect("router", desks[i]);
  }

  std::array<std::uint64_t, severities> expected{};
  int full = 0;
  for (int id = 0; id < tickets; ++id) {
    const ticket t{id, level_of(id)};
    ++expected[static_cast<int>(t.level)];
    if (m.try_trigger_data("router", t) == datamesh::trigger_status::full) {
      ++full;
      m.trigger_data("router", t);  // waits for room
    }
  }
  std::cout << "fed " << tickets << " tickets to router; its inlet was full " << full << " times\n";

  // Desk i should hold only severity i (triage: only critical), all of them.
  auto expected_at = [&](std::size_t desk, int sev) {
    return desk == static_cast<std::size_t>(sev) ? expected[sev] : 0;
  };
  auto all_arrived = [&] {
    for (std::size_t d = 0; d < desks.size(); ++d) {
      for (int s = 0; s < severities; ++s) {
        if (probes[d].by_severity[s].load() != expected_at(d, s)) return false;
      }
    }
    const auto f = m.figures("router");
    return f.in == std::uint64_t(tickets) && f.out == std::uint64_t(tickets);
  };
  const bool done = m.settle_for(std::chrono::seconds(60)) && all_arrived();

  bool ok = done;
  for (std::size_t d = 0; d < desks.size(); ++d) {
    std::cout << "  " << std::left << std::setw(10) << desks[d].str();
    bool right = true;
    for (int s = 0; s < severities; ++s) {
      const std::uint64_t n = probes[d].by_severity[s].load();
      if (n > 0) std::cout << " " << to_string(static_cast<severity>(s)) << "=" << n;
      right = right && n == expected_at(d, s);
    }
    ok = ok && right;
    std::cout << (right ? "" : "  <- wrong") << "\n";
  }
  const auto f = m.figures("router");
  std::cout << "router figures: in " << f.in << ", out " << f.out << "\n";
  if (!ok) {
    std::cerr << (done ? "FAILED: a ticket reached the wrong desk\n"
                       : "FAILED: timed out waiting\n");
    return 1;
  }
  std::cout << "ok: every ticket reached its severity's desk, critical ones via triage\n";
  return 0;
}
