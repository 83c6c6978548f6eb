#include <datamesh/detail/stage_base.hpp>

#include <cstdio>
#include <utility>

namespace datamesh::detail {

stage_base::stage_base(std::shared_ptr<runtime_state> rt, stage_role role, std::type_index input,
                       std::type_index output, std::string name)
    : actor(std::move(rt), std::move(name)), role_(role), input_(input), output_(output) {}

stage_base::~stage_base() = default;

std::string stage_base::display_name() const {
  if (!name().empty()) return name();
  char buf[48];
  std::snprintf(buf, sizeof buf, "%s@%p", to_string(role_), static_cast<const void*>(this));
  return buf;
}

}  // namespace datamesh::detail
