/// @file
/// The error vocabulary of DataMesh: one `errc` enumeration, its `std::error_category`, and the
/// `datamesh::error` exception thrown by synchronous calls on a caller's mistake.
///
/// Caller mistakes at synchronous calls throw `datamesh::error`; `try_` and asynchronous paths
/// report the same codes without throwing.
#pragma once

#include <string>
#include <system_error>

namespace datamesh {

/// Every error DataMesh reports.
enum class errc {
  /// An option is out of range or not valid for the stage's role (SPEC rules 2, 4, 22).
  bad_options = 1,
  /// The stage a call names has stopped, or never existed.
  no_stage,
  /// Subscribing to a stage that does not produce events.
  not_a_producer,
  /// Subscribing a stage that does not consume events (a pure producer, SPEC rule 24).
  not_a_consumer,
  /// The producer's event type differs from the consumer's input type.
  type_mismatch,
  /// A stage with this name is already running (SPEC rule 6).
  already_started,
  /// A stage's constructor threw: the stage was never started (SPEC rule 1).
  start_failed,
  /// Never raised: a subscription the producer does not know ends with
  /// `exit_reason::kind::unknown_subscription` (SPEC rule 33). Kept for one release so that the
  /// codes after it keep their values.
  unknown_subscription [[deprecated("never raised; see exit_reason::kind::unknown_subscription")]],
  /// The runtime is stopping or stopped and accepts no new work.
  runtime_stopped,
  /// A call would wait for what cannot happen: from inside a stage, for that same stage; or a
  /// stream on a deterministic executor that has nothing left to run.
  would_deadlock,
  /// The stage does not define the callback the call needs (e.g. `call` without `handle_call`).
  not_supported,
  /// The producer's dispatcher refused the subscription: the consumer is already subscribed to
  /// this broadcast producer (SPEC rule 35).
  already_subscribed,
  /// The producer's dispatcher refused the subscription: its partition or route target is
  /// taken by another subscription.
  subscription_refused,
  /// The supervisor has no child with this id (SPEC rule 116's `{:error, :not_found}`).
  no_child,
  /// The dynamic supervisor already runs its `max_children`.
  max_children,
  /// The mesh has no running node with this id.
  unknown_node,
  /// The mesh already runs a node with this id.
  duplicate_node,
  /// A node sends to a node it is not connected to, or a link to remove does not exist.
  not_connected,
  /// A link from a node to itself, or a stage subscribed to itself.
  self_connection,
  /// The two nodes are already connected in that direction.
  already_connected,
  /// A mesh description (struct or text) is malformed or names a logic no catalog holds.
  bad_description,
  /// A node's inlet is full, and so is its queue of asynchronous triggers waiting for room:
  /// the datum was not taken; offer it again later.
  inlet_full,
};

/// The name of an `errc` value, e.g. "bad_options".
const char* to_string(errc e) noexcept;

/// The category of DataMesh errors; its name is "datamesh".
const std::error_category& error_category() noexcept;

/// Makes an `std::error_code` from an `errc` (found by ADL).
inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}

/// Thrown by synchronous calls on a caller's mistake. `code()` gives the `errc`, `what()` a
/// sentence that names the bad value and the rule it breaks.
class error : public std::system_error {
 public:
  error(errc e, const std::string& what) : std::system_error(make_error_code(e), what) {}
};

}  // namespace datamesh

template <>
struct std::is_error_code_enum<datamesh::errc> : std::true_type {};
