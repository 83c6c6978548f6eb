// What a failed DATAMESH_ASSERT does.
#include <datamesh/detail/assert.hpp>

#include <atomic>
#include <cstdio>
#include <cstdlib>

namespace datamesh::detail {

namespace {

void report_and_abort(const char* condition, const char* why, const char* file, int line) {
  std::fprintf(stderr, "datamesh: internal invariant broken at %s:%d: %s (%s)\n", file, line, why,
               condition);
  std::abort();
}

std::atomic<assertion_handler> installed{&report_and_abort};

}  // namespace

assertion_handler set_assertion_handler(assertion_handler h) noexcept {
  return installed.exchange(h != nullptr ? h : &report_and_abort);
}

void assertion_failed(const char* condition, const char* why, const char* file, int line) {
  installed.load()(condition, why, file, line);
  std::abort();  // a handler that returns cannot resume past a broken invariant
}

}  // namespace datamesh::detail
