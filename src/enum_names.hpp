// Private to src/: how a `to_string` of an enumeration is written, from one list of its values.
// Each list becomes a switch without a default, so a value added to an enumeration and not to
// its list is a -Wswitch warning (an error in CI), and a value outside the enumeration (a cast)
// reads "unknown".
#pragma once

// X(value): one case per value, named as it is spelled.
// clang-format off
#define DATAMESH_NAME_CASE(value) case E::value: return #value;
#define DATAMESH_NAMES(Enum, LIST)                   \
  const char* to_string(Enum v) noexcept {           \
    using E = Enum;                                  \
    switch (v) { LIST(DATAMESH_NAME_CASE) }          \
    return "unknown";                                \
  }
// clang-format on
