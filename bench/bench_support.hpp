// What the benchmark files share: the event type, a summing consumer, the checksum guard, the
// demand arguments and the argument sets.
#pragma once

#include <datamesh/reason.hpp>
#include <datamesh/subscription_options.hpp>

#include <benchmark/benchmark.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>

namespace bench {

/// The events of every workload.
using event = std::uint64_t;

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
