// runtime::stop() while stages are busy: it returns, every stage's terminate runs exactly once,
// and nothing is left running. One test per kind of stage, each caught with work in hand.
// GCC refuses Asio's io_context under -fsanitize=thread with -Werror (its fences: -Wtsan), so
// the one test that runs a real io_context is left out of the ThreadSanitizer build.
#ifndef __SANITIZE_THREAD__
#  include <boost/asio/io_context.hpp>
#endif
#include <doctest/doctest.h>

#include <span>
#include <stdexcept>
#include <string>
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

TEST_CASE("F3: a stage whose every handle was dropped keeps running until it is stopped") {
  // The runtime owns its stages: dropping handles neither frees nor stops one, and stop still
  // runs every terminate exactly once. A handle declared after the runtime (the ordinary C++
  // order) goes before it.
  journal cj, pj, sj;
  fixture f;
  { auto c = f.rt.start<sink>(datamesh::stage_options{.name = "idle_sink"}, &cj); }
  { auto p = f.rt.start<manual_source>(datamesh::stage_options{.name = "lone_producer"}, &pj); }
  f.run();
  CHECK(f.rt.stage_count() == 2);
  // Still reachable, and still working: subscribe them by name.
  auto c = stage_ref(f.rt.whereis("idle_sink"));
  auto p = stage_ref(f.rt.whereis("lone_producer"));
  REQUIRE(c.alive());
  REQUIRE(p.alive());
  subscribe(c, p, {.max_demand = 4});
  f.run();
  CHECK(pj.demands == std::vector<std::size_t>{4});
  send(p, std::any(iota(4)));
  f.run();
  CHECK(cj.flat() == iota(4));
  { auto s = f.rt.start<sink>(&sj); }
  c = {};
  p = {};
  f.rt.stop();
  terminated_once_by_shutdown(cj);
  terminated_once_by_shutdown(pj);
  terminated_once_by_shutdown(sj);
  CHECK(f.rt.stage_count() == 0);
}

TEST_CASE("F3: a supervisor with no children whose handle was dropped stops with the runtime") {
  fixture f;
  { auto sup = dynamic_supervisor::start(f.rt); }
  CHECK(f.rt.stage_count() == 1);
  f.rt.stop();
  CHECK(f.rt.stage_count() == 0);
}

TEST_CASE("F7: an on_exit callback that throws is logged, the others run, the runtime goes on") {
  journal j1, j2;
  fixture f;
  auto a = f.rt.start<sink>(&j1);
  auto b = f.rt.start<sink>(&j2);
  int later = 0;
  a.on_exit([](const exit_reason&) { throw std::runtime_error("on_exit failed"); });
  a.on_exit([&](const exit_reason&) { ++later; });
  datamesh::stop(a);
  f.run();
  CHECK_FALSE(a.alive());
  CHECK(later == 1);
  CHECK(f.logged("on_exit callback threw"));
  CHECK(f.logged("on_exit failed"));
  CHECK(b.alive());
  CHECK(f.rt.stage_count() == 1);
}

TEST_CASE("F7: a logger that throws loses its line, not the process or the stage") {
  deterministic_executor ex;
  int calls = 0;
  runtime rt(ex, runtime_options{.threads = 0, .logger = [&](log_level, const std::string&) {
                                   ++calls;
                                   throw std::runtime_error("disk full");
                                 }});
  journal pj, cj;
  auto p = rt.start<manual_source>(&pj);
  auto c = rt.start<sink>(&cj);
  datamesh::estimate_buffered_count(c);  // logs an error (rule 57) through the throwing logger
  subscribe(c, p, {.max_demand = 3});
  send(p, std::any(iota(3)));
  ex.run();
  CHECK(calls >= 1);
  CHECK(p.alive());
  CHECK(c.alive());
  CHECK(cj.flat() == iota(3));
  rt.stop();  // logs stage exits with reason shutdown: no line throws out of a stage
  CHECK(rt.stage_count() == 0);
  terminated_once_by_shutdown(pj);
}

TEST_CASE("F8: a stop overtakes the batches queued to a stage, only the running callback ends") {
  // A slow consumer with many batches queued must not make its stop wait for all of them: the
  // stop goes ahead of them, and what was queued is discarded.
  journal pj, cj;
  fixture f;
  auto p = f.rt.start<manual_source>(&pj);
  auto c = f.rt.start<sink>(&cj);
  subscribe(c, p, {.max_demand = 100});
  f.run();
  for (int i = 0; i < 10; ++i) send(p, std::any(std::vector<int>{i}));
  f.ex.run(1);  // the producer sends ten batches; the consumer has not run yet
  datamesh::stop(c, exit_reason::shutdown());
  f.run();
  CHECK(cj.batches.empty());
  terminated_once_by_shutdown(cj);
  CHECK(p.alive());  // the producer goes on (rule 93)
}

namespace {
/// A sink that asks its own stage to stop from the first batch it handles, as another thread
/// would while it runs.
struct self_stopping_sink {
  journal* j;
  const stage_ref* self;
  void handle_events(std::span<const int> in, const subscription&, context<void>&) {
    j->batches.emplace_back(in.begin(), in.end());
    if (j->batches.size() == 1) datamesh::stop(*self, exit_reason::shutdown());
  }
  void terminate(const exit_reason& r) { j->terminated.push_back(r); }
};
}  // namespace

TEST_CASE("F8: a stop overtakes the rest of a message split into many batches") {
  // 10 events in one message, handed over one per batch (max 10, min 9): a stop that arrives
  // during the first batch ends the stage after it, and the 9 others are counted lost.
  journal pj, cj;
  fixture f;
  stage_ref self;
  auto p = f.rt.start<manual_source>(&pj);
  auto c = f.rt.start<self_stopping_sink>(&cj, &self);
  self = c;
  subscribe(c, p, {.max_demand = 10, .min_demand = 9});
  f.run();
  send(p, std::any(std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  f.run();
  CHECK(cj.batches == std::vector<std::vector<int>>{{0}});
  terminated_once_by_shutdown(cj);
  CHECK(f.logged("and 9 events queued to it not yet handled"));
}

TEST_CASE("F8: runtime::stop overtakes queued batches on every stage") {
  journal pj, cj;
  fixture f;
  auto p = f.rt.start<manual_source>(&pj);
  auto c = f.rt.start<sink>(&cj);
  subscribe(c, p, {.max_demand = 100});
  f.run();
  for (int i = 0; i < 10; ++i) send(p, std::any(std::vector<int>{i}));
  f.ex.run(1);
  f.rt.stop();
  CHECK(cj.batches.empty());
  terminated_once_by_shutdown(cj);
  terminated_once_by_shutdown(pj);
}

#ifndef __SANITIZE_THREAD__
TEST_CASE("F10: ~runtime on a borrowed io_context whose run() has returned runs the stops itself") {
  boost::asio::io_context io;
  journal pj, cj;
  {
    runtime rt(io.get_executor());
    auto p = rt.start<manual_source>(&pj);
    auto c = rt.start<sink>(&cj);
    subscribe(c, p, {.max_demand = 5});
    send(p, std::any(iota(5)));
    io.run();  // the usual single-threaded service: returns once nothing is left to do
    CHECK(cj.flat() == iota(5));
    CHECK(io.stopped());
  }  // ~runtime: nobody runs io any more; stop must not wait for it forever
  terminated_once_by_shutdown(pj);
  terminated_once_by_shutdown(cj);
}
#endif

namespace {

/// Calls runtime::stop from its own handle_events, and records what that threw.
struct stops_its_runtime {
  runtime* rt;
  std::string* thrown;
  void handle_events(std::span<const int>) {
    try {
      rt->stop();
    } catch (const error& e) {
      *thrown = to_string(static_cast<errc>(e.code().value()));
    }
  }
};

}  // namespace

TEST_CASE("F16: runtime::stop from a stage callback throws would_deadlock instead of hanging") {
  journal pj;
  std::string thrown = "none";
  fixture f;
  auto p = f.rt.start<manual_source>(&pj);
  auto c = f.rt.start<stops_its_runtime>(&f.rt, &thrown);
  subscribe(c, p, {.max_demand = 5});
  send(p, std::any(iota(1)));
  f.run();
  CHECK(thrown == "would_deadlock");
  CHECK(c.alive());  // the callback caught it and went on
  f.rt.stop();       // from outside, it works
  CHECK(f.rt.stage_count() == 0);
}

TEST_CASE("every loss is counted: what a stage had queued when it stopped is logged with a count") {
  journal pj, cj;
  fixture f;
  auto p = f.rt.start<manual_source>(&pj);
  auto c = f.rt.start<sink>(&cj);
  subscribe(c, p, {.max_demand = 100});
  f.run();
  for (int i = 0; i < 4; ++i) send(p, std::any(std::vector<int>{i, i}));
  f.ex.run(1);  // four batches of two wait in the consumer's mailbox
  datamesh::stop(c, exit_reason::shutdown());
  f.run();
  CHECK(cj.batches.empty());
  CHECK(
      f.logged("exits with 0 buffered events that no consumer asked for and 8 events queued "
               "to it not yet handled"));
}

TEST_CASE("drain: a pipeline ends with every event delivered and each stage exiting drained") {
  // Whatever the cancel modes: a drain overrides them (rule 88 would keep a transient or
  // temporary consumer running after its producer's normal exit).
  for (const cancel_mode mode :
       {cancel_mode::permanent, cancel_mode::transient, cancel_mode::temporary}) {
    CAPTURE(to_string(mode));
    journal pj, rj, cj;
    fixture f;
    auto p = f.rt.start<manual_source>(&pj);
    auto r = f.rt.start<relay>(&rj);
    auto c = f.rt.start<sink>(&cj);
    subscribe(c, r, {.max_demand = 3, .min_demand = 1, .cancel = mode});
    subscribe(r, p, {.max_demand = 4, .min_demand = 2, .cancel = mode});
    f.run();
    send(p, std::any(iota(50)));  // far more than asked: most wait in the source's buffer
    f.ex.run(4);                  // part-way: events between all three
    drain(p);
    f.run();
    CHECK(cj.flat() == iota(50));  // nothing lost, in order
    for (const journal* j : {&pj, &rj, &cj}) {
      REQUIRE(j->terminated.size() == 1);
      CHECK(j->terminated[0].is_drained());
      CHECK(j->terminated[0].is_clean());
    }
    CHECK(f.rt.stage_count() == 0);
  }
}

TEST_CASE("drain: a consumer drains once every producer of it has, a middle stage stops input") {
  journal p1j, p2j, rj, cj;
  fixture f;
  auto p1 = f.rt.start<manual_source>(&p1j);
  auto p2 = f.rt.start<manual_source>(&p2j);
  auto r = f.rt.start<relay>(&rj);
  auto c = f.rt.start<sink>(&cj);
  subscribe(c, r, {.max_demand = 5});
  subscribe(r, p1, {.max_demand = 5});
  subscribe(r, p2, {.max_demand = 5});
  f.run();
  send(p1, std::any(iota(3)));
  drain(p1);
  f.run();
  CHECK_FALSE(p1.alive());
  CHECK(r.alive());  // p2 still feeds it
  send(p2, std::any(iota(3, 10)));
  f.run();
  CHECK(cj.flat().size() == 6);
  // Draining the middle stage itself: it cancels p2 (which goes on), passes on what it has,
  // and exits; its consumer follows.
  drain(r);
  f.run();
  CHECK_FALSE(r.alive());
  CHECK_FALSE(c.alive());
  CHECK(p2.alive());
  REQUIRE(cj.terminated.size() == 1);
  CHECK(cj.terminated[0].is_drained());
}
