/// @file
/// The options of the mesh's calls: `node_options` for `start_node`, `link_options` for
/// `connect`, and `trigger_status`, the answer of `try_trigger_data`.
#pragma once

#include <datamesh/supervisor/child_spec.hpp>
#include <datamesh/supervisor/restart.hpp>

#include <any>
#include <chrono>
#include <cstddef>
#include <optional>

namespace datamesh {

// The pragmas keep the deprecated member's warning to the code that names it: without them
// every implicit copy of node_options would warn.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
/// Options of one node.
struct node_options {
  /// Data from `trigger_data` accepted and not yet taken by the node; at least 1.
  std::size_t inlet_capacity = 1000;
  /// The most data the node takes from its inlet at once (its downstream demand permitting);
  /// at least 1.
  std::size_t inlet_batch = 1000;
  /// The old name of `inlet_batch`, which it overrides when set; kept for one release.
  [[deprecated("use inlet_batch (max_demand names a link's demand)")]] std::optional<std::size_t>
      max_demand{};
  /// `permanent` or `transient`: the node runs under a supervisor of its own, which restarts
  /// it by this policy. A restart makes a new state with `init(args)` and keeps the id, the
  /// inlet (and what waits in it) and the links; what the node had received and not processed
  /// is lost. `temporary` (the default): never restarted, so no supervisor; a node that stops
  /// stays stopped.
  restart_type restart = restart_type::temporary;
  /// More restarts than this within its window and the node is given up (OTP's intensity).
  restart_intensity_options intensity{};
  /// How the supervisor stops a supervised node.
  shutdown_policy shutdown = shutdown_policy::after(std::chrono::seconds(5));

  /// `inlet_batch`, or the deprecated `max_demand` when it is set.
  std::size_t batch() const noexcept { return max_demand ? *max_demand : inlet_batch; }
};
#pragma GCC diagnostic pop

/// Options of one link.
struct link_options {
  std::size_t max_demand = 1000;
  /// Default: `max_demand / 2`.
  std::optional<std::size_t> min_demand{};
  /// A `selector<Out>` of the sending node's output type: the broadcasts this link receives.
  std::any select{};
};

/// The answer of `try_trigger_data`.
enum class trigger_status {
  accepted,  ///< the node's inlet took the datum
  full,      ///< the inlet has no room now; offer it again later
  closed,    ///< the node has stopped (or is stopping): it takes nothing more
};

const char* to_string(trigger_status s) noexcept;

}  // namespace datamesh
