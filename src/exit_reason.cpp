#include <datamesh/exit_reason.hpp>

#include <stdexcept>

namespace datamesh {

exit_reason exit_reason::from_exception(std::exception_ptr e) {
  exit_reason r(kind::exception, "unknown exception");
  try {
    if (e) std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    r.detail_ = ex.what();
  } catch (...) {
  }
  r.exception_ = std::move(e);
  return r;
}

std::string exit_reason::to_string() const {
  std::string s = datamesh::to_string(kind_);
  if (!detail_.empty()) {
    s += ": ";
    s += detail_;
  }
  return s;
}

}  // namespace datamesh
