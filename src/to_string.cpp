// The names of the public enumerations' values, one list per enumeration (enum_names.hpp).
#include <datamesh/buffer.hpp>
#include <datamesh/demand.hpp>
#include <datamesh/error.hpp>
#include <datamesh/exit_reason.hpp>
#include <datamesh/flow/from_range.hpp>
#include <datamesh/log.hpp>
#include <datamesh/mesh/options.hpp>
#include <datamesh/stage.hpp>
#include <datamesh/stage_role.hpp>
#include <datamesh/subscribe_options.hpp>
#include <datamesh/supervisor/child_spec.hpp>
#include <datamesh/supervisor/restart.hpp>

#include "enum_names.hpp"

// clang-format off
#define DATAMESH_ERRC(X)                                                                 \
  X(bad_options) X(no_stage) X(not_a_producer) X(not_a_consumer) X(type_mismatch)        \
  X(already_started) X(start_failed) X(unknown_subscription) X(runtime_stopped)          \
  X(would_deadlock) X(not_supported) X(already_subscribed) X(subscription_refused)       \
  X(no_child) X(max_children) X(unknown_node) X(duplicate_node) X(not_connected)         \
  X(self_connection) X(already_connected) X(bad_description) X(inlet_full)
#define DATAMESH_EXIT_KIND(X)                                                            \
  X(normal) X(shutdown) X(killed) X(noproc) X(already_subscribed)                        \
  X(duplicated_subscription) X(refused) X(unknown_subscription) X(bad_return_value)      \
  X(exception) X(error)
#define DATAMESH_STAGE_ROLE(X) X(producer) X(consumer) X(producer_consumer)
#define DATAMESH_PEER_ROLE(X) X(producer) X(consumer)
#define DATAMESH_CANCEL_KIND(X) X(cancel) X(down)
#define DATAMESH_DEMAND_MODE(X) X(automatic) X(manual)
#define DATAMESH_PRODUCER_DEMAND(X) X(forward) X(accumulate)
#define DATAMESH_BUFFER_KEEP(X) X(first) X(last)
#define DATAMESH_CANCEL_MODE(X) X(permanent) X(transient) X(temporary)
#define DATAMESH_LOG_LEVEL(X) X(debug) X(info) X(warning) X(error)
#define DATAMESH_CHILD_KIND(X) X(worker) X(supervisor)
#define DATAMESH_RESTART_TYPE(X) X(permanent) X(transient) X(temporary)
#define DATAMESH_SHUTDOWN_KIND(X) X(brutal_kill) X(after) X(infinity)
#define DATAMESH_TRIGGER_STATUS(X) X(accepted) X(full) X(closed)
// clang-format on

namespace datamesh {

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"  // errc::unknown_subscription
DATAMESH_NAMES(errc, DATAMESH_ERRC)
#pragma GCC diagnostic pop
DATAMESH_NAMES(exit_reason::kind, DATAMESH_EXIT_KIND)
DATAMESH_NAMES(stage_role, DATAMESH_STAGE_ROLE)
DATAMESH_NAMES(peer_role, DATAMESH_PEER_ROLE)
DATAMESH_NAMES(cancel_kind, DATAMESH_CANCEL_KIND)
DATAMESH_NAMES(demand_mode, DATAMESH_DEMAND_MODE)
DATAMESH_NAMES(producer_demand, DATAMESH_PRODUCER_DEMAND)
DATAMESH_NAMES(buffer_keep, DATAMESH_BUFFER_KEEP)
DATAMESH_NAMES(cancel_mode, DATAMESH_CANCEL_MODE)
DATAMESH_NAMES(log_level, DATAMESH_LOG_LEVEL)
DATAMESH_NAMES(child_kind, DATAMESH_CHILD_KIND)
DATAMESH_NAMES(restart_type, DATAMESH_RESTART_TYPE)
DATAMESH_NAMES(shutdown_policy::kind, DATAMESH_SHUTDOWN_KIND)
DATAMESH_NAMES(trigger_status, DATAMESH_TRIGGER_STATUS)

// GenStage's names: `continue` is a C++ keyword, so the value is spelled continue_running.
const char* to_string(producer_on_cancel p) noexcept {
  switch (p) {
    case producer_on_cancel::continue_running:
      return "continue";
    case producer_on_cancel::stop:
      return "stop";
  }
  return "unknown";
}

}  // namespace datamesh
