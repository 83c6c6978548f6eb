// demand_dispatcher<T>: the default, work-sharing dispatcher (SPEC section F, rules 64-70).
// Pure policy: subscribers are plain ids and `send` records what each one got.
#include <datamesh/dispatch/demand.hpp>
#include <datamesh/dispatch/dispatcher.hpp>
#include <datamesh/log.hpp>
#include <datamesh/subscribe_options.hpp>
#include <datamesh/subscription_id.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

static_assert(datamesh::dispatcher_for<datamesh::demand_dispatcher<int>, int>);

namespace {

using datamesh::subscription_id;
using dispatcher = datamesh::demand_dispatcher<int>;
using events = std::vector<int>;

constexpr subscription_id a = 1;
constexpr subscription_id b = 2;
constexpr subscription_id c = 3;

struct sent {
  subscription_id id;
  events evs;
  friend bool operator==(const sent&, const sent&) = default;
};

// Dispatches `evs` and returns every batch sent, in order; `evs` keeps the leftovers.
std::vector<sent> dispatch(dispatcher& d, events& evs) {
  std::vector<sent> out;
  d.dispatch(evs, [&](subscription_id id, events&& batch) {
    out.push_back({id, std::move(batch)});
  });
  return out;
}

events range(int first, int count) {
  events evs(static_cast<std::size_t>(count));
  std::iota(evs.begin(), evs.end(), first);
  return evs;
}

dispatcher::options shuffled(std::uint64_t seed) {
  dispatcher::options opts;
  opts.shuffle_demands_on_first_dispatch = true;
  opts.shuffle_seed = seed;
  return opts;
}

void subscribe(dispatcher& d, std::initializer_list<subscription_id> ids) {
  for (const subscription_id id : ids) CHECK(d.subscribe(id, datamesh::subscribe_options{}) == 0);
}

}  // namespace

TEST_CASE("rule 64: 15 events over two demands of 10 give the first 10 and the second 5") {
  dispatcher d;
  subscribe(d, {a, b});
  CHECK(d.ask(a, 10) == 10);
  CHECK(d.ask(b, 10) == 10);
  events evs = range(0, 15);
  const auto out = dispatch(d, evs);
  CHECK(out == std::vector<sent>{{a, range(0, 10)}, {b, range(10, 5)}});
  CHECK(evs.empty());
  CHECK(d.demand_of(a) == 0);
  CHECK(d.demand_of(b) == 5);
}

TEST_CASE("rule 64: the largest outstanding demand is served first") {
  dispatcher d;
  subscribe(d, {a, b, c});
  CHECK(d.ask(a, 4) == 4);
  CHECK(d.ask(b, 2) == 2);
  CHECK(d.ask(c, 3) == 3);
  events evs = range(0, 9);
  CHECK(dispatch(d, evs) ==
        std::vector<sent>{{a, range(0, 4)}, {c, range(4, 3)}, {b, range(7, 2)}});

  SUBCASE("asks add up before the order is decided") {
    dispatcher e;
    subscribe(e, {a, b, c});
    CHECK(e.ask(a, 4) == 4);
    CHECK(e.ask(b, 2) == 2);
    CHECK(e.ask(c, 3) == 3);
    CHECK(e.ask(c, 2) == 2);  // c: 5
    CHECK(e.ask(b, 4) == 4);  // b: 6
    CHECK(e.demand_of(a) == 4);
    CHECK(e.demand_of(b) == 6);
    CHECK(e.demand_of(c) == 5);
    events more = range(0, 15);
    CHECK(dispatch(e, more) ==
          std::vector<sent>{{b, range(0, 6)}, {c, range(6, 5)}, {a, range(11, 4)}});
  }
}

TEST_CASE("rule 64: among equal demands the earlier subscription or ask goes first") {
  SUBCASE("subscribed a then b, the first to ask equal demand is served first") {
    for (const auto& [first, second] : {std::pair{a, b}, std::pair{b, a}}) {
      dispatcher d;
      subscribe(d, {a, b});
      d.ask(first, 3);
      d.ask(second, 3);
      events evs = range(0, 4);
      CHECK(dispatch(d, evs) == std::vector<sent>{{first, range(0, 3)}, {second, range(3, 1)}});
    }
  }
  SUBCASE("a partly served subscriber goes behind others with the same demand") {
    dispatcher d;
    subscribe(d, {a, b});
    d.ask(a, 3);
    d.ask(b, 3);
    events first = range(0, 2);
    CHECK(dispatch(d, first) == std::vector<sent>{{a, range(0, 2)}});  // a: 1, b: 3
    events second = range(2, 2);
    CHECK(dispatch(d, second) == std::vector<sent>{{b, range(2, 2)}});  // a: 1, b: 1
    events third = range(4, 3);
    CHECK(dispatch(d, third) == std::vector<sent>{{a, events{4}}, {b, events{5}}});
    CHECK(third == events{6});
  }
}

TEST_CASE("rule 65: ask returns the ask itself, never a sum of max demands") {
  dispatcher d;
  subscribe(d, {a, b});
  CHECK(d.ask(a, 10) == 10);
  CHECK(d.ask(b, 7) == 7);
  CHECK(d.ask(a, 3) == 3);
  CHECK(d.demand_of(a) == 13);
  CHECK(d.demand_of(b) == 7);
  CHECK(d.pending() == 0);
  CHECK(d.subscriber_count() == 2);
}

TEST_CASE("rule 65: subscribing passes no demand upstream and starts at zero") {
  dispatcher d;
  CHECK(d.subscribe(a, datamesh::subscribe_options{.max_demand = 50}) == 0);
  CHECK(d.subscriber_count() == 1);
  CHECK(d.demand_of(a) == 0);
  events evs = range(0, 3);
  CHECK(dispatch(d, evs).empty());
  CHECK(evs == range(0, 3));
}

TEST_CASE("rule 66: a cancelled subscriber's unfilled demand becomes pending") {
  dispatcher d;
  subscribe(d, {a});
  CHECK(d.ask(a, 10) == 10);
  CHECK(d.cancel(a) == 0);
  CHECK(d.pending() == 10);
  CHECK(d.subscriber_count() == 0);

  // Subscribing again: the next ask is covered by what is pending.
  subscribe(d, {a});
  CHECK(d.ask(a, 5) == 0);
  CHECK(d.pending() == 5);
  CHECK(d.demand_of(a) == 5);
  CHECK(d.cancel(a) == 0);
  CHECK(d.pending() == 10);
}

TEST_CASE("rule 66: later asks from any subscriber are reduced by pending") {
  dispatcher d;
  subscribe(d, {a, b});
  CHECK(d.ask(a, 10) == 10);
  CHECK(d.ask(b, 10) == 10);
  events evs = range(0, 4);
  CHECK(dispatch(d, evs) == std::vector<sent>{{a, range(0, 4)}});
  CHECK(d.cancel(a) == 0);
  CHECK(d.pending() == 6);  // only the unfilled part of a's demand

  CHECK(d.ask(b, 4) == 0);
  CHECK(d.pending() == 2);
  CHECK(d.ask(b, 5) == 3);
  CHECK(d.pending() == 0);
  CHECK(d.ask(b, 1) == 1);
  CHECK(d.demand_of(b) == 20);
}

TEST_CASE("rule 66: cancelling an unknown subscription is harmless") {
  dispatcher d;
  subscribe(d, {a});
  CHECK(d.ask(a, 4) == 4);
  CHECK(d.cancel(b) == 0);
  CHECK(d.pending() == 0);
  CHECK(d.subscriber_count() == 1);
  CHECK(d.demand_of(a) == 4);
  CHECK(d.cancel(a) == 0);
  CHECK(d.cancel(a) == 0);  // a second cancel of the same id is unknown too
  CHECK(d.pending() == 4);
  CHECK(d.subscriber_count() == 0);
}

TEST_CASE("rule 67: an ask above the first ask logs a warning and is honoured") {
  dispatcher d;
  std::vector<std::pair<datamesh::log_level, std::string>> logs;
  d.set_logger([&](datamesh::log_level l, const std::string& m) { logs.emplace_back(l, m); });
  subscribe(d, {a, b});
  CHECK(d.ask(a, 3) == 3);
  CHECK(d.ask(b, 3) == 3);
  CHECK(logs.empty());
  CHECK(d.ask(b, 4) == 4);
  REQUIRE(logs.size() == 1);
  CHECK(logs[0].first == datamesh::log_level::warning);
  CHECK(logs[0].second.find("DemandDispatcher expects a maximum demand of 3") != std::string::npos);
  CHECK(d.demand_of(b) == 7);
  events evs = range(0, 10);
  CHECK(dispatch(d, evs) == std::vector<sent>{{b, range(0, 7)}, {a, range(7, 3)}});
}

TEST_CASE("rule 67: the max_demand option sets the expected maximum") {
  dispatcher d(dispatcher::options{.max_demand = 5});
  std::vector<std::string> logs;
  d.set_logger([&](datamesh::log_level, const std::string& m) { logs.push_back(m); });
  subscribe(d, {a});
  CHECK(d.ask(a, 5) == 5);
  CHECK(logs.empty());
  CHECK(d.ask(a, 6) == 6);
  REQUIRE(logs.size() == 1);
  CHECK(logs[0].find("expects a maximum demand of 5") != std::string::npos);
  CHECK(d.demand_of(a) == 11);
}

TEST_CASE("rule 67: without a logger an oversized ask is still honoured") {
  dispatcher d;
  subscribe(d, {a});
  CHECK(d.ask(a, 1) == 1);
  CHECK(d.ask(a, 100) == 100);
  CHECK(d.demand_of(a) == 101);
}

TEST_CASE("rule 68: shuffle_demands_on_first_dispatch shuffles once then turns itself off") {
  const std::vector<subscription_id> ids{1, 2, 3, 4, 5};
  bool some_seed_reorders = false;
  for (std::uint64_t seed = 0; seed < 20; ++seed) {
    CAPTURE(seed);
    dispatcher d(shuffled(seed));
    for (const subscription_id id : ids) {
      CHECK(d.subscribe(id, datamesh::subscribe_options{}) == 0);
      CHECK(d.ask(id, 1) == 1);
    }

    // First dispatch: everyone gets one event, in the shuffled order.
    events first = range(0, 5);
    const auto out = dispatch(d, first);
    REQUIRE(out.size() == ids.size());
    std::vector<subscription_id> order;
    for (std::size_t k = 0; k < out.size(); ++k) {
      CHECK(out[k].evs == events{static_cast<int>(k)});
      order.push_back(out[k].id);
    }
    std::vector<subscription_id> sorted = order;
    std::sort(sorted.begin(), sorted.end());
    CHECK(sorted == ids);  // a permutation: nobody is served twice or skipped
    if (order != ids) some_seed_reorders = true;

    // The same seed shuffles the same way.
    dispatcher twin(shuffled(seed));
    for (const subscription_id id : ids) {
      twin.subscribe(id, datamesh::subscribe_options{});
      twin.ask(id, 1);
    }
    events again = range(0, 5);
    std::vector<subscription_id> twin_order;
    for (const auto& s : dispatch(twin, again)) twin_order.push_back(s.id);
    CHECK(twin_order == order);

    // Second dispatch: no shuffle, so equal demands are served in the order they were asked.
    for (const subscription_id id : ids) CHECK(d.ask(id, 1) == 1);
    events second = range(5, 5);
    std::vector<subscription_id> second_order;
    for (const auto& s : dispatch(d, second)) second_order.push_back(s.id);
    CHECK(second_order == ids);
  }
  CHECK(some_seed_reorders);
}

TEST_CASE("rule 68: without the option the first dispatch keeps the sorted order") {
  dispatcher d;
  subscribe(d, {a, b, c});
  d.ask(a, 1);
  d.ask(b, 1);
  d.ask(c, 1);
  events evs = range(0, 3);
  CHECK(dispatch(d, evs) == std::vector<sent>{{a, events{0}}, {b, events{1}}, {c, events{2}}});
}

TEST_CASE("rule 69: events nobody has demand for stay in the vector as leftovers") {
  dispatcher d;
  subscribe(d, {a});
  CHECK(d.ask(a, 3) == 3);
  events evs = range(0, 1);
  CHECK(dispatch(d, evs) == std::vector<sent>{{a, events{0}}});
  CHECK(evs.empty());
  CHECK(d.ask(a, 3) == 3);  // a: 5

  events more = range(1, 7);
  CHECK(dispatch(d, more) == std::vector<sent>{{a, range(1, 5)}});
  CHECK(more == events{6, 7});
  CHECK(d.demand_of(a) == 0);

  events none = range(8, 2);
  CHECK(dispatch(d, none).empty());
  CHECK(none == events{8, 9});

  SUBCASE("with no subscriber at all, every event is a leftover") {
    dispatcher empty;
    events all = range(0, 4);
    CHECK(dispatch(empty, all).empty());
    CHECK(all == range(0, 4));
  }
}

TEST_CASE("rule 69: several subscribers fill up and the rest is left over") {
  dispatcher d;
  subscribe(d, {a, b});
  d.ask(a, 3);
  d.ask(b, 2);
  events evs = range(0, 5);
  CHECK(dispatch(d, evs) == std::vector<sent>{{a, range(0, 3)}, {b, range(3, 2)}});
  CHECK(evs.empty());
  events more = range(5, 3);
  CHECK(dispatch(d, more).empty());
  CHECK(more == range(5, 3));
}

TEST_CASE("rule 70: an info is delivered at once, even with demand outstanding") {
  dispatcher d;
  subscribe(d, {a, b});
  CHECK(d.ask(a, 3) == 3);
  std::vector<std::string> delivered;
  d.info(std::string("hello"), [&](std::string&& msg) { delivered.push_back(std::move(msg)); });
  CHECK(delivered == std::vector<std::string>{"hello"});
  // Delivering changed nothing else.
  CHECK(d.demand_of(a) == 3);
  CHECK(d.subscriber_count() == 2);
}

TEST_CASE("rule 64: a batch that fits whole in one subscriber's demand is moved, not copied") {
  dispatcher d;
  subscribe(d, {a, b});
  CHECK(d.ask(a, 10) == 10);
  events evs = range(0, 8);
  const int* const original = evs.data();
  std::vector<sent> out = dispatch(d, evs);
  REQUIRE(out.size() == 1);
  CHECK(out[0].id == a);
  CHECK(out[0].evs == range(0, 8));
  CHECK(out[0].evs.data() == original);
  CHECK(evs.empty());
  CHECK(d.demand_of(a) == 2);
}
