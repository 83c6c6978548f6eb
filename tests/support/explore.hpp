// Test support: schedule exploration. A scenario runs on a deterministic executor seeded so that
// each step runs a queued handler chosen at random (stage steps and message deliveries
// interleave differently per seed), with the scenario's invariants checked after every step.
// `explore` runs a scenario under many seeds; a failure names the seed that reproduces it.
//
//   DATAMESH_EXPLORE_SEED=s   replay seed s alone
//   DATAMESH_EXPLORE_SEEDS=n  run n seeds per scenario instead of the test's own count
#pragma once

#include <datamesh/datamesh.hpp>

#include <doctest/doctest.h>

#include <cstdint>
#include <cstdlib>
#include <functional>
#include <string>

namespace dmtest {

/// A runtime on a seeded deterministic executor, stepped with invariants checked.
struct explored {
  datamesh::deterministic_executor ex;
  datamesh::runtime rt;
  explicit explored(std::uint64_t seed)
      : ex(seed),
        rt(ex, datamesh::runtime_options{
                   .threads = 0, .logger = [](datamesh::log_level, const std::string&) {}}) {}

  /// Runs one handler at a time until `done()` holds or nothing is queued, calling `check`
  /// (which returns a violation, or an empty string) after every step. Fails the test at the
  /// first violation; returns whether `done()` holds.
  bool run_checked(const std::function<bool()>& done, const std::function<std::string()>& check,
                   std::size_t max_steps = 200'000) {
    for (std::size_t i = 0; i < max_steps && !done(); ++i) {
      if (!ex.run_one()) break;
      if (std::string v = check(); !v.empty()) {
        FAIL("invariant broken after step " << ex.steps() << ": " << v);
      }
    }
    return done();
  }
  /// As `run_checked` until nothing is queued.
  void drain_checked(const std::function<std::string()>& check) {
    run_checked([] { return false; }, check);
  }
};

/// Runs `scenario(seed)` for `seeds` seeds (see the file comment for overrides). A failing check
/// inside reports the seed with the message.
inline void explore(std::uint64_t seeds, const std::function<void(std::uint64_t)>& scenario) {
  std::uint64_t first = 1;
  if (const char* s = std::getenv("DATAMESH_EXPLORE_SEED")) {
    first = std::strtoull(s, nullptr, 10);
    seeds = 1;
  } else if (const char* n = std::getenv("DATAMESH_EXPLORE_SEEDS")) {
    seeds = std::strtoull(n, nullptr, 10);
  }
  for (std::uint64_t seed = first; seed < first + seeds; ++seed) {
    INFO("schedule seed " << seed << " (replay with DATAMESH_EXPLORE_SEED=" << seed << ")");
    scenario(seed);
  }
}

/// "" when `v` is `from, from+1, ...` with nothing missing or repeated; else what is wrong.
template <class V>
std::string contiguous(const V& v, long long from) {
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (static_cast<long long>(v[i]) != from + static_cast<long long>(i)) {
      return "expected " + std::to_string(from + static_cast<long long>(i)) + " at position " +
             std::to_string(i) + ", got " + std::to_string(v[i]);
    }
  }
  return {};
}

}  // namespace dmtest
