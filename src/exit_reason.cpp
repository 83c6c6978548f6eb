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

const char* to_string(exit_reason::kind k) noexcept {
  using kind = exit_reason::kind;
  switch (k) {
    case kind::normal:
      return "normal";
    case kind::shutdown:
      return "shutdown";
    case kind::killed:
      return "killed";
    case kind::noproc:
      return "noproc";
    case kind::already_subscribed:
      return "already_subscribed";
    case kind::duplicated_subscription:
      return "duplicated_subscription";
    case kind::refused:
      return "refused";
    case kind::unknown_subscription:
      return "unknown_subscription";
    case kind::bad_return_value:
      return "bad_return_value";
    case kind::exception:
      return "exception";
    case kind::error:
      return "error";
  }
  return "unknown";
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
