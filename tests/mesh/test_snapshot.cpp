// Mesh introspection: per node and per link figures as a snapshot, and the topology as
// Graphviz DOT with those figures on the edges. Deterministic: figures are read between steps.
#include <datamesh/mesh/mesh.hpp>
#include <datamesh/mesh/snapshot.hpp>

#include <doctest/doctest.h>

#include <cctype>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "support/harness.hpp"
#include "support/mesh.hpp"

using namespace datamesh;
using dmtest::fixture;
using namespace dmtest::mesh_logic;

namespace {

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("snapshot: events in and out per node and per link, and the links' pending demand") {
  std::vector<int> got;
  fixture f;
  mesh m(f.rt);
  m.start_node("source", relay{}, {});
  m.start_node("filter", threshold_filter{}, {{"threshold", 10}});
  m.start_node("sink", recorder{}, &got);
  m.connect("source", "filter", {.max_demand = 10});
  m.connect("filter", "sink", {.max_demand = 10});
  for (int x : {5, 10, 15}) m.trigger_data("source", x);
  f.run();

  const mesh_snapshot s = m.snapshot();
  REQUIRE(s.nodes.size() == 3);
  CHECK(s.nodes[0].id == node_id("filter"));  // ordered by id
  const node_snapshot* source = s.node("source");
  const node_snapshot* filter = s.node("filter");
  REQUIRE(source);
  REQUIRE(filter);
  CHECK(source->in == 3);
  CHECK(source->out == 3);
  CHECK(filter->in == 3);
  CHECK(filter->out == 2);
  CHECK(s.node("sink")->in == 2);
  CHECK(source->inlet_depth == 0);
  CHECK(source->buffered == 0);
  CHECK_FALSE(source->supervised);
  CHECK(s.node("nobody") == nullptr);

  REQUIRE(s.links.size() == 2);
  const link_snapshot* in = s.link("source", "filter");
  const link_snapshot* out = s.link("filter", "sink");
  REQUIRE(in);
  REQUIRE(out);
  CHECK(in->events == 3);
  CHECK(out->events == 2);
  // Below min_demand (5) nothing is asked again: what is left of the 10 is pending.
  CHECK(in->pending_demand == 7);
  CHECK(out->pending_demand == 8);
  CHECK(source->pending_demand == 7);
  CHECK(in->held == 0);
  CHECK(s.link("sink", "source") == nullptr);
}

namespace {
/// Broadcasts each datum ten times.
struct tenfold {
  none init(const node_args&) { return {}; }
  none process(const int& x, none s, node_context<int>& ctx) {
    for (int i = 0; i < 10; ++i) ctx.broadcast(x);
    return s;
  }
};
}  // namespace

TEST_CASE("snapshot: events a slow link holds back show as held and buffered") {
  std::vector<int> got;
  fixture f;
  mesh m(f.rt);
  m.start_node("source", tenfold{}, {});
  m.start_node("sink", recorder{}, &got);
  m.connect("source", "sink", {.max_demand = 10, .min_demand = 0});
  std::vector<int> data(10);
  for (int i = 0; i < 10; ++i) data[i] = i;
  m.trigger_all<int>("source", data);
  // Step until the source has processed the 10 the link asked for, making 100 events; the
  // sink has asked for only 10 of them.
  REQUIRE(f.ex.run_until([&] { return m.figures("source").in == 10; }));
  auto s = m.snapshot();
  const link_snapshot* l = s.link("source", "sink");
  REQUIRE(l);
  CHECK(l->events == 10);
  CHECK(l->pending_demand == 0);
  CHECK(l->held == 90);
  CHECK(s.node("source")->buffered == 90);
  CHECK(contains(s.to_dot(), "held 90"));
  CHECK(contains(s.to_dot(), "color=red"));
  f.run();
  s = m.snapshot();
  CHECK(s.link("source", "sink")->events == 100);
  CHECK(s.link("source", "sink")->held == 0);
  CHECK(s.node("source")->buffered == 0);
  CHECK(got.size() == 100);
}

TEST_CASE("snapshot: the inlet's depth counts data triggered and not yet taken") {
  std::vector<int> got;
  fixture f;
  mesh m(f.rt);
  m.start_node("sink", recorder{}, &got, {.inlet_capacity = 10});
  for (int x : {1, 2, 3}) CHECK(m.try_trigger_data("sink", x) == trigger_status::accepted);
  CHECK(m.snapshot().node("sink")->inlet_depth == 3);
  f.run();
  CHECK(m.snapshot().node("sink")->inlet_depth == 0);
  CHECK(m.snapshot().node("sink")->in == 3);
}

TEST_CASE("snapshot: a link's events count over its whole life, a removed link leaves it") {
  std::vector<int> got;
  fixture f;
  mesh m(f.rt);
  m.start_node("a", relay{}, {});
  m.start_node("b", recorder{}, &got);
  m.connect("a", "b");
  m.trigger_data("a", 1);
  f.run();
  CHECK(m.snapshot().link("a", "b")->events == 1);
  m.disconnect("a", "b");
  CHECK(m.snapshot().links.empty());
  m.connect("a", "b");  // a new link starts from zero
  CHECK(m.snapshot().link("a", "b")->events == 0);
}

TEST_CASE("snapshot: DOT shows every node and link with its figures, ids escaped") {
  std::vector<int> got;
  fixture f;
  mesh m(f.rt);
  m.start_node(7, relay{}, {});
  m.start_node("7", relay{}, {});  // prints like 7, but is another node
  m.start_node("say \"hi\"", recorder{}, &got);
  m.start_node(std::tuple{"sink", 2}, recorder{}, &got);
  m.connect(7, "say \"hi\"");
  m.connect("7", std::tuple{"sink", 2});
  m.trigger_data(7, 1);
  f.run();
  const std::string dot = m.snapshot().to_dot();
  CHECK(dot.starts_with("digraph mesh {"));
  CHECK(dot.ends_with("}\n"));
  CHECK(contains(dot, "label=\"say \\\"hi\\\"\\nin 1  out 0\""));
  CHECK(contains(dot, "label=\"(sink, 2)\\nin 0  out 0\""));
  // Four boxes, two edges, each edge between two of the boxes.
  int boxes = 0;
  int edges = 0;
  std::istringstream lines(dot);
  for (std::string line; std::getline(lines, line);) {
    if (!line.starts_with("  n") || line.size() < 4 || !std::isdigit(line[3])) continue;
    (contains(line, " -> ") ? edges : boxes) += 1;
  }
  CHECK(boxes == 4);
  CHECK(edges == 2);
  CHECK(contains(dot, "1 ev\\ndemand 999"));
}

TEST_CASE("snapshot: a supervised node shows its restarts") {
  fixture f;
  mesh m(f.rt);
  m.start_node("s", relay{}, {}, {.restart = restart_type::permanent});
  const auto s = m.snapshot();
  REQUIRE(s.node("s"));
  CHECK(s.node("s")->supervised);
  CHECK(s.node("s")->running);
  CHECK(s.node("s")->restarts == 0);
  CHECK(contains(s.to_dot(), "restarts 0"));
}
