// Stage roles, start options and callbacks (SPEC section A), and the runtime's start and stop.
//
// Rules C++'s types enforce, so no value can break them at run time: rule 3 (a dispatcher is a
// type satisfying dispatcher_for; tests/compile_fail/bad_dispatcher.cpp), rules 5 and 23 (demand
// mode, buffer_keep and cancel mode are enum classes), rule 18 (callbacks have fixed return
// types; the one protocol answer a type allows but the protocol forbids, manual demand on a
// producer, is rule 12 below). Left out as Elixir-only: rule 17 (:sys.get_status) and rule 19
// (child_spec).
#include <stdexcept>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/harness.hpp"

using namespace dmtest;

namespace {

struct throws_on_start {
  explicit throws_on_start(int) { throw std::runtime_error("no config"); }
  void handle_demand(std::size_t, context<int>&) {}
};

struct stops_in_init {
  void init(context<int>& ctx) { ctx.stop(exit_reason::error("bad args")); }
  void handle_demand(std::size_t, context<int>&) {}
};

struct accumulates_in_init {
  journal* j;
  void init(context<int>& ctx) {
    j->events.push_back("init");
    ctx.set_demand(producer_demand::accumulate);
  }
  void handle_demand(std::size_t n, context<int>& ctx) {
    j->demands.push_back(n);
    for (std::size_t i = 0; i < n; ++i) ctx.push(static_cast<int>(i));
  }
};

struct manual_producer {
  void handle_demand(std::size_t, context<int>&) {}
  demand_mode handle_subscribe(peer_role, const subscription&, const subscribe_options&,
                               context<int>&) {
    return demand_mode::manual;
  }
};

struct refuses_subscription {
  journal* j;
  void handle_events(std::span<const int>) {}
  void handle_subscribe(peer_role, const subscription&, const subscribe_options&,
                        context<void>& ctx) {
    ctx.stop(exit_reason::error("refused"));
  }
  void terminate(const exit_reason& r) { j->terminated.push_back(r); }
};

struct no_info {
  void handle_demand(std::size_t, context<int>&) {}
};

struct string_sink {
  void handle_events(std::span<const std::string>) {}
};

}  // namespace

// -- roles follow from callbacks ---

static_assert(stage_traits<counter>::role == stage_role::producer);
static_assert(stage_traits<sink>::role == stage_role::consumer);
static_assert(stage_traits<relay>::role == stage_role::producer_consumer);
static_assert(std::is_same_v<stage_traits<counter>::output_type, int>);
static_assert(std::is_same_v<stage_traits<relay>::input_type, int>);
static_assert(std::is_void_v<stage_traits<sink>::output_type>);
// Rule 9: a consumer's context has no push, so a consumer cannot emit events.
template <class C>
concept can_push = requires(C& c) {
  c.push(1);
};
static_assert(!can_push<context<void>>);
static_assert(can_push<context<int>>);

TEST_CASE("rule 9: a consumer's context cannot push, a producer's can") {
  CHECK_FALSE(can_push<context<void>>);
  CHECK(can_push<context<int>>);
}

TEST_CASE("rule 1: a stage whose constructor throws is not started and the call says why") {
  fixture f;
  try {
    f.rt.start<throws_on_start>(1);
    FAIL("start should throw");
  } catch (const error& e) {
    CHECK(e.code() == errc::start_failed);
    CHECK(std::string(e.what()).find("no config") != std::string::npos);
  }
  CHECK(f.rt.stage_count() == 0);
}

TEST_CASE("rule 1: init stopping the stage makes start fail with its reason") {
  fixture f;
  try {
    f.rt.start<stops_in_init>();
    FAIL("start should throw");
  } catch (const error& e) {
    CHECK(e.code() == errc::start_failed);
    CHECK(std::string(e.what()).find("bad args") != std::string::npos);
  }
  CHECK(f.rt.stage_count() == 0);
}

TEST_CASE("rule 1: init runs before anything and may set the demand mode") {
  journal pj, cj;
  fixture f;
  auto p = f.rt.start<accumulates_in_init>(&pj);
  CHECK(pj.events == std::vector<std::string>{"init"});
  auto c = f.rt.start<sink>(&cj);
  subscribe(c, p, {.max_demand = 4});
  f.run();
  CHECK(pj.demands.empty());
  CHECK(demand(p) == producer_demand::accumulate);
}

TEST_CASE("rule 2: options a role does not have are refused and the runtime keeps running") {
  journal j;
  fixture f;
  auto refused = [&](auto start) {
    try {
      start();
    } catch (const error& e) {
      CHECK(std::string(e.what()).find("unknown options") != std::string::npos);
      return e.code() == errc::bad_options;
    }
    return false;
  };
  CHECK(refused([&] { f.rt.start<sink>(stage_options{.buffer_size = 5}, &j); }));
  CHECK(refused(
      [&] { f.rt.start<relay>(stage_options{.demand = producer_demand::accumulate}, &j); }));
  auto p = f.rt.start<counter>(&j);
  CHECK(refused([&] {
    f.rt.start<counter>(stage_options{.subscribe_to = {{p, subscribe_options{}}}}, &j);
  }));
  CHECK(f.rt.stage_count() == 1);
  CHECK(p.alive());
}

TEST_CASE("rule 4: buffer_size 0 is refused with a clear error") {
  journal j;
  fixture f;
  try {
    f.rt.start<counter>(stage_options{.buffer_size = 0}, &j);
    FAIL("start should throw");
  } catch (const error& e) {
    CHECK(e.code() == errc::bad_options);
    CHECK(std::string(e.what()).find("buffer_size") != std::string::npos);
  }
}

TEST_CASE("rule 6: a second stage with a running stage's name is refused") {
  journal j;
  fixture f;
  auto p = f.rt.start<counter>(stage_options{.name = "source"}, &j);
  CHECK(f.rt.whereis("source") == p);
  try {
    f.rt.start<counter>(stage_options{.name = "source"}, &j);
    FAIL("start should throw");
  } catch (const error& e) {
    CHECK(e.code() == errc::already_started);
  }
  stop(p);
  f.run();
  CHECK_FALSE(f.rt.whereis("source"));
  CHECK(f.rt.start<counter>(stage_options{.name = "source"}, &j).alive());
}

TEST_CASE("rule 7: handle_demand runs only with positive demand") {
  journal pj, cj;
  fixture f;
  auto p = f.rt.start<counter>(&pj);
  auto c = f.rt.start<sink>(&cj, demand_mode::manual);
  auto sub = subscribe(c, p);
  f.run();
  ask(sub, 0);
  f.run();
  CHECK(pj.demands.empty());
  ask(sub, 3);
  f.run();
  CHECK(pj.demands == std::vector<std::size_t>{3});
}

TEST_CASE("rule 8: handle_events gets non-empty batches and the subscription they came on") {
  journal pj, cj;
  fixture f;
  auto p = f.rt.start<counter>(&pj);
  auto c = f.rt.start<sink>(&cj);
  auto sub = subscribe(c, p, {.max_demand = 4});
  f.ex.run(20);
  REQUIRE(!cj.batches.empty());
  for (const auto& b : cj.batches) CHECK(!b.empty());
  REQUIRE(cj.subscriptions.size() == 1);
  CHECK(cj.subscriptions[0] == sub);
}

TEST_CASE("rule 12: a producer answering manual to a consumer stops with bad_return_value") {
  journal cj;
  fixture f;
  auto p = f.rt.start<manual_producer>();
  auto c = f.rt.start<sink>(&cj);
  subscribe(c, p, {.cancel = cancel_mode::temporary});
  f.run();
  REQUIRE_FALSE(p.alive());
  CHECK(p.exit_reason_if_exited()->get_kind() == exit_reason::kind::bad_return_value);
  CHECK(c.alive());  // temporary: the consumer stays
}

TEST_CASE("rule 13: a consumer may stop from handle_subscribe") {
  journal pj, cj;
  fixture f;
  auto p = f.rt.start<counter>(&pj);
  auto c = f.rt.start<refuses_subscription>(&cj);
  subscribe(c, p);
  f.run();
  CHECK_FALSE(c.alive());
  REQUIRE(cj.terminated.size() == 1);
  CHECK(cj.terminated[0].detail() == "refused");
  CHECK(p.alive());
  CHECK(pj.demands.empty());
}

TEST_CASE("rule 15: an info for a stage without handle_info is logged and dropped") {
  fixture f;
  auto p = f.rt.start<no_info>();
  send(p, std::string("hello"));
  f.run();
  CHECK(p.alive());
  CHECK(f.logged("has no handle_info"));
}

TEST_CASE("rule 16: terminate runs once with the stop reason") {
  journal j;
  fixture f;
  auto p = f.rt.start<counter>(&j);
  stop(p, exit_reason::shutdown("maintenance"));
  f.run();
  REQUIRE(j.terminated.size() == 1);
  CHECK(j.terminated[0] == exit_reason::shutdown("maintenance"));
  CHECK(*p.exit_reason_if_exited() == exit_reason::shutdown("maintenance"));
  CHECK_THROWS_AS(stop(p), error);
}

TEST_CASE("a type mismatch between stage_refs is refused with type_mismatch") {
  journal j;
  fixture f;
  stage_ref p = f.rt.start<counter>(&j);
  stage_ref c = f.rt.start<string_sink>();
  try {
    subscribe(c, p);
    FAIL("subscribe should throw");
  } catch (const error& e) {
    CHECK(e.code() == errc::type_mismatch);
  }
  CHECK(c.alive());
  CHECK(p.alive());
}

TEST_CASE("runtime stop runs every terminate exactly once and leaves no stage") {
  journal pj, rj, cj;
  fixture f;
  start_chain(f, pj, rj, cj, {.max_demand = 10}, {.max_demand = 10});
  f.ex.run(50);  // events in flight
  f.rt.stop();
  CHECK(f.rt.stage_count() == 0);
  CHECK(pj.terminated.size() == 1);
  CHECK(rj.terminated.size() == 1);
  CHECK(cj.terminated.size() == 1);
  CHECK_THROWS_AS(f.rt.start<counter>(&pj), error);
}

namespace {

/// Answers calls: "emit" pushes 7, 8, 9 and returns "done" (after them); "early" replies first,
/// then pushes; "quit" replies and stops; "throw" throws.
struct callee {
  std::any handle_call(std::any& request, call_reply& reply, context<int>& ctx) {
    const auto what = std::any_cast<std::string>(request);
    if (what == "early") {
      reply(std::string("early"));
      ctx.push(1);
      return {};
    }
    if (what == "quit") {
      ctx.stop(exit_reason::shutdown("asked to"));
      return std::string("bye");
    }
    if (what == "throw") throw std::runtime_error("bad request");
    ctx.push_range(std::vector<int>{7, 8, 9});
    return std::string("done");
  }
  void handle_demand(std::size_t, context<int>&) {}
};

bool ready(const std::future<std::any>& f) {
  return f.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
}

}  // namespace

TEST_CASE("rule 10: handle_call dispatches its events before the reply") {
  journal cj;
  fixture f;
  auto p = f.rt.start<callee>();
  auto c = f.rt.start<sink>(&cj);
  subscribe(c, p, {.max_demand = 10});
  f.run();
  auto reply = call(p, std::string("emit"));
  CHECK_FALSE(ready(reply));
  REQUIRE(f.ex.run_one());  // the producer handles the call: events out, then the reply
  REQUIRE(ready(reply));
  CHECK(f.ex.pending() == 1);  // the consumer already has the events waiting
  f.run();
  CHECK(std::any_cast<std::string>(reply.get()) == "done");
  CHECK(cj.flat() == std::vector<int>{7, 8, 9});
}

TEST_CASE("rule 10: a reply made inside handle_call goes out at once, the events after") {
  journal cj;
  fixture f;
  auto p = f.rt.start<callee>();
  auto c = f.rt.start<sink>(&cj);
  subscribe(c, p, {.max_demand = 10});
  f.run();
  auto reply = call(p, std::string("early"));
  f.run();
  CHECK(std::any_cast<std::string>(reply.get()) == "early");  // the returned empty any is ignored
  CHECK(cj.flat() == std::vector<int>{1});
}

TEST_CASE("rule 11: handle_call may reply and stop the stage") {
  fixture f;
  auto p = f.rt.start<callee>();
  auto reply = call(p, std::string("quit"));
  f.run();
  CHECK(std::any_cast<std::string>(reply.get()) == "bye");
  REQUIRE_FALSE(p.alive());
  CHECK(*p.exit_reason_if_exited() == exit_reason::shutdown("asked to"));
}

TEST_CASE("a call to a stage without handle_call fails with not_supported, the stage runs on") {
  journal j;
  fixture f;
  auto p = f.rt.start<counter>(&j);
  auto reply = call(p, 1);
  f.run();
  try {
    reply.get();
    FAIL("the call should fail");
  } catch (const error& e) {
    CHECK(e.code() == errc::not_supported);
  }
  CHECK(p.alive());
}

TEST_CASE("rule 95: an exception in handle_call reaches the caller and stops only that stage") {
  fixture f;
  auto p = f.rt.start<callee>();
  auto reply = call(p, std::string("throw"));
  f.run();
  CHECK_THROWS_WITH_AS(reply.get(), "bad request", std::runtime_error);
  CHECK_FALSE(p.alive());
  CHECK(p.exit_reason_if_exited()->detail() == "bad request");
  CHECK_THROWS_AS(call(p, 1), error);  // no_stage
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#  define DATAMESH_TEST_SANITIZED 1
#elif defined(__has_feature)
#  if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#    define DATAMESH_TEST_SANITIZED 1
#  endif
#endif

#ifndef DATAMESH_TEST_SANITIZED
TEST_CASE("F11: a pool whose threads cannot all be started is a typed error, not an abort") {
  // In a child process, with its address space limited so that only some threads' stacks fit
  // (a sanitizer's shadow memory would not: this test runs in the plain builds only).
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    rlimit limit{std::size_t{1} << 30, std::size_t{1} << 30};
    if (setrlimit(RLIMIT_AS, &limit) != 0) _exit(3);
    try {
      runtime rt(runtime_options{.threads = 100'000});
      _exit(2);  // started them all: the limit did not bite
    } catch (const error& e) {
      _exit(e.code() == errc::bad_options ? 0 : 1);
    } catch (...) {
      _exit(1);
    }
  }
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));  // not killed by std::terminate
  CHECK(WEXITSTATUS(status) == 0);
}
#endif
