// The mesh API on a deterministic executor: nodes with ids of any kind, the five patterns
// (pipeline, fan-out, aggregation, routing, rewiring while running), back-pressured
// trigger_data in its three forms, and typed errors that leave the mesh running.
#include <datamesh/mesh/mesh.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <numeric>
#include <ranges>
#include <span>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "support/harness.hpp"
#include "support/mesh.hpp"

using namespace datamesh;
using dmtest::fixture;
using namespace dmtest::mesh_logic;

namespace {

/// Sums what it receives and broadcasts the running total.
struct summer {
  int init(const node_args&) { return 0; }
  int process(const int& x, int total, node_context<int>& ctx) {
    ctx.broadcast(total + x);
    return total + x;
  }
};

/// Sends each value to node ("sink", x % 2).
struct parity_router {
  none init(const node_args&) { return {}; }
  none process(const int& x, none s, node_context<int>& ctx) {
    ctx.send(std::tuple{"sink", x % 2}, x);
    return s;
  }
};

/// Throws on 13, passes the rest on.
struct unlucky {
  none init(const node_args&) { return {}; }
  none process(const int& x, none s, node_context<int>& ctx) {
    if (x == 13) throw std::runtime_error("13 is unlucky");
    ctx.broadcast(x);
    return s;
  }
};

/// Stops with a reason on a negative value.
struct stops_on_negative {
  none init(const node_args&) { return {}; }
  node_result<none> process(const int& x, none s, node_context<int>& ctx) {
    if (x < 0) return exit_reason::error("negative input");
    ctx.broadcast(x);
    return s;
  }
};

/// Refuses to start.
struct bad_init {
  none init(const node_args&) { throw std::runtime_error("no config"); }
  none process(const int&, none s, node_context<int>&) { return s; }
};

errc error_of(auto&& f) {
  try {
    f();
  } catch (const error& e) {
    return static_cast<errc>(e.code().value());
  }
  return errc{};
}

}  // namespace

TEST_CASE("mesh: a pipeline with string and tuple ids and named arguments") {
  std::vector<int> got;
  fixture f;
  mesh m(f.rt);
  m.start_node("source", relay{}, {});
  m.start_node("filter", threshold_filter{}, {{"threshold", 10}});
  m.start_node(std::tuple{"complex", 7}, recorder{}, &got);
  m.connect("source", "filter");
  m.connect("filter", std::tuple{"complex", 7});
  f.run();
  for (int x : {5, 10, 15, 3, 20}) m.trigger_data("source", x);
  f.run();
  CHECK(got == std::vector<int>{10, 15, 20});
  CHECK(m.figures("source").in == 5);
  CHECK(m.figures("source").out == 5);
  CHECK(m.figures("filter").out == 3);
  CHECK(m.figures(std::tuple{std::string("complex"), 7L}).in == 3);
  CHECK(m.nodes().size() == 3);
  CHECK(m.links().size() == 2);
}

TEST_CASE("mesh: integer ids of any integer type name the same node") {
  std::vector<int> got;
  fixture f;
  mesh m(f.rt);
  m.start_node(1, relay{}, {});
  m.start_node(2u, recorder{}, &got);
  m.connect(1L, std::size_t{2});
  f.run();
  m.trigger_data(short{1}, 42);
  f.run();
  CHECK(got == std::vector<int>{42});
}

namespace {

/// Adds its configuration to each datum: a logic with no state and no init.
struct offset_by {
  int k;
  void process(const int& x, node_context<int>& ctx) { ctx.broadcast(x + k); }
};

/// A running total that starts from `int{}`: a state without init.
struct running_total {
  int process(const int& x, int total, node_context<int>& ctx) {
    ctx.broadcast(total + x);
    return total + x;
  }
};

}  // namespace

TEST_CASE("mesh: node logic without state, without init, and as lambdas") {
  static_assert(!node_traits<offset_by>::stateful);
  static_assert(std::is_same_v<node_traits<offset_by>::state_type, none>);
  static_assert(std::is_same_v<node_traits<offset_by>::args_type, node_args>);
  static_assert(node_traits<running_total>::stateful);
  static_assert(std::is_same_v<node_traits<running_total>::state_type, int>);
  std::vector<int> got;
  fixture f;
  mesh m(f.rt);
  int calls = 0;  // what a capturing lambda sees
  m.start_node("double", [&calls](int x, node_context<int>& ctx) {
    ++calls;
    ctx.broadcast(2 * x);
  });
  m.start_node("offset", offset_by{100});
  m.start_node("total", running_total{}, {}, {.inlet_capacity = 4});
  m.start_node("count", [](const int& x, std::size_t n, node_context<int>& ctx) -> std::size_t {
    ctx.broadcast(x);
    return n + 1;
  });
  m.start_node("sink", [&got](const int& x, node_context<void>&) { got.push_back(x); });
  m.connect("double", "offset");
  m.connect("offset", "total");
  m.connect("total", "count");
  m.connect("count", "sink");
  f.run();
  for (int x : {1, 2, 3}) m.trigger_data("double", x);
  f.run();
  CHECK(calls == 3);
  CHECK(got == std::vector<int>{102, 206, 312});  // 102, 104, 106 summed as they pass
  CHECK(m.figures("sink").in == 3);
}

TEST_CASE("mesh: a lambda node that throws stops its node only") {
  std::vector<int> got;
  fixture f;
  mesh m(f.rt);
  m.start_node("picky", [](const int& x, node_context<int>& ctx) {
    if (x < 0) throw std::invalid_argument("negative");
    ctx.broadcast(x);
  });
  m.start_node("sink", [&got](const int& x, node_context<void>&) { got.push_back(x); });
  m.connect("picky", "sink");
  f.run();
  m.trigger_data("picky", 1);
  f.run();
  m.trigger_data("picky", -1);
  f.run();
  CHECK(got == std::vector<int>{1});
  CHECK(m.nodes() == std::vector<node_id>{"sink"});  // "picky" stopped, the sink runs on
}

TEST_CASE("mesh: fan-out, a broadcast reaches every connected node") {
  std::vector<int> a, b, c;
  fixture f;
  mesh m(f.rt);
  m.start_node("hub", relay{}, {});
  m.start_node("a", recorder{}, &a);
  m.start_node("b", recorder{}, &b);
  m.start_node("c", recorder{}, &c);
  m.connect("hub", "a");
  m.connect("hub", "b");
  m.connect("hub", "c", {.select = selector<int>([](const int& x) { return x > 1; })});
  f.run();
  for (int x = 0; x < 4; ++x) m.trigger_data("hub", x);
  f.run();
  CHECK(a == std::vector<int>{0, 1, 2, 3});
  CHECK(b == std::vector<int>{0, 1, 2, 3});
  CHECK(c == std::vector<int>{2, 3});
}

TEST_CASE("mesh: aggregation, one node receives from several") {
  std::vector<int> totals;
  fixture f;
  mesh m(f.rt);
  m.start_node("left", relay{}, {});
  m.start_node("right", relay{}, {});
  m.start_node("sum", summer{}, {});
  m.start_node("out", recorder{}, &totals);
  m.connect("left", "sum");
  m.connect("right", "sum");
  m.connect("sum", "out");
  f.run();
  m.trigger_data("left", 1);
  m.trigger_data("right", 10);
  m.trigger_data("left", 100);
  f.run();
  REQUIRE(totals.size() == 3);
  CHECK(totals.back() == 111);
}

TEST_CASE("mesh: routing, send reaches one connected node by id") {
  std::vector<int> even, odd;
  fixture f;
  mesh m(f.rt);
  m.start_node("router", parity_router{}, {});
  m.start_node(std::tuple{"sink", 0}, recorder{}, &even);
  m.start_node(std::tuple{"sink", 1}, recorder{}, &odd);
  m.connect("router", std::tuple{"sink", 0});
  m.connect("router", std::tuple{"sink", 1});
  f.run();
  for (int x = 0; x < 6; ++x) m.trigger_data("router", x);
  f.run();
  CHECK(even == std::vector<int>{0, 2, 4});
  CHECK(odd == std::vector<int>{1, 3, 5});
}

TEST_CASE("mesh: a new link receives only what is broadcast after it was made") {
  std::vector<int> early, late;
  fixture f;
  mesh m(f.rt);
  m.start_node("src", relay{}, {});
  m.start_node("early", recorder{}, &early);
  m.start_node("late", recorder{}, &late);
  m.connect("src", "early");
  f.run();
  m.trigger_data("src", 1);
  m.trigger_data("src", 2);
  f.run();
  m.connect("src", "late");
  f.run();
  m.trigger_data("src", 3);
  f.run();
  CHECK(early == std::vector<int>{1, 2, 3});
  CHECK(late == std::vector<int>{3});
}

TEST_CASE("mesh: connect returns once the link is in place, disconnect once it is gone") {
  std::vector<int> got;
  fixture f;
  mesh m(f.rt);
  m.start_node("src", relay{}, {});
  m.start_node("sink", recorder{}, &got);
  // No run between the calls: connect itself settles the link (driving this executor).
  m.connect("src", "sink");
  m.trigger_data("src", 1);
  f.run();
  m.disconnect("src", "sink");
  m.trigger_data("src", 2);
  f.run();
  CHECK(got == std::vector<int>{1});
}

TEST_CASE("mesh: a removed link receives nothing more and keeps what it received") {
  std::vector<int> kept, other;
  fixture f;
  mesh m(f.rt);
  m.start_node("src", relay{}, {});
  m.start_node("kept", recorder{}, &kept);
  m.start_node("other", recorder{}, &other);
  m.connect("src", "kept");
  m.connect("src", "other");
  f.run();
  m.trigger_data("src", 1);
  f.run();
  m.disconnect("src", "kept");
  f.run();
  m.trigger_data("src", 2);
  f.run();
  CHECK(kept == std::vector<int>{1});
  CHECK(other == std::vector<int>{1, 2});
  CHECK(m.links().size() == 1);
  // Reconnected, it receives again.
  m.connect("src", "kept");
  f.run();
  m.trigger_data("src", 3);
  f.run();
  CHECK(kept == std::vector<int>{1, 3});
}

TEST_CASE("mesh: a node without links still processes, and its broadcasts are counted") {
  fixture f;
  mesh m(f.rt);
  m.start_node("alone", relay{}, {});
  f.run();
  for (int x = 0; x < 2500; ++x) m.trigger_data("alone", x);  // more than its window
  f.run();
  CHECK(m.figures("alone").in == 2500);
  CHECK(m.figures("alone").unlinked == 2500);
  // A loss the library causes: counted in the node's stage and its snapshot row too.
  CHECK(estimate_dropped_count(m.stage_of("alone")) == 2500);
  REQUIRE(m.snapshot().node("alone") != nullptr);
  CHECK(m.snapshot().node("alone")->dropped == 2500);
}

TEST_CASE("mesh: bad calls get typed errors and the mesh keeps running") {
  std::vector<int> got;
  fixture f;
  mesh m(f.rt);
  m.start_node("src", relay{}, {});
  m.start_node("sink", recorder{}, &got);
  m.start_node("text", stringify{}, {});
  m.connect("src", "sink");
  f.run();
  CHECK(error_of([&] { m.start_node("src", relay{}, {}); }) == errc::duplicate_node);
  CHECK(error_of([&] { m.connect("src", "nowhere"); }) == errc::unknown_node);
  CHECK(error_of([&] { m.connect("nowhere", "src"); }) == errc::unknown_node);
  CHECK(error_of([&] { m.trigger_data("nowhere", 1); }) == errc::unknown_node);
  CHECK(error_of([&] { m.stop_node("nowhere"); }) == errc::unknown_node);
  CHECK(error_of([&] { m.connect("src", "src"); }) == errc::self_connection);
  CHECK(error_of([&] { m.connect("src", "sink"); }) == errc::already_connected);
  CHECK(error_of([&] { m.connect("text", "sink"); }) == errc::type_mismatch);
  CHECK(error_of([&] { m.trigger_data("src", std::string("x")); }) == errc::type_mismatch);
  CHECK(error_of([&] { m.disconnect("sink", "src"); }) == errc::not_connected);
  CHECK(error_of([&] {
          m.connect("src", "text",
                    {.select = selector<std::string>([](const auto&) { return true; })});
        }) == errc::bad_options);
  CHECK(error_of([&] { m.start_node("broken", bad_init{}, {}); }) == errc::start_failed);
  CHECK(!m.contains("broken"));
  m.trigger_data("src", 7);
  f.run();
  CHECK(got == std::vector<int>{7});
}

TEST_CASE("mesh: sending to a node that is not connected stops only the sender") {
  std::vector<int> even, other;
  fixture f;
  mesh m(f.rt);
  m.start_node("router", parity_router{}, {});
  m.start_node(std::tuple{"sink", 0}, recorder{}, &even);
  m.start_node("src", relay{}, {});
  m.start_node("other", recorder{}, &other);
  m.connect("router", std::tuple{"sink", 0});  // ("sink", 1) is never connected
  m.connect("src", "other");
  f.run();
  const stage_ref router = m.stage_of("router");
  m.trigger_data("router", 2);
  m.trigger_data("router", 3);
  f.run();
  CHECK(even == std::vector<int>{2});
  REQUIRE(router.exit_reason_if_exited().has_value());
  CHECK(router.exit_reason_if_exited()->to_string().find("is not connected to node (sink, 1)") !=
        std::string::npos);
  CHECK(!m.contains("router"));
  CHECK(m.stage_of(std::tuple{"sink", 0}).alive());
  m.trigger_data("src", 5);
  f.run();
  CHECK(other == std::vector<int>{5});
}

TEST_CASE("mesh: logic that throws stops its node with the reason, the others go on") {
  std::vector<int> got, side;
  fixture f;
  mesh m(f.rt);
  m.start_node("unlucky", unlucky{}, {});
  m.start_node("sink", recorder{}, &got);
  m.start_node("side", relay{}, {});
  m.start_node("side sink", recorder{}, &side);
  m.connect("unlucky", "sink");
  m.connect("side", "side sink");
  f.run();
  const stage_ref node = m.stage_of("unlucky");
  m.trigger_data("unlucky", 12);
  m.trigger_data("unlucky", 13);
  f.run();
  REQUIRE(node.exit_reason_if_exited().has_value());
  CHECK(node.exit_reason_if_exited()->to_string().find("13 is unlucky") != std::string::npos);
  CHECK(got == std::vector<int>{12});
  CHECK(m.stage_of("sink").alive());  // its sender's exit does not stop it
  CHECK(error_of([&] { m.trigger_data("unlucky", 1); }) == errc::unknown_node);
  m.trigger_data("side", 1);
  f.run();
  CHECK(side == std::vector<int>{1});
  // The id is free again.
  m.start_node("unlucky", relay{}, {});
  m.connect("unlucky", "sink");
  f.run();
  m.trigger_data("unlucky", 13);
  f.run();
  CHECK(got == std::vector<int>{12, 13});
}

TEST_CASE("mesh: process may return a reason to stop its node") {
  std::vector<int> got;
  fixture f;
  mesh m(f.rt);
  m.start_node("guard", stops_on_negative{}, {});
  m.start_node("sink", recorder{}, &got);
  m.connect("guard", "sink");
  f.run();
  const stage_ref guard = m.stage_of("guard");
  m.trigger_data("guard", 1);
  m.trigger_data("guard", -1);
  m.trigger_data("guard", 2);
  f.run();
  CHECK(got == std::vector<int>{1});
  REQUIRE(guard.exit_reason_if_exited().has_value());
  CHECK(guard.exit_reason_if_exited()->to_string().find("negative input") != std::string::npos);
}

TEST_CASE("mesh: try_trigger_data reports full once the inlet holds its capacity") {
  std::vector<int> got;
  fixture f;
  mesh m(f.rt);
  m.start_node("sink", recorder{}, &got, {.inlet_capacity = 3, .inlet_batch = 2});
  // Nothing has run: the node has not asked its inlet yet, so only the queue holds data.
  CHECK(m.try_trigger_data("sink", 1) == trigger_status::accepted);
  CHECK(m.try_trigger_data("sink", 2) == trigger_status::accepted);
  CHECK(m.try_trigger_data("sink", 3) == trigger_status::accepted);
  CHECK(m.try_trigger_data("sink", 4) == trigger_status::full);
  f.run();
  CHECK(got == std::vector<int>{1, 2, 3});
  CHECK(m.try_trigger_data("sink", 4) == trigger_status::accepted);
  f.run();
  CHECK(got == std::vector<int>{1, 2, 3, 4});
}

TEST_CASE("mesh: an inlet batch below 1 is refused, under its old name max_demand too") {
  std::vector<int> got;
  fixture f;
  mesh m(f.rt);
  CHECK(error_of([&] { m.start_node("a", recorder{}, &got, {.inlet_batch = 0}); }) ==
        errc::bad_options);
  CHECK(error_of([&] { m.start_node("b", recorder{}, &got, {.inlet_capacity = 0}); }) ==
        errc::bad_options);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  // max_demand, deprecated, overrides inlet_batch when set.
  CHECK(node_options{.inlet_batch = 9, .max_demand = 4}.batch() == 4);
  CHECK(node_options{.inlet_batch = 9}.batch() == 9);
  CHECK(error_of([&] { m.start_node("c", recorder{}, &got, {.max_demand = 0}); }) ==
        errc::bad_options);
  m.start_node("d", recorder{}, &got, {.inlet_capacity = 2, .max_demand = 1});
#pragma GCC diagnostic pop
  CHECK(m.nodes() == std::vector<node_id>{"d"});  // the refusals left nothing behind
  m.trigger_data("d", 5);
  f.run();
  CHECK(got == std::vector<int>{5});
}

TEST_CASE("mesh: trigger_data waits for room, on a deterministic runtime it runs the executor") {
  std::vector<int> got;
  fixture f;
  mesh m(f.rt);
  m.start_node("sink", recorder{}, &got, {.inlet_capacity = 2, .inlet_batch = 2});
  for (int x = 0; x < 10; ++x) m.trigger_data("sink", x);  // full after 2: runs to make room
  f.run();
  CHECK(got == std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
}

TEST_CASE("mesh: async_trigger_data completes once the datum is accepted, in order") {
  std::vector<int> got;
  std::vector<int> accepted;
  fixture f;
  mesh m(f.rt);
  m.start_node("sink", recorder{}, &got, {.inlet_capacity = 2, .inlet_batch = 1});
  for (int x = 0; x < 4; ++x) {  // two accepted, two waiting for room
    m.async_trigger_data("sink", x, [&accepted, x](std::error_code ec) {
      CHECK(!ec);
      accepted.push_back(x);
    });
  }
  CHECK(accepted.empty());  // completions run on the executor, never inline
  f.run();
  CHECK(accepted == std::vector<int>{0, 1, 2, 3});
  CHECK(got == std::vector<int>{0, 1, 2, 3});
}

TEST_CASE("mesh: async triggers still waiting fail with no_stage when their node stops") {
  std::vector<std::error_code> results;
  fixture f;
  mesh m(f.rt);
  m.start_node("sink", threshold_filter{}, {{"threshold", 0}},
               {.inlet_capacity = 1, .inlet_batch = 1});
  auto record = [&](std::error_code ec) { results.push_back(ec); };
  m.async_trigger_data("sink", 1, record);  // accepted: the inlet has room
  m.async_trigger_data("sink", 2, record);  // waits: accepted at most when 1 is taken
  m.stop_node("sink");                      // before the node ever asked for 2
  f.run();
  REQUIRE(results.size() == 2);  // each completes once
  CHECK(!results[0]);
  CHECK(results[1] == errc::no_stage);
  CHECK(error_of([&] { m.async_trigger_data("sink", 3, record); }) == errc::unknown_node);
}

TEST_CASE("F6: async triggers waiting for room are bounded by inlet_capacity, beyond, inlet_full") {
  for (std::size_t capacity : {std::size_t{1}, std::size_t{4}, std::size_t{50}}) {
    CAPTURE(capacity);
    std::vector<int> got, accepted;
    std::size_t full = 0;
    fixture f;
    mesh m(f.rt);
    m.start_node("sink", recorder{}, &got, {.inlet_capacity = capacity, .inlet_batch = 1});
    const int offered = static_cast<int>(3 * capacity + 7);
    for (int x = 0; x < offered; ++x) {
      m.async_trigger_data("sink", x, [&, x](std::error_code ec) {
        if (!ec) {
          accepted.push_back(x);
        } else {
          CHECK(ec == errc::inlet_full);
          ++full;
        }
      });
    }
    // Nothing ran: the inlet holds its capacity, and as many wait; the rest were refused.
    CHECK(m.snapshot().nodes.at(0).inlet_depth == 2 * capacity);
    f.run();
    CHECK(accepted == dmtest::iota(static_cast<int>(2 * capacity)));
    CHECK(got == accepted);
    CHECK(full == static_cast<std::size_t>(offered) - 2 * capacity);
  }
}

TEST_CASE("F7: an async_trigger_data handler that throws is logged, the mesh goes on") {
  std::vector<int> got;
  fixture f;
  mesh m(f.rt);
  m.start_node("sink", recorder{}, &got);
  m.async_trigger_data("sink", 1, [](std::error_code) { throw std::runtime_error("handler"); });
  f.run();
  CHECK(f.logged("completion handler threw"));
  m.trigger_data("sink", 2);
  f.run();
  CHECK(got == std::vector<int>{1, 2});
}

TEST_CASE("try_trigger_data answers closed for a node that has stopped, it never throws for it") {
  fixture f;
  mesh m(f.rt);
  m.start_node("n", stops_on_negative{}, {});
  m.trigger_data("n", -1);
  f.run();
  CHECK_FALSE(m.contains("n"));
  CHECK(m.try_trigger_data("n", 1) == trigger_status::closed);
  CHECK(error_of([&] { m.try_trigger_data("nobody", 1); }) == errc::unknown_node);
}

namespace {

/// Calls a blocking mesh call from its own `process`, and records what it threw.
struct calls_the_mesh {
  struct setup {
    mesh* m;
    std::vector<std::string>* thrown;
  };
  setup init(setup s) { return s; }
  setup process(const int& x, setup s, node_context<int>&) {
    auto record = [&](auto&& call) {
      try {
        call();
        s.thrown->push_back("none");
      } catch (const error& e) {
        s.thrown->push_back(to_string(static_cast<errc>(e.code().value())));
      }
    };
    if (x == 0) record([&] { s.m->connect("other", "full"); });
    if (x == 1) record([&] { s.m->disconnect("self", "full"); });
    if (x == 2) record([&] { s.m->trigger_data("full", 7); });  // its inlet is full
    if (x == 3) record([&] { s.m->trigger_all<int>("full", std::vector<int>{8, 9}); });
    if (x == 4) record([&] { (void)s.m->try_trigger_data("full", 7); });  // never waits
    return s;
  }
};

}  // namespace

TEST_CASE("F16: blocking mesh calls from a node's process throw would_deadlock, never hang") {
  std::vector<std::string> thrown;
  fixture f;
  mesh m(f.rt);
  m.start_node("self", calls_the_mesh{}, calls_the_mesh::setup{&m, &thrown});
  m.start_node("other", relay{}, {});
  // A node whose one-slot inlet is full while "self" runs: "self" is woken first, so the
  // deterministic executor runs it before "full" takes anything.
  m.start_node("full", threshold_filter{}, {{"threshold", 0}}, {.inlet_capacity = 1});
  m.connect("self", "full");
  for (int x = 0; x < 5; ++x) REQUIRE(m.try_trigger_data("self", x) == trigger_status::accepted);
  REQUIRE(m.try_trigger_data("full", 100) == trigger_status::accepted);
  f.ex.run_until([&] { return thrown.size() == 5; }, 100'000);
  CHECK(thrown == std::vector<std::string>{"would_deadlock", "would_deadlock", "would_deadlock",
                                           "would_deadlock", "none"});
  // Nothing was changed by the refused calls, and the mesh runs on.
  CHECK(m.links() == std::vector<std::pair<node_id, node_id>>{{"self", "full"}});
  f.run();
  CHECK(m.contains("self"));
}

TEST_CASE("mesh: trigger_all hands a whole range over in order, waiting for room as needed") {
  std::vector<int> got;
  fixture f;
  mesh m(f.rt);
  m.start_node("sink", recorder{}, &got, {.inlet_capacity = 3, .inlet_batch = 2});
  std::vector<int> data{1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  m.trigger_all<int>("sink", data);
  f.run();
  CHECK(got == data);
  CHECK(error_of([&] { m.trigger_all<std::string>("sink", std::vector<std::string>{"x"}); }) ==
        errc::type_mismatch);
}

TEST_CASE("mesh: trigger_all feeds a node from the range itself once the inlet is full") {
  std::vector<int> got;
  fixture f;
  mesh m(f.rt);
  m.start_node("sink", recorder{}, &got, {.inlet_capacity = 10, .inlet_batch = 7});
  // 10 fit the inlet; the node takes the other 4,990 straight from the range as it asks.
  m.trigger_all<int>("sink", std::views::iota(0, 5000));
  f.run();
  REQUIRE(got.size() == 5000);
  for (int i = 0; i < 5000; ++i) REQUIRE(got[static_cast<std::size_t>(i)] == i);
  CHECK(m.snapshot().node("sink")->inlet_depth == 0);
  CHECK(m.figures("sink").in == 5000);
}

TEST_CASE("mesh: what reading trigger_all's range throws reaches its caller, the node goes on") {
  std::vector<int> got;
  fixture f;
  mesh m(f.rt);
  m.start_node("sink", recorder{}, &got, {.inlet_capacity = 10, .inlet_batch = 4});
  auto failing_at = [](int bad) {
    return std::views::iota(0, 100) | std::views::transform([bad](int x) {
             if (x == bad) throw std::runtime_error("unreadable datum");
             return x;
           });
  };
  // Past the inlet's room: thrown while the node takes from the range.
  CHECK_THROWS_WITH_AS(m.trigger_all<int>("sink", failing_at(50)), "unreadable datum",
                       std::runtime_error);
  f.run();
  std::vector<int> before(50);
  std::iota(before.begin(), before.end(), 0);
  CHECK(got == before);
  // Within the inlet's room: thrown on the caller's thread; what was accepted still arrives.
  got.clear();
  CHECK_THROWS_AS(m.trigger_all<int>("sink", failing_at(3)), std::runtime_error);
  f.run();
  CHECK(got == std::vector<int>{0, 1, 2});
  m.trigger_data("sink", 7);
  f.run();
  CHECK(got == std::vector<int>{0, 1, 2, 7});
}

TEST_CASE("mesh: trigger_all fails with no_stage when its node stops while it feeds it") {
  std::vector<int> got;
  std::vector<int> other;
  fixture f;
  mesh m(f.rt);
  m.start_node("sink", recorder{}, &got, {.inlet_capacity = 10, .inlet_batch = 5});
  m.start_node("other", recorder{}, &other);
  auto stopping = std::views::iota(0, 1000) | std::views::transform([&m](int x) {
                    if (x == 20) m.stop_node("sink");  // read on the node's side
                    return x;
                  });
  CHECK(error_of([&] { m.trigger_all<int>("sink", stopping); }) == errc::no_stage);
  f.run();
  CHECK(!m.contains("sink"));
  CHECK(got.size() <= 25);  // what the node had taken before its stop took effect, at most
  for (std::size_t i = 0; i < got.size(); ++i) CHECK(got[i] == static_cast<int>(i));
  m.trigger_data("other", 1);
  f.run();
  CHECK(other == std::vector<int>{1});
}

namespace {
/// A consumer of a node's events; subscribed with manual demand, it never asks for any.
struct stalled {
  void handle_events(std::span<const int>, const subscription&, context<void>&) {}
};
}  // namespace

TEST_CASE("mesh: trigger_all throws would_deadlock when nothing can ever take the rest") {
  fixture f;
  mesh m(f.rt);
  m.start_node("stuck", relay{}, {}, {.inlet_capacity = 10, .inlet_batch = 10});
  auto never = f.rt.start<stalled>();
  datamesh::subscribe(never, m.stage_of("stuck"),
                      {.demand = demand_mode::manual, .dispatch = mesh_link<int>{99, {}, nullptr}});
  f.run();
  // The node's unlinked window ended with its link, which never asks: it takes nothing.
  CHECK(error_of([&] { m.trigger_all<int>("stuck", std::views::iota(0, 5000)); }) ==
        errc::would_deadlock);
  f.run();  // the withdrawn range is never read again
  CHECK(m.figures("stuck").in == 0);
  CHECK(m.contains("stuck"));
  CHECK(m.snapshot().node("stuck")->inlet_depth == 10);  // what fitted was accepted
  CHECK(m.try_trigger_data("stuck", 10) == trigger_status::full);
}

TEST_CASE(
    "every loss is counted: data left in a stopped node's inlet are discarded, counted, "
    "logged") {
  fixture f;
  mesh m(f.rt);
  m.start_node("stuck", relay{}, {}, {.inlet_capacity = 10});
  m.start_node("other", relay{}, {});
  auto never = f.rt.start<stalled>();
  datamesh::subscribe(never, m.stage_of("stuck"),
                      {.demand = demand_mode::manual, .dispatch = mesh_link<int>{99, {}, nullptr}});
  f.run();
  for (int i = 0; i < 6; ++i) CHECK(m.try_trigger_data("stuck", i) == trigger_status::accepted);
  f.run();
  CHECK(m.snapshot().node("stuck")->inlet_depth == 6);  // its link never asks
  CHECK(m.snapshot().discarded == 0);
  m.stop_node("stuck");
  f.run();
  CHECK(m.snapshot().discarded == 6);
  CHECK(f.logged("node stuck stopped with 6 data in its inlet; they are discarded"));
  m.stop_node("other");  // nothing waited there: nothing more is counted
  f.run();
  CHECK(m.snapshot().discarded == 6);
}

namespace {
/// A consumer of a node's events recording each batch; subscribed with manual demand.
struct batch_recorder {
  std::vector<std::vector<int>>* batches;
  void handle_events(std::span<const int> in, const subscription&, context<void>&) {
    batches->emplace_back(in.begin(), in.end());
  }
};
}  // namespace

TEST_CASE("mesh: a node takes from its inlet what its links ask for, max_demand at a time") {
  std::vector<std::vector<int>> batches;
  fixture f;
  mesh m(f.rt);
  m.start_node("src", relay{}, {}, {.inlet_capacity = 20, .inlet_batch = 3});
  auto out = f.rt.start<batch_recorder>(&batches);
  auto link = datamesh::subscribe(
      out, m.stage_of("src"),
      {.demand = demand_mode::manual, .dispatch = mesh_link<int>{99, {}, nullptr}});
  f.run();
  // The unlinked window the node started with ended with its link (F5): it takes nothing
  // before the link asks.
  for (int i = 0; i < 20; ++i) m.trigger_data("src", i);
  f.run();
  CHECK(m.figures("src").in == 0);
  CHECK(m.snapshot().node("src")->inlet_depth == 20);
  CHECK(m.try_trigger_data("src", 20) == trigger_status::full);
  ask(link, 5);
  f.run();
  // 5 taken, in two turns of at most 3; the rest wait.
  REQUIRE(batches.size() == 2);
  CHECK(batches[0] == std::vector<int>{0, 1, 2});
  CHECK(batches[1] == std::vector<int>{3, 4});
  CHECK(m.figures("src").in == 5);
  CHECK(m.snapshot().node("src")->inlet_depth == 15);
  ask(link, 100);
  f.run();
  CHECK(m.figures("src").in == 20);
  CHECK(m.snapshot().node("src")->inlet_depth == 0);
}

TEST_CASE("mesh: a sink node takes its whole inlet, beyond its unlinked window") {
  std::vector<int> got;
  fixture f;
  mesh m(f.rt);
  // Its output never uses its demand (the window, 1000): it comes back for more by itself.
  m.start_node("sink", recorder{}, &got, {.inlet_capacity = 10});
  m.trigger_all<int>("sink", std::views::iota(0, 2500));
  f.run();
  CHECK(got.size() == 2500);
  CHECK(m.figures("sink").in == 2500);
}

// -- supervised nodes ---

namespace {

/// Broadcasts how many data it has seen since its state was made; throws on 13. Its typed
/// argument counts the states made (one per start).
struct flaky {
  struct state {
    int* inits;
    int seen = 0;
  };
  state init(int* inits) {
    ++*inits;
    return {inits};
  }
  state process(const int& x, state s, node_context<int>& ctx) {
    ++s.seen;
    if (x == 13) throw std::runtime_error("13 is unlucky");
    ctx.broadcast(s.seen);
    return s;
  }
};

/// Stops normally on 0, with an error on a negative value; passes the rest on.
struct stopper {
  none init(const node_args&) { return {}; }
  node_result<none> process(const int& x, none s, node_context<int>& ctx) {
    if (x < 0) return exit_reason::error("negative input");
    if (x == 0) ctx.stop();
    ctx.broadcast(x);
    return s;
  }
};

}  // namespace

TEST_CASE("mesh: a supervised node that throws restarts with a new state, its links remade") {
  std::vector<int> got;
  int inits = 0;
  fixture f;
  mesh m(f.rt);
  m.start_node("source", relay{}, {});
  m.start_node("flaky", flaky{}, &inits, {.restart = restart_type::permanent});
  m.start_node("sink", recorder{}, &got);
  m.connect("source", "flaky");  // remade when flaky restarts: a link into it
  m.connect("flaky", "sink");    // and a link out of it
  for (int x : {1, 2, 13, 4, 5}) {
    m.trigger_data("source", x);
    f.run();
  }
  CHECK(got == std::vector<int>{1, 2, 1, 2});  // the count starts again after the restart
  CHECK(inits == 2);
  CHECK(m.figures("flaky").restarts == 1);
  CHECK(m.contains("flaky"));
  CHECK(m.links().size() == 2);
  CHECK(f.logged("13 is unlucky"));
}

TEST_CASE("mesh: data waiting in a supervised node's inlet reach it after its restart") {
  std::vector<int> got;
  int inits = 0;
  fixture f;
  mesh m(f.rt);
  // Demand 1: the node holds one datum at a time, the others wait in its inlet.
  m.start_node("flaky", flaky{}, &inits, {.inlet_batch = 1, .restart = restart_type::transient});
  m.start_node("sink", recorder{}, &got);
  m.connect("flaky", "sink");
  for (int x : {1, 13, 3, 4}) m.trigger_data("flaky", x);
  f.run();
  CHECK(got == std::vector<int>{1, 1, 2});  // 13 is lost with the state that threw on it
  CHECK(m.figures("flaky").restarts == 1);
}

TEST_CASE("mesh: a restarted node whose link went meanwhile still takes from its inlet") {
  std::vector<int> got;
  int inits = 0;
  fixture f;
  mesh m(f.rt);
  m.start_node("flaky", flaky{}, &inits, {.inlet_batch = 1, .restart = restart_type::transient});
  m.start_node("sink", recorder{}, &got);
  m.connect("flaky", "sink");
  for (int x : {13, 3, 4}) m.trigger_data("flaky", x);
  m.stop_node("sink");  // before the restart can link to it again
  f.run();
  CHECK(m.figures("flaky").restarts == 1);
  // Nothing waits for the lost link: the inlet is taken, into no link.
  CHECK(m.snapshot().node("flaky")->inlet_depth == 0);
  CHECK(m.figures("flaky").in == 3);  // 13 counts: it was handled, by throwing
  CHECK(m.figures("flaky").unlinked == 2);
  CHECK(got.empty());
}

TEST_CASE("mesh: restart types decide which exits restart a supervised node") {
  std::vector<int> got;
  fixture f;
  mesh m(f.rt);
  SUBCASE("transient: an error restarts it, a normal stop does not") {
    m.start_node("s", stopper{}, {}, {.restart = restart_type::transient});
    m.trigger_data("s", -1);
    f.run();
    CHECK(m.contains("s"));
    CHECK(m.figures("s").restarts == 1);
    m.trigger_data("s", 0);
    f.run();
    CHECK_FALSE(m.contains("s"));
  }
  SUBCASE("permanent: a normal stop restarts it too") {
    m.start_node("s", stopper{}, {}, {.restart = restart_type::permanent});
    m.trigger_data("s", 0);
    f.run();
    CHECK(m.contains("s"));
    CHECK(m.figures("s").restarts == 1);
  }
  SUBCASE("temporary: nothing restarts it") {
    m.start_node("s", stopper{}, {}, {.restart = restart_type::temporary});
    m.trigger_data("s", -1);
    f.run();
    CHECK_FALSE(m.contains("s"));
    CHECK(error_of([&] { m.trigger_data("s", 1); }) == errc::unknown_node);
  }
}

TEST_CASE("mesh: too many restarts give a supervised node up, the other nodes go on") {
  std::vector<int> got;
  int inits = 0;
  fixture f;
  mesh m(f.rt);
  m.start_node("flaky", flaky{}, &inits,
               {.restart = restart_type::permanent, .intensity = {.max_restarts = 2}});
  m.start_node("source", relay{}, {});
  m.start_node("sink", recorder{}, &got);
  m.connect("source", "sink");
  for (int i = 0; i < 2; ++i) {
    m.trigger_data("flaky", 13);
    f.run();
    CHECK(m.contains("flaky"));
  }
  m.trigger_data("flaky", 13);  // the third restart within the window is one too many
  f.run();
  CHECK_FALSE(m.contains("flaky"));
  CHECK(inits == 3);
  m.trigger_data("source", 7);
  f.run();
  CHECK(got == std::vector<int>{7});
}

TEST_CASE("mesh: stop_node stops a supervised node for good, and frees its id") {
  int inits = 0;
  fixture f;
  mesh m(f.rt);
  m.start_node("flaky", flaky{}, &inits, {.restart = restart_type::permanent});
  f.run();
  m.stop_node("flaky");
  f.run();
  CHECK_FALSE(m.contains("flaky"));
  CHECK(inits == 1);
  m.start_node("flaky", flaky{}, &inits, {.restart = restart_type::permanent});
  CHECK(m.contains("flaky"));
}

TEST_CASE("mesh: a supervised node whose init fails is not started, with start_failed") {
  fixture f;
  mesh m(f.rt);
  CHECK(error_of([&] {
          m.start_node("bad", bad_init{}, {}, {.restart = restart_type::permanent});
        }) == errc::start_failed);
  CHECK_FALSE(m.contains("bad"));
  CHECK(error_of([&] {
          m.start_node("s", stopper{}, {},
                       {.restart = restart_type::permanent, .intensity = {.period = {}}});
        }) == errc::bad_options);
  m.start_node("bad", relay{}, {});  // the id is free
  CHECK(m.contains("bad"));
}

namespace {
/// Data 1..n.
std::vector<int> one_to(int n) {
  std::vector<int> v(static_cast<std::size_t>(n));
  std::iota(v.begin(), v.end(), 1);
  return v;
}
/// What of `all` is not in `got`.
std::vector<int> missing(const std::vector<int>& all, const std::vector<int>& got) {
  std::vector<int> out;
  for (int x : all) {
    if (std::find(got.begin(), got.end(), x) == got.end()) out.push_back(x);
  }
  return out;
}
}  // namespace

TEST_CASE(
    "F5: while a supervised node restarts, its sender keeps the link's place: nothing "
    "upstream is lost") {
  for (const std::size_t demand : {1U, 2U, 5U}) {
    CAPTURE(demand);
    std::vector<int> got;
    fixture f;
    mesh m(f.rt);
    m.start_node("source", relay{}, {}, {.inlet_capacity = 1000});
    m.start_node("worker", unlucky{}, {}, {.restart = restart_type::transient});
    m.start_node("sink", recorder{}, &got);
    m.connect("source", "worker", {.max_demand = demand});
    m.connect("worker", "sink", {.max_demand = demand});
    const std::vector<int> all = one_to(300);
    for (int x : all) m.trigger_data("source", x);
    f.run();
    CHECK(m.figures("worker").restarts == 1);
    // The source broadcast nothing to no link while the worker restarted: what the worker
    // missed is what it had been sent and not processed (13, which threw, and what came with
    // it), never more than its link's demand.
    CHECK(m.figures("source").unlinked == 0);
    const std::vector<int> lost = missing(all, got);
    REQUIRE_FALSE(lost.empty());
    CHECK(lost.front() == 13);
    CHECK(lost.size() <= demand);
    CHECK(std::is_sorted(got.begin(), got.end()));
    // Every datum is delivered or counted lost (13 was handled: by throwing): by the worker
    // (what it held, and what came after 13) or by the source (what it sent as the worker
    // exited, which never reached it).
    CHECK(lost.size() == 1 + m.figures("worker").dropped + m.figures("source").dropped);
    CHECK(m.snapshot().node("worker")->dropped == m.figures("worker").dropped);
  }
}

TEST_CASE("F5: a sender keeps no place for a receiver given up, it goes on with its other links") {
  std::vector<int> got;
  std::vector<int> other;
  fixture f;
  mesh m(f.rt);
  m.start_node("source", relay{}, {}, {.inlet_capacity = 1000});
  m.start_node("worker", unlucky{}, {},
               {.restart = restart_type::permanent, .intensity = {.max_restarts = 0}});
  m.start_node("sink", recorder{}, &got);
  m.start_node("other", recorder{}, &other);
  m.connect("source", "worker", {.max_demand = 1});
  m.connect("worker", "sink");
  m.connect("source", "other", {.max_demand = 4});
  const std::vector<int> all = one_to(100);
  for (int x : all) m.trigger_data("source", x);
  f.run();
  CHECK_FALSE(m.contains("worker"));  // given up at its first crash
  CHECK(other == all);                // the source did not wait for it
  CHECK(got == one_to(12));
  CHECK(m.figures("source").unlinked == 0);
}

TEST_CASE("F5: a link removed or a node stopped while it restarts takes its kept place with it") {
  for (const bool remove_link : {true, false}) {
    CAPTURE(remove_link);
    std::vector<int> got;
    std::vector<int> other;
    fixture f;
    mesh m(f.rt);
    m.start_node("source", relay{}, {}, {.inlet_capacity = 1000});
    m.start_node("worker", unlucky{}, {}, {.restart = restart_type::permanent});
    m.start_node("sink", recorder{}, &got);
    m.start_node("other", recorder{}, &other);
    m.connect("source", "worker", {.max_demand = 1});
    m.connect("worker", "sink");
    m.connect("source", "other", {.max_demand = 4});
    const std::vector<int> all = one_to(100);
    for (int x : all) m.trigger_data("source", x);
    const stage_ref first = m.stage_of("worker");
    // Up to the worker's crash, then the link or the node goes while the source may hold its
    // place: the source must not wait for a receiver that no longer has the link.
    REQUIRE(f.ex.run_until([&] { return !first.alive(); }, 100'000));
    if (remove_link) {
      m.disconnect("source", "worker");
    } else {
      m.stop_node("worker");
    }
    f.run();
    CHECK(other == all);
    CHECK(m.figures("source").unlinked == 0);
    if (remove_link) CHECK(m.contains("worker"));
  }
}

TEST_CASE("F5: a restarted node takes nothing before its links are back, and loses nothing then") {
  // The worker itself restarts: its new stage keeps its outgoing link's place from the start,
  // so what its incoming link brings waits for the sink rather than going to no link.
  std::vector<int> got;
  fixture f;
  mesh m(f.rt);
  m.start_node("worker", unlucky{}, {},
               {.inlet_capacity = 1000, .inlet_batch = 4, .restart = restart_type::permanent});
  m.start_node("sink", recorder{}, &got);
  m.connect("worker", "sink", {.max_demand = 3});
  const std::vector<int> all = one_to(200);
  for (int x : all) m.trigger_data("worker", x);
  f.run();
  CHECK(m.figures("worker").restarts == 1);
  CHECK(m.figures("worker").unlinked == 0);
  const std::vector<int> lost = missing(all, got);
  REQUIRE_FALSE(lost.empty());
  CHECK(lost.front() == 13);
  CHECK(lost.size() == 1 + m.figures("worker").dropped);
}

namespace {
/// Passes on each datum less one, while it is above 0: a datum n goes n more hops.
struct countdown {
  none init(const node_args&) { return {}; }
  none process(const int& x, none s, node_context<int>& ctx) {
    if (x > 0) ctx.broadcast(x - 1);
    return s;
  }
};
}  // namespace

TEST_CASE("F15: a cycle of links never fills up and stalls: its inlet waits for room in it") {
  // a -> b -> a. A node takes from its inlet only with demand its links leave, so new data
  // enter the cycle only as data leave it, and the cycle never holds more than its links'
  // demands: it cannot stall with every link waiting on another. (A cycle whose data never
  // leave keeps its inlet waiting: README, the mesh section.)
  fixture f;
  mesh m(f.rt);
  m.start_node("a", countdown{}, {}, {.inlet_capacity = 2, .inlet_batch = 2});
  m.start_node("b", countdown{}, {});
  m.connect("a", "b", {.max_demand = 3, .min_demand = 0});
  m.connect("b", "a", {.max_demand = 3, .min_demand = 0});
  constexpr int data = 40;
  constexpr int hops = 25;
  // On the deterministic executor, a trigger that could never be accepted throws
  // would_deadlock: each one here is accepted.
  for (int x = 0; x < data; ++x) m.trigger_data("a", hops);
  f.run();
  // Every datum went all its hops: one process call per value from `hops` down to 0.
  CHECK(m.figures("a").in + m.figures("b").in == data * (hops + 1));
  CHECK(m.snapshot().node("a")->inlet_depth == 0);
}

// -- settle: everything triggered so far has been processed ---

namespace {

/// Broadcasts each value twice: what it makes outnumbers what it receives.
struct doubler {
  none init(const node_args&) { return {}; }
  none process(const int& x, none s, node_context<int>& ctx) {
    ctx.broadcast(x);
    ctx.broadcast(x + 1000);
    return s;
  }
};

/// Calls `settle` from inside a node: what it threw.
struct settles_inside {
  struct state {
    mesh* m;
    std::vector<errc>* seen;
  };
  state init(state s) { return s; }
  state process(const int&, state s, node_context<void>&) {
    s.seen->push_back(error_of([&] { s.m->settle(); }));
    return s;
  }
};

}  // namespace

TEST_CASE("mesh settle: every datum triggered has been processed by every node it reached") {
  // A diamond behind a fan-out, with a node that doubles, under random schedules: once settle
  // returns, every sink has all it will ever get.
  for (std::uint64_t seed = 1; seed <= 25; ++seed) {
    CAPTURE(seed);
    std::vector<int> left, right, low;
    deterministic_executor ex(seed);
    runtime rt(ex, runtime_options{.threads = 0});
    mesh m(rt);
    m.start_node("in", relay{}, {}, {.inlet_capacity = 4, .inlet_batch = 3});
    m.start_node("double", doubler{}, {});
    m.start_node("pass", relay{}, {});
    m.start_node("left", recorder{}, &left);
    m.start_node("right", recorder{}, &right);
    m.start_node("low", recorder{}, &low);
    m.connect("in", "double", {.max_demand = 2});
    m.connect("in", "pass", {.max_demand = 5});
    m.connect("double", "left", {.max_demand = 3});
    m.connect("pass", "right", {.max_demand = 1});
    m.connect("double", "low", {.select = selector<int>([](const int& x) { return x < 1000; })});
    const int n = 40;
    for (int x = 0; x < n; ++x) m.trigger_data("in", x);

    m.settle();
    CHECK(left.size() == 2 * n);
    CHECK(right.size() == n);
    CHECK(low.size() == n);
    CHECK(m.figures("left").in == 2 * n);
    const auto snap = m.snapshot();
    for (const auto& row : snap.nodes) {
      CAPTURE(row.id.str());
      CHECK(row.inlet_depth == 0);
      CHECK(row.buffered == 0);
    }
    // Settled and nothing triggered since: a second call returns at once, changing nothing.
    m.settle();
    CHECK(left.size() == 2 * n);
    CHECK(m.settle_for(std::chrono::milliseconds(0)));
  }
}

TEST_CASE("mesh settle: data lost on the way count as done, so settle never waits for them") {
  std::vector<int> got;
  fixture f;
  mesh m(f.rt);
  m.start_node("src", relay{}, {});
  m.start_node("flaky", stops_on_negative{}, {});
  m.start_node("sink", recorder{}, &got);
  m.start_node("alone", relay{}, {});  // no links: its broadcasts go nowhere (counted)
  m.connect("src", "flaky");
  m.connect("flaky", "sink");
  for (int x : {1, 2, -1, 3, 4}) m.trigger_data("src", x);
  for (int x : {7, 8}) m.trigger_data("alone", x);
  m.settle();
  CHECK(got == std::vector<int>{1, 2});
  CHECK_FALSE(m.contains("flaky"));
  CHECK(m.figures("alone").unlinked == 2);
}

TEST_CASE("mesh settle: an empty mesh is settled, from a node's process it is would_deadlock") {
  fixture f;
  mesh m(f.rt);
  m.settle();
  CHECK(m.settle_for(std::chrono::milliseconds(0)));

  std::vector<errc> seen;
  m.start_node("inside", settles_inside{}, settles_inside::state{&m, &seen});
  m.trigger_data("inside", 1);
  m.settle();
  CHECK(seen == std::vector<errc>{errc::would_deadlock});
  CHECK(m.contains("inside"));  // the typed error left the node running
}
