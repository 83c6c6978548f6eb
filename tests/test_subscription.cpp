// SPEC section B (subscribing) and the demand rules that depend on how a subscription is made
// (36, 41, 42): subscribe, async_subscribe, subscribe_to, cancel modes at subscribe time, manual
// demand and unknown subscriptions. Stepped on the fixture's deterministic executor.
//
// Left out: rule 21 (a missing `:to` cannot be written: the producer is a parameter), rule 29
// (`{:global, _}` / `{:via, _, _}` names are Elixir-only), rule 30 (no resubscribe call in the
// API), rule 32 (subscription ids come from the runtime, so the public API cannot send the same
// id twice; rule 35 covers two subscriptions of one consumer) and rule 34 (the roles are checked
// before any message is sent, see rule 24).
#include <algorithm>
#include <any>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <future>
#include <map>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/harness.hpp"

namespace {

using namespace dmtest;

/// What a call threw: the `errc` name and `what()`, or "none".
struct thrown {
  std::string code = "none";
  std::string what;
};

template <class F>
thrown thrown_by(F&& f) {
  try {
    f();
  } catch (const datamesh::error& e) {
    return {datamesh::to_string(static_cast<datamesh::errc>(e.code().value())), e.what()};
  }
  return {};
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

/// A consumer of strings, to mismatch an int producer.
struct string_sink {
  std::vector<std::string>* seen;
  explicit string_sink(std::vector<std::string>* s) : seen(s) {}
  void handle_events(std::span<const std::string> in) {
    seen->insert(seen->end(), in.begin(), in.end());
  }
};

/// A consumer with no handle_subscribe: its demand mode comes from the subscribe options.
struct plain_sink {
  journal* j;
  explicit plain_sink(journal* jr) : j(jr) {}
  void handle_events(std::span<const int> in) { j->batches.emplace_back(in.begin(), in.end()); }
};

/// What both sides' handle_subscribe saw (rule 27).
struct seen_subscribe {
  std::vector<std::string> producer_side;  // "peer:extra" on the producer
  std::vector<std::string> consumer_side;  // "peer:extra" on the consumer
};

std::string describe(datamesh::peer_role peer, const datamesh::subscribe_options& opts) {
  const auto* extra = std::any_cast<std::string>(&opts.extra);
  return std::string(datamesh::to_string(peer)) + ":" + (extra ? *extra : std::string("<none>"));
}

/// A producer recording the options its handle_subscribe receives.
struct extra_source {
  seen_subscribe* seen;
  explicit extra_source(seen_subscribe* s) : seen(s) {}
  void handle_demand(std::size_t, datamesh::context<int>&) {}
  void handle_subscribe(datamesh::peer_role peer, const datamesh::subscription&,
                        const datamesh::subscribe_options& opts, datamesh::context<int>&) {
    seen->producer_side.push_back(describe(peer, opts));
  }
};

/// A consumer recording the options its handle_subscribe receives.
struct extra_sink {
  seen_subscribe* seen;
  explicit extra_sink(seen_subscribe* s) : seen(s) {}
  void handle_events(std::span<const int>) {}
  void handle_subscribe(datamesh::peer_role peer, const datamesh::subscription&,
                        const datamesh::subscribe_options& opts, datamesh::context<void>&) {
    seen->consumer_side.push_back(describe(peer, opts));
  }
};

/// A consumer keeping the events of each subscription apart (rule 35).
struct per_subscription_sink {
  std::map<datamesh::subscription_id, std::vector<int>>* by_sub;
  explicit per_subscription_sink(std::map<datamesh::subscription_id, std::vector<int>>* m)
      : by_sub(m) {}
  void handle_events(std::span<const int> in, const datamesh::subscription& from,
                     datamesh::context<void>&) {
    auto& v = (*by_sub)[from.id()];
    v.insert(v.end(), in.begin(), in.end());
  }
};

}  // namespace

TEST_CASE("rule 20: subscribe returns the subscription before the producer has seen it") {
  journal pj, cj;
  fixture f;
  auto p = f.rt.start<manual_source>(&pj);
  auto c = f.rt.start<sink>(&cj);

  auto sub = datamesh::subscribe(c, p, {.max_demand = 10});

  CHECK(static_cast<bool>(sub));
  CHECK(sub.consumer() == c);
  CHECK(sub.producer() == p);
  CHECK(f.ex.steps() == 0);
  CHECK(cj.subscriptions.empty());
  CHECK(pj.demands.empty());

  f.run();

  REQUIRE(cj.subscriptions.size() == 1);
  CHECK(cj.subscriptions[0] == sub);
  CHECK(cj.subscriptions[0].id() == sub.id());
  CHECK(pj.demands == std::vector<std::size_t>{10});
}

TEST_CASE("rule 22: bad subscribe options throw bad_options and the consumer stays alive") {
  struct bad_case {
    std::size_t max_demand;
    std::optional<std::size_t> min_demand;
    std::string names;   // the option the message names
    std::string detail;  // the GenStage-like detail
  };
  // Plain values here, options built in the loop: GCC 12 at -O3 warns (falsely) on the
  // std::any inside a subscribe_options temporary in an aggregate initializer.
  const std::vector<bad_case> cases = {
      {0, std::nullopt, "max_demand", "got: 0"},
      {datamesh::infinity, std::nullopt, "max_demand", "got: infinity"},
      {1000, 2000, "min_demand to be equal to or less than 999", "got: 2000"},
      {10, 10, "min_demand to be equal to or less than 9", "got: 10"},
  };

  for (const auto& bad : cases) {
    CAPTURE(bad.detail);
    journal pj, cj;
    fixture f;
    auto p = f.rt.start<manual_source>(&pj);
    auto c = f.rt.start<sink>(&cj);

    datamesh::subscribe_options opts;
    opts.max_demand = bad.max_demand;
    opts.min_demand = bad.min_demand;
    const thrown t = thrown_by([&] { datamesh::subscribe(c, p, opts); });
    CHECK(t.code == "bad_options");
    CHECK(contains(t.what, bad.names));
    CHECK(contains(t.what, bad.detail));

    f.run();
    CHECK(c.alive());
    CHECK(p.alive());
    CHECK(cj.subscriptions.empty());
    CHECK(pj.demands.empty());

    // The consumer can still subscribe properly.
    auto sub = datamesh::subscribe(c, p, {.max_demand = 10});
    f.run();
    REQUIRE(cj.subscriptions.size() == 1);
    CHECK(cj.subscriptions[0] == sub);
    CHECK(pj.demands == std::vector<std::size_t>{10});
  }
}

TEST_CASE("rule 22: the demand bounds accept max 1 min 0 and min just below max") {
  for (std::size_t max : {std::size_t{1}, std::size_t{2}, std::size_t{1000}}) {
    CAPTURE(max);
    journal pj, cj;
    fixture f;
    auto p = f.rt.start<manual_source>(&pj);
    auto c = f.rt.start<sink>(&cj);
    const thrown t =
        thrown_by([&] { datamesh::subscribe(c, p, {.max_demand = max, .min_demand = max - 1}); });
    CHECK(t.code == "none");
    f.run();
    CHECK(pj.demands == std::vector<std::size_t>{max});
    CHECK(c.alive());
  }
}

namespace {

/// Subscribes through untyped handles, which only the run-time checks can refuse; returns what
/// was thrown after checking that both stages are still running.
thrown refused_untyped(fixture& f, datamesh::stage_ref consumer, datamesh::stage_ref producer) {
  const thrown t = thrown_by([&] { datamesh::subscribe(consumer, producer); });
  f.run();
  CHECK(consumer.alive());
  CHECK(producer.alive());
  return t;
}

}  // namespace

TEST_CASE("rule 24: a pure producer cannot be subscribed through untyped handles") {
  journal j1, j2;
  fixture f;
  auto p1 = f.rt.start<manual_source>(&j1);
  auto p2 = f.rt.start<manual_source>(&j2);
  const thrown t = refused_untyped(f, p1, p2);
  CHECK(t.code == "not_a_consumer");
  CHECK(contains(t.what, "rule 24"));
  CHECK(f.logged("is a producer and cannot be subscribed to another stage"));
  CHECK(j1.demands.empty());
  CHECK(j2.demands.empty());
}

TEST_CASE("rule 24: untyped handles with different event types throw type_mismatch") {
  journal pj;
  fixture f;
  std::vector<std::string> seen;
  auto p = f.rt.start<manual_source>(&pj);  // produces int
  auto c = f.rt.start<string_sink>(&seen);  // consumes std::string
  const thrown t = refused_untyped(f, c, p);
  CHECK(t.code == "type_mismatch");
  // The message names both types as written, not as the compiler mangles them.
  CHECK(contains(t.what, "(output int)"));
  CHECK(contains(t.what, "std::"));
  CHECK(contains(t.what, "basic_string<char"));
  CHECK(pj.demands.empty());
  CHECK(seen.empty());
}

TEST_CASE("F15: a stage subscribed to itself is refused with self_connection") {
  journal rj;
  fixture f;
  auto r = f.rt.start<relay>(&rj);
  CHECK(refused_untyped(f, r, r).code == "self_connection");
  CHECK(thrown_by([&] { datamesh::subscribe(r, r); }).code == "self_connection");
  CHECK(rj.batches.empty());
}

TEST_CASE("rule 24: subscribing to a pure consumer through untyped handles throws not_a_producer") {
  journal j1, j2;
  fixture f;
  auto c1 = f.rt.start<sink>(&j1);
  auto c2 = f.rt.start<sink>(&j2);
  CHECK(refused_untyped(f, c1, c2).code == "not_a_producer");
  CHECK(j1.subscriptions.empty());
  CHECK(j2.subscriptions.empty());
}

TEST_CASE("rule 25: subscribing an exited consumer throws no_stage") {
  journal pj, cj;
  fixture f;
  auto p = f.rt.start<manual_source>(&pj);
  auto c = f.rt.start<sink>(&cj);
  datamesh::stop(c);
  f.run();
  REQUIRE_FALSE(c.alive());

  SUBCASE("typed handles") {
    const thrown t = thrown_by([&] { datamesh::subscribe(c, p, {.max_demand = 10}); });
    CHECK(t.code == "no_stage");
  }
  SUBCASE("untyped handles") {
    const datamesh::stage_ref consumer_side = c;
    const datamesh::stage_ref producer_side = p;
    const thrown t = thrown_by([&] { datamesh::subscribe(consumer_side, producer_side); });
    CHECK(t.code == "no_stage");
  }
  SUBCASE("an empty consumer handle") {
    const thrown t = thrown_by([&] { datamesh::subscribe(datamesh::stage_ref{}, p); });
    CHECK(t.code == "no_stage");
  }

  f.run();
  CHECK(pj.demands.empty());
  CHECK(cj.subscriptions.empty());
  CHECK(p.alive());
}

TEST_CASE("rule 26: a dead or missing producer makes a non-temporary consumer exit noproc") {
  struct mode_case {
    datamesh::cancel_mode mode;
    bool exits;
  };
  const std::vector<mode_case> modes = {{datamesh::cancel_mode::permanent, true},
                                        {datamesh::cancel_mode::transient, true},
                                        {datamesh::cancel_mode::temporary, false}};

  for (bool empty_handle : {false, true}) {
    for (const auto& m : modes) {
      CAPTURE(empty_handle);
      CAPTURE(datamesh::to_string(m.mode));
      journal pj, cj;
      fixture f;
      datamesh::stage_ref producer;
      if (!empty_handle) {
        auto p = f.rt.start<manual_source>(&pj);
        datamesh::stop(p);
        f.run();
        REQUIRE_FALSE(p.alive());
        producer = p;
      }
      auto c = f.rt.start<sink>(&cj);

      datamesh::subscription sub;
      const thrown t = thrown_by(
          [&] { sub = datamesh::subscribe(c, producer, {.max_demand = 10, .cancel = m.mode}); });
      CHECK(t.code == "none");
      CHECK(static_cast<bool>(sub));
      CHECK(c.alive());  // subscribe returned before the consumer looked at the producer

      f.run();
      CHECK(f.logged("was not able to subscribe"));
      CHECK(cj.subscriptions.empty());
      CHECK(pj.demands.empty());
      if (m.exits) {
        CHECK_FALSE(c.alive());
        REQUIRE(c.exit_reason_if_exited().has_value());
        CHECK(c.exit_reason_if_exited()->get_kind() == datamesh::exit_reason::kind::noproc);
        CHECK(cj.terminated == std::vector<datamesh::exit_reason>{datamesh::exit_reason::noproc()});
      } else {
        CHECK(c.alive());
        CHECK(cj.terminated.empty());
      }
    }
  }
}

TEST_CASE("rule 27: subscribe_options extra reaches both handle_subscribe callbacks") {
  fixture f;
  seen_subscribe seen;
  auto p = f.rt.start<extra_source>(&seen);
  auto c = f.rt.start<extra_sink>(&seen);

  datamesh::subscribe(c, p, {.max_demand = 10, .extra = std::string("consumer_demand=7")});
  f.run();

  CHECK(seen.consumer_side == std::vector<std::string>{"producer:consumer_demand=7"});
  CHECK(seen.producer_side == std::vector<std::string>{"consumer:consumer_demand=7"});
}

TEST_CASE("rule 28: stage_options subscribe_to subscribes while the consumer starts") {
  journal pj, cj;
  fixture f;
  auto p = f.rt.start<manual_source>(&pj);
  auto c = f.rt.start<sink>(datamesh::stage_options{.name = "subscribed_at_start",
                                                    .subscribe_to = {{p, {.max_demand = 10}}}},
                            &cj);

  // The request is queued by the time start returns; nothing has run yet.
  CHECK(f.ex.pending() == 1);
  CHECK(cj.subscriptions.empty());
  CHECK(pj.demands.empty());

  f.run();
  REQUIRE(cj.subscriptions.size() == 1);
  CHECK(cj.subscriptions[0].producer() == p);
  CHECK(cj.subscriptions[0].consumer() == c);
  CHECK(pj.demands == std::vector<std::size_t>{10});

  datamesh::send(p, std::vector<int>{1, 2, 3});
  f.run();
  CHECK(cj.batches == std::vector<std::vector<int>>{{1, 2, 3}});
}

TEST_CASE("rule 28: subscribe_to with bad options refuses to start the stage") {
  journal pj, cj;
  fixture f;
  auto p = f.rt.start<manual_source>(&pj);
  const thrown t = thrown_by([&] {
    f.rt.start<sink>(
        datamesh::stage_options{.name = "bad_start", .subscribe_to = {{p, {.max_demand = 0}}}},
        &cj);
  });
  CHECK(t.code == "bad_options");
  f.run();
  CHECK(pj.demands.empty());
  CHECK(cj.subscriptions.empty());
  CHECK(f.rt.stage_count() == 1);
}

TEST_CASE("F2: subscribe_to is checked as subscribe is: types and roles refuse the start") {
  // One checked path for every way of subscribing: what subscribe refuses, subscribe_to refuses
  // at start, before the stage exists, and the producer keeps running untouched.
  journal pj, cj, other;
  fixture f;
  auto p = f.rt.start<manual_source>(&pj);  // produces int
  auto c = f.rt.start<sink>(&cj);           // a pure consumer
  std::vector<std::string> seen;

  SUBCASE("a consumer of another event type: type_mismatch") {
    const thrown t = thrown_by([&] {
      f.rt.start<string_sink>(datamesh::stage_options{.subscribe_to = {{p, {}}}}, &seen);
    });
    CHECK(t.code == "type_mismatch");
  }
  SUBCASE("a consumer named as the producer: not_a_producer") {
    const thrown t = thrown_by([&] {
      f.rt.start<sink>(datamesh::stage_options{.subscribe_to = {{c, {}}}}, &other);
    });
    CHECK(t.code == "not_a_producer");
  }
  SUBCASE("an enum value outside its enumeration: bad_options") {
    datamesh::subscribe_options bad;
    bad.cancel = static_cast<cancel_mode>(77);
    const thrown t = thrown_by([&] {
      f.rt.start<sink>(datamesh::stage_options{.subscribe_to = {{p, bad}}}, &other);
    });
    CHECK(t.code == "bad_options");
  }
  f.run();
  CHECK(f.rt.stage_count() == 2);  // nothing started
  CHECK(seen.empty());
  CHECK(other.subscriptions.empty());
  CHECK(pj.demands.empty());
  CHECK(p.alive());
  CHECK(c.alive());
  // Both still subscribe properly.
  subscribe(c, p, {.max_demand = 3});
  f.run();
  CHECK(pj.demands == std::vector<std::size_t>{3});
}

TEST_CASE("F14: enum values outside their enumeration are bad_options at subscribe and start") {
  journal pj, cj;
  fixture f;
  auto p = f.rt.start<manual_source>(&pj);
  auto c = f.rt.start<sink>(&cj);
  datamesh::subscribe_options bad_cancel;
  bad_cancel.cancel = static_cast<cancel_mode>(77);
  datamesh::subscribe_options bad_demand;
  bad_demand.demand = static_cast<demand_mode>(9);
  CHECK(thrown_by([&] { datamesh::subscribe(c, p, bad_cancel); }).code == "bad_options");
  CHECK(thrown_by([&] { datamesh::subscribe(c, p, bad_demand); }).code == "bad_options");
  CHECK(thrown_by([&] {
          f.rt.start<manual_source>(
              datamesh::stage_options{.buffer_keep = static_cast<buffer_keep>(9)}, &pj);
        }).code == "bad_options");
  CHECK(thrown_by([&] {
          f.rt.start<manual_source>(
              datamesh::stage_options{.demand = static_cast<producer_demand>(5)}, &pj);
        }).code == "bad_options");
  f.run();
  CHECK(cj.subscriptions.empty());
  CHECK(f.rt.stage_count() == 2);
}

TEST_CASE("rule 31: async_subscribe with bad options does not throw, logs and keeps the consumer") {
  journal pj, cj;
  fixture f;
  auto p = f.rt.start<manual_source>(&pj);
  auto c = f.rt.start<sink>(&cj);

  datamesh::subscription bad;
  const thrown t = thrown_by([&] { bad = datamesh::async_subscribe(c, p, {.max_demand = 0}); });
  CHECK(t.code == "none");
  CHECK_FALSE(static_cast<bool>(bad));
  CHECK(f.logged("expected max_demand"));

  f.run();
  CHECK(c.alive());
  CHECK(cj.subscriptions.empty());
  CHECK(pj.demands.empty());

  auto good = datamesh::async_subscribe(c, p, {.max_demand = 10});
  CHECK(static_cast<bool>(good));
  f.run();
  REQUIRE(cj.subscriptions.size() == 1);
  CHECK(cj.subscriptions[0] == good);
  CHECK(pj.demands == std::vector<std::size_t>{10});
}

TEST_CASE("rule 31: async_subscribe to a dead producer shows up later as a consumer exit") {
  journal pj, cj;
  fixture f;
  auto p = f.rt.start<manual_source>(&pj);
  auto c = f.rt.start<sink>(&cj);
  datamesh::stop(p);
  f.run();

  auto sub = datamesh::async_subscribe(c, p, {.max_demand = 10});
  CHECK(static_cast<bool>(sub));
  CHECK(c.alive());
  f.run();
  CHECK_FALSE(c.alive());
  REQUIRE(c.exit_reason_if_exited().has_value());
  CHECK(c.exit_reason_if_exited()->get_kind() == datamesh::exit_reason::kind::noproc);
}

TEST_CASE(
    "rule 35: a consumer subscribed twice to one producer has two independent subscriptions") {
  journal pj;
  fixture f;
  std::map<datamesh::subscription_id, std::vector<int>> by_sub;
  auto p = f.rt.start<manual_source>(&pj);
  auto c = f.rt.start<per_subscription_sink>(&by_sub);

  const datamesh::subscribe_options opts{.max_demand = 10,
                                         .cancel = datamesh::cancel_mode::temporary};
  auto first = datamesh::subscribe(c, p, opts);
  auto second = datamesh::subscribe(c, p, opts);
  CHECK(first.id() != second.id());
  f.run();
  CHECK(pj.demands == std::vector<std::size_t>{10, 10});

  // 20 events: the first subscription's 10, then the second's 10 (largest demand, earlier first).
  datamesh::send(p, iota(20));
  f.run();
  REQUIRE(by_sub.size() == 2);
  CHECK(by_sub[first.id()] == iota(10));
  CHECK(by_sub[second.id()] == iota(10, 10));

  // Cancelling one leaves the other serving.
  datamesh::cancel(first, datamesh::exit_reason::normal());
  f.run();
  CHECK(c.alive());
  datamesh::send(p, iota(5, 20));
  f.run();
  CHECK(by_sub[first.id()] == iota(10));
  CHECK(by_sub[second.id()] == iota(15, 10));
}

TEST_CASE("rule 33: an ask on a cancelled subscription never reaches handle_demand") {
  journal pj, cj;
  fixture f;
  auto p = f.rt.start<counter>(&pj);
  auto c = f.rt.start<sink>(&cj, datamesh::demand_mode::manual);
  auto sub =
      datamesh::subscribe(c, p, {.max_demand = 10, .cancel = datamesh::cancel_mode::temporary});
  f.run();
  REQUIRE(cj.subscriptions.size() == 1);

  datamesh::cancel(sub, datamesh::exit_reason::normal());
  f.run();
  REQUIRE(pj.cancels.size() == 1);
  REQUIRE(cj.cancels.size() == 1);

  datamesh::ask(sub, 5);
  f.run();
  CHECK(pj.demands.empty());
  CHECK(cj.batches.empty());
  // The producer's unknown_subscription answer finds nothing left to cancel on the consumer.
  CHECK(cj.cancels.size() == 1);
  CHECK(pj.cancels.size() == 1);
  CHECK(p.alive());
  CHECK(c.alive());
}

TEST_CASE("rule 33: an ask the producer does not know is answered with unknown_subscription") {
  // An ask reaches the producer before the consumer's subscribe request (FIFO order of the
  // deterministic executor): the producer answers it with unknown_subscription, which the
  // consumer, that does know the subscription, handles as a cancel. `datamesh::ask` goes through
  // the consumer and cannot overtake its subscribe any more (rule 41), so the test sends the
  // protocol message a peer would.
  journal pj, cj;
  fixture f;
  auto p = f.rt.start<counter>(&pj);
  auto c = f.rt.start<sink>(&cj, datamesh::demand_mode::manual);
  auto sub = datamesh::subscribe(c, p, {.max_demand = 10});
  p.core_ptr()->post_ask(sub.id(), 5, c.core_ptr().get());
  f.run();

  CHECK(pj.demands.empty());
  CHECK(cj.batches.empty());
  REQUIRE(cj.cancels.size() == 1);
  CHECK(cj.cancels[0].kind == datamesh::cancel_kind::cancel);
  CHECK(cj.cancels[0].reason == datamesh::exit_reason::unknown_subscription());
  // A permanent consumer exits with the raw reason (rule 87), and its producer, which did
  // register the subscription, sees it go down (rule 93).
  CHECK_FALSE(c.alive());
  REQUIRE(c.exit_reason_if_exited().has_value());
  CHECK(*c.exit_reason_if_exited() == datamesh::exit_reason::unknown_subscription());
  CHECK(p.alive());
  REQUIRE(pj.cancels.size() == 1);
  CHECK(pj.cancels[0].kind == datamesh::cancel_kind::down);
  CHECK(pj.cancels[0].reason == datamesh::exit_reason::unknown_subscription());
}

TEST_CASE("rule 36: an automatic subscription asks for max_demand as soon as it is made") {
  struct demand_case {
    datamesh::subscribe_options opts;
    std::size_t expected;
  };
  const std::vector<demand_case> cases = {{{}, 1000},
                                          {{.max_demand = 10}, 10},
                                          {{.max_demand = 7, .min_demand = 3}, 7},
                                          {{.max_demand = 1, .min_demand = 0}, 1}};
  for (const auto& dc : cases) {
    CAPTURE(dc.expected);
    journal pj, cj;
    fixture f;
    auto p = f.rt.start<manual_source>(&pj);
    auto c = f.rt.start<sink>(&cj);
    datamesh::subscribe(c, p, dc.opts);
    f.run();
    CHECK(pj.demands == std::vector<std::size_t>{dc.expected});
  }
}

namespace {

/// A manual consumer that asks from handle_subscribe.
struct eager_manual {
  journal* j;
  void handle_events(std::span<const int> in) { j->batches.emplace_back(in.begin(), in.end()); }
  demand_mode handle_subscribe(peer_role, const subscription& s, const subscribe_options&,
                               context<void>& ctx) {
    ctx.ask(s, 2);
    return demand_mode::manual;
  }
};

}  // namespace

TEST_CASE("rule 41: an ask made in handle_subscribe or right after subscribe follows it") {
  journal pj, cj, dj;
  fixture f;
  auto p = f.rt.start<counter>(&pj);
  auto c = f.rt.start<eager_manual>(&cj);
  auto d = f.rt.start<sink>(&dj, datamesh::demand_mode::manual);
  datamesh::subscribe(c, p, {.max_demand = 10});
  auto sub = datamesh::subscribe(d, p, {.max_demand = 10});
  datamesh::ask(sub, 3);  // before anything ran
  f.run();
  CHECK(cj.batches == std::vector<std::vector<int>>{{0, 1}});
  CHECK(dj.batches == std::vector<std::vector<int>>{{2, 3, 4}});
  CHECK(dj.cancels.empty());
  CHECK_FALSE(f.logged("unknown"));
}

TEST_CASE("rule 41: a manual subscription asks only on ask n, and ask 0 does nothing") {
  journal pj, cj;
  fixture f;
  auto p = f.rt.start<counter>(&pj);
  datamesh::subscription sub;

  SUBCASE("manual chosen by the consumer's handle_subscribe") {
    auto c = f.rt.start<sink>(&cj, datamesh::demand_mode::manual);
    sub = datamesh::subscribe(c, p, {.max_demand = 10});
  }
  SUBCASE("manual chosen by the subscribe options") {
    auto c = f.rt.start<plain_sink>(&cj);
    sub = datamesh::subscribe(c, p, {.max_demand = 10, .demand = datamesh::demand_mode::manual});
  }

  f.run();
  CHECK(pj.demands.empty());
  CHECK(cj.batches.empty());

  datamesh::ask(sub, 0);
  f.run();
  CHECK(pj.demands.empty());
  CHECK(cj.batches.empty());

  datamesh::ask(sub, 3);
  f.run();
  CHECK(pj.demands == std::vector<std::size_t>{3});
  CHECK(cj.batches == std::vector<std::vector<int>>{{0, 1, 2}});

  // Nothing more is asked on the consumer's behalf after the events.
  f.run();
  CHECK(pj.demands == std::vector<std::size_t>{3});

  datamesh::ask(sub, 4);
  f.run();
  CHECK(pj.demands == std::vector<std::size_t>{3, 4});
  CHECK(cj.batches == std::vector<std::vector<int>>{{0, 1, 2}, {3, 4, 5, 6}});
}

TEST_CASE("rule 42: a manual subscription hands a whole message over as one batch") {
  journal pj, cj;
  fixture f;
  auto p = f.rt.start<counter>(&pj);
  auto c = f.rt.start<sink>(&cj, datamesh::demand_mode::manual);
  // max - min is 5: an automatic subscription would cut these messages into batches of 5.
  auto sub = datamesh::subscribe(c, p, {.max_demand = 10, .min_demand = 5});
  f.run();

  datamesh::ask(sub, 10);
  f.run();
  datamesh::ask(sub, 8);
  f.run();

  CHECK(pj.demands == std::vector<std::size_t>{10, 8});
  CHECK(sizes(cj) == std::vector<std::size_t>{10, 8});
  CHECK(cj.flat() == iota(18));
  CHECK_FALSE(f.logged("in excess"));
}

// -- sync_subscribe: the future says the producer has the subscriber ---

namespace {

bool ready(const std::future<datamesh::subscription>& f) {
  return f.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
}

/// What the future of a refused sync_subscribe threw: the `errc` name, or "none".
std::string refusal(std::future<datamesh::subscription>& f) {
  return thrown_by([&] { f.get(); }).code;
}

struct broadcasting_counter : counter {
  using dispatcher_type = datamesh::broadcast_dispatcher<int>;
  using counter::counter;
};

/// A producer whose handle_subscribe throws: it exits before it accepts anyone.
struct refusing_source {
  void handle_demand(std::size_t, datamesh::context<int>&) {}
  void handle_subscribe(datamesh::peer_role, const datamesh::subscription&,
                        const datamesh::subscribe_options&, datamesh::context<int>&) {
    throw std::runtime_error("no subscribers today");
  }
};

}  // namespace

TEST_CASE("sync_subscribe: the future is ready once the producer's handle_subscribe has run") {
  fixture f;
  seen_subscribe seen;
  auto p = f.rt.start<extra_source>(&seen);
  auto c = f.rt.start<extra_sink>(&seen);

  auto accepted = datamesh::sync_subscribe(c, p, {.max_demand = 4, .extra = std::string("x")});
  CHECK_FALSE(ready(accepted));
  CHECK(f.ex.steps() == 0);

  // Step until the future is ready: at that step, and not before, the producer has it.
  while (!ready(accepted)) {
    CHECK(seen.producer_side.empty());
    REQUIRE(f.ex.run_one());
  }
  CHECK(seen.producer_side == std::vector<std::string>{"consumer:x"});
  const datamesh::subscription sub = accepted.get();
  CHECK(static_cast<bool>(sub));
  CHECK(sub.consumer() == c);
  CHECK(sub.producer() == p);
  f.run();
  CHECK(seen.consumer_side == std::vector<std::string>{"producer:x"});
}

TEST_CASE("sync_subscribe: accumulate, wait for every future, forward: all see the first event") {
  // The README's broadcast recipe, under random interleavings: without the futures, a consumer
  // whose subscription lands after the switch to forward misses the first events (rule 74).
  for (std::uint64_t seed = 1; seed <= 40; ++seed) {
    CAPTURE(seed);
    datamesh::deterministic_executor ex(seed);
    datamesh::runtime rt(ex, datamesh::runtime_options{.threads = 0});
    journal pj, aj, bj, cj;
    auto p = rt.start<broadcasting_counter>({.demand = datamesh::producer_demand::accumulate}, &pj);
    std::vector<std::future<datamesh::subscription>> accepted;
    std::vector<journal*> journals{&aj, &bj, &cj};
    std::vector<datamesh::stage_handle<sink>> consumers;
    std::size_t max_demand = 3;
    for (journal* j : journals) {
      consumers.push_back(rt.start<sink>(j));
      accepted.push_back(datamesh::sync_subscribe(consumers.back(), p, {.max_demand = max_demand}));
      max_demand += 2;
    }
    REQUIRE(ex.run_until([&] {
      return std::all_of(accepted.begin(), accepted.end(), [](auto& a) { return ready(a); });
    }));
    for (auto& a : accepted) CHECK(static_cast<bool>(a.get()));
    CHECK(pj.demands.empty());  // accumulating: nothing emitted yet

    datamesh::demand(p, datamesh::producer_demand::forward);
    REQUIRE(ex.run_until([&] { return cj.flat().size() >= 30; }));
    for (journal* j : journals) {
      const auto v = j->flat();
      REQUIRE_FALSE(v.empty());
      CHECK(v.front() == 0);
      CHECK(std::adjacent_find(v.begin(), v.end(), [](int a, int b) { return b != a + 1; }) ==
            v.end());
    }
    datamesh::stop(p);
    ex.run(10'000);
  }
}

TEST_CASE("sync_subscribe: a dead or missing producer fails the future with no_stage") {
  for (bool temporary : {false, true}) {
    CAPTURE(temporary);
    journal pj, cj;
    fixture f;
    auto p = f.rt.start<manual_source>(&pj);
    datamesh::stop(p);
    f.run();
    auto c = f.rt.start<sink>(&cj);
    const auto mode =
        temporary ? datamesh::cancel_mode::temporary : datamesh::cancel_mode::permanent;

    auto accepted = datamesh::sync_subscribe(c, p, {.cancel = mode});
    auto to_nobody = datamesh::sync_subscribe(datamesh::stage_ref(c), datamesh::stage_ref(),
                                              {.cancel = datamesh::cancel_mode::temporary});
    f.run();
    CHECK(refusal(accepted) == "no_stage");
    CHECK(refusal(to_nobody) == "no_stage");
    CHECK(c.alive() == temporary);  // rule 26 still holds
  }
}

TEST_CASE("sync_subscribe: a refusal by the producer's dispatcher reaches the future, typed") {
  journal pj, cj;
  fixture f;
  auto p = f.rt.start<broadcasting_counter>({.demand = datamesh::producer_demand::accumulate}, &pj);
  auto c = f.rt.start<sink>(&cj);
  auto first = datamesh::sync_subscribe(c, p, {.max_demand = 5});
  auto second = datamesh::sync_subscribe(c, p, {.max_demand = 5});  // rule 35
  f.run();
  CHECK(static_cast<bool>(first.get()));
  CHECK(refusal(second) == "already_subscribed");
  CHECK(c.alive());
  CHECK(p.alive());
}

TEST_CASE("sync_subscribe: a producer that exits in handle_subscribe fails the future") {
  journal cj;
  fixture f;
  auto p = f.rt.start<refusing_source>();
  auto c = f.rt.start<sink>(&cj);
  auto accepted = datamesh::sync_subscribe(c, p, {.cancel = datamesh::cancel_mode::temporary});
  f.run();
  CHECK(refusal(accepted) == "no_stage");
  CHECK_FALSE(p.alive());
  CHECK(c.alive());
}

TEST_CASE("sync_subscribe: a consumer stopped before it sends the request fails the future") {
  journal pj, cj;
  fixture f;
  auto p = f.rt.start<manual_source>(&pj);
  auto c = f.rt.start<sink>(&cj);
  auto accepted = datamesh::sync_subscribe(c, p);
  datamesh::stop(c);  // overtakes the queued subscribe
  f.run();
  CHECK(refusal(accepted) == "no_stage");
  CHECK(p.alive());
  CHECK(pj.demands.empty());
}

TEST_CASE("sync_subscribe: bad requests throw at once, as subscribe does") {
  journal pj, cj;
  fixture f;
  auto p = f.rt.start<manual_source>(&pj);
  auto c = f.rt.start<sink>(&cj);
  CHECK(thrown_by([&] { datamesh::sync_subscribe(c, p, {.max_demand = 0}); }).code ==
        "bad_options");
  CHECK(thrown_by([&] {
          datamesh::sync_subscribe(datamesh::stage_ref(c), datamesh::stage_ref(c));
        }).code == "self_connection");
  datamesh::stop(c);
  f.run();
  CHECK(thrown_by([&] { datamesh::sync_subscribe(c, p); }).code == "no_stage");
  CHECK(p.alive());
}
