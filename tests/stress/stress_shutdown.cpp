// runtime::stop on the real thread pool, while every kind of stage is busy: it returns within a
// bound, every stage runs terminate exactly once, and nothing is left running. And a callback
// that stalls (support/faults.hpp) holds stop until it returns, after which stop finishes.
// Bounds are generous (60 s) because TSan runs these too; a healthy run takes milliseconds.
#include <atomic>
#include <chrono>
#include <future>
#include <thread>
#include <vector>

#include "support/faults.hpp"
#include "support/mesh.hpp"
#include "support/stress.hpp"

using namespace dmtest;
using namespace std::chrono_literals;

namespace {

constexpr auto bound = 60s;

/// Waits until `pred` holds, at most `bound`; returns whether it does. Yields, never sleeps.
template <class P>
bool eventually(P pred) {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

/// Runs `rt.stop()` on another thread and reports whether it returned within `bound`.
bool stops_in_time(runtime& rt) {
  auto done = std::async(std::launch::async, [&rt] { rt.stop(); });
  return done.wait_for(bound) == std::future_status::ready;
}

/// A consumer counting what it gets, so the test can wait for traffic without a journal race.
struct tally {
  std::atomic<std::size_t>* seen;
  std::atomic<int>* terminated;
  void handle_events(std::span<const int> in) { seen->fetch_add(in.size()); }
  void terminate(const exit_reason&) { terminated->fetch_add(1); }
};

/// A counter whose consumers each get every event.
struct broadcaster : counter {
  using counter::counter;
  using dispatcher_type = broadcast_dispatcher<int>;
};

}  // namespace

TEST_CASE("stress: runtime::stop with every kind of stage busy ends in time, terminating once" *
          doctest::timeout(300)) {
  for (int round = 0; round < 5; ++round) {
    CAPTURE(round);
    journal pj, rj, bj;
    std::atomic<std::size_t> seen{0}, work_done{0};
    std::atomic<int> tally_terminated{0};
    std::vector<int> mesh_got;
    runtime rt(runtime_options{.threads = 2, .logger = [](log_level, const std::string&) {}});
    {
      // A producer -> producer_consumer -> consumer pipeline; a broadcast to three consumers.
      auto p = rt.start<counter>(&pj);
      auto r = rt.start<relay>(&rj);
      auto c = rt.start<tally>(tally{&seen, &tally_terminated});
      subscribe(c, r, {.max_demand = 50});
      subscribe(r, p, {.max_demand = 50});
      auto b = rt.start<broadcaster>(&bj);
      for (int i = 0; i < 3; ++i) {
        auto t = rt.start<tally>(tally{&seen, &tally_terminated});
        subscribe(t, b, {.max_demand = 20});
      }
      // A consumer supervisor with a worker per event, fed by its own producer.
      journal sj;
      auto feed = rt.start<counter>(&sj);
      auto sup = consumer_supervisor<int>::start(rt, worker_template<int>([&work_done](int) {
                                                       work_done.fetch_add(1);
                                                     }).restart(restart_type::temporary));
      subscribe(sup, feed, {.max_demand = 4, .min_demand = 2});
      // A dynamic supervisor with a stage child.
      auto dyn = dynamic_supervisor::start(rt);
      journal dj;
      auto child =
          dyn.start_child(stage_spec([&rt, &dj] { return stage_ref(rt.start<counter>(&dj)); }));
      REQUIRE(child.wait_for(bound) == std::future_status::ready);
      // A mesh with data in flight.
      mesh m(rt);
      m.start_node("source", mesh_logic::relay{}, {});
      m.start_node("sink", mesh_logic::recorder{}, &mesh_got);
      m.connect("source", "sink");
      for (int i = 0; i < 500; ++i) (void)m.try_trigger_data("source", i);

      REQUIRE(eventually([&] { return seen.load() > 10'000 && work_done.load() > 100; }));
      REQUIRE(stops_in_time(rt));
      CHECK(rt.stage_count() == 0);
      CHECK_FALSE(sup.alive());
      CHECK_FALSE(dyn.alive());
      for (const journal* j : {&pj, &rj, &bj, &sj}) {
        REQUIRE(j->terminated.size() == 1);
        CHECK(j->terminated[0].get_kind() == exit_reason::kind::shutdown);
      }
      CHECK(dj.terminated.size() == 1);  // the supervisor's child, stopped and not restarted
      CHECK(tally_terminated.load() == 4);
      // The mesh delivered in order and once, however far it got.
      CHECK(mesh_got == iota(static_cast<int>(mesh_got.size())));
    }
  }
}

TEST_CASE("stress: runtime::stop waits for a stalled callback, then finishes" *
          doctest::timeout(300)) {
  for (fault_point at : {fault_point::handle_events, fault_point::terminate}) {
    CAPTURE(to_string(at));
    journal pj, cj;
    // The third batch stalls; or terminate, the one time it runs.
    const int nth = at == fault_point::terminate ? 1 : 3;
    fault_plan pplan, cplan({{.at = at, .nth = nth, .action = fault_action::stall}});
    runtime rt(runtime_options{.threads = 2, .logger = [](log_level, const std::string&) {}});
    auto p = rt.start<faulty_source>(&pplan, &pj);
    auto c = rt.start<faulty_sink>(&cplan, &cj);
    subscribe(c, p, {.max_demand = 10});
    if (at == fault_point::terminate) stop(c, exit_reason::shutdown("stall on the way out"));
    REQUIRE(cplan.wait_until_stalled(bound));

    auto stopping = std::async(std::launch::async, [&rt] { rt.stop(); });
    // While the callback is stalled the consumer cannot have exited, so stop cannot be done.
    CHECK(stopping.wait_for(0s) != std::future_status::ready);
    CHECK(rt.stage_count() >= 1);
    cplan.release();
    REQUIRE(stopping.wait_for(bound) == std::future_status::ready);
    CHECK(rt.stage_count() == 0);
    CHECK(pj.terminated.size() == 1);
    CHECK(cj.terminated.size() == 1);
  }
}
