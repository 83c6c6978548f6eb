// runtime::stop() while stages are busy: it returns, every stage's terminate runs exactly once,
// and nothing is left running. One test per kind of stage, each caught with work in hand.
#include <doctest/doctest.h>

#include <vector>

#include "support/harness.hpp"
#include "support/mesh.hpp"
#include "support/supervision.hpp"

using namespace dmtest;
using namespace std::chrono_literals;

namespace {

/// Exactly one terminate, with reason `shutdown`.
void terminated_once_by_shutdown(const journal& j) {
  REQUIRE(j.terminated.size() == 1);
  CHECK(j.terminated[0].get_kind() == exit_reason::kind::shutdown);
}

}  // namespace

TEST_CASE("shutdown: a producer with events in its buffer") {
  journal pj;
  fixture f;
  auto p = f.rt.start<manual_source>(&pj);
  send(p, std::any(iota(50)));  // no consumer: all 50 wait in the buffer
  f.run();
  REQUIRE(p.core_ptr()->buffered_estimate() == 50);
  f.rt.stop();
  terminated_once_by_shutdown(pj);
  CHECK_FALSE(p.alive());
  CHECK(f.rt.stage_count() == 0);
}

TEST_CASE("shutdown: a producer_consumer with upstream events queued and a consumer mid-stream") {
  journal pj, rj, cj;
  fixture f;
  // The sink asks by hand and has asked for 5 only: the relay holds what it received beyond.
  auto ch = start_chain(f, pj, rj, cj, {.max_demand = 5}, {.max_demand = 20}, demand_mode::manual);
  f.run();
  ask(ch.down, 5);
  f.ex.run(3);  // stopped part-way: messages still in flight between the three
  f.rt.stop();
  terminated_once_by_shutdown(pj);
  terminated_once_by_shutdown(rj);
  terminated_once_by_shutdown(cj);
  CHECK(cj.flat().size() <= 5);  // never more than asked, even while stopping
  CHECK(f.rt.stage_count() == 0);
}

TEST_CASE("shutdown: a consumer supervisor with busy children, each stopped by its policy") {
  journal pj;
  manual_worker w;
  fixture f;
  auto p = f.rt.start<counter>(&pj);
  auto sup = consumer_supervisor<int>::start(
      f.rt,
      w.tmpl<int>(f.rt).restart(restart_type::temporary).shutdown(shutdown_policy::after(5s)));
  subscribe(sup, p, {.max_demand = 4, .min_demand = 2});
  f.run();
  REQUIRE(w.running() == 4);  // four children hold their slots, none finishing
  f.rt.stop();                // waits out their 5 s on the virtual clock, then gives them up
  terminated_once_by_shutdown(pj);
  CHECK_FALSE(sup.alive());
  CHECK_FALSE(p.alive());
  for (std::size_t i = 0; i < 4; ++i) CHECK(w.s->stop_requested[i]);
  w.finish_all(exit_reason::shutdown());
  f.run();
  CHECK(f.rt.stage_count() == 0);
}

TEST_CASE("shutdown: a mesh with data in its inlets and between its nodes") {
  std::vector<int> got;
  fixture f;
  {
    mesh m(f.rt);
    m.start_node("source", mesh_logic::relay{}, {});
    m.start_node("sink", mesh_logic::recorder{}, &got);
    m.connect("source", "sink");
    for (int i = 0; i < 100; ++i)
      REQUIRE(m.try_trigger_data("source", i) == trigger_status::accepted);
    f.ex.run(5);  // part-way
    f.rt.stop();
    CHECK_THROWS_AS(m.trigger_data("source", 100), error);  // its nodes have stopped
  }
  // What arrived came in order and once.
  CHECK(got == iota(static_cast<int>(got.size())));
  CHECK(f.rt.stage_count() == 0);
}
