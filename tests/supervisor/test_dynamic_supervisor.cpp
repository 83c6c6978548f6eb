// dynamic_supervisor: start_child, restart types, restart intensity, terminate_child by shutdown
// policy, which_children and count_children, and fault containment. All on the deterministic
// executor, with its virtual clock for timeouts and intensity windows.
#include <chrono>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <vector>

#include "support/harness.hpp"
#include "support/supervision.hpp"

using namespace dmtest;
using namespace std::chrono_literals;

TEST_CASE("dynamic supervisor: a worker child runs with its arguments and leaves when done") {
  std::vector<int> ran;
  fixture f;
  auto sup = dynamic_supervisor::start(f.rt);
  auto child = sup.start_child(worker_spec([&ran](int a, int b) { ran.push_back(a + b); }, 2, 3)
                                   .restart(restart_type::temporary));
  const child_info info = await(f, child);
  CHECK(info.id > 0);
  CHECK(info.kind == child_kind::worker);
  f.run();
  CHECK(ran == std::vector<int>{5});
  CHECK(await(f, sup.count_children()) == child_counts{0, 0, 0, 0});
  CHECK(sup.alive());
}

TEST_CASE("dynamic supervisor: a permanent child is restarted after any exit, a clean one too") {
  fixture f;
  auto sup = dynamic_supervisor::start(f.rt);
  manual_worker w;
  await(f, sup.start_child(w.spec(f.rt).restart(restart_type::permanent)));
  w.finish(exit_reason::normal());
  f.run();
  CHECK(w.started == 2);
  w.finish(exit_reason::shutdown());
  f.run();
  CHECK(w.started == 3);
  CHECK(w.running() == 1);
}

TEST_CASE("dynamic supervisor: transient restarts only after a failure, temporary never") {
  int transient_runs = 0, temporary_runs = 0;
  fixture f;
  auto sup = dynamic_supervisor::start(f.rt);
  await(f, sup.start_child(worker_spec([&] {
                             if (++transient_runs < 3) throw std::runtime_error("flaky");
                           }).restart(restart_type::transient)));
  await(f, sup.start_child(worker_spec([&] {
                             ++temporary_runs;
                             throw std::runtime_error("once");
                           }).restart(restart_type::temporary)));
  f.run();
  CHECK(transient_runs == 3);  // two failures restarted, the clean third exit not
  CHECK(temporary_runs == 1);
  CHECK(f.logged("exception: once"));
  CHECK(sup.alive());  // a child's exception never stops its supervisor
  CHECK(await(f, sup.count_children()) == child_counts{0, 0, 0, 0});
}

TEST_CASE("dynamic supervisor: more than max_restarts within period shuts it down") {
  fixture f;
  auto sup = dynamic_supervisor::start(f.rt, {.intensity = {.max_restarts = 3, .period = 5s}});
  exit_reason seen;
  bool exited = false;
  sup.on_exit([&](const exit_reason& r) {
    seen = r;
    exited = true;
  });
  int runs = 0;
  await(f, sup.start_child(worker_spec([&] {
                             ++runs;
                             throw std::runtime_error("always");
                           }).restart(restart_type::permanent)));
  f.run();
  CHECK(exited);
  CHECK(runs == 4);  // the first run and 3 restarts; the 4th restart is one too many
  CHECK(seen.get_kind() == exit_reason::kind::shutdown);
  CHECK(seen.detail() == "reached maximum restart intensity");
  CHECK(f.logged("reached its maximum restart intensity"));
}

TEST_CASE("dynamic supervisor: restarts spread beyond period never add up") {
  fixture f;
  auto sup = dynamic_supervisor::start(f.rt, {.intensity = {.max_restarts = 1, .period = 1s}});
  manual_worker w;
  await(f, sup.start_child(w.spec(f.rt).restart(restart_type::transient)));
  for (int i = 0; i < 5; ++i) {
    REQUIRE(w.running() == 1);
    w.fail("boom");
    f.run();
    f.ex.advance(2s);  // outside the window of the previous restart
  }
  CHECK(sup.alive());
  CHECK(w.started == 6);
}

TEST_CASE("dynamic supervisor: terminate_child with brutal_kill reports at once") {
  fixture f;
  auto sup = dynamic_supervisor::start(f.rt);
  manual_worker w;
  auto info = await(f, sup.start_child(w.spec(f.rt).shutdown(shutdown_policy::brutal_kill())));
  auto done = sup.terminate_child(info.id);
  f.run();
  CHECK(ready(done));
  CHECK(w.stop_requested());  // its token is asked all the same
  CHECK(await(f, sup.which_children()).empty());
}

TEST_CASE("dynamic supervisor: terminate_child waits for a cooperative worker") {
  fixture f;
  auto sup = dynamic_supervisor::start(f.rt);
  manual_worker w;
  auto info = await(f, sup.start_child(w.spec(f.rt).shutdown(shutdown_policy::after(100ms))));
  auto done = sup.terminate_child(info.id);
  f.run();
  CHECK(w.stop_requested());
  CHECK_FALSE(ready(done));
  w.finish();  // it heard the token and returns
  f.run();
  CHECK(ready(done));
  CHECK(f.ex.pending_timers() == 1);  // the timeout fires later and finds nothing to kill
  f.ex.advance(100ms);
  f.run();
  CHECK_FALSE(f.logged("did not stop within its shutdown timeout"));
}

TEST_CASE("dynamic supervisor: a worker that ignores its stop is killed after the timeout") {
  fixture f;
  auto sup = dynamic_supervisor::start(f.rt);
  manual_worker w;
  auto info = await(f, sup.start_child(w.spec(f.rt).shutdown(shutdown_policy::after(100ms))));
  auto done = sup.terminate_child(info.id);
  f.run();
  f.ex.advance(99ms);
  f.run();
  CHECK_FALSE(ready(done));
  f.ex.advance(1ms);
  f.run();
  CHECK(ready(done));
  CHECK(f.logged("did not stop within its shutdown timeout; killed"));
  w.finish();  // its late exit is ignored
  f.run();
  CHECK(await(f, sup.count_children()).workers == 0);
}

TEST_CASE("dynamic supervisor: shutdown infinity waits as long as the child takes") {
  fixture f;
  auto sup = dynamic_supervisor::start(f.rt);
  manual_worker w;
  auto info = await(f, sup.start_child(w.spec(f.rt).shutdown(shutdown_policy::infinity())));
  auto done = sup.terminate_child(info.id);
  f.run();
  f.ex.advance(1h);
  f.run();
  CHECK_FALSE(ready(done));
  CHECK(f.ex.pending_timers() == 0);
  w.finish();
  f.run();
  CHECK(ready(done));
}

TEST_CASE("dynamic supervisor: terminate_child of an unknown id is no_child, and it runs on") {
  fixture f;
  auto sup = dynamic_supervisor::start(f.rt);
  auto done = sup.terminate_child(42);
  CHECK(error_of(f, done) == errc::no_child);
  CHECK(sup.alive());
}

TEST_CASE("dynamic supervisor: bad specs and start failures are typed errors") {
  fixture f;
  auto sup = dynamic_supervisor::start(f.rt, {.max_children = 1});
  SUBCASE("an invalid shutdown") {
    auto r = sup.start_child(worker_spec([] {}).shutdown(shutdown_policy::after(0ms)));
    CHECK(error_of(f, r) == errc::bad_options);
  }
  SUBCASE("a start function that throws: the child is not recorded") {
    auto r = sup.start_child(
        stage_spec([]() -> stage_ref { throw std::runtime_error("cannot start"); }));
    CHECK(error_of(f, r) == errc::start_failed);
    CHECK(await(f, sup.count_children()).workers == 0);
  }
  SUBCASE("a stage whose init stops it") {
    journal j;
    auto r = sup.start_child(stage_spec([&] { return f.rt.start<refusing_stage>(&j); }));
    CHECK(error_of(f, r) == errc::start_failed);
  }
  SUBCASE("max_children") {
    manual_worker w;
    await(f, sup.start_child(w.spec(f.rt)));
    auto r = sup.start_child(worker_spec([] {}));
    CHECK(error_of(f, r) == errc::max_children);
  }
  CHECK(sup.alive());
  CHECK_THROWS_AS(dynamic_supervisor::start(f.rt, {.intensity = {.period = 0s}}), error);
}

TEST_CASE("dynamic supervisor: supervisor_options, the old name of its options, still works") {
  fixture f;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  const supervisor_options old{.max_children = 1};
#pragma GCC diagnostic pop
  auto sup = dynamic_supervisor::start(f.rt, old);
  manual_worker w;
  await(f, sup.start_child(w.spec(f.rt)));
  auto over = sup.start_child(worker_spec([] {}));
  CHECK(error_of(f, over) == errc::max_children);
}

TEST_CASE("dynamic supervisor: stage children are watched, restarted, and shown") {
  journal j;
  fixture f;
  auto sup = dynamic_supervisor::start(f.rt);
  int starts = 0;
  auto info = await(f, sup.start_child(stage_spec([&] {
                                         ++starts;
                                         return f.rt.start<counter>(&j);
                                       })
                                           .name("counter")
                                           .restart(restart_type::transient)));
  REQUIRE(info.stage.alive());
  CHECK(info.name == "counter");
  datamesh::stop(info.stage, exit_reason::error("crashed"));
  f.run();
  CHECK(starts == 2);
  auto rows = await(f, sup.which_children());
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].id == info.id);  // the same child, restarted
  CHECK(rows[0].stage.alive());
  CHECK_FALSE(rows[0].stage == info.stage);
  datamesh::stop(rows[0].stage, exit_reason::normal());
  f.run();
  CHECK(starts == 2);  // transient: a normal exit is final
  CHECK(await(f, sup.which_children()).empty());
}

TEST_CASE("dynamic supervisor: a restart whose start fails shows as restarting and is retried") {
  journal j;
  fixture f;
  auto sup = dynamic_supervisor::start(f.rt, {.intensity = {.max_restarts = 1000}});
  int starts = 0;
  bool refuse = false;
  auto info = await(f, sup.start_child(stage_spec([&]() -> stage_ref {
                                         ++starts;
                                         if (refuse) throw std::runtime_error("not yet");
                                         return f.rt.start<counter>(&j);
                                       }).restart(restart_type::permanent)));
  refuse = true;
  datamesh::stop(info.stage, exit_reason::error("crashed"));
  // Step until the failed restart is recorded, then look.
  REQUIRE(f.run_until_logged("failed to restart"));
  auto rows = await(f, sup.which_children());
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].restarting);
  CHECK(await(f, sup.count_children()) == child_counts{1, 0, 1, 0});
  refuse = false;
  f.run();
  rows = await(f, sup.which_children());
  REQUIRE(rows.size() == 1);
  CHECK_FALSE(rows[0].restarting);
  CHECK(starts >= 3);
}

TEST_CASE("dynamic supervisor: stopping it stops every child by its policy first") {
  journal j;
  fixture f;
  auto sup = dynamic_supervisor::start(f.rt);
  manual_worker cooperative, deaf;
  auto stage_child = await(f, sup.start_child(stage_spec([&] { return f.rt.start<counter>(&j); })));
  await(f, sup.start_child(cooperative.spec(f.rt).shutdown(shutdown_policy::infinity())));
  await(f, sup.start_child(deaf.spec(f.rt).shutdown(shutdown_policy::after(1s))));
  datamesh::stop(sup, exit_reason::shutdown());
  f.run();
  CHECK(sup.alive());  // waiting for its children
  CHECK_FALSE(stage_child.stage.alive());
  REQUIRE(j.terminated.size() == 1);
  CHECK(j.terminated[0].get_kind() == exit_reason::kind::shutdown);
  cooperative.finish();
  f.run();
  CHECK(sup.alive());  // the deaf one has until its timeout
  f.ex.advance(1s);
  f.run();
  CHECK_FALSE(sup.alive());
  CHECK(sup.exit_reason_if_exited()->get_kind() == exit_reason::kind::shutdown);
}

TEST_CASE("dynamic supervisor: a supervisor child, and the intensity reason reaching its parent") {
  fixture f;
  auto parent = dynamic_supervisor::start(f.rt);
  dynamic_supervisor child_sup;
  auto info = await(f, parent.start_child(supervisor_spec([&] {
                                            child_sup = dynamic_supervisor::start(
                                                f.rt, {.intensity = {.max_restarts = 0}});
                                            return child_sup;
                                          }).restart(restart_type::transient)));
  CHECK(info.kind == child_kind::supervisor);
  CHECK(await(f, parent.count_children()) == child_counts{1, 1, 0, 1});
  auto first = child_sup;
  await(f, first.start_child(worker_spec([] { throw std::runtime_error("x"); })));
  f.run();
  // The child supervisor gave up with `shutdown`: clean, so its transient spec is not restarted.
  CHECK_FALSE(first.alive());
  CHECK(first.exit_reason_if_exited()->get_kind() == exit_reason::kind::shutdown);
  CHECK(await(f, parent.count_children()).supervisors == 0);
  CHECK(parent.alive());
}

TEST_CASE("dynamic supervisor: runtime stop waits out the children's timeouts") {
  manual_worker deaf;
  fixture f;
  auto sup = dynamic_supervisor::start(f.rt);
  await(f, sup.start_child(deaf.spec(f.rt).shutdown(shutdown_policy::after(5s))));
  f.rt.stop();  // moves the virtual clock past the timeout rather than hanging
  CHECK_FALSE(sup.alive());
  CHECK(f.rt.stage_count() == 1);  // the child ignored its stop; it was given up, not waited for
  deaf.finish();
  f.run();
  CHECK(f.rt.stage_count() == 0);
}

TEST_CASE("dynamic supervisor: a worker taking a stop token hears terminate_child") {
  deterministic_executor workers;  // the worker's own executor, stepped by the test
  fixture f;
  auto sup = dynamic_supervisor::start(f.rt);
  int heard = 0, ran = 0;
  child_id id{};
  std::future<void> done;
  auto info =
      await(f, sup.start_child(worker_spec_on(workers.get_executor(), [&](std::stop_token t) {
                                 ++ran;
                                 done = sup.terminate_child(id);
                                 f.run();  // the supervisor asks it to stop while it runs
                                 if (t.stop_requested()) ++heard;
                               }).restart(restart_type::permanent)));
  id = info.id;
  workers.run();
  f.run();
  REQUIRE(done.valid());
  CHECK(ready(done));
  CHECK(ran == 1);
  CHECK(heard == 1);
  CHECK(await(f, sup.count_children()).workers == 0);  // terminated: not restarted
}

TEST_CASE("dynamic supervisor: a worker terminated before it started never starts (F9)") {
  deterministic_executor workers;  // the worker's own executor, stepped by the test
  fixture f;
  auto sup = dynamic_supervisor::start(f.rt);
  int ran = 0;
  auto info = await(f, sup.start_child(worker_spec_on(workers.get_executor(), [&](std::stop_token) {
                                         ++ran;
                                       }).restart(restart_type::permanent)));
  auto done = sup.terminate_child(info.id);
  f.run();
  CHECK_FALSE(ready(done));  // asked to stop, its job not yet taken from the queue
  workers.run();
  f.run();
  CHECK(ready(done));
  CHECK(ran == 0);
  CHECK(await(f, sup.count_children()).workers == 0);
}

TEST_CASE("F13: shutdown_policy::after(milliseconds::max()) waits for the child, as infinity") {
  manual_worker slow;
  fixture f;
  auto sup = dynamic_supervisor::start(f.rt);
  auto info = await(f, sup.start_child(slow.spec(f.rt).shutdown(
                           shutdown_policy::after(std::chrono::milliseconds::max()))));
  auto done = sup.terminate_child(info.id);
  f.run();
  CHECK(slow.stop_requested());
  CHECK_FALSE(ready(done));  // not given up at once by a timer that overflowed into the past
  f.ex.advance(std::chrono::hours(24 * 365));
  f.run();
  CHECK_FALSE(ready(done));
  slow.finish();
  f.run();
  CHECK(ready(done));
}

TEST_CASE("F14: a child spec whose restart type is outside the enumeration is refused") {
  manual_worker w;
  fixture f;
  auto sup = dynamic_supervisor::start(f.rt);
  auto bad = w.spec(f.rt).restart(static_cast<restart_type>(7));
  CHECK_THROWS_AS(await(f, sup.start_child(bad)), error);
  CHECK(w.started == 0);
  CHECK(sup.alive());
}
