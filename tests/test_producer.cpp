// A producer's demand, buffer and infos at run time (SPEC sections C, D and E), and the
// producer_consumer's flow control (rules 44-47).
#include <algorithm>
#include <limits>
#include <string>

#include "support/harness.hpp"

using namespace dmtest;

namespace {

/// Emits what `send` gives it (a std::vector<int>) and counters on demand; records infos.
struct stocked {
  journal* j;
  int next = 0;
  bool emit_on_demand = true;
  void handle_demand(std::size_t n, context<int>& ctx) {
    j->demands.push_back(n);
    if (!emit_on_demand) return;
    for (std::size_t i = 0; i < n; ++i) ctx.push(next++);
  }
  void handle_info(std::any& msg, context<int>& ctx) {
    if (auto* v = std::any_cast<std::vector<int>>(&msg)) ctx.push_range(*v);
    if (auto* s = std::any_cast<std::string>(&msg)) j->infos.push_back(*s);
  }
  bool quiet = false;
  bool format_discarded(std::size_t) { return !quiet; }
};

/// A producer_consumer that drops everything (rule 46).
struct drop_all {
  journal* j;
  void handle_events(std::span<const int> in, context<int>&) {
    j->batches.emplace_back(in.begin(), in.end());
  }
};

/// Emits `total` events, then asks itself (async_info) to stop behind them (rule 63).
struct finite_source {
  int next = 0;
  int total;
  explicit finite_source(int t) : total(t) {}
  void handle_demand(std::size_t n, context<int>& ctx) {
    for (; n > 0 && next < total; --n) ctx.push(next++);
    if (next == total) ctx.async_info(std::string("done"));
  }
  void handle_info(std::any&, context<int>& ctx) { ctx.stop(); }
};

/// A producer_consumer that relays what it receives and, with demand to spare, also emits from
/// a supply of its own (numbers from 100, `supply` of them), as a mesh node takes from its inlet.
struct self_feeding {
  journal* j;
  int supply;
  int next = 100;
  self_feeding(journal* jr, int s) : j(jr), supply(s) {}
  void handle_events(std::span<const int> in, context<int>& ctx) {
    j->batches.emplace_back(in.begin(), in.end());
    ctx.push_range(in);
  }
  void handle_spare_demand(std::size_t n, context<int>& ctx) {
    j->demands.push_back(n);
    for (; n > 0 && supply > 0; --n, --supply) ctx.push(next++);
  }
  void handle_info(std::any&, context<int>& ctx) {
    j->infos.push_back("spare " + std::to_string(ctx.spare_demand()));
  }
};

/// The demand dispatcher, with the optional `initial_demand` member: a producer_consumer using
/// it may start before its first consumer.
struct early_dispatcher : demand_dispatcher<int> {
  using demand_dispatcher<int>::demand_dispatcher;
  std::size_t initial_demand() { return 1; }
};

/// `relay` on the `early_dispatcher`.
struct early_relay : relay {
  using dispatcher_type = early_dispatcher;
  using relay::relay;
};

}  // namespace

TEST_CASE(
    "initial_demand: a producer_consumer whose dispatcher has it handles its producers' events "
    "before any consumer, and its first consumer gets them in order") {
  journal pj, rj, cj;
  fixture f;
  auto p = f.rt.start<manual_source>(&pj);
  auto r = f.rt.start<early_relay>(stage_options{.buffer_size = 8}, &rj, 10);
  subscribe(r, p, {.max_demand = 5});
  f.run();
  send(p, std::vector<int>{1, 2, 3});
  send(p, std::vector<int>{4, 5, 6});
  f.run();
  // A demand of 1 to start with, and it is not used up while nobody is subscribed: every
  // event is handled as it comes (a plain relay would hold them, rule 44).
  CHECK(rj.flat() == std::vector<int>{1, 2, 3, 4, 5, 6});
  CHECK(estimate_buffered_count(r) == 6);
  send(p, std::vector<int>{7, 8, 9, 10});
  f.run();
  // The buffer bounds what waits: keep last drops the two oldest, counted.
  CHECK(estimate_buffered_count(r) == 8);
  CHECK(estimate_dropped_count(r) == 2);
  auto c = f.rt.start<sink>(&cj);
  subscribe(c, r, {.max_demand = 100});
  f.run();
  CHECK(cj.flat() == std::vector<int>{30, 40, 50, 60, 70, 80, 90, 100});
  send(p, std::vector<int>{11});
  f.run();
  CHECK(cj.flat().back() == 110);
  CHECK(estimate_buffered_count(r) == 0);
}

TEST_CASE(
    "initial_demand: without it, a producer_consumer waits for its first consumer (rule 44)") {
  journal pj, rj;
  fixture f;
  auto p = f.rt.start<manual_source>(&pj);
  auto r = f.rt.start<relay>(&rj, 10);
  subscribe(r, p, {.max_demand = 5});
  f.run();
  send(p, std::vector<int>{1, 2, 3});
  f.run();
  CHECK(rj.batches.empty());
  CHECK(estimate_buffered_count(r) == 0);
}

TEST_CASE(
    "handle_spare_demand: a producer_consumer may fill downstream demand from its own "
    "supply, never beyond it") {
  journal rj, cj;
  fixture f;
  auto r = f.rt.start<self_feeding>(&rj, 7);
  auto c = f.rt.start<sink>(&cj, demand_mode::manual);
  auto down = subscribe(c, r, {.max_demand = 10});
  f.run();
  CHECK(rj.demands.empty());  // no demand yet: not called
  ask(down, 5);
  f.run();
  CHECK(rj.demands == std::vector<std::size_t>{5});
  CHECK(cj.flat() == std::vector<int>{100, 101, 102, 103, 104});
  ask(down, 4);
  f.run();
  // Its supply (2 left) covers half: the other 2 stay spare, as the context tells other
  // callbacks.
  CHECK(rj.demands == std::vector<std::size_t>{5, 4});
  CHECK(cj.flat() == std::vector<int>{100, 101, 102, 103, 104, 105, 106});
  send(r, std::string("how much?"));
  f.run();
  CHECK(rj.infos == std::vector<std::string>{"spare 2"});
  CHECK(estimate_buffered_count(r) == 0);  // nothing emitted beyond demand
}

TEST_CASE("handle_spare_demand: upstream events waiting for demand take it first (rule 45)") {
  journal pj, rj, cj;
  fixture f;
  auto p = f.rt.start<manual_source>(&pj);
  auto r = f.rt.start<self_feeding>(&rj, 100);
  auto c = f.rt.start<sink>(&cj, demand_mode::manual);
  auto down = subscribe(c, r, {.max_demand = 10});
  subscribe(r, p, {.max_demand = 10});
  f.run();
  send(p, std::vector<int>{1, 2, 3});
  f.run();
  CHECK(cj.batches.empty());  // queued in the relay: no downstream demand
  ask(down, 5);
  f.run();
  // The queued batch goes first; only the 2 it leaves are spare.
  CHECK(rj.demands == std::vector<std::size_t>{2});
  CHECK(cj.flat() == std::vector<int>{1, 2, 3, 100, 101});
}

TEST_CASE("rule 37 and 38: end to end with 7/3 the asks go 7, 4, 7, 4 and batches 4, 3, 4, 4") {
  journal pj, cj;
  fixture f;
  auto p = f.rt.start<counter>(&pj);
  auto c = f.rt.start<sink>(&cj);
  subscribe(c, p, {.max_demand = 7, .min_demand = 3});
  f.ex.run(40);
  REQUIRE(pj.demands.size() >= 4);
  CHECK(std::vector<std::size_t>(pj.demands.begin(), pj.demands.begin() + 4) ==
        std::vector<std::size_t>{7, 4, 7, 4});
  REQUIRE(cj.batches.size() >= 4);
  const auto batch_sizes = sizes(cj);
  CHECK(std::vector<std::size_t>(batch_sizes.begin(), batch_sizes.begin() + 4) ==
        std::vector<std::size_t>{4, 3, 4, 4});
  const auto all = cj.flat();
  CHECK(all == iota(static_cast<int>(all.size())));  // in order, nothing lost or repeated
}

TEST_CASE("rule 43: new demand is served from the buffer first, the rest by handle_demand") {
  journal pj, cj;
  fixture f;
  auto p = f.rt.start<stocked>(&pj);
  auto c = f.rt.start<sink>(&cj, demand_mode::manual);
  send(p, std::vector<int>{100, 101, 102, 103, 104});  // nobody asked: buffered
  auto sub = subscribe(c, p);
  f.run();
  CHECK(estimate_buffered_count(p) == 5);
  ask(sub, 4);
  f.run();
  ask(sub, 4);
  f.run();
  CHECK(cj.batches == std::vector<std::vector<int>>{{100, 101, 102, 103}, {104}, {0, 1, 2}});
  CHECK(pj.demands == std::vector<std::size_t>{3});
  CHECK(estimate_buffered_count(p) == 0);
}

TEST_CASE("rule 44 and 45: a producer_consumer stops asking when its consumer stops asking") {
  journal pj, rj, cj;
  fixture f;
  auto [p, r, c, down, up] =
      start_chain(f, pj, rj, cj, {}, {.max_demand = 10}, demand_mode::manual);
  f.run();
  // The relay asked once upstream and holds the 10 events: no downstream demand.
  CHECK(pj.demands == std::vector<std::size_t>{10});
  CHECK(rj.batches.empty());
  ask(down, 5);
  f.run();
  // The whole queued message is handled once there is demand (rule 45); 5 go out, 5 buffer.
  CHECK(rj.batches == std::vector<std::vector<int>>{{0, 1, 2, 3, 4}, {5, 6, 7, 8, 9}});
  CHECK(cj.batches == std::vector<std::vector<int>>{{0, 1, 2, 3, 4}});
  CHECK(estimate_buffered_count(r) == 5);
}

TEST_CASE("rule 46: a producer_consumer that emits nothing keeps asking upstream") {
  journal pj, rj, cj;
  fixture f;
  start_chain<counter, drop_all>(f, pj, rj, cj, {.max_demand = 10}, {.max_demand = 10});
  f.ex.run(60);
  CHECK(pj.demands.size() > 3);
  CHECK(cj.batches.empty());
}

TEST_CASE("rule 48, 49 and 51: accumulate holds every ask, and forward replays them one by one") {
  journal pj, aj, bj;
  fixture f;
  auto p = f.rt.start<counter>(stage_options{.demand = producer_demand::accumulate}, &pj);
  auto a = f.rt.start<sink>(&aj);
  auto b = f.rt.start<sink>(&bj);
  subscribe(a, p, {.max_demand = 10});
  subscribe(b, p, {.max_demand = 10});
  f.run();
  CHECK(pj.demands.empty());
  CHECK(demand(p) == producer_demand::accumulate);  // rule 49
  demand(p, producer_demand::forward);
  f.ex.run(4);
  REQUIRE(pj.demands.size() >= 2);
  CHECK(pj.demands[0] == 10);  // two asks of 10, never summed
  CHECK(pj.demands[1] == 10);
  CHECK(demand(p) == producer_demand::forward);
}

TEST_CASE("rule 50: switching to forward before any subscription works") {
  journal pj, cj;
  fixture f;
  auto p = f.rt.start<counter>(stage_options{.demand = producer_demand::accumulate}, &pj);
  demand(p, producer_demand::forward);
  f.run();
  auto c = f.rt.start<sink>(&cj);
  subscribe(c, p, {.max_demand = 4});
  f.ex.run(10);
  REQUIRE_FALSE(pj.demands.empty());
  CHECK(pj.demands[0] == 4);
}

TEST_CASE("rule 52: setting the demand mode of a consumer is logged and ignored") {
  journal cj;
  fixture f;
  auto c = f.rt.start<sink>(&cj);
  demand(c, producer_demand::accumulate);
  f.run();
  CHECK(c.alive());
  CHECK(f.logged("demand mode can only be set for producers"));
}

TEST_CASE("rule 53 and 54: buffer overflow keeps the last events and logs the discard") {
  journal pj, cj;
  fixture f;
  auto p = f.rt.start<stocked>(stage_options{.buffer_size = 5}, &pj);
  send(p, iota(5, 100));
  send(p, std::vector<int>{200, 201, 202});
  f.run();
  CHECK(estimate_buffered_count(p) == 5);
  CHECK(f.logged("has discarded 3 events from buffer"));
  auto c = f.rt.start<sink>(&cj, demand_mode::manual);
  auto sub = subscribe(c, p);
  f.run();
  ask(sub, 5);
  f.run();
  CHECK(cj.flat() == std::vector<int>{103, 104, 200, 201, 202});
}

TEST_CASE("rule 54: keep first drops the incoming events") {
  journal pj;
  fixture f;
  auto p =
      f.rt.start<stocked>(stage_options{.buffer_size = 5, .buffer_keep = buffer_keep::first}, &pj);
  send(p, iota(5, 100));
  send(p, std::vector<int>{200, 201, 202});
  f.run();
  CHECK(estimate_buffered_count(p) == 5);
  CHECK(f.logged("has discarded 3 events"));
}

TEST_CASE("rule 55: format_discarded returning false skips the discard log") {
  journal pj;
  fixture f;
  auto p = f.rt.start<stocked>(stage_options{.buffer_size = 2}, &pj, 0, true, true);
  send(p, iota(5));
  f.run();
  CHECK(estimate_buffered_count(p) == 2);
  CHECK_FALSE(f.logged("discarded"));
}

TEST_CASE("rule 57: estimate_buffered_count on a consumer is 0 and logs an error") {
  journal cj;
  fixture f;
  auto c = f.rt.start<sink>(&cj);
  CHECK(estimate_buffered_count(c) == 0);
  CHECK(f.logged("buffered count can only be requested for producers"));
}

TEST_CASE("rule 59: an info reaches a producer at once when nothing is buffered") {
  journal pj;
  fixture f;
  auto p = f.rt.start<stocked>(&pj);
  auto queued = sync_info(p, std::string("now"));
  f.run();
  CHECK(queued.wait_for(std::chrono::seconds(0)) == std::future_status::ready);
  CHECK(pj.infos == std::vector<std::string>{"now"});
}

TEST_CASE("rule 59 and 60: infos wait behind the events buffered when they arrived") {
  journal pj, cj;
  fixture f;
  auto p = f.rt.start<stocked>(&pj, 0, false);
  send(p, std::vector<int>{1, 2, 3});
  async_info(p, std::string("d"));
  async_info(p, std::string("e"));
  send(p, std::vector<int>{7, 8});
  async_info(p, std::string("i"));
  f.run();
  CHECK(pj.infos.empty());
  auto c = f.rt.start<sink>(&cj, demand_mode::manual);
  auto sub = subscribe(c, p);
  f.run();
  ask(sub, 2);
  f.run();
  CHECK(pj.infos.empty());  // 3 is still ahead of d and e
  ask(sub, 5);
  f.run();
  CHECK(cj.flat() == std::vector<int>{1, 2, 3, 7, 8});
  CHECK(pj.infos == std::vector<std::string>{"d", "e", "i"});
}

TEST_CASE("rule 59: an info reaches a consumer at once") {
  journal cj;
  fixture f;
  auto c = f.rt.start<sink>(&cj);
  async_info(c, std::string("hi"));
  f.run();
  CHECK(cj.infos == std::vector<std::string>{"hi"});
}

TEST_CASE("rule 62: infos behind events dropped by overflow are delivered, not lost") {
  journal pj;
  fixture f;
  auto p = f.rt.start<stocked>(stage_options{.buffer_size = 2}, &pj, 0, false);
  send(p, std::vector<int>{1, 2});
  async_info(p, std::string("behind"));
  send(p, std::vector<int>{3, 4});  // pushes 1 and 2 out
  f.run();
  CHECK(pj.infos == std::vector<std::string>{"behind"});
}

TEST_CASE("rule 61: on a producer_consumer an info waits behind queued upstream events") {
  journal pj, rj, cj;
  fixture f;
  auto ch = start_chain(f, pj, rj, cj, {}, {.max_demand = 4}, demand_mode::manual);
  auto& r = ch.r;
  auto& down = ch.down;
  f.run();
  async_info(r, std::string("after"));
  f.run();
  CHECK(rj.infos.empty());  // 4 upstream events are queued ahead of it
  ask(down, 4);
  f.run();
  CHECK(sizes(rj) == std::vector<std::size_t>{2, 2});
  // Those 4 used up the downstream demand: the info is next in the queue, and is handled as
  // soon as there is demand again, before the upstream events that arrived after it.
  CHECK(rj.infos.empty());
  ask(down, 1);
  f.run();
  CHECK(rj.infos == std::vector<std::string>{"after"});
  // Then the next queued upstream message (2 events, the relay's first re-ask) is handled whole.
  CHECK(sizes(rj) == std::vector<std::size_t>{2, 2, 2});
}

TEST_CASE("rule 63: async_info from handle_demand stops a producer after its last events") {
  journal cj;
  fixture f;
  auto p = f.rt.start<finite_source>(10);
  auto c = f.rt.start<sink>(&cj);
  subscribe(c, p, {.max_demand = 4, .cancel = cancel_mode::transient});
  f.run();
  CHECK_FALSE(p.alive());
  CHECK(p.exit_reason_if_exited()->is_normal());
  CHECK(cj.flat() == iota(10));
  CHECK(c.alive());  // transient: a normal exit is not a failure
}

TEST_CASE("rule 95: a producer_consumer exiting with buffered events reports how many it drops") {
  journal pj, rj, cj;
  fixture f;
  // Manual both ways, so the relay holds exactly the 10 events asked and has nothing queued.
  auto ch = start_chain(f, pj, rj, cj, {}, {.max_demand = 10, .demand = demand_mode::manual},
                        demand_mode::manual);
  f.run();
  ask(ch.up, 10);
  f.run();
  ask(ch.down, 5);
  f.run();
  REQUIRE(cj.flat() == iota(5));
  REQUIRE(estimate_buffered_count(ch.r) == 5);
  stop(ch.p);  // the relay is permanent towards it: it exits, with 5 events nobody asked for
  f.run();
  CHECK_FALSE(ch.r.alive());
  CHECK(f.logged("exits with 5 buffered events that no consumer asked for"));
}

namespace {

/// Pushes at most 8 events per demand, however large the demand.
struct trickle {
  journal* j;
  int next = 0;
  void handle_demand(std::size_t n, context<int>& ctx) {
    j->demands.push_back(n);
    for (std::size_t i = 0; i < n && i < 8; ++i) ctx.push(next++);
  }
};

}  // namespace

TEST_CASE("F1: a demand of any finite size costs what is pushed, not what is asked") {
  // Every max_demand that subscribe_options accepts is a demand a producer must survive: it is a
  // bound on what may be pushed, and the engine must not allocate it up front.
  for (const std::size_t max : {std::size_t{1} << 32, std::size_t{1} << 40, std::size_t{1} << 62,
                                std::numeric_limits<std::size_t>::max() - 2}) {
    CAPTURE(max);
    journal pj, cj;
    fixture f;
    auto p = f.rt.start<trickle>(&pj);
    auto c = f.rt.start<sink>(&cj);
    subscribe(c, p, {.max_demand = max});
    f.run();
    CHECK(p.alive());
    CHECK(c.alive());
    REQUIRE(pj.demands.size() == 1);
    CHECK(pj.demands[0] == max);
    CHECK(cj.flat() == iota(8));
  }
}

TEST_CASE("F1: ask with a huge n on a manual subscription keeps the producer running") {
  for (const std::size_t n : {std::size_t{1} << 40, std::numeric_limits<std::size_t>::max()}) {
    CAPTURE(n);
    journal pj, cj;
    fixture f;
    auto p = f.rt.start<trickle>(&pj);
    auto c = f.rt.start<sink>(&cj, demand_mode::manual);
    auto sub = subscribe(c, p, {.max_demand = 10});
    f.run();
    ask(sub, n);
    f.run();
    CHECK(p.alive());
    CHECK(cj.flat() == iota(8));
  }
}

namespace {

/// Emits only the events `send` gives it (a std::vector<int>), on the dispatcher `D`.
template <class D>
struct given_on {
  using dispatcher_type = D;
  journal* j;
  void handle_demand(std::size_t n, context<int>&) { j->demands.push_back(n); }
  void handle_info(std::any& msg, context<int>& ctx) {
    if (auto* v = std::any_cast<std::vector<int>>(&msg)) ctx.push_range(*v);
  }
};

/// Asks 3 and then `huge` on a manual subscription to a `given_on<D>` that has sent nothing
/// yet, then gives it 50 events: returns what the consumer received.
template <class D>
std::vector<int> after_huge_asks(std::size_t huge, stage_options popts = {},
                                 subscribe_options sopts = {}) {
  journal pj, cj;
  fixture f;
  auto p = f.rt.start<given_on<D>>(std::move(popts), &pj);
  auto c = f.rt.start<sink>(&cj, demand_mode::manual);
  sopts.max_demand = 10;
  auto sub = subscribe(c, p, std::move(sopts));
  f.run();
  ask(sub, 3);
  ask(sub, huge);
  f.run();
  send(p, std::any(iota(50)));
  f.run();
  CHECK(p.alive());
  return cj.flat();
}

}  // namespace

TEST_CASE("F1: huge asks add up to no bound, never to a sum that wrapped around") {
  // 3 + (SIZE_MAX - 2) is past SIZE_MAX: the sum saturates, so the subscription may take all 50.
  // It used to wrap to 0 (demand, partition) or, on the broadcast dispatcher, to a negative
  // demand that held everything back.
  for (const std::size_t huge : {std::numeric_limits<std::size_t>::max() - 2,
                                 std::numeric_limits<std::size_t>::max(), std::size_t{1} << 63}) {
    CAPTURE(huge);
    CHECK(after_huge_asks<demand_dispatcher<int>>(huge) == iota(50));
    CHECK(after_huge_asks<broadcast_dispatcher<int>>(huge) == iota(50));
    CHECK(after_huge_asks<partition_dispatcher<int>>(
              huge, {.dispatcher_options = partition_options<int>{.partitions = 1}},
              {.dispatch = std::size_t{0}}) == iota(50));
  }
}

namespace {

/// Emits only what it is given (through handle_info), and notes each string info it reaches
/// with how many events its consumer had received by then (one journal for both stages).
struct fifo_source {
  journal* j;
  void handle_demand(std::size_t n, context<int>&) { j->demands.push_back(n); }
  void handle_info(std::any& msg, context<int>& ctx) {
    if (auto* v = std::any_cast<std::vector<int>>(&msg)) ctx.push_range(*v);
    if (auto* s = std::any_cast<std::string>(&msg)) {
      j->infos.push_back(*s + "@" + std::to_string(j->flat().size()));
    }
  }
};

}  // namespace

TEST_CASE("rule 58 and 59: events an info pushes while the buffer drains queue behind it") {
  // Buffer: 0..4, an info whose handle_info pushes 100 and 101, 5..9, an info "J". The buffer
  // is FIFO whatever the infos push, and "J" reaches handle_info only after 0..9 went out.
  for (std::size_t demand : {std::size_t{1}, std::size_t{3}, std::size_t{6}, std::size_t{20}}) {
    CAPTURE(demand);
    journal j;
    fixture f;
    auto p = f.rt.start<fifo_source>(&j);
    send(p, std::any(iota(5)));
    async_info(p, std::any(std::vector<int>{100, 101}));
    send(p, std::any(iota(5, 5)));
    async_info(p, std::any(std::string("J")));
    f.run();
    REQUIRE(estimate_buffered_count(p) == 10);
    auto c = f.rt.start<sink>(&j);
    subscribe(c, p, {.max_demand = demand, .min_demand = 0});
    f.run();
    std::vector<int> expected = iota(10);
    expected.push_back(100);
    expected.push_back(101);
    CHECK(j.flat() == expected);
    REQUIRE(j.infos.size() == 1);
    const int seen = std::stoi(j.infos[0].substr(2));
    // Every event buffered before J had gone out: with at most `demand` in flight, the
    // consumer had handled all but that many of the ten.
    CHECK(seen + static_cast<int>(std::min<std::size_t>(demand, 10)) >= 10);
  }
}

TEST_CASE("every loss is counted: buffer overflow shows in estimate_dropped_count, either keep") {
  for (const buffer_keep keep : {buffer_keep::last, buffer_keep::first}) {
    for (const std::size_t size : {std::size_t{1}, std::size_t{5}, std::size_t{64}}) {
      CAPTURE(size);
      journal pj;
      fixture f;
      auto p = f.rt.start<stocked>(stage_options{.buffer_size = size, .buffer_keep = keep}, &pj);
      send(p, std::any(iota(static_cast<int>(size) + 3)));  // no consumer: 3 too many
      send(p, std::any(iota(2)));                           // 2 more too many
      f.run();
      CHECK(estimate_buffered_count(p) == size);
      CHECK(estimate_dropped_count(p) == 5);
    }
  }
}
