// What the benchmark files share: the event type, a summing consumer, the checksum guard, the
// demand arguments and the argument sets.
#pragma once

#include <datamesh/context.hpp>
#include <datamesh/exit_reason.hpp>
#include <datamesh/subscribe_options.hpp>

#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>

namespace bench {

/// The events of every workload.
using event = std::uint64_t;

/// Emits 0..limit-1 as asked, then stops normally; its consumers follow (being permanent).
struct source {
  std::uint64_t next = 0;
  std::uint64_t limit;
  explicit source(std::uint64_t l) : limit(l) {}
  void handle_demand(std::size_t n, datamesh::context<event>& ctx) {
    const std::uint64_t end = std::min<std::uint64_t>(limit, next + n);
    for (; next < end; ++next) ctx.push(next);
    if (next == limit) ctx.stop();
  }
};

/// Sums what it receives; publishes the sum when it exits.
struct summer {
  std::atomic<event>* total;
  event sum = 0;
  explicit summer(std::atomic<event>* t) : total(t) {}
  void handle_events(std::span<const event> in) {
    for (event x : in) sum += x;
  }
  void terminate(const datamesh::exit_reason&) { total->fetch_add(sum); }
};

/// Fails the benchmark, instead of reporting a rate, when an event was lost or duplicated.
inline void check(benchmark::State& state, std::uint64_t got, std::uint64_t want) {
  if (got != want) state.SkipWithError("checksum mismatch: events lost or duplicated");
}

/// The subscription options of arguments max_demand/min_demand.
inline datamesh::subscribe_options demand_of(const benchmark::State& state) {
  return {.max_demand = static_cast<std::size_t>(state.range(0)),
          .min_demand = static_cast<std::size_t>(state.range(1))};
}

/// The two demand settings every workload runs at, timed by the wall clock.
inline void demands(benchmark::internal::Benchmark* b) {
  b->ArgNames({"max", "min"})
      ->Args({1000, 500})
      ->Args({10, 5})
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
}

}  // namespace bench
