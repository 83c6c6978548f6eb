// Stress: a mesh rewired at random while data flows, on the real thread pool. One sink stays
// connected and must see every datum once; four sinks are connected and disconnected at
// random, and each must see exactly the data triggered while it was connected, in order.
#include <datamesh/datamesh.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <random>
#include <ranges>
#include <string>
#include <thread>
#include <vector>

#include "support/mesh.hpp"
#include "support/stress.hpp"

using namespace datamesh;

namespace {

using dmtest::mesh_logic::relay;

/// Passes data on; throws on every value ending in 500, so its supervisor restarts it.
struct flaky_relay {
  dmtest::mesh_logic::none init(const node_args&) { return {}; }
  dmtest::mesh_logic::none process(const int& x, dmtest::mesh_logic::none s,
                                   node_context<int>& ctx) {
    if (x % 1000 == 500) throw std::runtime_error("injected fault");
    ctx.broadcast(x);
    return s;
  }
};

/// What one sink saw; written by its node only, read after the runtime stopped.
struct seen {
  std::vector<int> data;
  std::atomic<std::uint64_t> count{0};
  std::atomic<int> last{0};  // the latest datum, readable while data flow
};

struct recorder {
  seen* init(seen* s) { return s; }
  seen* process(const int& x, seen* s, node_context<void>&) {
    s->data.push_back(x);
    s->last.store(x, std::memory_order_relaxed);
    s->count.fetch_add(1, std::memory_order_release);
    return s;
  }
};

/// Spins until `sink` has seen `n` data; false after `bound` (by default generous: a hang, not a
/// wait).
bool settle(const seen& sink, std::uint64_t n,
            std::chrono::steady_clock::duration bound = std::chrono::seconds(60)) {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  while (sink.count.load(std::memory_order_acquire) < n) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

/// Checks what `sink` saw from a flaky_relay: in order, nothing twice, no faulty value passed
/// on (markers, -1, aside). How many data it saw.
std::size_t delivered_in_order(const seen& sink) {
  int last = -1;
  std::size_t data = 0;
  for (int x : sink.data) {
    if (x == -1) continue;
    REQUIRE(x > last);
    CHECK(x % 1000 != 500);
    last = x;
    ++data;
  }
  return data;
}

}  // namespace

TEST_CASE("stress: a mesh rewired at random while data flows delivers exact data per link" *
          doctest::timeout(240)) {
  const std::uint64_t seed = dmtest::stress_seed();
  std::mt19937_64 rng(seed);
  constexpr int sinks = 4;
  constexpr int chunks = 200;
  constexpr int chunk = 500;

  seen always;
  std::vector<seen> toggled(sinks);
  std::vector<std::vector<int>> expected(sinks);
  std::vector<bool> linked(sinks, false);
  {
    runtime rt(runtime_options{.threads = 2});
    {
      mesh m(rt);
      m.start_node("src", relay{}, {}, {.inlet_capacity = 64, .inlet_batch = 32});
      m.start_node("always", recorder{}, &always);
      for (int i = 0; i < sinks; ++i) m.start_node(i, recorder{}, &toggled[i]);
      m.connect("src", "always", {.max_demand = 16});
      int next = 0;
      for (int c = 0; c < chunks; ++c) {
        std::vector<int> data(chunk);
        for (int& x : data) x = next++;
        if (rng() % 2 == 0) {
          m.trigger_all<int>("src", data);
        } else {
          for (int x : data) m.trigger_data("src", x);
        }
        for (int i = 0; i < sinks; ++i) {
          if (linked[i]) expected[i].insert(expected[i].end(), data.begin(), data.end());
        }
        // Rewire only once what was triggered has gone through, so each link's data is exact:
        // once settle returns, every sink has had all of it (mesh::settle).
        m.settle();
        REQUIRE(always.count.load(std::memory_order_acquire) == static_cast<std::uint64_t>(next));
        for (int k = 0; k < sinks; ++k) {
          REQUIRE(toggled[k].count.load(std::memory_order_acquire) == expected[k].size());
        }
        const int i = static_cast<int>(rng() % sinks);
        if (linked[i]) {
          m.disconnect("src", i);
        } else {
          m.connect("src", i, {.max_demand = 1 + rng() % 64});
        }
        linked[i] = !linked[i];
      }
      m.settle();
      for (int i = 0; i < sinks; ++i) {
        REQUIRE(toggled[i].count.load(std::memory_order_acquire) == expected[i].size());
      }
    }
    rt.stop();
  }
  REQUIRE(always.data.size() == static_cast<std::size_t>(chunks * chunk));
  for (std::size_t k = 0; k < always.data.size(); ++k) {
    if (always.data[k] != static_cast<int>(k)) {
      std::string around;
      for (std::size_t j = k > 8 ? k - 8 : 0; j < k + 8 && j < always.data.size(); ++j) {
        around += std::to_string(always.data[j]) + " ";
      }
      FAIL("the always-connected sink lost order at " << k << ": " << around);
    }
  }
  for (int i = 0; i < sinks; ++i) {
    CHECK(toggled[i].data == expected[i]);
  }
}

TEST_CASE("stress: a supervised node restarted while data flows keeps order and its links" *
          doctest::timeout(240)) {
  constexpr int total = 20'000;
  seen sink;
  std::uint64_t restarts = 0;
  std::uint64_t markers = 0;
  mesh::node_figures src;
  mesh::node_figures flaky;
  {
    runtime rt(runtime_options{.threads = 2});
    {
      mesh m(rt);
      m.start_node("src", relay{}, {}, {.inlet_capacity = 64, .inlet_batch = 32});
      m.start_node("flaky", flaky_relay{}, {},
                   {.inlet_batch = 16,
                    .restart = restart_type::permanent,
                    .intensity = {.max_restarts = 1000}});
      m.start_node("sink", recorder{}, &sink);
      m.connect("src", "flaky", {.max_demand = 8});
      m.connect("flaky", "sink", {.max_demand = 8});
      for (int x = 0; x < total; ++x) m.trigger_data("src", x);
      // A marker behind the data shows that all went through: while "flaky" restarts, "src"
      // keeps its link's place (F5) and sends the marker on once it is back. Only a marker
      // "flaky" had in hand when it crashed is lost; then another is sent.
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
      while (sink.last.load(std::memory_order_acquire) != -1) {
        REQUIRE(std::chrono::steady_clock::now() < deadline);
        const auto before = sink.count.load(std::memory_order_acquire);
        m.trigger_data("src", -1);
        ++markers;
        (void)settle(sink, before + 1, std::chrono::seconds(5));
      }
      // Every marker has arrived or been counted lost once these figures add up.
      while (sink.count.load(std::memory_order_acquire) + m.figures("src").dropped +
                 m.figures("flaky").dropped + m.figures("flaky").restarts <
             total + markers) {
        if (std::chrono::steady_clock::now() > deadline) {
          FAIL("unaccounted: sink "
               << sink.count.load() << ", src dropped " << m.figures("src").dropped << " in "
               << m.figures("src").in << ", flaky dropped " << m.figures("flaky").dropped
               << " restarts " << m.figures("flaky").restarts << " in " << m.figures("flaky").in
               << " out " << m.figures("flaky").out << ", markers " << markers);
        }
        std::this_thread::yield();
      }
      restarts = m.figures("flaky").restarts;
      src = m.figures("src");
      flaky = m.figures("flaky");
      CHECK(m.contains("flaky"));
    }
    rt.stop();
  }
  // Each fault is met once, by one incarnation: none is lost upstream.
  CHECK(restarts == total / 1000);
  CHECK(src.unlinked == 0);
  CHECK(src.in == total + markers);
  // Exactly the counted loss: every datum reached the sink, threw (one per restart), or is
  // counted lost by a node (what "flaky" had in hand at a crash; what "src" sent it as it died).
  CHECK(sink.count.load() + src.dropped + flaky.dropped + restarts == total + markers);
  // And what a crash loses is bounded by the links' demands (8 in, 8 out), not by any window.
  const std::size_t data = delivered_in_order(sink);
  CHECK(total - data <= restarts * 16);
  MESSAGE("restarts: " << restarts << ", data delivered: " << data << " of " << total
                       << ", lost: src " << src.dropped << ", flaky " << flaky.dropped);
}

TEST_CASE("stress: trigger_all into a supervised node restarting under it keeps order" *
          doctest::timeout(240)) {
  constexpr int total = 20'000;
  seen sink;
  std::uint64_t restarts = 0;
  mesh::node_figures flaky;
  {
    runtime rt(runtime_options{.threads = 2});
    {
      mesh m(rt);
      m.start_node("flaky", flaky_relay{}, {},
                   {.inlet_capacity = 64,
                    .inlet_batch = 16,
                    .restart = restart_type::permanent,
                    .intensity = {.max_restarts = 1000}});
      m.start_node("sink", recorder{}, &sink);
      m.connect("flaky", "sink", {.max_demand = 8});
      // Most of the range is read by the node's stage itself, across its restarts.
      m.trigger_all<int>("flaky", std::views::iota(0, total));
      m.trigger_data("flaky", -1);
      REQUIRE(settle(sink, 1));
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
      while (sink.last.load(std::memory_order_acquire) != -1) {
        REQUIRE(std::chrono::steady_clock::now() < deadline);
        std::this_thread::yield();
      }
      restarts = m.figures("flaky").restarts;
      flaky = m.figures("flaky");
    }
    rt.stop();
  }
  CHECK(restarts == total / 1000);  // one per fault: each fault met once, by one incarnation
  // Exactly the counted loss: each datum reached the sink, threw, or was counted lost by the
  // incarnation that had it in hand when it crashed.
  CHECK(sink.count.load() + flaky.dropped + restarts == total + 1);
  // A crash loses what the node had taken within its link's demand (8) and held for it (8):
  // the node never runs ahead of its link (F5).
  const std::size_t data = delivered_in_order(sink);
  CHECK(total - data <= restarts * 16);
  MESSAGE("restarts: " << restarts << ", data delivered: " << data << " of " << total
                       << ", lost: " << flaky.dropped);
}

TEST_CASE("stress: trigger_all racing the node's stop returns or fails with no_stage" *
          doctest::timeout(240)) {
  std::mt19937_64 rng(dmtest::stress_seed());
  runtime rt(runtime_options{.threads = 2});
  int completed = 0;
  int refused = 0;
  for (int round = 0; round < 50; ++round) {
    mesh m(rt);
    m.start_node("n", relay{}, {}, {.inlet_capacity = 16, .inlet_batch = 8});
    std::thread stopper([&m, wait = std::uniform_int_distribution<int>(0, 2000)(rng)] {
      for (int i = 0; i < wait; ++i) std::this_thread::yield();
      m.stop_node("n");
    });
    // Read by this thread and by the node's, never both at once.
    std::atomic<int> read{0};
    auto data = std::views::iota(0, 50'000) | std::views::transform([&read](int x) {
                  read.fetch_add(1, std::memory_order_relaxed);
                  return x;
                });
    try {
      m.trigger_all<int>("n", data);
      ++completed;
      CHECK(read.load() == 50'000);  // accepted: every datum read once
    } catch (const error& e) {
      // Stopped first (unknown_node), or while its range was being read (no_stage).
      CHECK((e.code() == errc::no_stage || e.code() == errc::unknown_node));
      ++refused;
    }
    stopper.join();
    CHECK_FALSE(m.contains("n"));
  }
  MESSAGE("completed: " << completed << ", refused: " << refused);
}

namespace {

/// Holds each datum until the test opens the gate: data behind it cannot move meanwhile.
struct gated_relay {
  std::atomic<bool>* init(std::atomic<bool>* o) { return o; }
  std::atomic<bool>* process(const int& x, std::atomic<bool>* o, node_context<int>& ctx) {
    while (!o->load(std::memory_order_acquire)) std::this_thread::yield();
    ctx.broadcast(x);
    return o;
  }
};

}  // namespace

TEST_CASE("stress: settle_for gives up while a node holds data, settle returns once it lets go" *
          doctest::timeout(60)) {
  seen sink;
  std::atomic<bool> open{false};
  {
    runtime rt(runtime_options{.threads = 2});
    mesh m(rt);
    m.start_node("gate", gated_relay{}, &open);
    m.start_node("sink", recorder{}, &sink);
    m.connect("gate", "sink");
    for (int x = 0; x < 100; ++x) m.trigger_data("gate", x);
    CHECK_FALSE(m.settle_for(std::chrono::milliseconds(20)));
    CHECK(sink.count.load(std::memory_order_acquire) == 0);
    open.store(true, std::memory_order_release);
    m.settle();
    CHECK(sink.count.load(std::memory_order_acquire) == 100);
    CHECK(m.settle_for(std::chrono::seconds(30)));
  }
  CHECK(sink.data.size() == 100);
}
