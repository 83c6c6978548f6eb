// Test support for stress tests: the seed of a run, printed so a failure can be replayed.
#pragma once

#include <doctest/doctest.h>

#include <cstdint>
#include <cstdlib>
#include <random>

namespace dmtest {

/// `DATAMESH_STRESS_SEED` if set, else a random seed; either way printed with the test's output.
inline std::uint64_t stress_seed() {
  std::uint64_t seed = 0;
  if (const char* s = std::getenv("DATAMESH_STRESS_SEED")) {
    seed = std::strtoull(s, nullptr, 10);
  } else {
    seed = std::random_device{}();
  }
  MESSAGE("seed " << seed << " (replay with DATAMESH_STRESS_SEED=" << seed << ")");
  return seed;
}

}  // namespace dmtest
