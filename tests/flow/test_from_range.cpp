// SPEC section K: a producer from a range, an iterator pair or a generator (GenStage's
// from_enumerable). Stepped on the fixture's deterministic executor.
#include <datamesh/flow/from_range.hpp>

#include <cstddef>
#include <memory>
#include <optional>
#include <ranges>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/harness.hpp"

namespace {

using namespace dmtest;

/// A generator of 0, 1, 2, ... up to `limit` items (then nullopt), counting its calls.
struct counted_generator {
  int* calls;
  int limit = 1'000'000;
  std::optional<int> operator()() {
    const int n = (*calls)++;
    if (n >= limit) return std::nullopt;
    return n;
  }
};

/// A consumer that writes what happens to it, in order, into one trace.
struct tracer {
  std::vector<std::string>* trace;
  void handle_events(std::span<const int> in, const subscription&, context<void>&) {
    std::string s = "events:";
    for (int x : in) s += std::to_string(x) + ",";
    trace->push_back(s);
  }
  void handle_cancel(const cancellation& c, const subscription&, context<void>&) {
    trace->push_back(std::string("cancel:") + to_string(c.kind) + ":" + c.reason.to_string());
  }
};

/// A demand dispatcher that counts the events it dispatches: a dispatcher type of the user's.
struct counting_dispatcher {
  struct options {
    std::size_t* dispatched = nullptr;
  };
  demand_dispatcher<int> inner;
  std::size_t* dispatched = nullptr;
  counting_dispatcher() = default;
  explicit counting_dispatcher(options o) : dispatched(o.dispatched) {}
  std::size_t subscribe(subscription_id id, const subscribe_options& o) {
    return inner.subscribe(id, o);
  }
  std::size_t cancel(subscription_id id) { return inner.cancel(id); }
  std::size_t ask(subscription_id id, std::size_t n) { return inner.ask(id, n); }
  template <class Send>
  void dispatch(std::vector<int>& events, Send&& send) {
    const std::size_t before = events.size();
    inner.dispatch(events, std::forward<Send>(send));
    if (dispatched != nullptr) *dispatched += before - events.size();
  }
  template <class Info, class Deliver>
  void info(Info&& msg, Deliver&& deliver) {
    inner.info(std::forward<Info>(msg), std::forward<Deliver>(deliver));
  }
  void set_logger(log_function l) { inner.set_logger(std::move(l)); }
};

}  // namespace

TEST_CASE("rule 104: each handle_demand pulls exactly the demand from a generator") {
  journal cj;
  int calls = 0;
  fixture f;
  auto p = start_from_generator(f.rt, counted_generator{&calls});
  auto c = f.rt.start<sink>(&cj, demand_mode::manual);
  auto sub = subscribe(c, p, {.max_demand = 10});
  f.run();
  CHECK(calls == 0);  // nothing is pulled before a demand
  ask(sub, 3);
  f.run();
  CHECK(calls == 3);
  ask(sub, 5);
  f.run();
  CHECK(calls == 8);
  CHECK(cj.batches == std::vector<std::vector<int>>{{0, 1, 2}, {3, 4, 5, 6, 7}});
  CHECK(p.alive());
}

TEST_CASE("rule 104: each handle_demand reads exactly the demand from a range") {
  journal cj;
  int reads = 0;
  fixture f;
  // A view whose every read is counted: exactly the demanded items are read, none ahead.
  auto p = start_from_range(f.rt, std::views::iota(0, 100) | std::views::transform([&](int x) {
                                    ++reads;
                                    return x * 10;
                                  }));
  auto c = f.rt.start<sink>(&cj, demand_mode::manual);
  auto sub = subscribe(c, p, {.max_demand = 10});
  f.run();  // a manual ask must follow the subscribe, not overtake it
  ask(sub, 4);
  f.run();
  CHECK(reads == 4);
  ask(sub, 2);
  f.run();
  CHECK(reads == 6);
  CHECK(cj.flat() == std::vector<int>{0, 10, 20, 30, 40, 50});
}

TEST_CASE("rule 104: the producer stops with normal only after its last events are dispatched") {
  std::vector<std::string> trace;
  fixture f;
  auto p = start_from_range(f.rt, std::vector<int>{1, 2, 3, 4, 5});
  auto c = f.rt.start<tracer>(&trace);
  subscribe(c, p, {.max_demand = 3, .min_demand = 0, .cancel = cancel_mode::transient});
  f.run();
  CHECK(trace == std::vector<std::string>{"events:1,2,3,", "events:4,5,", "cancel:down:normal"});
  REQUIRE_FALSE(p.alive());
  CHECK(p.exit_reason_if_exited()->is_normal());
  CHECK(c.alive());  // transient: a normal end is not a failure
}

TEST_CASE("rule 104: a permanent consumer exits normal when the range runs out (rule 87)") {
  journal cj;
  fixture f;
  auto p = start_from_range(f.rt, std::vector<int>{7, 8, 9});
  auto c = f.rt.start<sink>(&cj);
  subscribe(c, p, {.max_demand = 10});
  f.run();
  CHECK(cj.flat() == std::vector<int>{7, 8, 9});
  REQUIRE_FALSE(c.alive());
  CHECK(c.exit_reason_if_exited()->is_normal());
}

TEST_CASE("rule 104: a range ends right after its last item, a generator at its next call") {
  journal rj, gj;
  int calls = 0;
  fixture f;
  auto r = start_from_range(f.rt, std::vector<int>{0, 1, 2});
  auto g = start_from_generator(f.rt, counted_generator{&calls, 3});
  auto rc = f.rt.start<sink>(&rj, demand_mode::manual);
  auto gc = f.rt.start<sink>(&gj, demand_mode::manual);
  auto rs = subscribe(rc, r, {.max_demand = 10, .cancel = cancel_mode::temporary});
  auto gs = subscribe(gc, g, {.max_demand = 10, .cancel = cancel_mode::temporary});
  f.run();
  ask(rs, 3);
  ask(gs, 3);
  f.run();
  CHECK(rj.flat() == std::vector<int>{0, 1, 2});
  CHECK(gj.flat() == std::vector<int>{0, 1, 2});
  CHECK_FALSE(r.alive());  // the iterator reached the end with the third item
  CHECK(g.alive());        // the generator was called exactly 3 times: its end is not known yet
  CHECK(calls == 3);
  ask(gs, 5);
  f.run();
  CHECK(calls == 4);  // one call, which returned nullopt
  CHECK_FALSE(g.alive());
  CHECK(g.exit_reason_if_exited()->is_normal());
  CHECK(gj.flat() == std::vector<int>{0, 1, 2});
}

TEST_CASE("rule 104: an iterator pair borrows the caller's data and leaves it unchanged") {
  journal cj;
  const std::vector<std::string> words{"a", "bb", "ccc"};
  std::vector<std::string> seen;
  fixture f;
  auto p = start_from_range(f.rt, words.begin(), words.end());
  auto c = f.rt.start_consumer<std::string>(
      [&](std::span<const std::string> in) { seen.insert(seen.end(), in.begin(), in.end()); });
  subscribe(c, p, {.max_demand = 2, .min_demand = 0, .cancel = cancel_mode::transient});
  f.run();
  CHECK(seen == words);
  CHECK(words == std::vector<std::string>{"a", "bb", "ccc"});
  CHECK_FALSE(p.alive());
}

TEST_CASE("rule 104: an owned container gives its items away, so move-only events work") {
  std::vector<int> seen;
  std::vector<std::unique_ptr<int>> items;
  for (int i = 1; i <= 4; ++i) items.push_back(std::make_unique<int>(i * i));
  fixture f;
  auto p = start_from_range(f.rt, std::move(items));
  auto c = f.rt.start_consumer<std::unique_ptr<int>>([&](std::span<const std::unique_ptr<int>> in) {
    for (const auto& x : in) seen.push_back(*x);
  });
  subscribe(c, p, {.max_demand = 3, .cancel = cancel_mode::transient});
  f.run();
  CHECK(seen == std::vector<int>{1, 4, 9, 16});
}

TEST_CASE("rule 103: a range producer takes a name, accumulate demand and dispatcher options") {
  journal cj;
  std::size_t dispatched = 0;
  fixture f;
  auto p = start_from_range<counting_dispatcher>(
      f.rt, iota(6),
      {.stage = {.name = "numbers",
                 .demand = producer_demand::accumulate,
                 .dispatcher_options = counting_dispatcher::options{&dispatched}}});
  CHECK(f.rt.whereis("numbers") == p);
  CHECK(demand(p) == producer_demand::accumulate);
  auto c = f.rt.start<sink>(&cj);
  subscribe(c, p, {.max_demand = 4, .cancel = cancel_mode::transient});
  f.run();
  CHECK(cj.batches.empty());  // accumulating: the demand is held (rule 48)
  demand(p, producer_demand::forward);
  f.run();
  CHECK(cj.flat() == iota(6));
  CHECK(dispatched == 6);  // the user's dispatcher type was used
  CHECK_FALSE(p.alive());
}

TEST_CASE("rule 103: a taken name or dispatcher options of another type fail at the call") {
  fixture f;
  auto p = start_from_range(f.rt, iota(3), {.stage = {.name = "taken"}});
  try {
    start_from_range(f.rt, iota(3), {.stage = {.name = "taken"}});
    FAIL("expected already_started");
  } catch (const error& e) {
    CHECK(e.code() == errc::already_started);
  }
  try {
    start_from_generator(f.rt, [] { return std::optional<int>(1); },
                         {.stage = {.dispatcher_options = std::string("not options")}});
    FAIL("expected bad_options");
  } catch (const error& e) {
    CHECK(e.code() == errc::bad_options);
  }
  try {
    start_from_range(f.rt, iota(3), {.stage = {.subscribe_to = {{p, {}}}}});
    FAIL("expected bad_options");
  } catch (const error& e) {
    CHECK(e.code() == errc::bad_options);  // a producer does not subscribe (rule 2)
  }
  CHECK(f.rt.stage_count() == 1);
  CHECK(p.alive());
}

TEST_CASE("rule 105: on_cancel continue keeps the producer running for a later consumer") {
  journal aj, bj;
  fixture f;
  auto p = start_from_range(f.rt, iota(10));
  auto a = f.rt.start<sink>(&aj, demand_mode::manual);
  auto b = f.rt.start<sink>(&bj, demand_mode::manual);
  auto sa = subscribe(a, p, {.max_demand = 5});
  f.run();
  ask(sa, 3);
  f.run();
  cancel(sa);
  f.run();
  CHECK(p.alive());
  auto sb = subscribe(b, p, {.max_demand = 5});
  f.run();
  ask(sb, 2);
  f.run();
  CHECK(aj.flat() == std::vector<int>{0, 1, 2});
  CHECK(bj.flat() == std::vector<int>{3, 4});  // the rest, where the first consumer left off
  CHECK(p.alive());
}

TEST_CASE("rule 105: on_cancel stop ends the producer with normal when the last consumer cancels") {
  journal aj, bj;
  fixture f;
  auto p = start_from_range(f.rt, iota(10), {.on_cancel = producer_on_cancel::stop});
  auto a = f.rt.start<sink>(&aj, demand_mode::manual);
  auto b = f.rt.start<sink>(&bj, demand_mode::manual);
  auto sa = subscribe(a, p, {.max_demand = 5, .cancel = cancel_mode::temporary});
  auto sb = subscribe(b, p, {.max_demand = 5, .cancel = cancel_mode::temporary});
  f.run();
  ask(sa, 2);
  f.run();
  cancel(sa);
  f.run();
  CHECK(p.alive());  // one consumer is left
  cancel(sb);
  f.run();
  REQUIRE_FALSE(p.alive());
  CHECK(p.exit_reason_if_exited()->is_normal());
  CHECK(aj.flat() == std::vector<int>{0, 1});
  CHECK(std::string(to_string(producer_on_cancel::stop)) == "stop");
  CHECK(std::string(to_string(producer_on_cancel::continue_running)) == "continue");
}

TEST_CASE("rule 95: an exception from the source stops the producer with it, others keep going") {
  journal cj, oj;
  fixture f;
  auto bad = start_from_generator(f.rt, [n = 0]() mutable -> std::optional<int> {
    if (n == 3) throw std::runtime_error("source broke");
    return n++;
  });
  auto c = f.rt.start<sink>(&cj);
  subscribe(c, bad, {.max_demand = 2, .min_demand = 0});
  f.run();
  REQUIRE_FALSE(bad.alive());
  const auto reason = *bad.exit_reason_if_exited();
  CHECK(reason.get_kind() == exit_reason::kind::exception);
  CHECK(reason.detail() == "source broke");
  CHECK(cj.flat() == std::vector<int>{0, 1});  // the batch being pulled when it threw is lost
  CHECK(c.exit_reason_if_exited() == reason);  // permanent: the raw reason (rule 90)
  // The runtime keeps serving other stages.
  auto good = start_from_range(f.rt, std::vector<int>{4, 5});
  auto o = f.rt.start<sink>(&oj);
  subscribe(o, good, {.max_demand = 5, .cancel = cancel_mode::transient});
  f.run();
  CHECK(oj.flat() == std::vector<int>{4, 5});
}

TEST_CASE("rule 95: an exception from a range's view stops the producer with it") {
  journal cj;
  fixture f;
  auto p = start_from_range(f.rt, std::views::iota(0, 10) | std::views::transform([](int x) {
                                    if (x == 2) throw std::invalid_argument("two");
                                    return x;
                                  }));
  auto c = f.rt.start<sink>(&cj);
  subscribe(c, p, {.max_demand = 5, .cancel = cancel_mode::temporary});
  f.run();
  REQUIRE_FALSE(p.alive());
  CHECK(p.exit_reason_if_exited()->detail() == "two");
  CHECK(c.alive());  // temporary
}
