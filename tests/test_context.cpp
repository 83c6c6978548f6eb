// The calls a stage's callbacks make on their context that are DataMesh's own extension points:
// appending to the batch directly, and counting what the stage's own code drops. (The GenStage
// calls, ask, cancel, stop, async_info and the demand mode, are tested with their rules.)
#include <numeric>

#include "support/harness.hpp"

using namespace dmtest;

namespace {

/// A producer that emits by appending to its batch: evens through `batch()`, odds through
/// `push`, interleaved, so the two are one batch in one order.
struct batch_writer {
  int next = 0;
  void handle_demand(std::size_t n, context<int>& ctx) {
    std::vector<int>& out = ctx.batch();
    for (std::size_t i = 0; i < n; ++i, ++next) {
      if (next % 2 == 0) {
        out.push_back(next);
      } else {
        ctx.push(next);
      }
    }
    CHECK(ctx.pushed() == out.size());
  }
};

/// A producer_consumer that keeps the events below `limit` and counts the rest as dropped.
struct dropping_filter {
  int limit;
  void handle_events(std::span<const int> in, const subscription&, context<int>& ctx) {
    std::size_t dropped = 0;
    for (int x : in) {
      if (x < limit) {
        ctx.batch().push_back(x);
      } else {
        ++dropped;
      }
    }
    ctx.count_dropped(dropped);
  }
};

/// A consumer that counts every odd event it receives as dropped.
struct odd_dropper {
  journal* j;
  void handle_events(std::span<const int> in, const subscription&, context<void>& ctx) {
    j->batches.emplace_back(in.begin(), in.end());
    std::size_t odd = 0;
    for (int x : in) odd += x % 2 != 0 ? 1 : 0;
    ctx.count_dropped(odd);
    ctx.count_dropped(0);  // nothing: no change
  }
};

}  // namespace

TEST_CASE("context::batch: events appended to it are dispatched as pushed ones, in order") {
  for (const std::size_t max : {1u, 7u, 64u}) {
    CAPTURE(max);
    journal cj;
    fixture f;
    auto p = f.rt.start<batch_writer>();
    auto c = f.rt.start<sink>(&cj);
    subscribe(c, p, {.max_demand = max, .min_demand = max / 2});
    // An endless source: run until enough has arrived.
    f.ex.run_until([&] { return cj.flat().size() >= 200; }, 100'000);
    const std::vector<int> got = cj.flat();
    REQUIRE(got.size() >= 200);
    for (std::size_t i = 0; i < got.size(); ++i) CHECK(got[i] == static_cast<int>(i));
    CHECK(estimate_dropped_count(p) == 0);
  }
}

TEST_CASE("context::count_dropped: what a stage's own code drops shows in estimate_dropped_count") {
  journal pj, cj, sj;
  fixture f;
  auto src = f.rt.start<manual_source>(&pj);
  auto filter = f.rt.start<dropping_filter>(10);
  auto last = f.rt.start<odd_dropper>(&sj);
  subscribe(filter, src);
  subscribe(last, filter);
  f.run();
  std::vector<int> data(25);
  std::iota(data.begin(), data.end(), 0);
  send(src, std::any(data));
  f.run();
  CHECK(sj.flat() == std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  CHECK(estimate_dropped_count(filter) == 15);  // 10..24
  CHECK(estimate_dropped_count(last) == 5);     // 1, 3, 5, 7, 9
  CHECK(estimate_dropped_count(src) == 0);
  // Counting is all it does: both stages go on.
  send(src, std::any(std::vector<int>{3, 30}));
  f.run();
  CHECK(estimate_dropped_count(filter) == 16);
  CHECK(estimate_dropped_count(last) == 6);
  CHECK(filter.alive());
  CHECK(last.alive());
}
