// route_dispatcher<T, Key>: targeted routing, each event to the subscriber its key names, at
// that subscriber's pace. Its demand arithmetic is the partition dispatcher's (SPEC rules 82, 84,
// 85); what is its own is dynamic targets and the handling of unknown ones.
#include <datamesh/dispatch/route.hpp>

#include <doctest/doctest.h>

#include <any>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "support/dispatch_driver.hpp"
#include "support/harness.hpp"

namespace {

using datamesh::subscription_id;
using dispatcher = datamesh::route_dispatcher<int, std::string>;
using driver = dmtest::driver<dispatcher>;
using dmtest::error_of;
using dmtest::events;
using dmtest::sent;

constexpr subscription_id a = 1;
constexpr subscription_id b = 2;

// Events below 100 go to "low", the others to "high"; negatives to "nowhere".
dispatcher::options by_size() {
  return {.key = [](const int& x) -> std::string {
    return x < 0 ? "nowhere" : x < 100 ? "low" : "high";
  }};
}

datamesh::subscribe_options to(std::string k) { return {.dispatch = std::move(k)}; }

}  // namespace

TEST_CASE("route: a key function is required") {
  CHECK(error_of([] { dispatcher d(dispatcher::options{}); }) == datamesh::errc::bad_options);
}

TEST_CASE("route: each event goes to the target its key names, at that target's pace") {
  driver t(by_size());
  t.d.subscribe(a, to("low"));
  t.d.subscribe(b, to("high"));
  CHECK(t.ask(a, 2) == 2);
  CHECK(t.ask(b, 2) == 2);
  CHECK(t.dispatch({1, 100, 2, 3}).empty());
  CHECK(t.take() == std::vector<sent>{{a, {1, 2}}, {b, {100}}});
  CHECK(t.d.queued_in("low") == 1);  // beyond low's demand: waits for it
  CHECK(t.d.demand_of("high") == 1);
  CHECK(t.ask(a, 1) == 1);
  CHECK(t.take() == std::vector<sent>{{a, {3}}});
}

TEST_CASE("route: the target key must be given, of the key type, a taken target is refused") {
  dispatcher d(by_size());
  CHECK(error_of([&] { d.check_subscribe({}); }) == datamesh::errc::bad_options);
  CHECK(error_of([&] { d.check_subscribe({.dispatch = 5}); }) == datamesh::errc::bad_options);
  d.check_subscribe({.dispatch = "low"});  // a string literal names a std::string key
  d.subscribe(a, to("low"));
  CHECK(error_of([&] { d.subscribe(b, to("low")); }) == datamesh::errc::subscription_refused);
  CHECK(d.target_count() == 1);
}

TEST_CASE("route: unknown targets are dropped, counted, and replaced by upstream demand") {
  std::vector<std::string> logs;
  driver t(by_size());
  t.d.set_logger([&](datamesh::log_level, const std::string& s) { logs.push_back(s); });
  t.d.subscribe(a, to("low"));
  t.ask(a, 4);
  CHECK(t.dispatch({-1, 1, 500, 2}).empty());
  CHECK(t.take() == std::vector<sent>{{a, {1, 2}}});
  CHECK(t.d.dropped() == 2);
  CHECK(t.owed == 2);  // low still wants 2: the producer is asked for 2 more
  CHECK(t.d.waiting() == 2);
  REQUIRE(logs.size() == 1);
  CHECK(logs[0].find("dropped 2 events") != std::string::npos);
}

TEST_CASE("route: on_unknown is told of each unroutable event") {
  std::vector<std::pair<int, std::string>> told;
  dispatcher::options o = by_size();
  o.on_unknown = [&](const int& x, const std::string& k) { told.emplace_back(x, k); };
  driver t(std::move(o));
  t.d.subscribe(a, to("low"));
  t.ask(a, 3);
  t.dispatch({-5, 7, 300});
  CHECK(told == std::vector<std::pair<int, std::string>>{{-5, "nowhere"}, {300, "high"}});
  CHECK(t.d.dropped() == 2);
}

TEST_CASE("route: a default target takes what no other target takes") {
  dispatcher::options o = by_size();
  o.default_target = "low";
  driver t(std::move(o));
  t.d.subscribe(a, to("low"));
  t.ask(a, 3);
  t.dispatch({-5, 7, 300});
  CHECK(t.take() == std::vector<sent>{{a, {-5, 7, 300}}});
  CHECK(t.d.dropped() == 0);
}

TEST_CASE("route: a target's queue is bounded by queue_limit, keeping first or last") {
  for (auto keep : {datamesh::buffer_keep::last, datamesh::buffer_keep::first}) {
    CAPTURE(datamesh::to_string(keep));
    dispatcher::options o = by_size();
    o.queue_limit = 2;
    driver t(std::move(o));
    t.d.set_queue_limit(1000, keep);  // the producer's buffer_size yields to queue_limit
    t.d.subscribe(a, to("low"));
    t.d.subscribe(b, to("high"));
    t.ask(b, 5);
    t.dispatch({1, 2, 3, 4, 100});
    CHECK(t.d.queued_in("low") == 2);
    CHECK(t.d.dropped() == 2);
    t.take();
    t.ask(a, 5);
    CHECK(t.take() == std::vector<sent>{
                          {a, keep == datamesh::buffer_keep::last ? events{3, 4} : events{1, 2}}});
  }
}

TEST_CASE("rule 84: route, a cancelled target's queue is asked for again, its demand pending") {
  driver t(by_size());
  t.d.subscribe(a, to("low"));
  t.d.subscribe(b, to("high"));
  t.ask(a, 1);
  t.ask(b, 3);
  t.dispatch({1, 2, 3});
  t.take();
  CHECK(t.d.queued() == 2);
  CHECK(t.cancel(a) == 2);
  CHECK(t.d.target_count() == 1);
  CHECK(t.cancel(b) == 0);
  CHECK(t.d.pending() == 3);
  t.d.subscribe(a, to("low"));  // the target can be taken again
  CHECK(t.ask(a, 4) == 1);
}

TEST_CASE("rule 85: route, an info waits behind the targets' queues") {
  driver t(by_size());
  t.d.subscribe(a, to("low"));
  t.d.subscribe(b, to("high"));
  t.ask(a, 1);
  t.ask(b, 1);
  t.dispatch({1, 2});  // 2 awaited, both for low: one waits in its queue
  t.take();
  t.d.info(std::string("after 2"),
           [&](std::any&& m) { t.infos.push_back(std::any_cast<std::string>(m)); });
  CHECK(t.infos.empty());
  t.ask(a, 1);
  CHECK(t.take() == std::vector<sent>{{a, {2}}});
  CHECK(t.infos == std::vector<std::string>{"after 2"});
}

// -- on running stages ---

namespace {

using namespace dmtest;

struct routed : counter {
  using dispatcher_type = datamesh::route_dispatcher<int, int>;
  using counter::counter;
};

stage_options route_by_mod(int n) {
  return {.dispatcher_options =
              routed::dispatcher_type::options{.key = [n](const int& x) { return x % n; }}};
}

}  // namespace

TEST_CASE("route: on stages, each target gets its own events at its own pace") {
  journal pj, j0, j1;
  fixture f;
  stage_options opts = route_by_mod(2);
  opts.demand = producer_demand::accumulate;  // until both targets are there
  auto p = f.rt.start<routed>(opts, &pj);
  auto c0 = f.rt.start<sink>(&j0);
  auto c1 = f.rt.start<sink>(&j1);
  subscribe(c0, p, {.max_demand = 8, .dispatch = 0});
  subscribe(c1, p, {.max_demand = 2, .dispatch = 1});
  f.run();
  demand(p, producer_demand::forward);
  f.ex.run_until([&] { return j1.flat().size() >= 20; }, 100'000);
  const auto evens = j0.flat();
  const auto odds = j1.flat();
  REQUIRE(odds.size() >= 20);
  for (std::size_t i = 0; i < evens.size(); ++i) CHECK(evens[i] == static_cast<int>(2 * i));
  for (std::size_t i = 0; i < odds.size(); ++i) CHECK(odds[i] == static_cast<int>(2 * i + 1));
  for (const auto& batch : j1.batches) CHECK(batch.size() <= 2);
}

TEST_CASE("route: on stages, a taken target is refused and the producer keeps routing") {
  journal pj, j0, j1, jx;
  fixture f;
  auto p = f.rt.start<routed>(route_by_mod(2), &pj);
  auto c0 = f.rt.start<sink>(&j0);
  auto c1 = f.rt.start<sink>(&j1);
  auto cx = f.rt.start<sink>(&jx);
  CHECK(error_of([&] { subscribe(cx, p, {.dispatch = std::string("0")}); }) ==
        datamesh::errc::bad_options);
  subscribe(c0, p, {.max_demand = 4, .dispatch = 0});
  subscribe(c1, p, {.max_demand = 4, .dispatch = 1});
  subscribe(cx, p, {.max_demand = 4, .dispatch = 1});
  f.ex.run_until([&] { return !jx.cancels.empty() && j1.flat().size() >= 10; }, 100'000);
  REQUIRE(jx.cancels.size() == 1);
  CHECK(jx.cancels[0].reason.get_kind() == datamesh::exit_reason::kind::refused);
  CHECK(cx.alive());
  CHECK(p.alive());
  CHECK(j1.flat().size() >= 10);
}

TEST_CASE("route: on stages, events for an unsubscribed target are dropped and counted") {
  journal pj, j0;
  fixture f;
  auto p = f.rt.start<routed>(route_by_mod(2), &pj);
  auto c0 = f.rt.start<sink>(&j0);
  subscribe(c0, p, {.max_demand = 10, .dispatch = 0});
  f.ex.run_until([&] { return j0.flat().size() >= 20; }, 100'000);
  const auto got = j0.flat();
  REQUIRE(got.size() >= 20);
  for (std::size_t i = 0; i < got.size(); ++i) CHECK(got[i] == static_cast<int>(2 * i));
  // Every odd event made so far was dropped; the evens kept flowing all the same.
  CHECK(estimate_dropped_count(p) >= got.size() - 1);
  CHECK(f.logged("route target is not subscribed"));
}
