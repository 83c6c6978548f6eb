// consumer_supervisor<Event>: SPEC section L, rules 106-119, on the deterministic executor.
// Children are `manual_worker`s (stages that exit when the test says) unless the rule is about
// plain workers, so each test decides when a slot frees.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/explore.hpp"
#include "support/harness.hpp"
#include "support/supervision.hpp"

using namespace dmtest;
using namespace std::chrono_literals;

namespace {

/// A counter producer and a consumer supervisor of manual workers subscribed to it.
struct setup {
  stage_handle<counter> producer;
  consumer_supervisor<int> sup;
  subscription sub;
};

setup start_setup(fixture& f, journal& pj, manual_worker& w, subscribe_options opts,
                  consumer_supervisor_options sup_opts = {},
                  restart_type restart = restart_type::temporary) {
  setup s;
  s.producer = f.rt.start<counter>(&pj);
  s.sup = consumer_supervisor<int>::start(f.rt, w.tmpl<int>(f.rt).restart(restart),
                                          std::move(sup_opts));
  s.sub = subscribe(s.sup, s.producer, std::move(opts));
  f.run();
  return s;
}

}  // namespace

TEST_CASE("rule 106: the one template must be able to start children") {
  fixture f;
  auto empty = child_template<int>(child_kind::worker, {}).restart(restart_type::temporary);
  try {
    consumer_supervisor<int>::start(f.rt, empty);
    FAIL("a template without a start function was accepted");
  } catch (const error& e) {
    CHECK(e.code() == errc::bad_options);
  }
  CHECK(f.rt.stage_count() == 0);
}

TEST_CASE("rule 108: a permanent template is refused, as is an invalid shutdown") {
  journal pj;
  fixture f;
  auto counter_stage = f.rt.start<counter>(&pj);
  try {
    consumer_supervisor<int>::start(f.rt, worker_template<int>([](int) {}));
    FAIL("a permanent template was accepted");
  } catch (const error& e) {
    CHECK(e.code() == errc::bad_options);
    CHECK(std::string(e.what()).find("restart set to permanent is not supported") !=
          std::string::npos);
  }
  CHECK_THROWS_AS(
      consumer_supervisor<int>::start(f.rt, worker_template<int>([](int) {})
                                                .restart(restart_type::transient)
                                                .shutdown(shutdown_policy::after(-1ms))),
      error);
  CHECK(counter_stage.alive());  // the runtime runs on
}

TEST_CASE("F2: consumer_supervisor_options::subscribe_to checks types and roles at start") {
  fixture f;
  auto strings = f.rt.start_producer<std::string>([](std::size_t, context<std::string>&) {});
  auto ints_sink = f.rt.start_consumer<int>([](std::span<const int>) {});
  auto tmpl = worker_template<int>([](int) {}).restart(restart_type::temporary);
  for (const stage_ref& wrong : {stage_ref(strings), stage_ref(ints_sink)}) {
    try {
      consumer_supervisor<int>::start(f.rt, tmpl, {.subscribe_to = {{wrong, {}}}});
      FAIL("a supervisor subscribed to the wrong stage was started");
    } catch (const error& e) {
      CHECK((e.code() == errc::type_mismatch || e.code() == errc::not_a_producer));
    }
  }
  f.run();
  CHECK(f.rt.stage_count() == 2);
  CHECK(strings.alive());
  CHECK(ints_sink.alive());
}

TEST_CASE("rule 109: each event starts one worker with the event appended to the arguments") {
  std::vector<std::string> calls;
  journal pj;
  fixture f;
  auto producer = f.rt.start<counter>(&pj);
  auto sup = consumer_supervisor<int>::start(
      f.rt,
      worker_template<int>([&calls](const std::string& prefix, int scale,
                                    int e) { calls.push_back(prefix + std::to_string(scale * e)); },
                           std::string("w"), 10)
          .restart(restart_type::temporary));
  subscribe(sup, producer, {.max_demand = 3, .min_demand = 0});
  f.ex.run(40);
  REQUIRE(calls.size() >= 3);
  CHECK(calls[0] == "w0");
  CHECK(calls[1] == "w10");
  CHECK(calls[2] == "w20");
}

TEST_CASE("rule 110: at most max_demand live children, 10/8 asks 8 after the 8th exit") {
  journal pj;
  manual_worker w;
  fixture f;
  auto s = start_setup(f, pj, w, {.max_demand = 10, .min_demand = 8});
  CHECK(pj.demands == std::vector<std::size_t>{10});
  CHECK(w.running() == 10);
  for (std::size_t i = 0; i < 7; ++i) w.finish_at(i);
  f.run();
  CHECK(pj.demands == std::vector<std::size_t>{10});  // 7 finished: below min_demand
  CHECK(w.running() == 3);
  w.finish_at(7);
  f.run();
  // The inverse of a plain consumer (rule 38): live children fell to max - min = 2 first.
  CHECK(pj.demands == std::vector<std::size_t>{10, 8});
  CHECK(w.running() == 10);
  CHECK(w.started == 18);
}

TEST_CASE("rule 110: with min_demand 0 it asks for one on every exit") {
  journal pj;
  manual_worker w;
  fixture f;
  auto s = start_setup(f, pj, w, {.max_demand = 4, .min_demand = 0});
  CHECK(w.running() == 4);
  w.finish_at(0);
  f.run();
  w.finish_at(1);
  f.run();
  CHECK(pj.demands == std::vector<std::size_t>{4, 1, 1});
  CHECK(w.running() == 4);
}

TEST_CASE("rule 110: with 50/25 the live children never exceed 50") {
  journal pj;
  manual_worker w;
  fixture f;
  auto s = start_setup(f, pj, w, {.max_demand = 50, .min_demand = 25});
  std::size_t next = 0;
  int peak = 0;
  for (int round = 0; round < 10; ++round) {
    for (int k = 0; k < 13; ++k) w.finish_at(next++);
    f.run();
    peak = std::max(peak, w.running());
  }
  CHECK(peak <= 50);
  CHECK(w.running() <= 50);
  CHECK(w.started == static_cast<int>(next) + w.running());
}

TEST_CASE("rule 111: a child that fails to start is not recorded and frees its slot at once") {
  journal pj;
  fixture f;
  auto producer = f.rt.start<counter>(&pj);
  int attempts = 0;
  auto sup = consumer_supervisor<int>::start(
      f.rt, stage_template<int>([&](int e) -> stage_ref {
              ++attempts;
              if (e % 2 == 0) throw std::runtime_error("even events cannot start");
              return f.rt.start<refusing_stage>(nullptr);  // and odd ones stop in init
            }).restart(restart_type::transient));
  subscribe(sup, producer, {.max_demand = 2, .min_demand = 1});
  f.ex.run(200);
  CHECK(attempts > 2);  // every failure asked for a replacement at once
  CHECK(pj.demands.size() > 1);
  CHECK(await(f, sup.count_children()) == child_counts{1, 0, 0, 0});
  CHECK(f.logged("a child failed to start: even events cannot start"));
  CHECK(f.logged("failed to start: error: refused to start"));
  CHECK(sup.alive());
  stop(producer);
}

TEST_CASE("rule 112: temporary children are never restarted, their slot frees") {
  journal pj;
  manual_worker w;
  fixture f;
  auto s = start_setup(f, pj, w, {.max_demand = 1, .min_demand = 0});
  w.finish_at(0, exit_reason::error("crash"));
  f.run();
  CHECK(w.started == 2);  // a new child for the next event, not a restart
  CHECK(pj.demands == std::vector<std::size_t>{1, 1});
}

TEST_CASE("rule 112: transient children restart after a failure and keep their slot") {
  journal pj;
  manual_worker w;
  fixture f;
  auto s = start_setup(f, pj, w, {.max_demand = 1, .min_demand = 0}, {}, restart_type::transient);
  w.finish_at(0, exit_reason::error("crash"));
  f.run();
  CHECK(w.started == 2);
  CHECK(pj.demands == std::vector<std::size_t>{1});  // the restart held the slot: no ask
  w.finish_at(1, exit_reason::shutdown());           // a clean exit is final
  f.run();
  CHECK(pj.demands == std::vector<std::size_t>{1, 1});
  CHECK(w.started == 3);
}

TEST_CASE("rule 113: too many restarts shut it down with shutdown, the producer hears it") {
  journal pj;
  manual_worker w;
  fixture f;
  auto s = start_setup(f, pj, w, {.max_demand = 1, .min_demand = 0},
                       {.intensity = {.max_restarts = 2, .period = 5s}}, restart_type::transient);
  for (std::size_t i = 0; i < 3; ++i) {
    w.finish_at(i, exit_reason::error("crash"));
    f.run();
  }
  REQUIRE_FALSE(s.sup.alive());
  CHECK(s.sup.exit_reason_if_exited()->get_kind() == exit_reason::kind::shutdown);
  CHECK(w.started == 3);  // two restarts allowed, the third refused
  REQUIRE(pj.cancels.size() == 1);
  CHECK(pj.cancels[0].kind == cancel_kind::down);
  CHECK(s.producer.alive());
}

TEST_CASE("rule 114: which_children and count_children") {
  journal pj;
  manual_worker w;
  fixture f;
  auto s = start_setup(f, pj, w, {.max_demand = 3, .min_demand = 1});
  auto rows = await(f, s.sup.which_children());
  REQUIRE(rows.size() == 3);
  for (const auto& r : rows) {
    CHECK(r.kind == child_kind::worker);
    CHECK_FALSE(r.restarting);
    CHECK(r.stage.alive());
  }
  CHECK(rows[0].id < rows[1].id);
  CHECK(await(f, s.sup.count_children()) == child_counts{1, 3, 3, 0});
}

TEST_CASE("rule 115: start_child runs outside the demand accounting") {
  journal pj;
  manual_worker w;
  fixture f;
  auto s = start_setup(f, pj, w, {.max_demand = 2, .min_demand = 0});
  auto extra = await(f, s.sup.start_child(99));
  CHECK(w.running() == 3);
  w.finish_at(2);  // the extra child
  f.run();
  CHECK(pj.demands == std::vector<std::size_t>{2});  // its exit frees no slot
  CHECK(extra.id > 0);
}

TEST_CASE("rule 115: start_child that fails to start is an error, and it runs on") {
  fixture f;
  auto sup = consumer_supervisor<int>::start(f.rt, stage_template<int>([](int) -> stage_ref {
                                                     throw std::runtime_error("no");
                                                   }).restart(restart_type::temporary));
  auto r = sup.start_child(1);
  CHECK(error_of(f, r) == errc::start_failed);
  CHECK(sup.alive());
}

TEST_CASE(
    "rule 116: terminate_child frees a slot, works on a restarting child, unknown is an error") {
  journal pj;
  manual_worker w;
  fixture f;
  auto s = start_setup(f, pj, w, {.max_demand = 1, .min_demand = 0}, {}, restart_type::transient);
  auto rows = await(f, s.sup.which_children());
  REQUIRE(rows.size() == 1);
  auto done = s.sup.terminate_child(rows[0].id);
  f.run();
  CHECK(w.stop_requested());
  w.finish_at(0, exit_reason::shutdown());  // it obeys
  f.run();
  CHECK(ready(done));
  CHECK(pj.demands == std::vector<std::size_t>{1, 1});
  auto unknown = s.sup.terminate_child(rows[0].id);
  CHECK(error_of(f, unknown) == errc::no_child);
  CHECK(s.sup.alive());
}

TEST_CASE("rule 116: terminate_child of a restarting child") {
  journal pj;
  fixture f;
  auto producer = f.rt.start<counter>(&pj);
  bool refuse = false;
  manual_worker w;
  auto sup = consumer_supervisor<int>::start(f.rt, stage_template<int>([&](int) -> stage_ref {
                                                     if (refuse)
                                                       throw std::runtime_error("not now");
                                                     return manual_worker::start_one(w.s, f.rt);
                                                   }).restart(restart_type::transient),
                                             {.intensity = {.max_restarts = 1000}});
  subscribe(sup, producer, {.max_demand = 1, .min_demand = 0});
  f.run();
  refuse = true;
  w.finish_at(0, exit_reason::error("crash"));
  REQUIRE(f.run_until_logged("failed to restart"));
  auto rows = await(f, sup.which_children());
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].restarting);
  auto done = sup.terminate_child(rows[0].id);
  f.ex.run_until([&] { return ready(done); });
  CHECK(ready(done));
  refuse = false;
  f.run();
  CHECK(pj.demands == std::vector<std::size_t>{1, 1});  // its slot is free: the next event
  CHECK(w.running() == 1);                              // started a new child
}

TEST_CASE("rule 117: children keep running when a temporary producer goes down") {
  journal pj;
  manual_worker w;
  fixture f;
  auto s = start_setup(f, pj, w, {.max_demand = 3, .cancel = cancel_mode::temporary});
  stop(s.producer, exit_reason::error("producer crashed"));
  f.run();
  CHECK(s.sup.alive());
  CHECK(w.running() == 3);
  w.finish_all();
  f.run();
  CHECK(await(f, s.sup.count_children()).workers == 0);  // and nobody is asked
}

TEST_CASE("rule 118: on shutdown each child is stopped by its own shutdown setting") {
  journal pj;
  manual_worker w;
  fixture f;
  auto producer = f.rt.start<counter>(&pj);
  SUBCASE("brutal_kill: gone at once") {
    auto sup = consumer_supervisor<int>::start(f.rt, w.tmpl<int>(f.rt)
                                                         .restart(restart_type::temporary)
                                                         .shutdown(shutdown_policy::brutal_kill()));
    subscribe(sup, producer, {.max_demand = 2});
    f.run();
    stop(sup, exit_reason::shutdown());
    f.run();
    CHECK_FALSE(sup.alive());
    CHECK(w.stop_requested());
  }
  SUBCASE("infinity: asks and waits") {
    auto sup = consumer_supervisor<int>::start(
        f.rt,
        w.tmpl<int>(f.rt).restart(restart_type::temporary).shutdown(shutdown_policy::infinity()));
    subscribe(sup, producer, {.max_demand = 2});
    f.run();
    stop(sup, exit_reason::shutdown());
    f.run();
    f.ex.advance(1h);
    f.run();
    CHECK(sup.alive());
    w.finish_all(exit_reason::shutdown());
    f.run();
    CHECK_FALSE(sup.alive());
  }
  SUBCASE("a timeout: asks, then kills when it runs out") {
    auto sup = consumer_supervisor<int>::start(
        f.rt,
        w.tmpl<int>(f.rt).restart(restart_type::temporary).shutdown(shutdown_policy::after(500ms)));
    subscribe(sup, producer, {.max_demand = 2});
    f.run();
    stop(sup, exit_reason::shutdown());
    f.run();
    CHECK(w.stop_requested());
    f.ex.advance(499ms);
    f.run();
    CHECK(sup.alive());
    f.ex.advance(1ms);
    f.run();
    CHECK_FALSE(sup.alive());
    CHECK(f.logged("did not stop within its shutdown timeout; killed"));
    w.finish_all();
  }
  f.run();
  CHECK(producer.alive());
}

TEST_CASE("rule 119: bad subscribe options, a dead producer, and cancel modes as a consumer") {
  journal pj;
  manual_worker w;
  fixture f;
  auto producer = f.rt.start<counter>(&pj);
  auto sup =
      consumer_supervisor<int>::start(f.rt, w.tmpl<int>(f.rt).restart(restart_type::temporary));
  CHECK_THROWS_AS(subscribe(sup, producer, {.max_demand = 0}), error);
  CHECK(sup.alive());
  SUBCASE("a dead producer on a temporary subscription: it runs on") {
    stop(producer);
    f.run();
    subscribe(sup, producer, {.cancel = cancel_mode::temporary});
    f.run();
    CHECK(sup.alive());
  }
  SUBCASE("a dead producer on a permanent subscription: it exits with noproc") {
    stop(producer);
    f.run();
    subscribe(sup, producer, {});
    f.run();
    CHECK_FALSE(sup.alive());
    CHECK(sup.exit_reason_if_exited()->get_kind() == exit_reason::kind::noproc);
  }
  SUBCASE("permanent: the producer's exit stops it, after its children") {
    subscribe(sup, producer, {.max_demand = 2});
    f.run();
    stop(producer, exit_reason::shutdown());
    f.run();
    CHECK(sup.alive());  // its children are asked first (5 s timeout, default)
    w.finish_all(exit_reason::shutdown());
    f.run();
    CHECK_FALSE(sup.alive());
    CHECK(sup.exit_reason_if_exited()->get_kind() == exit_reason::kind::shutdown);
  }
}

TEST_CASE("consumer supervisor: an exception in a worker stops that worker only") {
  journal pj;
  fixture f;
  auto producer = f.rt.start<counter>(&pj);
  std::vector<int> done;
  auto sup = consumer_supervisor<int>::start(f.rt, worker_template<int>([&done](int e) {
                                                     if (e == 3)
                                                       throw std::runtime_error("bad event 3");
                                                     done.push_back(e);
                                                   }).restart(restart_type::temporary));
  subscribe(sup, producer, {.max_demand = 2, .min_demand = 0});
  f.ex.run(200);
  REQUIRE(done.size() > 6);
  CHECK(std::find(done.begin(), done.end(), 3) == done.end());
  CHECK(std::find(done.begin(), done.end(), 4) != done.end());
  CHECK(f.logged("exception: bad event 3"));
  CHECK(sup.alive());
  CHECK(producer.alive());
  stop(producer);
}

TEST_CASE("F9: once its stop is requested, no queued worker starts, whatever the schedule") {
  // Workers wait in the executor's queue between the supervisor's start and their run. A worker
  // that starts with its stop already requested is one started after the supervisor began its
  // shutdown (rule 118): none may, in any interleaving.
  explore(60, [](std::uint64_t seed) {
    int started_after_stop = 0;
    journal pj;
    explored e(seed);
    auto p = e.rt.start<counter>(&pj);
    auto sup =
        consumer_supervisor<int>::start(e.rt, worker_template<int>([&](std::stop_token st, int) {
                                                if (st.stop_requested()) ++started_after_stop;
                                              })
                                                  .restart(restart_type::temporary)
                                                  .shutdown(shutdown_policy::infinity()));
    subscribe(sup, p, {.max_demand = 8, .min_demand = 4});
    e.ex.run(static_cast<std::size_t>(seed % 12));  // part-way, differently per seed
    datamesh::stop(sup, exit_reason::shutdown());
    e.ex.run();
    CHECK(started_after_stop == 0);
    CHECK_FALSE(sup.alive());
    e.rt.stop();
  });
}
