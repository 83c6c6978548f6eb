// Test support: small node logics the mesh tests share.
#pragma once

#include <datamesh/mesh/mesh.hpp>

#include <string>
#include <vector>

#include "support/engines.hpp"

/// Apart from support/harness.hpp's stages, some of which share these names.
namespace dmtest::mesh_logic {

using namespace datamesh;

/// Broadcasts what it receives.
struct relay {
  none init(const node_args&) { return {}; }
  none process(const int& x, none s, node_context<int>& ctx) {
    ctx.broadcast(x);
    return s;
  }
};

/// Passes on values at or above its "threshold" argument, counting them in its state.
struct threshold_filter {
  struct state {
    double threshold;
    int passed = 0;
  };
  state init(const node_args& a) { return {a.get<double>("threshold")}; }
  state process(const int& x, state s, node_context<int>& ctx) {
    if (x >= s.threshold) {
      ctx.broadcast(x);
      ++s.passed;
    }
    return s;
  }
};

/// A sink recording what it receives; its typed argument is where to record.
struct recorder {
  struct state {
    std::vector<int>* out;
  };
  state init(std::vector<int>* out) { return {out}; }
  state process(const int& x, state s, node_context<void>&) {
    s.out->push_back(x);
    return s;
  }
};

/// Turns ints into strings: its output does not fit an int node's input.
struct stringify {
  none init(const node_args&) { return {}; }
  none process(const int& x, none s, node_context<std::string>& ctx) {
    ctx.broadcast(std::to_string(x));
    return s;
  }
};

}  // namespace dmtest::mesh_logic
