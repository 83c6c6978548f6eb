#include <datamesh/detail/type_name.hpp>

#include <boost/core/demangle.hpp>

namespace datamesh::detail {

std::string type_name(std::type_index t) { return boost::core::demangle(t.name()); }

}  // namespace datamesh::detail
