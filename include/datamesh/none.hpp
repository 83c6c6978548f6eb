/// @file
/// `none`: DataMesh's one type for "nothing here". It is the state of a mesh node that keeps
/// none and the event type of a node that emits none (a sink); the library's internals use it
/// wherever a type is needed and no value is.
#pragma once

namespace datamesh {

/// An empty value: every `none` equals every other.
struct none {
  friend constexpr bool operator==(none, none) noexcept { return true; }
};

}  // namespace datamesh
