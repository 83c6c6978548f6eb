// Test support: a runtime on a deterministic executor with captured logs, and small recording
// stages whose observations tests assert on. Every stage here records into a `journal` the test
// owns, so a test reads what happened after stepping the executor.
#pragma once

#include <datamesh/datamesh.hpp>

#include <doctest/doctest.h>

#include <any>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "support/engines.hpp"

namespace dmtest {

using namespace datamesh;

/// A runtime driven step by step, with its log lines kept. Declare it after the journals its
/// stages write to: its destructor stops the stages, whose `terminate` still records.
struct fixture {
  deterministic_executor ex;
  std::shared_ptr<std::vector<std::string>> logs = std::make_shared<std::vector<std::string>>();
  runtime rt{
      ex, runtime_options{.threads = 0, .logger = [l = logs](log_level lv, const std::string& t) {
                            l->push_back(std::string(to_string(lv)) + ": " + t);
                          }}};

  /// Runs every queued handler.
  void run() { ex.run(); }
  /// Runs handlers until a log line contains `text` (bounded); returns whether one does.
  bool run_until_logged(const std::string& text, std::size_t max_steps = 100'000) {
    return ex.run_until([&] { return logged(text); }, max_steps);
  }
  /// True if some log line contains `text`.
  bool logged(const std::string& text) const {
    for (const auto& l : *logs)
      if (l.find(text) != std::string::npos) return true;
    return false;
  }
};

/// What recording stages saw, in order.
struct journal {
  std::vector<std::size_t> demands;         // handle_demand arguments
  std::vector<std::vector<int>> batches;    // handle_events batches
  std::vector<std::string> infos;           // handle_info messages (std::string payloads)
  std::vector<std::string> events;          // a readable trace: "subscribe", "cancel:..."
  std::vector<cancellation> cancels;        // handle_cancel arguments
  std::vector<subscription> subscriptions;  // handle_subscribe subscriptions
  std::vector<exit_reason> terminated;      // terminate reasons
  std::vector<int> flat() const {
    std::vector<int> all;
    for (const auto& b : batches) all.insert(all.end(), b.begin(), b.end());
    return all;
  }
};

/// A producer of ints counting up from `next`, recording each demand.
struct counter {
  journal* j;
  int next = 0;
  counter(journal* jr, int start = 0) : j(jr), next(start) {}
  void handle_demand(std::size_t n, context<int>& ctx) {
    j->demands.push_back(n);
    for (std::size_t i = 0; i < n; ++i) ctx.push(next++);
  }
  void handle_info(std::any& msg, context<int>&) {
    if (auto* s = std::any_cast<std::string>(&msg)) j->infos.push_back(*s);
  }
  void handle_cancel(const cancellation& c, const subscription&, context<int>&) {
    j->cancels.push_back(c);
    j->events.push_back(std::string("cancel:") + to_string(c.kind));
  }
  void terminate(const exit_reason& r) { j->terminated.push_back(r); }
};

/// A producer that emits only what the test hands it: `handle_demand` records and pushes
/// nothing; events come through `send(stage, std::vector<int>{...})`.
struct manual_source {
  journal* j;
  explicit manual_source(journal* jr) : j(jr) {}
  void handle_demand(std::size_t n, context<int>&) { j->demands.push_back(n); }
  void handle_info(std::any& msg, context<int>& ctx) {
    if (auto* v = std::any_cast<std::vector<int>>(&msg)) {
      ctx.push_range(*v);
    } else if (auto* s = std::any_cast<std::string>(&msg)) {
      j->infos.push_back(*s);
    }
  }
  void terminate(const exit_reason& r) { j->terminated.push_back(r); }
};

/// A consumer of ints recording every batch, cancel and subscription.
struct sink {
  journal* j;
  demand_mode mode = demand_mode::automatic;
  explicit sink(journal* jr, demand_mode m = demand_mode::automatic) : j(jr), mode(m) {}
  void handle_events(std::span<const int> in, const subscription&, context<void>&) {
    j->batches.emplace_back(in.begin(), in.end());
  }
  demand_mode handle_subscribe(peer_role, const subscription& s, const subscribe_options&,
                               context<void>&) {
    j->subscriptions.push_back(s);
    j->events.push_back("subscribe");
    return mode;
  }
  void handle_cancel(const cancellation& c, const subscription&, context<void>&) {
    j->cancels.push_back(c);
    j->events.push_back(std::string("cancel:") + to_string(c.kind) + ":" + c.reason.to_string());
  }
  void handle_info(std::any& msg, context<void>&) {
    if (auto* s = std::any_cast<std::string>(&msg)) j->infos.push_back(*s);
  }
  void terminate(const exit_reason& r) { j->terminated.push_back(r); }
};

/// A producer_consumer passing ints through, times `factor`, recording batches.
struct relay {
  journal* j;
  int factor = 1;
  explicit relay(journal* jr, int f = 1) : j(jr), factor(f) {}
  void handle_events(std::span<const int> in, const subscription&, context<int>& ctx) {
    j->batches.emplace_back(in.begin(), in.end());
    for (int x : in) ctx.push(x * factor);
  }
  void handle_info(std::any& msg, context<int>&) {
    if (auto* s = std::any_cast<std::string>(&msg)) j->infos.push_back(*s);
  }
  void handle_cancel(const cancellation& c, const subscription&, context<int>&) {
    j->cancels.push_back(c);
    j->events.push_back(std::string("cancel:") + to_string(c.kind) + ":" + c.reason.to_string());
  }
  void terminate(const exit_reason& r) { j->terminated.push_back(r); }
};

/// A producer `P` -> producer_consumer `R` -> recording `sink`, the downstream subscription made
/// first. Nothing has run yet when it is returned.
template <class P, class R>
struct chain {
  stage_handle<P> p;
  stage_handle<R> r;
  stage_handle<sink> c;
  subscription down;  // sink -> R
  subscription up;    // R -> P
};

template <class P = counter, class R = relay>
chain<P, R> start_chain(fixture& f, journal& pj, journal& rj, journal& cj,
                        subscribe_options down_opts, subscribe_options up_opts,
                        demand_mode sink_mode = demand_mode::automatic) {
  chain<P, R> ch;
  ch.p = f.rt.start<P>(&pj);
  ch.r = f.rt.start<R>(&rj);
  ch.c = f.rt.start<sink>(&cj, sink_mode);
  ch.down = subscribe(ch.c, ch.r, std::move(down_opts));
  ch.up = subscribe(ch.r, ch.p, std::move(up_opts));
  return ch;
}

/// Sizes of the batches a journal recorded.
inline std::vector<std::size_t> sizes(const journal& j) {
  std::vector<std::size_t> s;
  for (const auto& b : j.batches) s.push_back(b.size());
  return s;
}

/// 0, 1, ..., n-1.
inline std::vector<int> iota(int n, int from = 0) {
  std::vector<int> v;
  for (int i = 0; i < n; ++i) v.push_back(from + i);
  return v;
}

}  // namespace dmtest
