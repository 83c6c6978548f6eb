// Restart types and restart intensity (OTP's supervisor semantics, SPEC rules 112, 113): pure
// policy, driven with plain reasons and a given clock.
#include <datamesh/error.hpp>
#include <datamesh/supervisor/restart.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <stdexcept>

using namespace datamesh;
using namespace std::chrono_literals;

namespace {

const exit_reason crash =
    exit_reason::from_exception(std::make_exception_ptr(std::runtime_error("worker failed")));

}  // namespace

TEST_CASE("rule 112: permanent restarts always, transient after failures, temporary never") {
  struct row {
    exit_reason reason;
    bool permanent, transient, temporary;
  };
  const row rows[] = {
      {exit_reason::normal(), true, false, false},
      {exit_reason::shutdown(), true, false, false},
      {exit_reason::shutdown("draining"), true, false, false},  // {shutdown, _}
      {exit_reason::killed(), true, true, false},
      {exit_reason::error("bad state"), true, true, false},
      {crash, true, true, false},
  };
  for (const row& r : rows) {
    CAPTURE(r.reason.to_string());
    CHECK(should_restart(restart_type::permanent, r.reason) == r.permanent);
    CHECK(should_restart(restart_type::transient, r.reason) == r.transient);
    CHECK(should_restart(restart_type::temporary, r.reason) == r.temporary);
  }
  CHECK(std::string(to_string(restart_type::transient)) == "transient");
}

TEST_CASE("rule 113: more than max_restarts within period is one too many") {
  restart_intensity r({.max_restarts = 3, .period = 5s});
  const auto t0 = restart_intensity::clock::time_point{} + 100s;
  CHECK(r.add_restart(t0));
  CHECK(r.add_restart(t0 + 1s));
  CHECK(r.add_restart(t0 + 2s));
  CHECK_FALSE(r.add_restart(t0 + 3s));  // the 4th within 5 s
}

TEST_CASE("rule 113: restarts older than period no longer count") {
  restart_intensity r({.max_restarts = 2, .period = 5s});
  const auto t0 = restart_intensity::clock::time_point{} + 100s;
  CHECK(r.add_restart(t0));
  CHECK(r.add_restart(t0 + 1s));
  CHECK(r.add_restart(t0 + 6s));  // t0 is out of the window: 2 recent
  CHECK(r.recent() == 2);
  CHECK(r.add_restart(t0 + 12s));  // both earlier ones are out: 1 recent
  CHECK(r.recent() == 1);
  // The window includes its edge, as OTP's: a restart exactly period old still counts.
  CHECK(r.add_restart(t0 + 17s));
  CHECK_FALSE(r.add_restart(t0 + 17s));
}

TEST_CASE("rule 113: max_restarts 0 gives up on the first restart") {
  restart_intensity r({.max_restarts = 0, .period = 5s});
  CHECK_FALSE(r.add_restart(restart_intensity::clock::now()));
}

TEST_CASE("rule 113: the defaults are OTP's, 3 restarts in 5 seconds") {
  restart_intensity r;
  CHECK(r.options().max_restarts == 3);
  CHECK(r.options().period == 5s);
}

TEST_CASE("rule 113: a period that is not positive is refused with bad_options") {
  for (auto period : {0ms, -1ms}) {
    try {
      restart_intensity r({.max_restarts = 3, .period = period});
      FAIL("expected bad_options");
    } catch (const error& e) {
      CHECK(e.code() == errc::bad_options);
      CHECK(std::string(e.what()).find("period") != std::string::npos);
    }
  }
}

TEST_CASE("F13: a window of milliseconds::max() counts every restart since the start") {
  // "Forever" must not overflow into "never": with max_restarts 0, the first restart is one
  // too many, however long the window.
  restart_intensity forever({.max_restarts = 0, .period = std::chrono::milliseconds::max()});
  const auto t0 = restart_intensity::clock::time_point{} + std::chrono::hours(1000);
  CHECK_FALSE(forever.add_restart(t0));
  restart_intensity two({.max_restarts = 2, .period = std::chrono::milliseconds::max()});
  CHECK(two.add_restart(t0));
  CHECK(two.add_restart(t0 + std::chrono::hours(24 * 365)));
  CHECK_FALSE(two.add_restart(t0 + std::chrono::hours(24 * 365 * 50)));
}

TEST_CASE("F14: a restart type outside the enumeration is bad_options") {
  CHECK_NOTHROW(check_restart_type(restart_type::transient));
  for (int bad : {3, 7, 9, -1}) {
    CAPTURE(bad);
    try {
      check_restart_type(static_cast<restart_type>(bad));
      FAIL("accepted");
    } catch (const error& e) {
      CHECK(e.code() == errc::bad_options);
    }
  }
}

TEST_CASE("rule 113: the old name max_seconds still sets the window, over period") {
  restart_intensity r({.max_restarts = 1, .period = 1h, .max_seconds = 5s});
  CHECK(r.options().window() == 5s);
  CHECK_THROWS_AS(restart_intensity({.max_seconds = 0ms}), error);
  const auto t0 = restart_intensity::clock::time_point{} + 1h;
  CHECK(r.add_restart(t0));
  CHECK(r.add_restart(t0 + 6s));  // the first is out of the 5 s window
  CHECK_FALSE(r.add_restart(t0 + 7s));
  CHECK(restart_intensity_options{}.window() == 5s);
}
