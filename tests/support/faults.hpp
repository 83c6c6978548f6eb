// Test support: fault injection. A `fault_plan` says which call of which callback throws or
// stalls; the `faulty_*` stages consult it on entry to every callback, then behave as the plain
// recording stages of support/harness.hpp. Plans are shared by the test and the stage (and, under
// a supervisor, by every restart of it), so calls are counted across restarts.
//
// Throwing works on any executor. Stalling blocks the calling thread until the test releases the
// plan: use it on a runtime with its own threads only (a stall on the deterministic executor
// would block the test itself).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/harness.hpp"

namespace dmtest {

/// The callbacks a fault can hit.
enum class fault_point {
  handle_demand,
  handle_subscribe,
  handle_events,
  handle_cancel,
  handle_info,
  terminate,
};
inline constexpr std::size_t fault_point_count = 6;

inline const char* to_string(fault_point p) {
  constexpr const char* names[] = {"handle_demand", "handle_subscribe", "handle_events",
                                   "handle_cancel", "handle_info",      "terminate"};
  return names[static_cast<std::size_t>(p)];
}

enum class fault_action { throw_exception, stall };

/// The `nth` call (from 1) of callback `at` throws `injected_fault`, or stalls.
struct fault {
  fault_point at;
  int nth = 1;
  fault_action action = fault_action::throw_exception;
};

/// What an injected throw throws; `what()` is "injected fault in <callback> #<n>".
struct injected_fault : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// The faults of one stage (or of one supervised child, restarts included).
/// Thread safety: `hit` may run on the stage's thread while the test calls the rest.
class fault_plan {
 public:
  explicit fault_plan(std::vector<fault> faults = {}) : faults_(std::move(faults)) {}

  /// Called on entry to callback `p`: throws or stalls if this call is planned to.
  void hit(fault_point p) {
    const int n = ++calls_[static_cast<std::size_t>(p)];
    for (const auto& f : faults_) {
      if (f.at != p || f.nth != n) continue;
      if (f.action == fault_action::throw_exception) {
        throw injected_fault("injected fault in " + std::string(to_string(p)) + " #" +
                             std::to_string(n));
      }
      std::unique_lock lock(mutex_);
      ++stalled_;
      changed_.notify_all();
      changed_.wait(lock, [&] { return released_; });
      --stalled_;
    }
  }

  /// Calls of `p` so far.
  int calls(fault_point p) const { return calls_[static_cast<std::size_t>(p)].load(); }

  /// Waits (bounded) until a callback is stalled; returns whether one is.
  bool wait_until_stalled(std::chrono::milliseconds limit = std::chrono::seconds(60)) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, limit, [&] { return stalled_ > 0; });
  }
  /// Lets every stalled callback (and every later one) return.
  void release() {
    std::lock_guard lock(mutex_);
    released_ = true;
    changed_.notify_all();
  }

 private:
  std::vector<fault> faults_;
  std::array<std::atomic<int>, fault_point_count> calls_{};
  std::mutex mutex_;
  std::condition_variable changed_;
  int stalled_ = 0;        // guarded by mutex_
  bool released_ = false;  // guarded by mutex_
};

/// The callbacks every faulty stage has alike, for a stage emitting `Out`: each consults the plan,
/// then records in the journal as the plain stages do.
template <class Out>
struct faulty_base {
  fault_plan* plan;
  journal* j;
  faulty_base(fault_plan* p, journal* jr) : plan(p), j(jr) {}
  void handle_info(std::any&, context<Out>&) { plan->hit(fault_point::handle_info); }
  void handle_cancel(const cancellation& c, const subscription&, context<Out>&) {
    plan->hit(fault_point::handle_cancel);
    j->cancels.push_back(c);
  }
  void terminate(const exit_reason& r) {
    j->terminated.push_back(r);
    plan->hit(fault_point::terminate);
  }
};

/// A producer of ints counting up, as `counter`, with faults.
struct faulty_source : faulty_base<int> {
  using faulty_base::faulty_base;
  int next = 0;
  void handle_demand(std::size_t n, context<int>& ctx) {
    plan->hit(fault_point::handle_demand);
    j->demands.push_back(n);
    for (std::size_t i = 0; i < n; ++i) ctx.push(next++);
  }
};

/// A producer_consumer passing ints through, as `relay`, with faults.
struct faulty_relay : faulty_base<int> {
  using faulty_base::faulty_base;
  demand_mode handle_subscribe(peer_role, const subscription&, const subscribe_options& o,
                               context<int>&) {
    plan->hit(fault_point::handle_subscribe);
    return o.demand;
  }
  void handle_events(std::span<const int> in, const subscription&, context<int>& ctx) {
    plan->hit(fault_point::handle_events);
    j->batches.emplace_back(in.begin(), in.end());
    ctx.push_range(in);
  }
};

/// A consumer recording batches, as `sink`, with faults.
struct faulty_sink : faulty_base<void> {
  using faulty_base::faulty_base;
  demand_mode handle_subscribe(peer_role, const subscription&, const subscribe_options& o,
                               context<void>&) {
    plan->hit(fault_point::handle_subscribe);
    return o.demand;
  }
  void handle_events(std::span<const int> in, const subscription&, context<void>&) {
    plan->hit(fault_point::handle_events);
    j->batches.emplace_back(in.begin(), in.end());
  }
};

/// Whether `r` is the reason of an injected throw.
inline bool is_injected(const exit_reason& r) {
  return r.get_kind() == exit_reason::kind::exception &&
         r.detail().find("injected fault") != std::string::npos;
}

}  // namespace dmtest
