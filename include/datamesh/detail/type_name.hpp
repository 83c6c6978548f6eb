/// @file
/// `detail::type_name`: a type as its user wrote it, for error messages.
#pragma once

#include <string>
#include <typeindex>

namespace datamesh::detail {

/// The demangled name of `t` ("std::string", not "NSt7__cxx1112basic_string..."); the
/// compiler's own name where it cannot be demangled. Thread-safe.
std::string type_name(std::type_index t);

}  // namespace datamesh::detail
