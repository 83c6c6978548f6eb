// Schedule exploration: the core scenarios under many seeded random interleavings of stage steps
// and message deliveries, with invariants checked after every step: no subscription carries more
// events in flight than its demand, nothing is lost or duplicated, buffers stay within their
// bounds. A failure names the seed that replays it (tests/support/explore.hpp).
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "support/explore.hpp"
#include "support/harness.hpp"
#include "support/mesh.hpp"

using namespace dmtest;

namespace {

std::size_t total(const std::vector<std::size_t>& v) {
  std::size_t n = 0;
  for (auto x : v) n += x;
  return n;
}

std::size_t received(const journal& j) {
  std::size_t n = 0;
  for (const auto& b : j.batches) n += b.size();
  return n;
}

/// "" when `in_flight` is within `demand`; else the violation, named `what`.
std::string within(const char* what, std::size_t in_flight, std::size_t demand) {
  if (in_flight <= demand) return {};
  return std::string(what) + ": " + std::to_string(in_flight) + " events in flight, demand " +
         std::to_string(demand);
}

struct broadcasting_counter : counter {
  using dispatcher_type = broadcast_dispatcher<int>;
  using counter::counter;
};

struct partitioned_counter : counter {
  using dispatcher_type = partition_dispatcher<int>;
  using counter::counter;
};

/// Broadcasts what it receives; throws on 13, so its supervisor restarts it.
struct unlucky {
  mesh_logic::none init(const node_args&) { return {}; }
  mesh_logic::none process(const int& x, mesh_logic::none s, node_context<int>& ctx) {
    if (x == 13) throw std::runtime_error("13 is unlucky");
    ctx.broadcast(x);
    return s;
  }
};

}  // namespace

TEST_CASE("exploration: producer -> producer_consumer -> consumer (rules 44-47, 61)") {
  explore(300, [](std::uint64_t seed) {
    journal pj, rj, cj;
    explored x(seed);
    auto p = x.rt.start<counter>(&pj);
    auto r = x.rt.start<relay>(&rj);
    auto c = x.rt.start<sink>(&cj);
    subscribe(c, r, {.max_demand = 7, .min_demand = 3});
    subscribe(r, p, {.max_demand = 5, .min_demand = 2});
    auto check = [&]() -> std::string {
      const std::size_t emitted = total(pj.demands);
      const std::size_t relayed = received(rj);
      const std::size_t sunk = received(cj);
      if (auto v = within("producer -> relay", emitted - relayed, 5); !v.empty()) return v;
      const std::size_t held = r.core_ptr()->buffered_estimate();
      if (auto v = within("relay -> sink", relayed - held - sunk, 7); !v.empty()) return v;
      return contiguous(cj.flat(), 0);
    };
    REQUIRE(x.run_checked([&] { return received(cj) >= 200; }, check));
    CHECK(contiguous(rj.flat(), 0).empty());
  });
}

TEST_CASE("exploration: broadcast with a late subscriber keeps every stream unbroken (71-77)") {
  explore(300, [](std::uint64_t seed) {
    journal pj, aj, bj, lj;
    explored x(seed);
    auto p = x.rt.start<broadcasting_counter>({.buffer_size = 20}, &pj);
    auto a = x.rt.start<sink>(&aj);
    auto b = x.rt.start<sink>(&bj);
    auto late = x.rt.start<sink>(&lj);
    subscribe(a, p, {.max_demand = 6, .min_demand = 3});
    subscribe(b, p, {.max_demand = 4, .min_demand = 1});
    // Any subscriber may be late: one whose subscription lands after another's ask went upstream
    // receives only what it asks for, so its stream starts later (broadcast.hpp). From its first
    // event on it misses nothing, and it is never more than its demand behind the producer.
    auto stream = [&](const char* name, const journal& j, std::size_t demand) -> std::string {
      const auto v = j.flat();
      if (v.empty()) return {};
      if (auto c = contiguous(v, v.front()); !c.empty()) return std::string(name) + ": " + c;
      const std::size_t behind = total(pj.demands) - static_cast<std::size_t>(v.front()) - v.size();
      return within(name, behind, demand);
    };
    auto check = [&]() -> std::string {
      if (p.core_ptr()->buffered_estimate() > 20) return "the producer's buffer exceeds 20";
      for (auto v : {stream("a", aj, 6), stream("b", bj, 4), stream("late", lj, 5)}) {
        if (!v.empty()) return v;
      }
      return {};
    };
    // The late subscriber joins after a seed-chosen number of steps.
    x.run_checked([&, steps = seed % 60] { return x.ex.steps() >= steps; }, check);
    subscribe(late, p, {.max_demand = 5, .min_demand = 2});
    REQUIRE(x.run_checked(
        [&] { return received(aj) >= 150 && received(bj) >= 150 && received(lj) >= 20; }, check));
  });
}

TEST_CASE("exploration: partition, a consumer cancelled and replaced mid-stream (78-83)") {
  explore(200, [](std::uint64_t seed) {
    journal pj, ej, oj, o2j;
    explored x(seed);
    auto p = x.rt.start<partitioned_counter>(
        {.dispatcher_options =
             partition_dispatcher<int>::options{
                 .partitions = 2,
                 .hash = [](int& v) { return std::optional<std::size_t>(v % 2); }}},
        &pj);
    auto evens = x.rt.start<sink>(&ej);
    auto odds = x.rt.start<sink>(&oj);
    auto odds2 = x.rt.start<sink>(&o2j);
    subscribe(evens, p, {.max_demand = 5, .min_demand = 2, .dispatch = std::size_t{0}});
    auto odd_sub = subscribe(odds, p,
                             {.max_demand = 4,
                              .min_demand = 1,
                              .cancel = cancel_mode::temporary,
                              .dispatch = std::size_t{1}});
    std::size_t odd_batches_at_cancel = 0;
    std::size_t queued_at_cancel = 0;  // the most the producer held while the cancel was on its way
    auto odd_stream = [](const journal& j, int from) -> std::string {
      const auto v = j.flat();
      for (std::size_t i = 0; i < v.size(); ++i) {
        if (v[i] != from + 2 * static_cast<int>(i)) return "odd partition out of sequence";
      }
      return {};
    };
    auto check = [&]() -> std::string {
      const auto e = ej.flat();
      for (std::size_t i = 0; i < e.size(); ++i) {
        if (e[i] != 2 * static_cast<int>(i)) return "even partition out of sequence";
      }
      if (auto v = odd_stream(oj, 1); !v.empty()) return v;
      if (!oj.cancels.empty() && oj.batches.size() != odd_batches_at_cancel) {
        return "the cancelled consumer received events after its cancel";
      }
      const auto o2 = o2j.flat();
      if (o2.empty()) return {};
      const auto o1 = oj.flat();
      const int after = o1.empty() ? -1 : o1.back();
      if (o2.front() <= after) return "the replacement received an event twice";
      // What was in flight to the cancelled consumer, and its partition's queue, is dropped at
      // the cancel (rule 84), and nothing else: its demand and the queue bound the gap.
      const auto gap = static_cast<std::size_t>((o2.front() - after) / 2 - 1);
      if (gap > 4 + queued_at_cancel) return "more lost at the cancel than was in flight";
      return odd_stream(o2j, o2.front());
    };
    x.run_checked([&, steps = 5 + seed % 80] { return x.ex.steps() >= steps; }, check);
    queued_at_cancel = p.core_ptr()->buffered_estimate();
    cancel(odd_sub);
    x.run_checked([&] { return !oj.cancels.empty(); },
                  [&]() -> std::string {
                    odd_batches_at_cancel = oj.batches.size();
                    queued_at_cancel =
                        std::max(queued_at_cancel, p.core_ptr()->buffered_estimate());
                    return check();
                  });
    REQUIRE(oj.cancels.size() == 1);
    subscribe(odds2, p, {.max_demand = 3, .min_demand = 1, .dispatch = std::size_t{1}});
    REQUIRE(x.run_checked([&] { return received(ej) >= 100 && received(o2j) >= 30; }, check));
    CHECK(odds.alive());  // a temporary subscription: the consumer outlives its cancel
  });
}

TEST_CASE("exploration: consumer supervisor with failing workers runs each event once (109-112)") {
  explore(200, [](std::uint64_t seed) {
    journal pj;
    explored x(seed);
    std::vector<int> ran;
    auto p = x.rt.start<counter>(&pj);
    auto sup = consumer_supervisor<int>::start(x.rt, worker_template<int>([&ran](int e) {
                                                       ran.push_back(e);
                                                       if (e % 4 == 0) {
                                                         throw std::runtime_error("bad event");
                                                       }
                                                     }).restart(restart_type::temporary));
    subscribe(sup, p, {.max_demand = 6, .min_demand = 2, .cancel = cancel_mode::temporary});
    auto check = [&]() -> std::string {
      // A worker per event, at most max_demand at once: what was emitted and has not run yet.
      if (auto v = within("producer -> supervisor", total(pj.demands) - ran.size(), 6); !v.empty())
        return v;
      return {};
    };
    REQUIRE(x.run_checked([&] { return ran.size() >= 150; }, check));
    stop(p);
    x.drain_checked(check);
    std::vector<int> sorted = ran;
    std::sort(sorted.begin(), sorted.end());
    CHECK(contiguous(sorted, 0).empty());  // every event emitted ran, exactly once
    CHECK(sorted.size() == total(pj.demands));
    CHECK(sup.alive());  // failing workers stop themselves, not their supervisor
  });
}

TEST_CASE("exploration: a mesh rewired while data flows delivers every datum once") {
  explore(100, [](std::uint64_t seed) {
    std::vector<int> a_got, b_got;
    explored x(seed);
    mesh m(x.rt);
    m.start_node("source", mesh_logic::relay{}, {});
    m.start_node("a", mesh_logic::recorder{}, &a_got);
    m.start_node("b", mesh_logic::recorder{}, &b_got);
    m.connect("source", "a");
    std::size_t b_at_disconnect = 0;
    bool b_gone = false;
    auto check = [&]() -> std::string {
      if (auto v = contiguous(a_got, 0); !v.empty()) return "a: " + v;
      if (!b_got.empty()) {
        if (auto v = contiguous(b_got, b_got.front()); !v.empty()) return "b: " + v;
      }
      if (b_gone && b_got.size() != b_at_disconnect) return "b received after its disconnect";
      return {};
    };
    const int n = 300;
    const int connect_at = static_cast<int>(seed % 100);
    const int disconnect_at = connect_at + 50 + static_cast<int>(seed % 100);
    int next = 0;
    while (next < n) {
      if (next == connect_at) m.connect("source", "b");
      if (next == disconnect_at) {
        m.disconnect("source", "b");
        b_gone = true;
        b_at_disconnect = b_got.size();
      }
      if (m.try_trigger_data("source", next) == trigger_status::accepted) ++next;
      x.run_checked([&, until = x.ex.steps() + 1 + seed % 3] { return x.ex.steps() >= until; },
                    check);
    }
    x.drain_checked(check);
    CHECK(contiguous(a_got, 0).empty());
    CHECK(a_got.size() == static_cast<std::size_t>(n));
    // Connected while data flowed: an unbroken run (checked at every step); connected to the end,
    // it has everything made after its link.
    if (disconnect_at >= n && !b_got.empty()) CHECK(b_got.back() == n - 1);
  });
}

TEST_CASE("exploration: a restarted node's waiting data reach every one of its links alike") {
  explore(100, [](std::uint64_t seed) {
    std::vector<int> a_got, b_got;
    explored x(seed);
    mesh m(x.rt);
    m.start_node("n", unlucky{}, {}, {.inlet_batch = 1, .restart = restart_type::transient});
    m.start_node("a", mesh_logic::recorder{}, &a_got);
    m.start_node("b", mesh_logic::recorder{}, &b_got);
    // Links asking beyond the node's unlinked window (1000), so that a link's first ask passes
    // demand on to the node at once.
    m.connect("n", "a", {.max_demand = 2000});
    m.connect("n", "b", {.max_demand = 2000});
    // 13 stops the node's first stage; the rest wait in its inlet for the restarted one, which
    // must take none before both its links are back, whichever asks first.
    for (int v : {13, 1, 2, 3, 4, 5}) m.trigger_data("n", v);
    x.drain_checked([] { return std::string{}; });
    CHECK(m.figures("n").restarts == 1);
    CHECK(a_got == std::vector<int>{1, 2, 3, 4, 5});
    CHECK(b_got == a_got);
  });
}

TEST_CASE("exploration: F4, a slow link removed while events are held for it starves no other") {
  // The slow link asks one at a time, so the sender often holds events for it; removing it then
  // (disconnect, or stopping the receiver) must hand them to the fast link, and pass on the
  // demand it owed, in every interleaving. Nothing is lost: the fast link gets every datum.
  explore(120, [](std::uint64_t seed) {
    std::vector<int> fast_got, slow_got;
    explored x(seed);
    mesh m(x.rt);
    m.start_node("src", mesh_logic::relay{}, {}, {.inlet_capacity = 16});
    m.start_node("fast", mesh_logic::recorder{}, &fast_got);
    m.start_node("slow", mesh_logic::recorder{}, &slow_got);
    m.connect("src", "fast", {.max_demand = 4, .min_demand = 0});
    m.connect("src", "slow", {.max_demand = 1, .min_demand = 0});
    auto check = [&]() -> std::string {
      if (auto v = contiguous(fast_got, 0); !v.empty()) return "fast: " + v;
      return contiguous(slow_got, 0);
    };
    const int n = 200;
    const int cut_at = 20 + static_cast<int>(seed % 150);
    int next = 0;
    bool stalled = false;
    bool cut = false;
    while (next < n && !stalled) {
      if (next == cut_at && !std::exchange(cut, true)) {
        if (seed % 2 == 0) {
          m.disconnect("src", "slow");
        } else {
          m.stop_node("slow");
        }
      }
      if (m.try_trigger_data("src", next) == trigger_status::accepted) {
        ++next;
      } else if (x.ex.pending() == 0) {
        stalled = true;  // the inlet is full and nothing is left to run: nothing ever will
      }
      x.run_checked([&, until = x.ex.steps() + 1 + seed % 4] { return x.ex.steps() >= until; },
                    check);
    }
    x.drain_checked(check);
    CHECK_FALSE(stalled);
    CHECK(fast_got.size() == static_cast<std::size_t>(n));
  });
}

namespace {
/// The values 1..n that `got` lacks; empty when a value is there twice or out of order is
/// reported by `contiguous`-style checks elsewhere.
std::vector<int> lacking(const std::vector<int>& got, int n) {
  std::vector<int> out;
  for (int v = 1; v <= n; ++v) {
    if (std::find(got.begin(), got.end(), v) == got.end()) out.push_back(v);
  }
  return out;
}
/// An empty string if `got` rises strictly, else where it does not.
std::string rising(const std::vector<int>& got) {
  for (std::size_t i = 1; i < got.size(); ++i) {
    if (got[i] <= got[i - 1]) {
      return "out of order at " + std::to_string(i) + ": " + std::to_string(got[i - 1]) + " then " +
             std::to_string(got[i]);
    }
  }
  return {};
}
}  // namespace

TEST_CASE("exploration: F5, a supervised node crashing between links loses only what it had") {
  // source -> worker -> sink, and source -> other. The worker throws on 13 and restarts while
  // data flow: in every interleaving, the source keeps the worker's place meanwhile (its
  // unlinked window never applies), "other" gets everything, and what the sink lacks is exactly
  // what the counters report lost, never more than the worker's link allowed it to hold.
  explore(120, [](std::uint64_t seed) {
    std::vector<int> got, other;
    explored x(seed);
    mesh m(x.rt);
    const std::size_t demand = 1 + seed % 4;
    m.start_node("source", mesh_logic::relay{}, {}, {.inlet_capacity = 8});
    m.start_node("worker", unlucky{}, {}, {.restart = restart_type::transient});
    m.start_node("sink", mesh_logic::recorder{}, &got);
    m.start_node("other", mesh_logic::recorder{}, &other);
    m.connect("source", "worker", {.max_demand = demand, .min_demand = 0});
    m.connect("worker", "sink", {.max_demand = 1 + seed % 3, .min_demand = 0});
    m.connect("source", "other", {.max_demand = 2 + seed % 5, .min_demand = 0});
    auto check = [&]() -> std::string {
      if (auto v = rising(got); !v.empty()) return "sink: " + v;
      if (auto v = rising(other); !v.empty()) return "other: " + v;
      return {};
    };
    const int n = 60;
    int next = 1;
    while (next <= n) {
      if (m.try_trigger_data("source", next) == trigger_status::accepted) {
        ++next;
      } else if (x.ex.pending() == 0) {
        FAIL("stalled at " << next);  // the inlet is full and nothing is left to run
      }
      x.run_checked([&, until = x.ex.steps() + 1 + seed % 5] { return x.ex.steps() >= until; },
                    check);
    }
    x.drain_checked(check);
    CHECK(m.figures("worker").restarts == 1);
    CHECK(m.figures("source").unlinked == 0);
    CHECK(other.size() == static_cast<std::size_t>(n));
    const std::vector<int> lost = lacking(got, n);
    REQUIRE_FALSE(lost.empty());
    CHECK(lost.front() == 13);
    CHECK(lost.size() <= demand);
    CHECK(lost.size() == 1 + m.figures("worker").dropped + m.figures("source").dropped);
  });
}

TEST_CASE("exploration: F5, a node restarting upstream of another loses only what it had") {
  // worker -> relay -> sink: the worker is fed through its inlet and restarts after 13; the
  // restarted worker keeps its link's place from its start, so it runs no further ahead of its
  // link than before, in every interleaving.
  explore(120, [](std::uint64_t seed) {
    std::vector<int> got;
    explored x(seed);
    mesh m(x.rt);
    const std::size_t demand = 1 + seed % 4;
    m.start_node(
        "worker", unlucky{}, {},
        {.inlet_capacity = 8, .inlet_batch = 1 + seed % 3, .restart = restart_type::permanent});
    m.start_node("relay", mesh_logic::relay{}, {});
    m.start_node("sink", mesh_logic::recorder{}, &got);
    m.connect("worker", "relay", {.max_demand = demand, .min_demand = 0});
    m.connect("relay", "sink", {.max_demand = 1 + seed % 2, .min_demand = 0});
    auto check = [&]() -> std::string { return rising(got); };
    const int n = 60;
    int next = 1;
    while (next <= n) {
      if (m.try_trigger_data("worker", next) == trigger_status::accepted) {
        ++next;
      } else if (x.ex.pending() == 0) {
        FAIL("stalled at " << next);
      }
      x.run_checked([&, until = x.ex.steps() + 1 + seed % 5] { return x.ex.steps() >= until; },
                    check);
    }
    x.drain_checked(check);
    CHECK(m.figures("worker").restarts == 1);
    CHECK(m.figures("worker").unlinked == 0);
    const std::vector<int> lost = lacking(got, n);
    REQUIRE_FALSE(lost.empty());
    CHECK(lost.front() == 13);
    // In hand at the crash: what it took within its link's demand, and held for the link.
    CHECK(lost.size() <= 2 * demand);
    CHECK(lost.size() == 1 + m.figures("worker").dropped);
  });
}
