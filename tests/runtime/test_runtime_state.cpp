// The runtime layer's extension points for the layers above it: how a caller outside the
// runtime waits for its actors (drive_until), and how it hands the runtime work that is not an
// actor (post_task, pool_threads). Tested on the runtime alone, without stages.
#include <datamesh/runtime/detail/runtime_state.hpp>

#include <future>
#include <string>
#include <system_error>
#include <utility>

#include "support/harness.hpp"

using namespace dmtest;

namespace {

/// The code and message of what `f` throws as a datamesh::error.
template <class F>
std::pair<std::error_code, std::string> thrown_by(F&& f) {
  try {
    f();
  } catch (const error& e) {
    return {e.code(), e.what()};
  }
  return {std::error_code{}, "nothing thrown"};
}

}  // namespace

TEST_CASE("drive_until runs a deterministic runtime's handlers on the caller until ready") {
  fixture f;
  auto& rt = *f.rt.internal_state();
  int ran = 0;
  for (int i = 0; i < 5; ++i) detail::post_task(rt, [&ran] { ++ran; });
  int checks = 0;
  const bool driven = detail::drive_until(
      rt,
      [&] {
        ++checks;
        return ran == 3;
      },
      [] { return std::string("the test's wait"); });
  CHECK(driven);
  CHECK(ran == 3);  // one handler at a time: it stops as soon as the caller's wait is over
  CHECK(checks == 4);
  f.run();
  CHECK(ran == 5);
}

TEST_CASE("drive_until throws would_deadlock, naming the wait, when nothing is left to run") {
  fixture f;
  auto& rt = *f.rt.internal_state();
  int ran = 0;
  detail::post_task(rt, [&ran] { ++ran; });
  const auto [code, what] = thrown_by([&] {
    detail::drive_until(
        rt, [] { return false; }, [] { return std::string("waiting for godot"); });
  });
  CHECK(code == errc::would_deadlock);
  CHECK(what.find("waiting for godot") != std::string::npos);
  CHECK(ran == 1);  // what was queued ran first
  // The runtime is unharmed: it runs what comes next.
  detail::post_task(rt, [&ran] { ++ran; });
  f.run();
  CHECK(ran == 2);
}

TEST_CASE("drive_until returns false at once on a pool runtime: the caller blocks as usual") {
  runtime rt(runtime_options{.threads = 2});
  auto& state = *rt.internal_state();
  CHECK(detail::pool_threads(state) == 2);
  bool asked = false;
  CHECK_FALSE(detail::drive_until(
      state,
      [&] {
        asked = true;
        return true;
      },
      [] { return std::string("unused"); }));
  CHECK_FALSE(asked);
  // post_task runs work on the pool, spread or on the posting thread's queue alike.
  std::promise<int> spread, local;
  detail::post_task(state, [&] { spread.set_value(1); });
  detail::post_task(
      state, [&] { local.set_value(2); }, detail::task_placement::local);
  CHECK(spread.get_future().get() == 1);
  CHECK(local.get_future().get() == 2);
}

TEST_CASE("pool_threads is 0 on a deterministic or borrowed executor, whose size is unknown") {
  fixture f;
  CHECK(detail::pool_threads(*f.rt.internal_state()) == 0);
  // A task posted from a handler with `local` placement still runs there, once.
  int ran = 0;
  detail::post_task(*f.rt.internal_state(), [&] {
    detail::post_task(
        *f.rt.internal_state(), [&ran] { ++ran; }, detail::task_placement::local);
  });
  f.run();
  CHECK(ran == 1);
}
