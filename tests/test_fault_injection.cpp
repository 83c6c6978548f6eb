// Fault injection (support/faults.hpp): chosen callbacks throw at chosen calls, and each test
// asserts the documented outcome: the faulty stage exits with the exception as its reason and
// runs terminate once; its consumers follow their cancel mode (SPEC rules 87-90, 95); its
// producers run on (rule 93); a supervisor restarts it by its restart type; and runtime::stop
// still finishes when callbacks throw on the way out. Stalls need threads: see
// stress/stress_shutdown.cpp. All on the deterministic executor.
#include <any>
#include <string>
#include <vector>

#include "support/faults.hpp"
#include "support/supervision.hpp"

using namespace dmtest;

namespace {

constexpr cancel_mode all_modes[] = {cancel_mode::permanent, cancel_mode::transient,
                                     cancel_mode::temporary};

/// A counter -> sink pipeline that no fault touches: it must keep flowing.
struct bystander {
  journal pj, cj;
  stage_handle<counter> p;
  stage_handle<sink> c;
  void start(fixture& f) {
    p = f.rt.start<counter>(&pj);
    c = f.rt.start<sink>(&cj);
    subscribe(c, p, {.max_demand = 4});
  }
  void check_flows(fixture& f) {
    CHECK(p.alive());
    CHECK(c.alive());
    const auto before = cj.flat().size();
    f.ex.run(500);
    CHECK(cj.flat().size() > before);
  }
};

/// The consumer's outcome of its producer's exit with `r`, by `mode` (rules 87-90).
void check_follows_mode(cancel_mode mode, const stage_ref& consumer, const journal& cj,
                        const exit_reason& r) {
  CAPTURE(to_string(mode));
  if (mode == cancel_mode::temporary) {
    CHECK(consumer.alive());
    REQUIRE(cj.cancels.size() == 1);
    CHECK(cj.cancels[0].kind == cancel_kind::down);
    CHECK(cj.cancels[0].reason == r);
    CHECK(cj.terminated.empty());
  } else {
    // An exception is not a clean reason: a transient consumer exits too (rule 88).
    CHECK_FALSE(consumer.alive());
    CHECK(consumer.exit_reason_if_exited() == r);  // the raw reason (rule 90)
    REQUIRE(cj.terminated.size() == 1);
    CHECK(cj.terminated[0] == r);
  }
}

}  // namespace

TEST_CASE("faults: a producer throws, its consumer follows its cancel mode, the rest runs on") {
  for (fault_point at : {fault_point::handle_demand, fault_point::handle_info}) {
    for (cancel_mode mode : all_modes) {
      CAPTURE(to_string(at));
      journal pj, cj;
      fault_plan pplan({{.at = at, .nth = 2}}), cplan;
      bystander b;
      fixture f;
      b.start(f);
      auto p = f.rt.start<faulty_source>(&pplan, &pj);
      auto c = f.rt.start<faulty_sink>(&cplan, &cj);
      subscribe(c, p, {.max_demand = 4, .min_demand = 2, .cancel = mode});
      f.ex.run(200);
      if (at == fault_point::handle_info) {
        send(p, std::any(1));
        send(p, std::any(2));  // the second throws
      }
      f.ex.run(2'000);

      REQUIRE_FALSE(p.alive());
      const exit_reason r = *p.exit_reason_if_exited();
      CHECK(is_injected(r));
      CHECK(pj.terminated == std::vector<exit_reason>{r});
      check_follows_mode(mode, c, cj, r);
      // What arrived before the fault arrived once, in order.
      CHECK(cj.flat() == iota(static_cast<int>(cj.flat().size())));
      b.check_flows(f);
    }
  }
}

TEST_CASE("faults: a consumer throws in any callback, only it stops, its producer runs on") {
  for (fault_point at :
       {fault_point::handle_subscribe, fault_point::handle_events, fault_point::handle_info}) {
    CAPTURE(to_string(at));
    journal pj, cj, oj;
    fault_plan pplan, cplan({{.at = at, .nth = 1}});
    fixture f;
    auto p = f.rt.start<faulty_source>(&pplan, &pj);
    auto c = f.rt.start<faulty_sink>(&cplan, &cj);
    auto other = f.rt.start<sink>(&oj);
    subscribe(c, p, {.max_demand = 4});
    subscribe(other, p, {.max_demand = 4});
    f.ex.run(100);
    if (at == fault_point::handle_info) send(c, std::any(1));
    f.ex.run(1'000);

    REQUIRE_FALSE(c.alive());
    CHECK(is_injected(*c.exit_reason_if_exited()));
    CHECK(cj.terminated.size() == 1);
    CHECK(p.alive());  // rule 93: it sees the consumer go down and cancels that subscription
    REQUIRE(pj.cancels.size() == 1);
    CHECK(pj.cancels[0].kind == cancel_kind::down);
    const auto before = oj.flat().size();
    f.ex.run(500);
    CHECK(oj.flat().size() > before);
  }
}

TEST_CASE("faults: a producer_consumer throws, downstream follows its mode, upstream runs on") {
  for (fault_point at : {fault_point::handle_events, fault_point::handle_info}) {
    for (cancel_mode mode : all_modes) {
      CAPTURE(to_string(at));
      journal pj, rj, cj;
      fault_plan pplan, rplan({{.at = at, .nth = 2}}), cplan;
      fixture f;
      auto p = f.rt.start<faulty_source>(&pplan, &pj);
      auto r = f.rt.start<faulty_relay>(&rplan, &rj);
      auto c = f.rt.start<faulty_sink>(&cplan, &cj);
      subscribe(c, r, {.max_demand = 4, .cancel = mode});
      subscribe(r, p, {.max_demand = 4});
      f.ex.run(200);
      if (at == fault_point::handle_info) {
        send(r, std::any(1));
        send(r, std::any(2));
      }
      f.ex.run(2'000);

      REQUIRE_FALSE(r.alive());
      const exit_reason reason = *r.exit_reason_if_exited();
      CHECK(is_injected(reason));
      CHECK(rj.terminated.size() == 1);
      check_follows_mode(mode, c, cj, reason);
      CHECK(p.alive());
      CHECK(cj.flat() == iota(static_cast<int>(cj.flat().size())));
    }
  }
}

TEST_CASE("faults: a terminate that throws ends the stage once, with its first reason") {
  journal pj, cj;
  fault_plan pplan, cplan({{.at = fault_point::terminate}});
  fixture f;
  auto p = f.rt.start<faulty_source>(&pplan, &pj);
  auto c = f.rt.start<faulty_sink>(&cplan, &cj);
  subscribe(c, p, {.max_demand = 4});
  f.ex.run(100);
  stop(c, exit_reason::shutdown("asked"));
  f.ex.run(1'000);
  CHECK_FALSE(c.alive());
  CHECK(c.exit_reason_if_exited() == exit_reason::shutdown("asked"));
  CHECK(cj.terminated == std::vector<exit_reason>{exit_reason::shutdown("asked")});
  CHECK(f.logged("terminate threw"));
  CHECK(p.alive());
}

TEST_CASE("faults: a supervised stage is restarted by its restart type, whatever ends it") {
  enum class ending { exception, normal, shutdown };
  for (restart_type type :
       {restart_type::permanent, restart_type::transient, restart_type::temporary}) {
    for (ending how : {ending::exception, ending::normal, ending::shutdown}) {
      CAPTURE(static_cast<int>(type));
      CAPTURE(static_cast<int>(how));
      journal j;
      fault_plan plan({{.at = fault_point::handle_info, .nth = 1}});  // only the first child's
      std::vector<stage_ref> children;
      fixture f;
      auto sup = dynamic_supervisor::start(f.rt);
      await(f, sup.start_child(stage_spec([&] {
                                 auto h = f.rt.start<faulty_source>(&plan, &j);
                                 children.push_back(h);
                                 return stage_ref(h);
                               }).restart(type)));
      REQUIRE(children.size() == 1);
      if (how == ending::exception) {
        send(children[0], std::any(1));
      } else {
        stop(children[0], how == ending::normal ? exit_reason::normal() : exit_reason::shutdown());
      }
      f.run();

      const bool restarts = type == restart_type::permanent ||
                            (type == restart_type::transient && how == ending::exception);
      CHECK(children.size() == (restarts ? 2u : 1u));
      CHECK_FALSE(children[0].alive());
      CHECK(j.terminated.size() == 1);  // the first one's; a restart is a new stage
      if (restarts) CHECK(children[1].alive());
      CHECK(sup.alive());  // a child's fault never stops its supervisor
    }
  }
}

TEST_CASE("faults during shutdown: runtime::stop finishes when callbacks throw on the way out") {
  journal pj, rj, cj, sj;
  // The producer's terminate throws; the relay's handle_cancel (its producer going down) and the
  // sink's terminate too; and the supervised child's terminate.
  fault_plan pplan({{.at = fault_point::terminate}});
  fault_plan rplan({{.at = fault_point::handle_cancel}});
  fault_plan cplan({{.at = fault_point::terminate}});
  fault_plan splan({{.at = fault_point::terminate}});
  fixture f;
  auto p = f.rt.start<faulty_source>(&pplan, &pj);
  auto r = f.rt.start<faulty_relay>(&rplan, &rj);
  auto c = f.rt.start<faulty_sink>(&cplan, &cj);
  subscribe(c, r, {.max_demand = 4, .cancel = cancel_mode::temporary});
  subscribe(r, p, {.max_demand = 4, .cancel = cancel_mode::temporary});
  auto sup = dynamic_supervisor::start(f.rt);
  await(f, sup.start_child(stage_spec([&] {
                             return stage_ref(f.rt.start<faulty_source>(&splan, &sj));
                           }).restart(restart_type::permanent)));
  f.ex.run(300);  // events flowing

  f.rt.stop();
  CHECK(f.rt.stage_count() == 0);
  for (const journal* j : {&pj, &rj, &cj, &sj}) CHECK(j->terminated.size() == 1);
  CHECK(pj.terminated[0].get_kind() == exit_reason::kind::shutdown);
  CHECK(sj.terminated[0].get_kind() == exit_reason::kind::shutdown);  // not restarted
  // The relay stops by shutdown, or by its handle_cancel throwing if its producer's exit
  // reaches it first: either way once.
  CHECK((rj.terminated[0].get_kind() == exit_reason::kind::shutdown ||
         is_injected(rj.terminated[0])));
  CHECK(f.logged("terminate threw"));
  CHECK_FALSE(sup.alive());
}
