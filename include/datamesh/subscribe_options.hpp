/// @file
/// `subscribe_options`: the options of one subscription (SPEC section B, rules 22, 23, 27).
#pragma once

#include <datamesh/demand.hpp>

#include <any>
#include <cstddef>
#include <optional>

namespace datamesh {

/// What a consumer does when its producer cancels the subscription or exits (SPEC rules 87-89).
enum class cancel_mode {
  permanent,  ///< exit on any cancel or producer exit, normal ones included (the default)
  transient,  ///< exit only when the reason is not normal or shutdown
  temporary,  ///< never exit because of the producer
};

const char* to_string(cancel_mode m) noexcept;

/// Options of one subscription, written with designated initializers:
/// `subscribe_options{.max_demand = 10, .cancel = cancel_mode::transient}`.
struct subscribe_options {
  /// The most events in flight on this subscription; at least 1 (rule 22).
  std::size_t max_demand = 1000;
  /// Ask again once what is awaited falls to this; below `max_demand`; default `max_demand / 2`.
  std::optional<std::size_t> min_demand{};
  cancel_mode cancel = cancel_mode::permanent;
  /// `manual` leaves asking to the consumer's code (rule 41); `handle_subscribe` may also choose.
  demand_mode demand = demand_mode::automatic;
  /// What the producer's dispatcher needs from this subscription: a `selector<Event>` for a
  /// broadcast producer (rule 75), the partition's key for a partition producer (rule 81), the
  /// target's key for a route producer. Checked by `subscribe` against the producer's
  /// dispatcher; empty for the demand dispatcher.
  std::any dispatch{};
  /// Anything else for the producer's and the consumer's `handle_subscribe` and for the
  /// dispatcher (rule 27).
  std::any extra{};

  /// `min_demand`, or its default.
  std::size_t effective_min_demand() const noexcept {
    return min_demand ? *min_demand : max_demand / 2;
  }

  /// Throws `datamesh::error` with `errc::bad_options` naming the bad value (rule 22).
  void validate() const;
};

}  // namespace datamesh
