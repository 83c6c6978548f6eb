// SPEC section I (cancellation and termination), with rule 47: how a cancel travels, what each
// cancel mode does with each reason, the order of handle_cancel and terminate, and what a crash
// in a callback takes down. Stepped on the fixture's deterministic executor.
#include <chrono>
#include <cstddef>
#include <exception>
#include <future>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/harness.hpp"

namespace {

using namespace dmtest;
using datamesh::cancel_kind;
using datamesh::cancel_mode;
using datamesh::exit_reason;

/// How a subscription ends in a sweep: the consumer cancels it, or its producer exits.
enum class ending { cancel, producer_exit };

const char* name_of(ending e) { return e == ending::cancel ? "cancel" : "producer_exit"; }

/// The handle_cancel kind each ending gives the consumer.
cancel_kind kind_of(ending e) {
  return e == ending::cancel ? cancel_kind::cancel : cancel_kind::down;
}

std::vector<exit_reason> clean_reasons() {
  return {exit_reason::normal(), exit_reason::shutdown(), exit_reason::shutdown("x")};
}

std::vector<exit_reason> unclean_reasons() {
  return {exit_reason::error("boom"), exit_reason::killed(), exit_reason::noproc()};
}

std::vector<exit_reason> all_reasons() {
  auto all = clean_reasons();
  for (auto& r : unclean_reasons()) all.push_back(r);
  return all;
}

/// What the consumer of one ended subscription did.
struct outcome {
  bool consumer_alive = true;
  std::optional<exit_reason> consumer_exit;
  std::vector<cancellation> cancels;
  std::vector<exit_reason> terminated;
  bool producer_alive = true;
};

/// Subscribes a recording sink to a manual_source with `mode`, ends the subscription the way
/// `how` says with `reason`, runs, and reports the consumer's side.
outcome end_subscription(cancel_mode mode, ending how, const exit_reason& reason) {
  journal pj, cj;
  fixture f;
  auto p = f.rt.start<manual_source>(&pj);
  auto c = f.rt.start<sink>(&cj);
  auto sub = datamesh::subscribe(c, p, {.max_demand = 10, .cancel = mode});
  f.run();
  REQUIRE(cj.subscriptions.size() == 1);
  REQUIRE(pj.demands == std::vector<std::size_t>{10});

  if (how == ending::cancel) {
    datamesh::cancel(sub, reason);
  } else {
    datamesh::stop(p, reason);
  }
  f.run();
  return {c.alive(), c.exit_reason_if_exited(), cj.cancels, cj.terminated, p.alive()};
}

/// A consumer writing every callback into one ordered trace.
struct tracer {
  std::vector<std::string>* trace;
  explicit tracer(std::vector<std::string>* t) : trace(t) {}
  void handle_events(std::span<const int> in) {
    std::string s = "events:";
    for (int x : in) s += std::to_string(x) + ",";
    trace->push_back(s);
  }
  void handle_subscribe(datamesh::peer_role peer, const datamesh::subscription&,
                        const datamesh::subscribe_options&, datamesh::context<void>&) {
    trace->push_back(std::string("subscribe:") + datamesh::to_string(peer));
  }
  void handle_cancel(const cancellation& c, const datamesh::subscription&,
                     datamesh::context<void>&) {
    trace->push_back(std::string("cancel:") + datamesh::to_string(c.kind) + ":" +
                     c.reason.to_string());
  }
  void terminate(const exit_reason& r) { trace->push_back("terminate:" + r.to_string()); }
};

/// A producer_consumer passing ints through and writing every callback into one ordered trace.
struct trace_relay {
  std::vector<std::string>* trace;
  explicit trace_relay(std::vector<std::string>* t) : trace(t) {}
  void handle_events(std::span<const int> in, const datamesh::subscription&,
                     datamesh::context<int>& ctx) {
    std::string s = "events:";
    for (int x : in) {
      s += std::to_string(x) + ",";
      ctx.push(x);
    }
    trace->push_back(s);
  }
  void handle_cancel(const cancellation& c, const datamesh::subscription&,
                     datamesh::context<int>&) {
    trace->push_back(std::string("cancel:") + datamesh::to_string(c.kind) + ":" +
                     c.reason.to_string());
  }
  void terminate(const exit_reason& r) { trace->push_back("terminate:" + r.to_string()); }
};

/// A consumer whose handle_events throws.
struct throwing_sink {
  journal* j;
  explicit throwing_sink(journal* jr) : j(jr) {}
  void handle_events(std::span<const int> in) {
    j->batches.emplace_back(in.begin(), in.end());
    throw std::runtime_error("bad event");
  }
  void terminate(const exit_reason& r) { j->terminated.push_back(r); }
};

/// A producer whose handle_demand throws.
struct throwing_source {
  journal* j;
  explicit throwing_source(journal* jr) : j(jr) {}
  void handle_demand(std::size_t n, datamesh::context<int>&) {
    j->demands.push_back(n);
    throw std::runtime_error("no data");
  }
  void terminate(const exit_reason& r) { j->terminated.push_back(r); }
};

/// The what() of the exception a reason holds, or "<none>".
std::string what_of(const exit_reason& r) {
  if (!r.exception()) return "<none>";
  try {
    std::rethrow_exception(r.exception());
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
  }
  return "<not a std::exception>";
}

}  // namespace

TEST_CASE("rule 86: cancel is async, the producer confirms, then handle_cancel gets the reason") {
  journal pj, cj;
  fixture f;
  auto p = f.rt.start<counter>(&pj);
  auto c = f.rt.start<sink>(&cj, datamesh::demand_mode::manual);
  auto sub = datamesh::subscribe(c, p, {.max_demand = 10, .cancel = cancel_mode::temporary});
  f.run();
  REQUIRE(cj.subscriptions.size() == 1);

  datamesh::cancel(sub, exit_reason::shutdown("bye"));
  // Nothing has happened yet: the cancel is a message, passed on by the consumer (so it follows
  // the consumer's subscribe) to the producer.
  CHECK(pj.cancels.empty());
  CHECK(cj.cancels.empty());
  CHECK(f.ex.pending() == 1);
  REQUIRE(f.ex.run_one());
  CHECK(pj.cancels.empty());
  CHECK(cj.cancels.empty());

  // The producer handles it first and confirms to the consumer.
  REQUIRE(f.ex.run_one());
  REQUIRE(pj.cancels.size() == 1);
  CHECK(pj.cancels[0].kind == cancel_kind::cancel);
  CHECK(pj.cancels[0].reason == exit_reason::shutdown("bye"));
  CHECK(cj.cancels.empty());

  f.run();
  REQUIRE(cj.cancels.size() == 1);
  CHECK(cj.cancels[0].kind == cancel_kind::cancel);
  CHECK(cj.cancels[0].reason == exit_reason::shutdown("bye"));
  CHECK(cj.events == std::vector<std::string>{"subscribe", "cancel:cancel:shutdown: bye"});
  CHECK(pj.cancels.size() == 1);
  CHECK(p.alive());
  CHECK(c.alive());
}

TEST_CASE("rule 86: a cancel made right after subscribe is not overtaken by it") {
  // Found by schedule exploration: the cancel used to go straight to the producer, arrive before
  // the subscribe the consumer passes on, be ignored as unknown, and leave the subscription up.
  journal pj, cj;
  fixture f;
  auto p = f.rt.start<counter>(&pj);
  auto c = f.rt.start<sink>(&cj);
  auto sub = datamesh::subscribe(c, p, {.max_demand = 3, .cancel = cancel_mode::temporary});
  datamesh::cancel(sub, exit_reason::shutdown("changed my mind"));
  f.run();
  REQUIRE(cj.cancels.size() == 1);
  CHECK(cj.cancels[0].reason == exit_reason::shutdown("changed my mind"));
  REQUIRE(pj.cancels.size() == 1);
  // At most the first ask was served; nothing flows once the cancel is through.
  const auto before = cj.flat().size();
  CHECK(before <= 3);
  f.run();
  CHECK(cj.flat().size() == before);
  CHECK(c.alive());
  CHECK(p.alive());
}

TEST_CASE("rule 86: a cancel that reaches a consumer which has exited is dropped") {
  // Found by the fuzzer (tests/fuzz/corpus/regress_cancel_reaches_exited_consumer): a cancel
  // queued behind the consumer's stop dereferenced the null promise of an async cancel.
  journal pj, cj, oj;
  fixture f;
  auto p = f.rt.start<counter>(&pj);
  auto c = f.rt.start<sink>(&cj);
  auto other = f.rt.start<sink>(&oj);  // bystander: it must keep running
  auto sub = datamesh::subscribe(c, p, {.max_demand = 3});
  datamesh::subscribe(other, p, {.max_demand = 3});
  f.ex.run(100);  // bounded: the counter never runs dry
  datamesh::stop(c, exit_reason::shutdown());
  datamesh::cancel(sub);  // queued behind the stop
  auto synced = datamesh::sync_cancel(sub);
  f.ex.run(1'000);
  CHECK_FALSE(c.alive());
  REQUIRE(synced.wait_for(std::chrono::seconds(0)) == std::future_status::ready);
  CHECK_NOTHROW(synced.get());
  CHECK(cj.terminated.size() == 1);
  CHECK(cj.cancels.empty());  // the stop came first; no handle_cancel after terminate
  CHECK(p.alive());
  CHECK(other.alive());
  const auto before = oj.flat().size();
  f.ex.run(1'000);
  CHECK(oj.flat().size() > before);  // the producer still serves the other consumer
}

namespace {

/// Checks the consumer's side of `o`: handle_cancel saw `r` once, by the kind `how` gives, and
/// the consumer exited with exactly `r` (running terminate) if and only if `exits`.
void check_consumer_side(const outcome& o, ending how, const exit_reason& r, bool exits) {
  CAPTURE(name_of(how));
  CAPTURE(r.to_string());
  REQUIRE(o.cancels.size() == 1);
  CHECK(o.cancels[0].kind == kind_of(how));
  CHECK(o.cancels[0].reason == r);
  CHECK(o.consumer_alive == !exits);
  if (exits) {
    REQUIRE(o.consumer_exit.has_value());
    CHECK(*o.consumer_exit == r);
    CHECK(o.terminated == std::vector<exit_reason>{r});
  } else {
    CHECK_FALSE(o.consumer_exit.has_value());
    CHECK(o.terminated.empty());
  }
}

constexpr ending both_endings[] = {ending::cancel, ending::producer_exit};

}  // namespace

TEST_CASE(
    "rule 87 and 14: a permanent consumer exits on any cancel or producer exit, normal included") {
  for (ending how : both_endings) {
    for (const auto& r : all_reasons()) {
      const outcome o = end_subscription(cancel_mode::permanent, how, r);
      check_consumer_side(o, how, r, true);
      CHECK(o.producer_alive == (how == ending::cancel));
    }
  }
}

TEST_CASE("rule 88: a transient consumer stays on a clean cancel or producer exit") {
  for (ending how : both_endings) {
    for (const auto& r : clean_reasons()) {
      check_consumer_side(end_subscription(cancel_mode::transient, how, r), how, r, false);
    }
  }
}

TEST_CASE("rule 88: a transient consumer exits with any reason that is not clean") {
  for (ending how : both_endings) {
    for (const auto& r : unclean_reasons()) {
      check_consumer_side(end_subscription(cancel_mode::transient, how, r), how, r, true);
    }
  }
}

TEST_CASE("rule 89: a temporary consumer never exits because of its producer") {
  for (ending how : both_endings) {
    for (const auto& r : all_reasons()) {
      check_consumer_side(end_subscription(cancel_mode::temporary, how, r), how, r, false);
    }
  }
}

TEST_CASE("rule 90: the consumer exits with the raw cancel reason, not a wrapped one") {
  const exit_reason reason = exit_reason::error("the producer gave up");
  for (ending how : both_endings) {
    CAPTURE(name_of(how));
    const outcome o = end_subscription(cancel_mode::permanent, how, reason);
    REQUIRE(o.consumer_exit.has_value());
    CHECK(o.consumer_exit->get_kind() == exit_reason::kind::error);
    CHECK(o.consumer_exit->detail() == "the producer gave up");
    CHECK(o.consumer_exit->to_string() == "error: the producer gave up");
    CHECK(*o.consumer_exit == reason);
  }
}

TEST_CASE("rule 91: handle_cancel runs before the consumer exits") {
  for (ending how : both_endings) {
    CAPTURE(name_of(how));
    journal pj;
    fixture f;
    std::vector<std::string> trace;
    auto p = f.rt.start<manual_source>(&pj);
    auto c = f.rt.start<tracer>(&trace);
    auto sub = datamesh::subscribe(c, p, {.max_demand = 10});
    f.run();
    datamesh::send(p, std::vector<int>{1, 2});
    f.run();

    if (how == ending::cancel) {
      datamesh::cancel(sub, exit_reason::error("boom"));
    } else {
      datamesh::stop(p, exit_reason::error("boom"));
    }
    f.run();

    const std::string kind = how == ending::cancel ? "cancel" : "down";
    CHECK(trace == std::vector<std::string>{"subscribe:producer", "events:1,2,",
                                            "cancel:" + kind + ":error: boom",
                                            "terminate:error: boom"});
    CHECK_FALSE(c.alive());
    CHECK(
        f.logged("is stopping after receiving cancel from its producer with reason: error: boom"));
  }
}

TEST_CASE("rule 92: the already_subscribed reason never makes a consumer exit") {
  for (cancel_mode mode :
       {cancel_mode::permanent, cancel_mode::transient, cancel_mode::temporary}) {
    CAPTURE(datamesh::to_string(mode));
    const outcome o = end_subscription(mode, ending::cancel, exit_reason::already_subscribed());
    CHECK(o.consumer_alive);
    CHECK_FALSE(o.consumer_exit.has_value());
    REQUIRE(o.cancels.size() == 1);
    CHECK(o.cancels[0].kind == cancel_kind::cancel);
    CHECK(o.cancels[0].reason == exit_reason::already_subscribed());
    CHECK(o.terminated.empty());
    CHECK(o.producer_alive);
  }
}

TEST_CASE("rule 93: a producer keeps running when its consumer cancels") {
  journal pj, cj;
  fixture f;
  auto p = f.rt.start<counter>(&pj);
  auto c = f.rt.start<sink>(&cj, datamesh::demand_mode::manual);
  auto sub = datamesh::subscribe(c, p, {.max_demand = 10});
  f.run();

  datamesh::cancel(sub, exit_reason::error("boom"));
  f.run();
  CHECK(p.alive());
  CHECK(pj.terminated.empty());
  REQUIRE(pj.cancels.size() == 1);
  CHECK(pj.cancels[0].kind == cancel_kind::cancel);
  CHECK(pj.cancels[0].reason == exit_reason::error("boom"));
  // The permanent consumer itself exits on the confirmed cancel (rule 87).
  CHECK_FALSE(c.alive());
}

TEST_CASE("rule 93: a producer keeps running when its consumer dies and sees it as down") {
  for (const auto& r : all_reasons()) {
    CAPTURE(r.to_string());
    journal pj, cj, cj2;
    fixture f;
    auto p = f.rt.start<counter>(&pj);
    auto c = f.rt.start<sink>(&cj, datamesh::demand_mode::manual);
    datamesh::subscribe(c, p, {.max_demand = 10});
    f.run();

    datamesh::stop(c, r);
    f.run();
    CHECK_FALSE(c.alive());
    CHECK(p.alive());
    CHECK(pj.terminated.empty());
    REQUIRE(pj.cancels.size() == 1);
    CHECK(pj.cancels[0].kind == cancel_kind::down);
    CHECK(pj.cancels[0].reason == r);

    // It still serves a new consumer.
    auto c2 = f.rt.start<sink>(&cj2, datamesh::demand_mode::manual);
    auto sub2 = datamesh::subscribe(c2, p, {.max_demand = 10});
    f.run();
    datamesh::ask(sub2, 3);
    f.run();
    CHECK(pj.demands == std::vector<std::size_t>{3});
    CHECK(cj2.batches == std::vector<std::vector<int>>{{0, 1, 2}});
  }
}

TEST_CASE("rule 95: an exception in a consumer's handle_events stops only that consumer") {
  journal pj, cj, cj2;
  fixture f;
  auto p = f.rt.start<counter>(&pj);
  auto c = f.rt.start<throwing_sink>(&cj);
  datamesh::subscribe(c, p, {.max_demand = 10});
  f.run();

  // The first batch (max - min = 5 events) threw.
  CHECK(cj.batches == std::vector<std::vector<int>>{{0, 1, 2, 3, 4}});
  CHECK_FALSE(c.alive());
  REQUIRE(c.exit_reason_if_exited().has_value());
  const exit_reason reason = *c.exit_reason_if_exited();
  CHECK(reason.get_kind() == exit_reason::kind::exception);
  CHECK(reason.detail() == "bad event");
  CHECK(what_of(reason) == "bad event");
  CHECK(cj.terminated == std::vector<exit_reason>{reason});
  CHECK(f.logged("stage exited: exception: bad event"));

  // The producer saw its consumer go down with that reason, and keeps running.
  CHECK(p.alive());
  CHECK(pj.terminated.empty());
  REQUIRE(pj.cancels.size() == 1);
  CHECK(pj.cancels[0].kind == cancel_kind::down);
  CHECK(pj.cancels[0].reason == reason);
  CHECK(pj.demands == std::vector<std::size_t>{10});

  // It serves another consumer.
  auto c2 = f.rt.start<sink>(&cj2, datamesh::demand_mode::manual);
  auto sub2 = datamesh::subscribe(c2, p, {.max_demand = 10});
  f.run();
  datamesh::ask(sub2, 3);
  f.run();
  CHECK(pj.demands == std::vector<std::size_t>{10, 3});
  CHECK(cj2.batches == std::vector<std::vector<int>>{{10, 11, 12}});
  CHECK(c2.alive());
}

TEST_CASE("rule 95: a producer's exception exits its permanent consumer but not a temporary one") {
  journal pj, perm_j, temp_j;
  fixture f;
  auto p = f.rt.start<throwing_source>(&pj);
  auto perm = f.rt.start<sink>(&perm_j);
  auto temp = f.rt.start<sink>(&temp_j);
  datamesh::subscribe(perm, p, {.max_demand = 10, .cancel = cancel_mode::permanent});
  datamesh::subscribe(temp, p, {.max_demand = 10, .cancel = cancel_mode::temporary});
  f.run();

  CHECK(pj.demands == std::vector<std::size_t>{10});
  CHECK_FALSE(p.alive());
  REQUIRE(p.exit_reason_if_exited().has_value());
  const exit_reason reason = *p.exit_reason_if_exited();
  CHECK(reason.get_kind() == exit_reason::kind::exception);
  CHECK(reason.detail() == "no data");
  CHECK(what_of(reason) == "no data");
  CHECK(pj.terminated == std::vector<exit_reason>{reason});

  CHECK_FALSE(perm.alive());
  REQUIRE(perm.exit_reason_if_exited().has_value());
  CHECK(*perm.exit_reason_if_exited() == reason);  // the same exception, raw (rule 90)
  REQUIRE(perm_j.cancels.size() == 1);
  CHECK(perm_j.cancels[0].kind == cancel_kind::down);
  CHECK(perm_j.cancels[0].reason == reason);

  CHECK(temp.alive());
  REQUIRE(temp_j.cancels.size() == 1);
  CHECK(temp_j.cancels[0].kind == cancel_kind::down);
  CHECK(temp_j.cancels[0].reason == reason);
  CHECK(temp_j.terminated.empty());
}

TEST_CASE("rule 94 and 47: a producer_consumer handles queued events before an upstream cancel") {
  // Also rule 47. source -> relay -> manual sink that has asked nothing, so the relay's
  // downstream demand is 0 and upstream messages queue in it.
  for (ending how : both_endings) {
    CAPTURE(name_of(how));
    journal sj, cj;
    fixture f;
    std::vector<std::string> trace;
    auto src = f.rt.start<manual_source>(&sj);
    auto relay = f.rt.start<trace_relay>(&trace);
    auto c = f.rt.start<sink>(&cj, datamesh::demand_mode::manual);
    auto up = datamesh::subscribe(relay, src, {.max_demand = 10});
    auto down = datamesh::subscribe(c, relay, {.max_demand = 10});
    f.run();
    REQUIRE(sj.demands == std::vector<std::size_t>{10});

    datamesh::send(src, std::vector<int>{1, 2, 3});
    f.run();
    CHECK(trace.empty());  // queued: no downstream demand yet

    if (how == ending::cancel) {
      datamesh::cancel(up, exit_reason::shutdown("x"));
    } else {
      datamesh::stop(src, exit_reason::shutdown("x"));
    }
    f.run();
    CHECK(trace.empty());  // the cancel waits behind the queued events
    CHECK(relay.alive());
    CHECK(cj.batches.empty());

    datamesh::ask(down, 5);
    f.run();
    const std::string kind = how == ending::cancel ? "cancel" : "down";
    CHECK(trace == std::vector<std::string>{"events:1,2,3,", "cancel:" + kind + ":shutdown: x",
                                            "terminate:shutdown: x"});
    CHECK(cj.batches == std::vector<std::vector<int>>{{1, 2, 3}});
    // The relay's subscription upstream was permanent: it exits with the raw reason after
    // handling the cancel, and its own permanent consumer follows.
    CHECK_FALSE(relay.alive());
    REQUIRE(relay.exit_reason_if_exited().has_value());
    CHECK(*relay.exit_reason_if_exited() == exit_reason::shutdown("x"));
    REQUIRE(cj.cancels.size() == 1);
    CHECK(cj.cancels[0].kind == cancel_kind::down);
    CHECK(cj.cancels[0].reason == exit_reason::shutdown("x"));
  }
}

namespace {

bool ready(const std::future<void>& f) {
  return f.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
}

}  // namespace

TEST_CASE("rule 86: sync_cancel is ready once the consumer has run handle_cancel") {
  journal pj, cj;
  fixture f;
  auto p = f.rt.start<counter>(&pj);
  auto c = f.rt.start<sink>(&cj, datamesh::demand_mode::manual);
  auto sub = datamesh::subscribe(c, p, {.cancel = cancel_mode::temporary});
  f.run();
  auto done = datamesh::sync_cancel(sub, exit_reason::shutdown("bye"));
  CHECK_FALSE(ready(done));
  f.ex.run_one();  // the consumer forwards the cancel
  f.ex.run_one();  // the producer confirms
  CHECK_FALSE(ready(done));
  CHECK(cj.cancels.empty());
  f.run();  // the consumer runs handle_cancel
  REQUIRE(ready(done));
  REQUIRE(cj.cancels.size() == 1);
  CHECK(cj.cancels[0].reason == exit_reason::shutdown("bye"));
  CHECK(c.alive());
}

TEST_CASE("rule 86: sync_cancel of a subscription already gone is ready at once") {
  journal pj, cj;
  fixture f;
  auto p = f.rt.start<counter>(&pj);
  auto c = f.rt.start<sink>(&cj, datamesh::demand_mode::manual);
  auto sub = datamesh::subscribe(c, p, {.cancel = cancel_mode::temporary});
  f.run();
  datamesh::cancel(sub);
  f.run();
  auto again = datamesh::sync_cancel(sub);
  f.run();
  CHECK(ready(again));
  datamesh::stop(c);
  f.run();
  CHECK(ready(datamesh::sync_cancel(sub)));  // the consumer is gone: nothing to wait for
}

TEST_CASE("rule 94: sync_cancel on a producer_consumer waits behind its queued events") {
  journal pj, rj, cj;
  fixture f;
  auto ch = start_chain(f, pj, rj, cj, {}, {.max_demand = 4, .cancel = cancel_mode::temporary},
                        datamesh::demand_mode::manual);
  f.run();  // 4 events wait in the relay: no downstream demand
  auto done = datamesh::sync_cancel(ch.up);
  f.run();
  CHECK_FALSE(ready(done));  // its handle_cancel is queued behind those events
  CHECK(rj.cancels.empty());
  datamesh::ask(ch.down, 10);
  f.run();
  CHECK(ready(done));
  CHECK(rj.cancels.size() == 1);
  CHECK(cj.flat() == std::vector<int>{0, 1, 2, 3});
}
