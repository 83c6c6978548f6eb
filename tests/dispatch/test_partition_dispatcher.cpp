// partition_dispatcher<T, Key> (SPEC section H, rules 78-85): pure policy with plain values,
// then on running stages stepped by the deterministic executor, including where DataMesh refuses
// what crashes GenStage's producer.
#include <datamesh/dispatch/partition.hpp>

#include <doctest/doctest.h>

#include <any>
#include <cstddef>
#include <limits>
#include <map>
#include <numeric>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "support/dispatch_driver.hpp"
#include "support/harness.hpp"

namespace {

using datamesh::subscription_id;
using dispatcher = datamesh::partition_dispatcher<int>;
using driver = dmtest::driver<dispatcher>;
using dmtest::error_of;
using dmtest::events;
using dmtest::sent;

constexpr subscription_id a = 1;
constexpr subscription_id b = 2;

// Partitions by x % n, the identity on the event.
dispatcher::options mod(std::size_t n) {
  return {.partitions = n, .hash = [n](int& x) -> std::optional<std::size_t> {
            return static_cast<std::size_t>(x) % n;
          }};
}

datamesh::subscribe_options part(std::size_t k) { return {.dispatch = k}; }

}  // namespace

TEST_CASE("rule 78: partitions are required, by count or by names") {
  CHECK(error_of([] { dispatcher d(dispatcher::options{}); }) == datamesh::errc::bad_options);
  CHECK(error_of([] {
          dispatcher d(dispatcher::options{.partitions = 2, .keys = {0, 1}});
        }) == datamesh::errc::bad_options);
  CHECK(error_of([] { datamesh::partition_dispatcher<int, std::string> d({.partitions = 2}); }) ==
        datamesh::errc::bad_options);  // a count needs an integral key
  CHECK(error_of([] {
          dispatcher d(dispatcher::options{.keys = {3, 3}});
        }) == datamesh::errc::bad_options);
  dispatcher named(dispatcher::options{.keys = {10, 20, 30}});
  CHECK(named.keys() == std::vector<std::size_t>{10, 20, 30});
  dispatcher counted(dispatcher::options{.partitions = 3});
  CHECK(counted.keys() == std::vector<std::size_t>{0, 1, 2});
}

TEST_CASE("rule 78: names that need a hash without one are refused") {
  struct opaque {
    int v;
  };
  using P = datamesh::partition_dispatcher<opaque, std::string>;
  CHECK(error_of([] { P d({.keys = {"x", "y"}}); }) == datamesh::errc::bad_options);
  P ok({.keys = {"x", "y"},
        .hash = [](opaque& o) -> std::optional<std::string> { return o.v > 0 ? "x" : "y"; }});
  CHECK(ok.keys().size() == 2);
}

TEST_CASE("rule 79: the default hash sends equal events to one partition, every time") {
  driver t(dispatcher::options{.partitions = 4});
  for (std::size_t k = 0; k < 4; ++k) t.d.subscribe(k + 1, part(k));
  for (subscription_id id = 1; id <= 4; ++id) t.ask(id, 100);
  CHECK(t.dispatch({7, 8, 9, 7, 8, 9, 7}).empty());
  CHECK(t.dispatch({9, 8, 7}).empty());
  std::map<int, std::set<subscription_id>> receivers;
  std::size_t total = 0;
  for (const auto& s : t.take()) {
    for (int x : s.evs) receivers[x].insert(s.id);
    total += s.evs.size();
  }
  CHECK(total == 10);
  REQUIRE(receivers.size() == 3);
  for (const auto& [x, ids] : receivers) CHECK(ids.size() == 1);
}

TEST_CASE("rule 79: a hash may rewrite the event or drop it, and a drop uses no demand") {
  driver t({.partitions = 2, .hash = [](int& x) -> std::optional<std::size_t> {
              if (x < 0) return std::nullopt;  // dropped
              x *= 10;                         // rewritten
              return static_cast<std::size_t>(x / 10) % 2;
            }});
  t.d.subscribe(a, part(0));
  t.d.subscribe(b, part(1));
  CHECK(t.ask(a, 2) == 2);
  CHECK(t.ask(b, 2) == 2);
  CHECK(t.dispatch({1, -1, 2, -2}).empty());
  CHECK(t.take() == std::vector<sent>{{b, {10}}, {a, {20}}});
  CHECK(t.owed == 2);  // the producer is asked for two events in place of the dropped ones
  CHECK(t.d.waiting() == 2);
  CHECK(t.dispatch({3, 4}).empty());
  CHECK(t.take() == std::vector<sent>{{b, {30}}, {a, {40}}});
}

TEST_CASE("rule 80: a hash naming an unknown partition drops that event and counts it") {
  std::vector<std::string> logs;
  driver t({.partitions = 2, .hash = [](int& x) -> std::optional<std::size_t> {
              return static_cast<std::size_t>(x);
            }});
  t.d.set_logger([&](datamesh::log_level, const std::string& s) { logs.push_back(s); });
  t.d.subscribe(a, part(0));
  t.d.subscribe(b, part(1));
  t.ask(a, 5);
  t.ask(b, 5);
  t.dispatch({0, 1, 5});
  CHECK(t.take() == std::vector<sent>{{a, {0}}, {b, {1}}});
  CHECK(t.d.dropped() == 1);
  REQUIRE(logs.size() == 1);
  CHECK(logs[0].find("unknown partition 5") != std::string::npos);
}

TEST_CASE("rule 81: subscribing needs a known, free partition") {
  dispatcher d(mod(2));
  CHECK(error_of([&] { d.check_subscribe({}); }) == datamesh::errc::bad_options);
  CHECK(error_of([&] { d.check_subscribe(part(7)); }) == datamesh::errc::bad_options);
  CHECK(error_of([&] { d.check_subscribe({.dispatch = std::string("0")}); }) ==
        datamesh::errc::bad_options);
  d.check_subscribe({.dispatch = 1});  // any integer type names an integral partition
  CHECK(d.subscribe(a, part(0)) == 0);
  CHECK(error_of([&] { d.subscribe(b, part(0)); }) == datamesh::errc::subscription_refused);
  CHECK(d.subscribe(b, part(1)) == 0);
}

TEST_CASE("rule 82: upstream demand is the sum of asks, a partition's surplus queues") {
  driver t(mod(2));
  t.d.subscribe(a, part(0));
  t.d.subscribe(b, part(1));
  CHECK(t.ask(a, 3) == 3);
  CHECK(t.ask(b, 3) == 3);
  CHECK(t.dispatch({0, 2, 4, 6, 1, 8}) == events{});  // 6 awaited, 5 for partition 0
  CHECK(t.take() == std::vector<sent>{{a, {0, 2, 4}}, {b, {1}}});
  CHECK(t.d.queued_in(0) == 2);
  CHECK(t.d.queued() == 2);
  CHECK(t.ask(a, 1) == 1);  // served from the queue at once
  CHECK(t.take() == std::vector<sent>{{a, {6}}});
  CHECK(t.ask(a, 5) == 5);
  CHECK(t.take() == std::vector<sent>{{a, {8}}});
  CHECK(t.d.demand_of(0) == 4);
  CHECK(t.d.queued() == 0);
}

TEST_CASE("rule 82: events beyond the total awaited are the producer's leftovers") {
  driver t(mod(2));
  t.d.subscribe(a, part(0));
  t.ask(a, 2);
  CHECK(t.dispatch({0, 2, 4, 6}) == events{4, 6});
  CHECK(t.take() == std::vector<sent>{{a, {0, 2}}});
}

TEST_CASE("rule 83: a partition without subscriber queues, it is delivered on subscribe and ask") {
  driver t(mod(2));
  t.d.subscribe(a, part(0));
  t.ask(a, 6);
  t.dispatch({1, 3, 0, 5});
  CHECK(t.take() == std::vector<sent>{{a, {0}}});
  CHECK(t.d.queued_in(1) == 3);
  t.d.subscribe(b, part(1));
  t.ask(b, 2);
  CHECK(t.take() == std::vector<sent>{{b, {1, 3}}});
  t.ask(b, 2);
  CHECK(t.take() == std::vector<sent>{{b, {5}}});
}

TEST_CASE("rule 83: DataMesh bounds each partition queue by the producer's buffer_size") {
  std::vector<std::string> logs;
  for (auto keep : {datamesh::buffer_keep::last, datamesh::buffer_keep::first}) {
    CAPTURE(datamesh::to_string(keep));
    driver t(mod(2));
    t.d.set_logger([&](datamesh::log_level, const std::string& s) { logs.push_back(s); });
    t.d.set_queue_limit(3, keep);
    t.d.subscribe(a, part(0));
    t.ask(a, 10);
    t.dispatch({1, 3, 5, 7, 9, 0});
    CHECK(t.d.queued_in(1) == 3);
    CHECK(t.d.dropped() == 2);
    t.d.subscribe(b, part(1));
    t.ask(b, 10);
    const auto out = t.take();
    REQUIRE(out.size() == 2);
    CHECK(out[1] ==
          sent{b, keep == datamesh::buffer_keep::last ? events{5, 7, 9} : events{1, 3, 5}});
  }
  CHECK(logs.size() == 2);
}

TEST_CASE("rule 84: cancelling drops the queue and asks for it again, demand becomes pending") {
  driver t(mod(2));
  t.d.subscribe(a, part(0));
  t.d.subscribe(b, part(1));
  t.ask(a, 1);
  t.ask(b, 4);
  t.dispatch({0, 2, 4});  // 0 sent, 2 and 4 queued; b's 4 stay unfilled
  t.take();
  CHECK(t.d.queued_in(0) == 2);
  CHECK(t.cancel(a) == 2);  // regenerated, not redelivered
  CHECK(t.d.queued() == 0);
  CHECK(t.cancel(b) == 0);  // b's 4 unfilled become pending
  CHECK(t.d.pending() == 4);
  t.d.subscribe(3, part(1));
  CHECK(t.ask(3, 6) == 2);  // 4 already awaited upstream
}

TEST_CASE("rule 85: an info waits behind every partition queue, then is delivered once") {
  driver t(mod(2));
  t.d.subscribe(a, part(0));
  t.d.subscribe(b, part(1));
  t.ask(a, 1);
  t.ask(b, 1);
  t.dispatch({0, 2, 1});
  t.take();
  t.info("behind the queue");
  CHECK(t.infos.empty());
  t.ask(a, 5);
  CHECK(t.take() == std::vector<sent>{{a, {2}}});
  CHECK(t.infos == std::vector<std::string>{"behind the queue"});
}

TEST_CASE("rule 85: an info waits for each queue that exists, and for no other") {
  driver t(mod(3));
  t.d.subscribe(a, part(0));
  t.d.subscribe(b, part(1));
  t.ask(a, 2);
  t.ask(b, 2);
  t.info("nothing queued");
  CHECK(t.infos == std::vector<std::string>{"nothing queued"});
  t.dispatch({0, 3, 6, 1});  // partition 0 queues 6
  t.take();
  t.info("second");
  t.dispatch({});
  CHECK(t.infos.size() == 1);
  t.cancel(a);  // the queue goes, and with it the wait
  CHECK(t.infos == std::vector<std::string>{"nothing queued", "second"});
}

// -- on running stages ---

namespace {

using namespace dmtest;

struct partitioned : counter {
  using dispatcher_type = datamesh::partition_dispatcher<int>;
  using counter::counter;
};

stage_options partitioned_by(std::size_t n) {
  return {.dispatcher_options = partitioned::dispatcher_type::options{
              .partitions = n, .hash = [n](int& x) -> std::optional<std::size_t> {
                return static_cast<std::size_t>(x) % n;
              }}};
}

}  // namespace

TEST_CASE("rule 82: on stages, each key lands on its own consumer, in order") {
  journal pj, j0, j1, j2;
  fixture f;
  auto p = f.rt.start<partitioned>(partitioned_by(3), &pj);
  auto c0 = f.rt.start<sink>(&j0);
  auto c1 = f.rt.start<sink>(&j1);
  auto c2 = f.rt.start<sink>(&j2);
  subscribe(c0, p, {.max_demand = 4, .min_demand = 2, .dispatch = 0});
  subscribe(c1, p, {.max_demand = 4, .min_demand = 2, .dispatch = 1});
  subscribe(c2, p, {.max_demand = 4, .min_demand = 2, .dispatch = 2});
  f.ex.run_until([&] { return j2.flat().size() >= 30; }, 100'000);
  journal* js[] = {&j0, &j1, &j2};
  for (int k = 0; k < 3; ++k) {
    const auto got = js[k]->flat();
    REQUIRE(got.size() >= 20);
    for (std::size_t i = 0; i < got.size(); ++i) CHECK(got[i] == k + 3 * static_cast<int>(i));
  }
}

TEST_CASE("rule 81: on stages, a bad partition fails at subscribe, a taken one is refused") {
  journal pj, j0, j1, jx;
  fixture f;
  auto p = f.rt.start<partitioned>(partitioned_by(2), &pj);
  auto c0 = f.rt.start<sink>(&j0);
  auto c1 = f.rt.start<sink>(&j1);
  auto cx = f.rt.start<sink>(&jx);
  CHECK(error_of([&] { subscribe(cx, p, {.dispatch = 9}); }) == datamesh::errc::bad_options);
  CHECK(error_of([&] { subscribe(cx, p); }) == datamesh::errc::bad_options);
  subscribe(c0, p, {.max_demand = 2, .dispatch = 0});
  subscribe(c1, p, {.max_demand = 2, .dispatch = 1});
  subscribe(cx, p, {.max_demand = 2, .dispatch = 0});
  f.ex.run_until([&] { return !jx.cancels.empty(); }, 10'000);
  REQUIRE(jx.cancels.size() == 1);
  CHECK(jx.cancels[0].reason.get_kind() == datamesh::exit_reason::kind::refused);
  CHECK(jx.cancels[0].reason.detail().find("already taken") != std::string::npos);
  CHECK(p.alive());
  CHECK(cx.alive());  // a refusal never makes the consumer exit
  f.ex.run_until([&] { return j0.flat().size() >= 6; }, 10'000);
  const auto got = j0.flat();
  REQUIRE(got.size() >= 6);
  CHECK(std::vector<int>(got.begin(), got.begin() + 6) == std::vector<int>{0, 2, 4, 6, 8, 10});
  CHECK(jx.flat().empty());
}

TEST_CASE("rule 83: on stages, queued partition events count in estimate_buffered_count") {
  journal pj, j0;
  fixture f;
  stage_options opts = partitioned_by(2);
  opts.buffer_size = 5;
  auto p = f.rt.start<partitioned>(opts, &pj);
  auto c0 = f.rt.start<sink>(&j0);
  subscribe(c0, p, {.max_demand = 20, .min_demand = 0, .dispatch = 0});
  f.run();
  // 20 made: the 10 even ones went to partition 0, the odd ones queue for partition 1 (5 kept)
  CHECK(j0.flat().size() == 10);
  CHECK(estimate_buffered_count(p) == 5);
  CHECK(estimate_dropped_count(p) == 5);
  CHECK(f.logged("discarded 5 events"));
}

TEST_CASE("rule 80: on stages, a hash throwing stops only the producer") {
  journal pj, j0;
  fixture f;
  auto p = f.rt.start<partitioned>(
      {.dispatcher_options =
           partitioned::dispatcher_type::options{.partitions = 1,
                                                 .hash = [](int& x) -> std::optional<std::size_t> {
                                                   if (x == 3)
                                                     throw std::runtime_error("bad event");
                                                   return 0;
                                                 }}},
      &pj);
  auto c0 = f.rt.start<sink>(&j0);
  subscribe(c0, p, {.max_demand = 10, .cancel = cancel_mode::temporary, .dispatch = 0});
  f.run();
  REQUIRE(pj.terminated.size() == 1);
  CHECK(pj.terminated[0].detail() == "bad event");
  CHECK(c0.alive());
}

TEST_CASE("rule 78: on stages, missing partition options fail the start with bad_options") {
  journal pj;
  fixture f;
  CHECK(error_of([&] { f.rt.start<partitioned>(&pj); }) == datamesh::errc::bad_options);
  CHECK(error_of([&] {
          f.rt.start<partitioned>({.dispatcher_options = partitioned::dispatcher_type::options{}},
                                  &pj);
        }) == datamesh::errc::bad_options);
  CHECK(f.rt.stage_count() == 0);
}

TEST_CASE("F12: a partition count beyond max_partitions is bad_options before any allocation") {
  for (std::size_t n : {dispatcher::max_partitions + 1, std::size_t{1} << 40,
                        std::numeric_limits<std::size_t>::max()}) {
    CAPTURE(n);
    CHECK(error_of([n] { dispatcher d(dispatcher::options{.partitions = n}); }) ==
          datamesh::errc::bad_options);
  }
  // At a stage's start too, and the runtime goes on.
  dmtest::journal j;
  dmtest::fixture f;
  CHECK(error_of([&] {
          f.rt.start<partitioned>(
              datamesh::stage_options{.dispatcher_options =
                                          dispatcher::options{.partitions = std::size_t{1} << 40}},
              &j);
        }) == datamesh::errc::bad_options);
  CHECK(f.rt.stage_count() == 0);
}
