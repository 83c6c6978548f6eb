// DATAMESH_ASSERT (detail/assert.hpp): checked where DATAMESH_ENABLE_ASSERTS is on (the CI and
// sanitizer presets), compiled out elsewhere, and a broken invariant reaches the handler with
// the condition and the reason.
#include <datamesh/detail/assert.hpp>

#include <doctest/doctest.h>

#include <stdexcept>
#include <string>

namespace {

struct broken : std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[noreturn]] void throwing_handler(const char* condition, const char* why, const char*, int) {
  throw broken(std::string(why) + ": " + condition);
}

}  // namespace

TEST_CASE("DATAMESH_ASSERT: a broken invariant reaches the handler with its condition and why") {
  int evaluated = 0;
#if defined(DATAMESH_ENABLE_ASSERTS) && DATAMESH_ENABLE_ASSERTS
  const auto previous = datamesh::detail::set_assertion_handler(&throwing_handler);
  CHECK_NOTHROW(DATAMESH_ASSERT(++evaluated == 1, "holds"));
  CHECK(evaluated == 1);
  std::string reported;
  try {
    DATAMESH_ASSERT(evaluated == 2, "counts once");
  } catch (const broken& e) {
    reported = e.what();
  }
  CHECK(reported == "counts once: evaluated == 2");
  datamesh::detail::set_assertion_handler(previous);
#else
  DATAMESH_ASSERT(++evaluated == 5, "not evaluated where asserts are off");
  CHECK(evaluated == 0);
  (void)&throwing_handler;
#endif
}
