// SPEC section J: a consumer as a range (GenStage's stream). Stepped on the fixture's
// deterministic executor: the iterator drives it instead of blocking.
#include <datamesh/flow/from_range.hpp>
#include <datamesh/flow/stream.hpp>

#include <algorithm>
#include <cstddef>
#include <numeric>
#include <optional>
#include <ranges>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/harness.hpp"

namespace {

using namespace dmtest;

static_assert(std::ranges::input_range<datamesh::stream<int>>);
static_assert(std::input_iterator<datamesh::stream<int>::iterator>);

std::size_t total(const std::vector<std::size_t>& v) {
  return std::accumulate(v.begin(), v.end(), std::size_t{0});
}

/// Runs `f` and returns the datamesh::error code it throws (or a default code if none).
template <class F>
std::error_code error_of(F&& f) {
  try {
    f();
  } catch (const error& e) {
    return e.code();
  }
  return {};
}

/// A producer that emits 0..limit-1 and then stops with `end`.
struct ends_with {
  int next = 0;
  int limit;
  exit_reason end;
  ends_with(int l, exit_reason e) : limit(l), end(std::move(e)) {}
  void handle_demand(std::size_t n, context<int>& ctx) {
    for (; n > 0 && next < limit; --n) ctx.push(next++);
    if (next == limit) ctx.stop(end);
  }
};

}  // namespace

TEST_CASE("rule 96: a stream subscribes at begin, asks max_demand, and takes 10 of 1000") {
  journal pj;
  fixture f;
  auto p = f.rt.start<counter>(&pj);
  std::vector<int> got;
  {
    auto s = datamesh::stream<int>(f.rt, {p});
    f.run();
    CHECK(pj.demands.empty());  // not subscribed before begin()
    CHECK(f.rt.stage_count() == 2);
    for (int x : s) {
      got.push_back(x);
      if (got.size() == 10) break;
    }
    CHECK(pj.demands == std::vector<std::size_t>{1000});
  }
  f.run();
  CHECK(got == iota(10));
  CHECK(p.alive());
  REQUIRE(pj.cancels.size() == 1);
  CHECK(pj.cancels[0].kind == cancel_kind::cancel);  // cancelled, not a consumer's crash
  CHECK(pj.cancels[0].reason.is_normal());
  CHECK(f.rt.stage_count() == 1);  // the hidden stage has exited
}

TEST_CASE("rule 97: taking 300 with max_demand 100 asks 100, then 50 per 50 consumed") {
  journal pj;
  fixture f;
  auto p = f.rt.start<counter>(&pj);
  std::vector<int> got;
  for (int x : datamesh::stream<int>(f.rt, {{p, {.max_demand = 100}}}) | std::views::take(300)) {
    got.push_back(x);
  }
  f.run();
  CHECK(got == iota(300));
  // 300 consumed: one ask after each 50. Asks and the cancel the loop's end sends all go
  // through the hidden consumer, so they reach the producer in the order they were made, as a
  // GenStage consumer's messages do: the last two asks (after the 250th and the 300th) are
  // served before the cancel, and the 100 events they make are dropped with the subscription.
  CHECK(pj.demands == std::vector<std::size_t>{100, 50, 50, 50, 50, 50, 50});
  CHECK(p.alive());
  CHECK(f.rt.stage_count() == 1);
  CHECK_FALSE(f.logged("error"));
}

TEST_CASE("rule 97: at most max_demand events per producer are asked and not yet consumed") {
  journal pj;
  fixture f;
  auto p = f.rt.start<counter>(&pj);
  auto s = datamesh::stream<int>(f.rt, {{p, {.max_demand = 7, .min_demand = 3}}});
  std::size_t consumed = 0;
  for (int x : s) {
    CHECK(x == static_cast<int>(consumed));
    CHECK(total(pj.demands) - consumed <= 7);
    if (++consumed == 40) break;
  }
  // 39 increments: an ask of 4 after every 4 consumed.
  CHECK(pj.demands.front() == 7);
  CHECK(std::all_of(pj.demands.begin() + 1, pj.demands.end(), [](auto n) { return n == 4; }));
}

TEST_CASE("rule 96: the stream switches an accumulating producer to forward") {
  journal pj;
  fixture f;
  auto p = f.rt.start<counter>(stage_options{.demand = producer_demand::accumulate}, &pj);
  auto s = datamesh::stream<int>(f.rt, {{p, {.max_demand = 4}}});
  auto it = s.begin();
  REQUIRE(it != s.end());
  CHECK(*it == 0);
  CHECK(demand(p) == producer_demand::forward);
}

TEST_CASE("rule 96: with demand left alone, a deterministic iterator reports would_deadlock") {
  journal pj;
  fixture f;
  auto p = f.rt.start<counter>(stage_options{.demand = producer_demand::accumulate}, &pj);
  auto s = datamesh::stream<int>(f.rt, {{p, {.max_demand = 4}}}, {.demand = std::nullopt});
  auto it = s.begin();
  CHECK(error_of([&] { (void)(it == s.end()); }) == errc::would_deadlock);
  CHECK(demand(p) == producer_demand::accumulate);
  // The stream is still usable: once the producer forwards, the events come.
  demand(p, producer_demand::forward);
  REQUIRE(it != s.end());
  CHECK(*it == 0);
  ++it;
  CHECK(*it == 1);
}

TEST_CASE("rule 96: a stream never waits on the deterministic executor: a silent producer") {
  journal pj;
  fixture f;
  auto p = f.rt.start<manual_source>(&pj);
  auto s = datamesh::stream<int>(f.rt, {{p, {.max_demand = 5}}});
  auto it = s.begin();
  CHECK(error_of([&] { (void)*it; }) == errc::would_deadlock);
  CHECK(pj.demands == std::vector<std::size_t>{5});
  send(p, std::vector<int>{8, 9});
  CHECK(*it == 8);
  ++it;
  CHECK(*it == 9);
}

TEST_CASE("rule 101: stop() ends the range, cancels with normal, and the producer stays alive") {
  journal pj, cj;
  fixture f;
  auto p = f.rt.start<counter>(&pj);
  auto s = datamesh::stream<int>(f.rt, {{p, {.max_demand = 10}}});
  std::vector<int> got;
  for (int x : s) {
    got.push_back(x);
    if (x == 4) s.stop();
  }
  CHECK(got == iota(5));
  s.stop();  // idempotent
  f.run();
  CHECK(p.alive());
  REQUIRE(pj.cancels.size() == 1);
  CHECK(pj.cancels[0].reason.is_normal());
  // The producer serves another consumer, from where the stream left off.
  auto c = f.rt.start<sink>(&cj, demand_mode::manual);
  auto sub = subscribe(c, p, {.max_demand = 3});
  f.run();  // a manual ask must follow the subscribe, not overtake it
  ask(sub, 3);
  f.run();
  CHECK(cj.flat() == std::vector<int>{10, 11, 12});
}

TEST_CASE("rule 101: a stream destroyed before begin subscribes nothing and leaves no stage") {
  journal pj;
  fixture f;
  auto p = f.rt.start<counter>(&pj);
  { auto s = datamesh::stream<int>(f.rt, {p}); }
  f.run();
  CHECK(pj.demands.empty());
  CHECK(pj.cancels.empty());
  CHECK(f.rt.stage_count() == 1);
}

TEST_CASE("rule 100: a transient stream (the default) halts cleanly when the producer ends") {
  fixture f;
  auto p = start_from_range(f.rt, iota(25));
  std::vector<int> got;
  for (int x : datamesh::stream<int>(f.rt, {{p, {.max_demand = 10}}})) got.push_back(x);
  CHECK(got == iota(25));
  f.run();
  CHECK_FALSE(p.alive());
  CHECK(f.rt.stage_count() == 0);
}

TEST_CASE("rule 100: a permanent stream throws after the last event when the producer ends") {
  fixture f;
  auto p = start_from_range(f.rt, iota(25));
  std::vector<int> got;
  auto s =
      datamesh::stream<int>(f.rt, {{p, {.max_demand = 10}}}, {.cancel = cancel_mode::permanent});
  try {
    for (int x : s) got.push_back(x);
    FAIL("expected the producer's normal end to throw");
  } catch (const error& e) {
    CHECK(e.code() == errc::no_stage);
    CHECK(std::string(e.what()).find("ended with reason normal") != std::string::npos);
    CHECK(std::string(e.what()).find("permanent") != std::string::npos);
  }
  CHECK(got == iota(25));  // every event that arrived before the end
  CHECK(s.begin() == s.end());
  f.run();
  CHECK(f.rt.stage_count() == 0);
}

TEST_CASE("rule 100: a temporary stream halts even when the producer fails") {
  fixture f;
  auto p = f.rt.start<ends_with>(6, exit_reason::error("broken"));
  std::vector<int> got;
  for (int x :
       datamesh::stream<int>(f.rt, {{p, {.max_demand = 4}}}, {.cancel = cancel_mode::temporary})) {
    got.push_back(x);
  }
  CHECK(got == iota(6));
}

TEST_CASE("rule 95: a producer's exception is rethrown to the iterating thread") {
  journal oj;
  fixture f;
  auto p = start_from_generator(f.rt, [n = 0]() mutable -> std::optional<int> {
    if (n == 5) throw std::runtime_error("sensor broke");
    return n++;
  });
  std::vector<int> got;
  try {
    for (int x : datamesh::stream<int>(f.rt, {{p, {.max_demand = 3}}})) got.push_back(x);
    FAIL("expected the producer's exception");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()) == "sensor broke");
  }
  // Asks of 3, then 2 (at min 1), then 2 again: the call that threw was the third.
  CHECK(got == iota(5));
  // The runtime keeps serving other stages, and other streams.
  auto q = start_from_range(f.rt, std::vector<int>{1, 2, 3});
  std::vector<int> more;
  for (int x : datamesh::stream<int>(f.rt, {q})) more.push_back(x);
  CHECK(more == std::vector<int>{1, 2, 3});
  f.run();
  CHECK(f.rt.stage_count() == 0);
}

TEST_CASE("rule 99: a producer failure without an exception throws a typed error naming it") {
  fixture f;
  auto p = f.rt.start<ends_with>(stage_options{.name = "flaky"}, 2, exit_reason::error("disk"));
  std::vector<int> got;
  try {
    for (int x : datamesh::stream<int>(f.rt, {"flaky"})) got.push_back(x);
    FAIL("expected an error");
  } catch (const error& e) {
    CHECK(e.code() == errc::no_stage);
    CHECK(std::string(e.what()).find("'flaky' ended with reason error: disk") != std::string::npos);
  }
  CHECK(got == iota(2));
}

TEST_CASE("rule 99: an unknown producer throws at begin under permanent and transient") {
  journal pj, cj;
  fixture f;
  for (auto mode : {cancel_mode::permanent, cancel_mode::transient}) {
    CAPTURE(to_string(mode));
    auto by_name = datamesh::stream<int>(f.rt, {"nobody"}, {.cancel = mode});
    CHECK(error_of([&] { by_name.begin(); }) == errc::no_stage);
    auto empty = datamesh::stream<int>(f.rt, {producer_ref<int>()}, {.cancel = mode});
    CHECK(error_of([&] { empty.begin(); }) == errc::no_stage);
  }
  f.run();
  CHECK(f.rt.stage_count() == 0);  // the hidden stages were stopped
  // The runtime keeps serving other stages.
  auto p = f.rt.start<counter>(&pj);
  auto c = f.rt.start<sink>(&cj, demand_mode::manual);
  auto sub = subscribe(c, p, {.max_demand = 2});
  f.run();
  ask(sub, 2);
  f.run();
  CHECK(cj.flat() == std::vector<int>{0, 1});
}

TEST_CASE("rule 99: an exited producer throws at begin, or is an empty range when temporary") {
  journal pj;
  fixture f;
  auto p = f.rt.start<counter>(&pj);
  stop(p);
  f.run();
  REQUIRE_FALSE(p.alive());
  auto transient = datamesh::stream<int>(f.rt, {p});
  try {
    transient.begin();
    FAIL("expected no_stage");
  } catch (const error& e) {
    CHECK(e.code() == errc::no_stage);
    CHECK(std::string(e.what()).find("not alive") != std::string::npos);
  }
  auto temporary = datamesh::stream<int>(f.rt, {p}, {.cancel = cancel_mode::temporary});
  CHECK(temporary.begin() == temporary.end());
}

TEST_CASE("rule 102: bad options throw when stream() is called, not while iterating") {
  journal pj, cj;
  fixture f;
  auto p = f.rt.start<counter>(&pj);
  auto c = f.rt.start<sink>(&cj);
  using S = datamesh::stream<int>;
  CHECK(error_of([&] { S(f.rt, {{p, {.max_demand = 0}}}); }) == errc::bad_options);
  CHECK(error_of([&] {
          S(f.rt, {{p, {.max_demand = 10, .min_demand = 10}}});
        }) == errc::bad_options);
  CHECK(error_of([&] { S(f.rt, {}); }) == errc::bad_options);
  CHECK(error_of([&] { S(f.rt, {{p, {.cancel = cancel_mode::temporary}}}); }) == errc::bad_options);
  CHECK(error_of([&] { S(f.rt, {{p, {.demand = demand_mode::manual}}}); }) == errc::bad_options);
  CHECK(error_of([&] { S(f.rt, {p}, {.producers = {stage_ref()}}); }) == errc::bad_options);
  CHECK(error_of([&] { S(f.rt, {stage_ref(c)}); }) == errc::not_a_producer);
  auto longs = f.rt.start_producer<long>([](std::size_t, context<long>&) {});
  CHECK(error_of([&] { S(f.rt, {stage_ref(longs)}); }) == errc::type_mismatch);
  try {
    S(f.rt, {stage_ref(longs)});
    FAIL("expected type_mismatch");
  } catch (const error& e) {  // both types named as written
    CHECK(std::string(e.what()).find("stream<int>") != std::string::npos);
    CHECK(std::string(e.what()).find("produces long") != std::string::npos);
  }
  try {
    S(f.rt, {{p, {.max_demand = 0}}});
  } catch (const error& e) {
    CHECK(std::string(e.what()).find("max_demand") != std::string::npos);
  }
  f.run();
  CHECK(pj.demands.empty());       // nothing subscribed
  CHECK(f.rt.stage_count() == 3);  // no hidden stage left behind
}

TEST_CASE("rule 96: several producers: per-producer options, and the range ends when all end") {
  fixture f;
  auto a = start_from_range(f.rt, iota(30));
  auto b = start_from_range(f.rt, iota(20, 100), {.stage = {.name = "b"}});
  std::vector<int> from_a, from_b;
  for (int x : datamesh::stream<int>(f.rt, {{a, {.max_demand = 5, .min_demand = 0}}, "b"})) {
    (x < 100 ? from_a : from_b).push_back(x);
  }
  CHECK(from_a == iota(30));       // in order within each producer
  CHECK(from_b == iota(20, 100));  // 100..119
  f.run();
  CHECK(f.rt.stage_count() == 0);
}

TEST_CASE("rule 100: with several producers, a permanent stream throws at the first end") {
  journal pj;
  fixture f;
  auto finite = start_from_range(f.rt, iota(3));
  auto endless = f.rt.start<counter>(&pj, 1000);
  std::vector<int> got;
  auto s = datamesh::stream<int>(f.rt, {{finite, {.max_demand = 5}}, {endless, {.max_demand = 5}}},
                                 {.cancel = cancel_mode::permanent});
  CHECK(error_of([&] {
          for (int x : s) got.push_back(x);
        }) == errc::no_stage);
  CHECK(std::count_if(got.begin(), got.end(), [](int x) { return x < 3; }) == 3);
  f.run();
  CHECK(endless.alive());  // a producer never exits because its consumer went (rule 93)
  REQUIRE(pj.cancels.size() == 1);
  CHECK(pj.cancels[0].reason.is_normal());
}
