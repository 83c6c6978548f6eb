// broadcast_dispatcher<T> (SPEC section G, rules 71-77, and rule 35): pure policy with plain
// values, then the same rules on running stages stepped by the deterministic executor.
#include <datamesh/dispatch/broadcast.hpp>

#include <doctest/doctest.h>

#include <cstddef>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "support/dispatch_driver.hpp"
#include "support/harness.hpp"

namespace {

using datamesh::subscription_id;
using dispatcher = datamesh::broadcast_dispatcher<int>;
using dmtest::events;
using dmtest::range;
using dmtest::sent;

constexpr subscription_id a = 1;
constexpr subscription_id b = 2;
constexpr subscription_id c = 3;

std::vector<sent> dispatch(dispatcher& d, events& evs) {
  std::vector<sent> out;
  d.dispatch(evs, [&](subscription_id id, events&& batch) {
    out.push_back({id, std::move(batch)});
  });
  return out;
}

// The asks the dispatcher makes on subscribers' behalf.
std::vector<std::pair<subscription_id, std::size_t>> reasks(dispatcher& d) {
  std::vector<std::pair<subscription_id, std::size_t>> out;
  d.drain([&](subscription_id id, std::size_t n) { out.emplace_back(id, n); }, [](std::any&&) {},
          [](std::size_t) {});
  return out;
}

const int consumer_a = 0, consumer_b = 0, consumer_c = 0;  // identities: their addresses

}  // namespace

TEST_CASE("rule 71: every subscriber gets every event, upstream demand is the minimum") {
  dispatcher d;
  CHECK(d.subscribe(a, {}, &consumer_a) == 0);
  CHECK(d.subscribe(b, {}, &consumer_b) == 0);
  CHECK(d.ask(a, 10) == 0);  // b has asked nothing: the slowest sets the pace
  CHECK(d.ask(b, 4) == 4);
  events evs = range(1, 6);
  const auto out = dispatch(d, evs);
  CHECK(out == std::vector<sent>{{a, range(1, 4)}, {b, range(1, 4)}});
  CHECK(evs == events{5, 6});  // beyond the shared demand: leftovers
  CHECK(d.demand_of(a) == 6);
  CHECK(d.demand_of(b) == 0);
}

TEST_CASE("rule 72: a shared demand goes upstream once, not once per subscriber") {
  dispatcher d;
  d.subscribe(a, {}, &consumer_a);
  d.subscribe(b, {}, &consumer_b);
  d.subscribe(c, {}, &consumer_c);
  CHECK(d.ask(a, 10) == 0);
  CHECK(d.ask(b, 10) == 0);
  CHECK(d.ask(c, 10) == 10);
  CHECK(d.waiting() == 10);
  CHECK(d.ask(a, 5) == 0);  // a is ahead; nothing more is shared yet
}

TEST_CASE("rule 73: a subscriber that never asks stalls everyone, cancelling it releases demand") {
  dispatcher d;
  d.subscribe(a, {}, &consumer_a);
  d.subscribe(b, {}, &consumer_b);
  CHECK(d.ask(a, 10) == 0);
  events evs = range(1, 3);
  CHECK(dispatch(d, evs).empty());  // no shared demand: all leftovers
  CHECK(evs == range(1, 3));
  CHECK(d.cancel(b) == 10);  // a's demand is now everyone's
  CHECK(d.waiting() == 10);
  CHECK(d.cancel(a) == 0);
  CHECK(d.waiting() == 0);
}

TEST_CASE("rule 74: a late subscriber starts at zero and sees only later events") {
  dispatcher d;
  d.subscribe(a, {}, &consumer_a);
  CHECK(d.ask(a, 10) == 10);
  d.subscribe(b, {}, &consumer_b);  // joins while 10 are awaited
  CHECK(d.demand_of(b) == 0);
  CHECK(d.demand_of(a) == 10);
  CHECK(d.ask(b, 10) == 0);  // the 10 already awaited cover b's ask
  events evs = range(1, 10);
  const auto out = dispatch(d, evs);
  CHECK(out == std::vector<sent>{{a, range(1, 10)}, {b, range(1, 10)}});
  CHECK(d.demand_of(a) == 0);
  CHECK(d.demand_of(b) == 0);
  CHECK(d.ask(a, 5) == 0);
  CHECK(d.ask(b, 5) == 5);
}

TEST_CASE("rule 75: a selector filters one subscriber's events and re-asks for the rest") {
  dispatcher d;
  datamesh::subscribe_options evens{
      .dispatch = datamesh::selector<int>([](const int& x) { return x % 2 == 0; })};
  d.subscribe(a, {}, &consumer_a);
  d.subscribe(b, evens, &consumer_b);
  d.ask(a, 6);
  CHECK(d.ask(b, 6) == 6);
  events evs = range(1, 6);
  const auto out = dispatch(d, evs);
  CHECK(out == std::vector<sent>{{a, range(1, 6)}, {b, {2, 4, 6}}});
  CHECK(reasks(d) == std::vector<std::pair<subscription_id, std::size_t>>{{b, 3}});
  CHECK(reasks(d).empty());  // handed over once
}

TEST_CASE("rule 76: a selector of the wrong type is refused with bad_options") {
  dispatcher d;
  datamesh::subscribe_options bad{.dispatch = 42};
  CHECK_THROWS_AS(d.check_subscribe(bad), datamesh::error);
  try {
    d.subscribe(a, bad, &consumer_a);
    FAIL("expected bad_options");
  } catch (const datamesh::error& e) {
    CHECK(e.code() == datamesh::errc::bad_options);
  }
  CHECK(d.subscriber_count() == 0);
}

TEST_CASE("rule 77: with no subscribers every event is a leftover") {
  dispatcher d;
  events evs = range(1, 5);
  CHECK(dispatch(d, evs).empty());
  CHECK(evs == range(1, 5));
}

TEST_CASE("rule 35: a second subscription from the same consumer is refused") {
  dispatcher d;
  d.subscribe(a, {}, &consumer_a);
  try {
    d.subscribe(b, {}, &consumer_a);
    FAIL("expected already_subscribed");
  } catch (const datamesh::error& e) {
    CHECK(e.code() == datamesh::errc::already_subscribed);
  }
  CHECK(d.subscriber_count() == 1);
  CHECK(d.subscribe(b, {}, &consumer_b) == 0);
}

// -- on running stages ---

namespace {

using namespace dmtest;

struct broadcaster : counter {
  using dispatcher_type = datamesh::broadcast_dispatcher<int>;
  using counter::counter;
};

}  // namespace

TEST_CASE("rule 71: on stages, two consumers each get every event at the slower one's pace") {
  journal pj, fast, slow;
  fixture f;
  // Accumulate until both have joined, or the second would miss the first batch (rule 74).
  auto p = f.rt.start<broadcaster>({.demand = producer_demand::accumulate}, &pj);
  auto c1 = f.rt.start<sink>(&fast);
  auto c2 = f.rt.start<sink>(&slow);
  subscribe(c1, p, {.max_demand = 10, .min_demand = 5});
  subscribe(c2, p, {.max_demand = 4, .min_demand = 2});
  f.run();
  CHECK(pj.demands.empty());
  demand(p, producer_demand::forward);
  f.ex.run_until([&] { return fast.flat().size() >= 40 && slow.flat().size() >= 30; }, 10'000);
  const auto a1 = fast.flat();
  const auto a2 = slow.flat();
  REQUIRE(a1.size() >= 40);
  REQUIRE(a2.size() >= 30);
  CHECK(a1 == iota(static_cast<int>(a1.size())));
  // Asks held while accumulating reach the dispatcher on forward, once both have joined: both
  // see the stream from its first event, at the slow one's pace.
  CHECK(a2 == iota(static_cast<int>(a2.size())));
  CHECK_FALSE(f.logged("in excess"));
  for (const auto& batch : slow.batches) CHECK(batch.size() <= 4);
  for (std::size_t d : pj.demands) CHECK(d <= 4);
}

TEST_CASE("rule 74: a late subscriber that asked less than is awaited gets only the newest") {
  dispatcher d;
  d.subscribe(a, {}, &consumer_a);
  CHECK(d.ask(a, 10) == 10);
  d.subscribe(b, {}, &consumer_b);
  CHECK(d.ask(b, 4) == 0);
  events evs = range(1, 10);
  const auto out = dispatch(d, evs);
  CHECK(out == std::vector<sent>{{a, range(1, 10)}, {b, {7, 8, 9, 10}}});
  CHECK(d.demand_of(b) == 0);
  CHECK(d.ask(a, 3) == 0);  // both at zero: the slower sets the pace again
  CHECK(d.ask(b, 3) == 3);
}

TEST_CASE("rule 74: a late subscriber that has not asked yet skips the batch and releases demand") {
  dispatcher d;
  d.subscribe(a, {}, &consumer_a);
  d.ask(a, 5);
  d.subscribe(b, {}, &consumer_b);
  d.ask(a, 5);  // a is 5 ahead of b, which has not asked
  events evs = range(1, 5);
  const auto out = dispatch(d, evs);
  CHECK(out == std::vector<sent>{{a, range(1, 5)}});
  std::vector<std::size_t> served;
  d.drain([](subscription_id, std::size_t) {}, [](std::any&&) {},
          [&](std::size_t n) { served.push_back(n); });
  CHECK(served.empty());  // b still asked nothing: its counter only caught up to zero
  CHECK(d.ask(b, 5) == 5);
}

TEST_CASE("rule 75: on stages, an even-only selector keeps flowing with its re-asks") {
  journal pj, all, evens;
  fixture f;
  auto p = f.rt.start<broadcaster>({.demand = producer_demand::accumulate}, &pj);
  auto c1 = f.rt.start<sink>(&all);
  auto c2 = f.rt.start<sink>(&evens);
  subscribe(c1, p, {.max_demand = 10, .min_demand = 5});
  subscribe(c2, p,
            {.max_demand = 10,
             .min_demand = 5,
             .dispatch = datamesh::selector<int>([](const int& x) { return x % 2 == 0; })});
  f.run();
  demand(p, producer_demand::forward);
  f.ex.run_until([&] { return evens.flat().size() >= 50; }, 100'000);
  const auto got = evens.flat();
  REQUIRE(got.size() >= 50);
  for (std::size_t i = 0; i < 50; ++i) CHECK(got[i] == static_cast<int>(2 * i));
  CHECK(all.flat().size() >= 99);
}

TEST_CASE("rule 35: on stages, a consumer subscribing twice keeps its first subscription") {
  journal pj, cj;
  fixture f;
  auto p = f.rt.start<broadcaster>(&pj);
  auto c = f.rt.start<sink>(&cj);
  subscribe(c, p, {.max_demand = 5});
  f.ex.run_until([&] { return cj.flat().size() >= 5; }, 1000);
  subscribe(c, p, {.max_demand = 5});
  CHECK(f.run_until_logged("refused a subscription"));
  f.ex.run_until([&] { return !cj.cancels.empty(); }, 10'000);
  REQUIRE(cj.cancels.size() == 1);
  CHECK(cj.cancels[0].reason.get_kind() == datamesh::exit_reason::kind::already_subscribed);
  CHECK(c.alive());
  CHECK(p.alive());
  const std::size_t before = cj.flat().size();
  f.ex.run_until([&] { return cj.flat().size() >= before + 10; }, 10'000);
  CHECK(cj.flat().size() >= before + 10);  // the first subscription still flows
}

TEST_CASE("rule 76: a selector of the wrong type fails at subscribe, the producer keeps running") {
  journal pj, cj;
  fixture f;
  auto p = f.rt.start<broadcaster>(&pj);
  auto c = f.rt.start<sink>(&cj);
  try {
    subscribe(c, p, {.dispatch = std::string("not a selector")});
    FAIL("expected bad_options");
  } catch (const datamesh::error& e) {
    CHECK(e.code() == datamesh::errc::bad_options);
    CHECK(std::string(e.what()).find("selector") != std::string::npos);
  }
  subscribe(c, p, {.max_demand = 3});
  f.ex.run_until([&] { return cj.flat().size() >= 3; }, 1000);
  CHECK(cj.flat() == std::vector<int>{0, 1, 2});
}

TEST_CASE("rule 76: a selector that throws stops the producer with that exception") {
  journal pj, cj;
  fixture f;
  auto p = f.rt.start<broadcaster>(&pj);
  auto c = f.rt.start<sink>(&cj);
  subscribe(c, p,
            {.max_demand = 3,
             .cancel = datamesh::cancel_mode::temporary,
             .dispatch = datamesh::selector<int>(
                 [](const int&) -> bool { throw std::runtime_error("selector broke"); })});
  f.run();
  REQUIRE(pj.terminated.size() == 1);
  CHECK(pj.terminated[0].get_kind() == datamesh::exit_reason::kind::exception);
  CHECK(pj.terminated[0].detail() == "selector broke");
  CHECK(c.alive());  // temporary: the consumer stays
}
