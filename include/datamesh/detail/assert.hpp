/// @file
/// `DATAMESH_ASSERT(cond, why)`: an internal invariant. Checked where `DATAMESH_ENABLE_ASSERTS`
/// is defined to 1: Debug builds of this tree, the CI and sanitizer presets, and any build of
/// a project that installed DataMesh with `DATAMESH_ASSERTS=ON`. Elsewhere `cond` is not
/// evaluated. A failed check reports the condition, `why` and the place, then aborts.
#pragma once

namespace datamesh::detail {

/// What a failed `DATAMESH_ASSERT` calls; by default it writes to stderr and aborts. Tests
/// replace it to observe a check. Not thread-safe to replace while stages run.
using assertion_handler = void (*)(const char* condition, const char* why, const char* file,
                                   int line);
/// Installs `h` (null: the default); returns the one it replaces.
assertion_handler set_assertion_handler(assertion_handler h) noexcept;
/// Calls the installed handler; aborts if it returns.
[[noreturn]] void assertion_failed(const char* condition, const char* why, const char* file,
                                   int line);

}  // namespace datamesh::detail

#if defined(DATAMESH_ENABLE_ASSERTS) && DATAMESH_ENABLE_ASSERTS
#  define DATAMESH_ASSERT(cond, why) \
    ((cond) ? static_cast<void>(0)   \
            : ::datamesh::detail::assertion_failed(#cond, why, __FILE__, __LINE__))
#else
#  define DATAMESH_ASSERT(cond, why) static_cast<void>(sizeof((cond) ? 1 : 0))
#endif
