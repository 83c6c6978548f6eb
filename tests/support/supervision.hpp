// Test support for supervisors: waiting for their futures on the deterministic executor, and a
// child whose exit the test decides.
#pragma once

#include <any>
#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "support/harness.hpp"

namespace dmtest {

/// Whether `f` holds its value or error.
template <class T>
bool ready(const std::future<T>& f) {
  return f.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
}

/// Steps the executor until `fut` is ready, then returns its value (bounded; fails if never).
template <class T>
T await(fixture& f, std::future<T>& fut) {
  f.ex.run_until([&] { return ready(fut); }, 1'000'000);
  REQUIRE(ready(fut));
  return fut.get();
}
template <class T>
T await(fixture& f, std::future<T>&& fut) {
  return await(f, fut);
}

/// Steps the executor until `fut` is ready and returns the `errc` it fails with.
template <class T>
std::error_code error_of(fixture& f, std::future<T>& fut) {
  f.ex.run_until([&] { return ready(fut); }, 1'000'000);
  REQUIRE(ready(fut));
  try {
    fut.get();
  } catch (const error& e) {
    return e.code();
  }
  FAIL("the future holds a value, not an error");
  return {};
}

/// A stage that refuses to start: its `init` stops it.
struct refusing_stage {
  journal* j;
  explicit refusing_stage(journal* jr) : j(jr) {}
  void init(context<void>& ctx) { ctx.stop(exit_reason::error("refused to start")); }
  void handle_events(std::span<const int>) {}
};

/// A child the test controls: a stage that hears stop requests but exits only when the test
/// says so, as a worker busy with its work would. `finish` ends the newest one.
struct manual_worker {
  struct state {
    int started = 0;
    std::vector<stage_ref> stages;
    std::vector<bool> stop_requested;
  };
  std::shared_ptr<state> s = std::make_shared<state>();
  int& started = s->started;

  struct logic {
    // Weak: `state` holds the stages, so a strong pointer back would be a cycle, and a stage a
    // test leaves running (or a supervisor kills) would leak with it (found by LeakSanitizer).
    std::weak_ptr<state> s;
    std::size_t index;
    void handle_events(std::span<const int>) {}
    bool defer_stop(const exit_reason&, context<void>&) {
      if (auto st = s.lock()) st->stop_requested[index] = true;
      return true;  // heard it; exits when the test says
    }
    void handle_info(std::any& msg, context<void>& ctx) {
      if (auto* r = std::any_cast<exit_reason>(&msg)) ctx.stop(*r);
    }
  };

  /// Starts one on `rt` (the runtime of the supervisor's fixture).
  static stage_ref start_one(const std::shared_ptr<state>& st, runtime& rt) {
    st->stop_requested.push_back(false);
    auto h = rt.start<logic>(st, st->stages.size());
    st->stages.push_back(h);
    ++st->started;
    return h;
  }
  /// A dynamic supervisor's child spec.
  child_spec spec(runtime& rt) {
    return stage_spec([st = s, &rt] { return start_one(st, rt); });
  }
  /// A consumer supervisor's template: one per event, the event ignored.
  template <class Event>
  child_template<Event> tmpl(runtime& rt) {
    return stage_template<Event>([st = s, &rt](const Event&) { return start_one(st, rt); });
  }
  /// The `i`th one started exits with `r`.
  void finish_at(std::size_t i, exit_reason r = exit_reason::normal()) {
    send(s->stages.at(i), std::any(r));
  }
  /// The live ones exit with `r`.
  void finish_all(exit_reason r = exit_reason::normal()) {
    for (auto& st : s->stages)
      if (st.alive()) send(st, std::any(r));
  }

  /// Live ones.
  int running() const {
    int n = 0;
    for (const auto& st : s->stages) n += st.alive() ? 1 : 0;
    return n;
  }
  bool stop_requested() const { return !s->stop_requested.empty() && s->stop_requested.back(); }
  /// The newest one exits with `r`.
  void finish(exit_reason r = exit_reason::normal()) { send(s->stages.back(), std::any(r)); }
  void fail(const std::string& what) { finish(exit_reason::error(what)); }
};

}  // namespace dmtest
