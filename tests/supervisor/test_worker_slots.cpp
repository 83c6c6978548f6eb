// worker_slots: a consumer supervisor's demand on one producer (SPEC rule 110), pure policy.
#include <datamesh/supervisor/worker_slots.hpp>

#include <doctest/doctest.h>

#include <cstddef>
#include <vector>

using datamesh::worker_slots;

namespace {

// Starts `max` workers, then finishes them one by one; returns the asks made, and the live
// workers at each ask.
struct trace {
  std::vector<std::size_t> asks;
  std::vector<std::size_t> live_at_ask;
};

trace finish_all(std::size_t max, std::size_t min) {
  worker_slots s(max, min);
  for (std::size_t i = 0; i < s.first_ask(); ++i) s.take();
  trace t;
  for (std::size_t i = 0; i < max; ++i) {
    if (const std::size_t n = s.release(); n > 0) {
      t.asks.push_back(n);
      t.live_at_ask.push_back(s.live());
    }
  }
  return t;
}

}  // namespace

TEST_CASE("rule 110: a consumer supervisor asks max_demand first, one slot per event") {
  worker_slots s(50, 25);
  CHECK(s.first_ask() == 50);
  for (int i = 0; i < 50; ++i) s.take();
  CHECK(s.live() == 50);
}

TEST_CASE("rule 110: with 10/8 it asks 8 once 8 workers finished, so live workers drop to 2") {
  const trace t = finish_all(10, 8);
  CHECK(t.asks == std::vector<std::size_t>{8});
  CHECK(t.live_at_ask == std::vector<std::size_t>{2});
}

TEST_CASE("rule 110: with 10/5 it asks 5 after every 5 exits") {
  const trace t = finish_all(10, 5);
  CHECK(t.asks == std::vector<std::size_t>{5, 5});
  CHECK(t.live_at_ask == std::vector<std::size_t>{5, 0});
}

TEST_CASE("rule 110: with min_demand 0 it asks 1 on every exit") {
  const trace t = finish_all(3, 0);
  CHECK(t.asks == std::vector<std::size_t>{1, 1, 1});
}

TEST_CASE("rule 110: live workers never exceed max_demand when asks are honoured exactly") {
  worker_slots s(10, 8);
  std::size_t granted = s.first_ask();
  std::size_t peak = 0;
  for (int round = 0; round < 100; ++round) {
    // Events arrive up to what was asked; then some workers finish.
    for (; granted > 0; --granted) s.take();
    peak = s.live() > peak ? s.live() : peak;
    for (int k = 0; k < 3 && s.live() > 0; ++k) granted += s.release();
  }
  CHECK(peak <= 10);
}

TEST_CASE("rule 111: a worker that fails to start frees its slot at once") {
  worker_slots s(2, 1);
  s.take();
  s.take();
  CHECK(s.release() == 1);  // failed to start: the slot is asked for again at once
  CHECK(s.live() == 1);
}
