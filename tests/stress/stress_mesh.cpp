// Stress: a mesh rewired at random while data flows, on the real thread pool. One sink stays
// connected and must see every datum once; four sinks are connected and disconnected at
// random, and each must see exactly the data triggered while it was connected, in order.
#include <datamesh/datamesh.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "support/stress.hpp"

using namespace datamesh;

namespace {

struct no_state {};

struct relay {
  no_state init(const node_args&) { return {}; }
  no_state process(const int& x, no_state s, node_context<int>& ctx) {
    ctx.broadcast(x);
    return s;
  }
};

/// What one sink saw; written by its node only, read after the runtime stopped.
struct seen {
  std::vector<int> data;
  std::atomic<std::uint64_t> count{0};
};

struct recorder {
  seen* init(seen* s) { return s; }
  seen* process(const int& x, seen* s, node_context<void>&) {
    s->data.push_back(x);
    s->count.fetch_add(1, std::memory_order_release);
    return s;
  }
};

/// Spins until `sink` has seen `n` data; false after a generous bound (a hang, not a wait).
bool settle(const seen& sink, std::uint64_t n) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (sink.count.load(std::memory_order_acquire) < n) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
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
      m.start_node("src", relay{}, {}, {.inlet_capacity = 64, .max_demand = 32});
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
        // Rewire only once what was triggered has gone through, so each link's data is exact.
        REQUIRE(settle(always, static_cast<std::uint64_t>(next)));
        const int i = static_cast<int>(rng() % sinks);
        if (linked[i]) {
          m.disconnect("src", i);
        } else {
          m.connect("src", i, {.max_demand = 1 + rng() % 64});
        }
        linked[i] = !linked[i];
      }
      for (int i = 0; i < sinks; ++i) {
        REQUIRE(settle(toggled[i], expected[i].size()));
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
