// subscribe_options::validate (SPEC rule 22), the exit_reason value type that cancel modes
// decide on (SPEC rules 87-88), and the names of the options' and reasons' values.
#include <datamesh/buffer.hpp>
#include <datamesh/demand.hpp>
#include <datamesh/error.hpp>
#include <datamesh/exit_reason.hpp>
#include <datamesh/flow/from_range.hpp>
#include <datamesh/log.hpp>
#include <datamesh/mesh/options.hpp>
#include <datamesh/stage.hpp>
#include <datamesh/stage_role.hpp>
#include <datamesh/subscribe_options.hpp>
#include <datamesh/supervisor/child_spec.hpp>
#include <datamesh/supervisor/restart.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <cstddef>
#include <exception>
#include <optional>
#include <ostream>  // doctest prints std::error_code with it
#include <stdexcept>
#include <string>
#include <system_error>

namespace {

using datamesh::errc;
using datamesh::exit_reason;
using datamesh::subscribe_options;

// The error validate() throws, or nothing when it accepts the options.
std::optional<datamesh::error> validation_error(const subscribe_options& opts) {
  try {
    opts.validate();
  } catch (const datamesh::error& e) {
    return e;
  }
  return std::nullopt;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("rule 22: the defaults are max_demand 1000 and min_demand 500") {
  const subscribe_options opts;
  CHECK(opts.max_demand == 1000);
  CHECK_FALSE(opts.min_demand.has_value());
  CHECK(opts.effective_min_demand() == 500);
  CHECK(opts.cancel == datamesh::cancel_mode::permanent);
  CHECK(opts.demand == datamesh::demand_mode::automatic);
  CHECK_NOTHROW(opts.validate());
}

TEST_CASE("rule 22: min_demand defaults to half of max_demand, rounded down") {
  struct row {
    std::size_t max, min;
  };
  for (const row r : {row{1, 0}, row{2, 1}, row{7, 3}, row{10, 5}, row{1001, 500}}) {
    CAPTURE(r.max);
    const subscribe_options opts{.max_demand = r.max};
    CHECK(opts.effective_min_demand() == r.min);
    CHECK_NOTHROW(opts.validate());
  }
  const subscribe_options explicit_min{.max_demand = 100, .min_demand = 80};
  CHECK(explicit_min.effective_min_demand() == 80);
}

TEST_CASE("rule 22: max_demand 0 is refused with bad_options naming max_demand") {
  const auto e = validation_error(subscribe_options{.max_demand = 0});
  REQUIRE(e.has_value());
  CHECK(e->code() == errc::bad_options);
  CHECK(contains(e->what(), "max_demand"));
  CHECK(contains(e->what(), "got: 0"));
  CHECK_THROWS_AS(subscribe_options{.max_demand = 0}.validate(), datamesh::error);
  CHECK_THROWS_AS(subscribe_options{.max_demand = 0}.validate(), std::system_error);
}

TEST_CASE("rule 22: an infinite max_demand is refused") {
  const auto e = validation_error(subscribe_options{.max_demand = datamesh::infinity});
  REQUIRE(e.has_value());
  CHECK(e->code() == errc::bad_options);
  CHECK(contains(e->what(), "max_demand"));
}

TEST_CASE("rule 22: min_demand above max_demand - 1 is refused naming the limit") {
  const auto e = validation_error(subscribe_options{.max_demand = 1000, .min_demand = 2000});
  REQUIRE(e.has_value());
  CHECK(e->code() == errc::bad_options);
  CHECK(e->code().category() == datamesh::error_category());
  CHECK(contains(e->what(), "min_demand"));
  CHECK(contains(e->what(), "999"));
  CHECK(contains(e->what(), "2000"));
}

TEST_CASE("rule 22: min_demand equal to max_demand is refused") {
  for (const std::size_t max : {std::size_t{1}, std::size_t{10}, std::size_t{1000}}) {
    CAPTURE(max);
    const auto e = validation_error(subscribe_options{.max_demand = max, .min_demand = max});
    REQUIRE(e.has_value());
    CHECK(e->code() == errc::bad_options);
    CHECK(contains(e->what(), "min_demand"));
    CHECK(contains(e->what(), std::to_string(max - 1)));
  }
}

TEST_CASE("rule 22: every min_demand from 0 to max_demand - 1 is accepted") {
  for (const std::size_t max : {std::size_t{1}, std::size_t{2}, std::size_t{7}, std::size_t{100}}) {
    for (std::size_t min = 0; min < max; ++min) {
      CAPTURE(max);
      CAPTURE(min);
      CHECK_FALSE(validation_error(subscribe_options{.max_demand = max, .min_demand = min}));
    }
  }
}

TEST_CASE("rule 22: bad_options has a name and a category called datamesh") {
  CHECK(std::string(datamesh::to_string(errc::bad_options)) == "bad_options");
  CHECK(std::string(datamesh::error_category().name()) == "datamesh");
  const std::error_code ec = errc::bad_options;
  CHECK(ec.value() == static_cast<int>(errc::bad_options));
  CHECK(ec.category() == datamesh::error_category());
}

TEST_CASE("rule 88: normal and shutdown reasons are clean, the others are not") {
  CHECK(exit_reason().is_clean());
  CHECK(exit_reason::normal().is_clean());
  CHECK(exit_reason::normal().is_normal());
  CHECK(exit_reason::shutdown().is_clean());
  CHECK(exit_reason::shutdown("x").is_clean());
  CHECK_FALSE(exit_reason::shutdown("x").is_normal());
  CHECK_FALSE(exit_reason::error("boom").is_clean());
  CHECK_FALSE(exit_reason::noproc().is_clean());
  CHECK_FALSE(exit_reason::killed().is_clean());
  CHECK_FALSE(
      exit_reason::from_exception(std::make_exception_ptr(std::runtime_error("e"))).is_clean());
}

TEST_CASE("rule 88: an exit reason reads as its kind, then its detail") {
  CHECK(exit_reason::normal().to_string() == "normal");
  CHECK(exit_reason::shutdown().to_string() == "shutdown");
  CHECK(exit_reason::shutdown("draining").to_string() == "shutdown: draining");
  CHECK(exit_reason::error("boom").to_string() == "error: boom");
  CHECK(exit_reason::noproc().to_string() == "noproc");
  CHECK(exit_reason::already_subscribed().to_string() == "already_subscribed");
  CHECK(std::string(datamesh::to_string(exit_reason::kind::unknown_subscription)) ==
        "unknown_subscription");
  CHECK(exit_reason::shutdown("draining").detail() == "draining");
  CHECK(exit_reason::noproc().get_kind() == exit_reason::kind::noproc);
}

TEST_CASE("rule 88: reasons compare by kind and detail") {
  CHECK(exit_reason() == exit_reason::normal());
  CHECK(exit_reason::shutdown("x") == exit_reason::shutdown("x"));
  CHECK_FALSE(exit_reason::shutdown("x") == exit_reason::shutdown("y"));
  CHECK_FALSE(exit_reason::shutdown() == exit_reason::normal());
}

TEST_CASE("rule 95: a reason made from an exception keeps its what() and the exception") {
  const exit_reason r =
      exit_reason::from_exception(std::make_exception_ptr(std::runtime_error("bad input")));
  CHECK(r.get_kind() == exit_reason::kind::exception);
  CHECK(r.detail() == "bad input");
  CHECK(r.to_string() == "exception: bad input");
  REQUIRE(r.exception() != nullptr);
  CHECK_THROWS_WITH_AS(std::rethrow_exception(r.exception()), "bad input", std::runtime_error);

  SUBCASE("something that is not a std::exception still gives an exception reason") {
    const exit_reason odd = exit_reason::from_exception(std::make_exception_ptr(42));
    CHECK(odd.get_kind() == exit_reason::kind::exception);
    CHECK(odd.detail() == "unknown exception");
    CHECK(odd.exception() != nullptr);
  }
}

TEST_CASE("every enumeration value reads as its name, a value outside it reads unknown") {
  using namespace datamesh;
  auto name = [](auto v) { return std::string(to_string(v)); };
  CHECK(name(errc::bad_options) == "bad_options");
  CHECK(name(errc::inlet_full) == "inlet_full");
  CHECK(name(exit_reason::kind::error) == "error");
  CHECK(name(stage_role::producer_consumer) == "producer_consumer");
  CHECK(name(peer_role::consumer) == "consumer");
  CHECK(name(cancel_kind::down) == "down");
  CHECK(name(demand_mode::manual) == "manual");
  CHECK(name(producer_demand::accumulate) == "accumulate");
  CHECK(name(buffer_keep::last) == "last");
  CHECK(name(cancel_mode::transient) == "transient");
  CHECK(name(log_level::warning) == "warning");
  CHECK(name(child_kind::supervisor) == "supervisor");
  CHECK(name(restart_type::temporary) == "temporary");
  CHECK(name(shutdown_policy::kind::after) == "after");
  CHECK(name(shutdown_policy::after(std::chrono::seconds(1)).how) == "after");
  CHECK(name(shutdown_policy::kind::brutal_kill) == "brutal_kill");
  CHECK(name(trigger_status::closed) == "closed");
  CHECK(name(trigger_status::full) == "full");
  CHECK(name(producer_on_cancel::continue_running) == "continue");  // GenStage's spelling
  CHECK(name(producer_on_cancel::stop) == "stop");
  // A cast value names nothing: before, a two-valued enum read as its other value.
  CHECK(name(static_cast<demand_mode>(7)) == "unknown");
  CHECK(name(static_cast<cancel_kind>(7)) == "unknown");
  CHECK(name(static_cast<errc>(0)) == "unknown");
  CHECK(name(static_cast<trigger_status>(9)) == "unknown");
  CHECK(error_category().message(static_cast<int>(errc::no_stage)) == "no_stage");
}
