// Stage handles and the checks of stage options.
#include <datamesh/error.hpp>
#include <datamesh/stage.hpp>
#include <datamesh/stage_ref.hpp>
#include <datamesh/subscription.hpp>

#include <string>
#include <typeindex>

namespace datamesh {

detail::stage_base& stage_ref::core() const {
  if (!p_) throw error(errc::no_stage, "the stage handle is empty");
  return *p_;
}

void stage_options::validate(stage_role role, std::type_index input) const {
  std::string unknown;
  auto add = [&](bool set, const char* name) {
    if (!set) return;
    if (!unknown.empty()) unknown += ", ";
    unknown += name;
  };
  if (role == stage_role::consumer) {
    add(buffer_size.has_value(), "buffer_size");
    add(buffer_keep.has_value(), "buffer_keep");
    add(demand.has_value(), "demand");
    add(dispatcher_options.has_value(), "dispatcher_options");
  } else if (role == stage_role::producer_consumer) {
    add(demand.has_value(), "demand");
  } else {
    add(!subscribe_to.empty(), "subscribe_to");
  }
  if (!unknown.empty()) {
    throw error(errc::bad_options, std::string("unknown options [") + unknown + "] for a " +
                                       to_string(role) + " (SPEC rule 2)");
  }
  if (buffer_size && *buffer_size == 0) {
    throw error(errc::bad_options,
                "expected buffer_size to be greater than 0 (or infinity), got: 0");
  }
  if (buffer_keep && *buffer_keep != datamesh::buffer_keep::first &&
      *buffer_keep != datamesh::buffer_keep::last) {
    throw error(errc::bad_options, "buffer_keep is not a buffer_keep value");
  }
  if (demand && *demand != producer_demand::forward && *demand != producer_demand::accumulate) {
    throw error(errc::bad_options, "demand is not a producer_demand value");
  }
  // The same checks as `subscribe`: a start-time subscription is one like any other.
  const std::string who = name.empty() ? std::string("the new ") + to_string(role) : name;
  for (const auto& [producer, opts] : subscribe_to) {
    detail::check_subscription(role, input, who, producer, opts);
  }
}

}  // namespace datamesh
