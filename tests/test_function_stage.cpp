// Stages from functions: the lambda form of the three roles behaves as the struct form.
#include "support/harness.hpp"

using namespace dmtest;

static_assert(stage_traits<function_map<int, long (*)(const int&)>>::role ==
              stage_role::producer_consumer);
static_assert(
    std::is_same_v<stage_traits<function_map<int, long (*)(const int&)>>::output_type, long>);

TEST_CASE("a pipeline of lambdas: producer, map, filter, consumer") {
  std::vector<long> seen;
  fixture f;
  auto src = f.rt.start_producer<int>([n = 0](std::size_t demand, context<int>& ctx) mutable {
    for (; demand > 0 && n < 20; --demand) ctx.push(n++);
    if (n == 20) ctx.stop();
  });
  auto twice = f.rt.start_map<int>([](int x) { return 2L * x; });
  auto fours = f.rt.start_filter<long>([](long x) { return x % 4 == 0; });
  auto out = f.rt.start_consumer<long>([&seen](std::span<const long> batch) {
    seen.insert(seen.end(), batch.begin(), batch.end());
  });
  subscribe(out, fours, {.max_demand = 3});  // typed: long -> long
  subscribe(fours, twice, {.max_demand = 3, .cancel = cancel_mode::transient});
  subscribe(twice, src, {.max_demand = 3, .cancel = cancel_mode::transient});
  f.run();
  CHECK(seen == std::vector<long>{0, 4, 8, 12, 16, 20, 24, 28, 32, 36});
  CHECK_FALSE(src.alive());
  CHECK(twice.alive());  // transient: a normal end is not a failure
}

TEST_CASE("rule 95: a throwing lambda stops only its own stage") {
  journal pj;
  fixture f;
  auto p = f.rt.start<counter>(&pj);
  auto bad = f.rt.start_consumer<int>([](std::span<const int>) { throw std::runtime_error("no"); });
  subscribe(bad, p, {.max_demand = 2});
  f.run();
  CHECK_FALSE(bad.alive());
  CHECK(bad.exit_reason_if_exited()->detail() == "no");
  CHECK(p.alive());
}
