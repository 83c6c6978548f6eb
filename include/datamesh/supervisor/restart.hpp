/// @file
/// OTP's restart vocabulary, as pure policy: which exits a child is restarted after (its restart
/// type), and when too many restarts in too little time make its supervisor give up (restart
/// intensity). The supervisors apply it; tests drive it with plain values and a given clock.
#pragma once

#include <datamesh/exit_reason.hpp>

#include <chrono>
#include <cstddef>
#include <deque>
#include <optional>

namespace datamesh {

/// When a supervisor restarts a child that exited (OTP's `restart`).
enum class restart_type {
  permanent,  ///< always
  transient,  ///< only after an abnormal exit: not normal, shutdown or {shutdown, _}
  temporary,  ///< never
};

const char* to_string(restart_type t) noexcept;

/// Throws `datamesh::error` `bad_options` unless `t` is one of the enumeration's values (an
/// integer cast to `restart_type` must not act as some other type).
void check_restart_type(restart_type t);

/// Whether a child of restart type `type` that exited with `reason` is restarted.
/// Never blocks. Never allocates.
bool should_restart(restart_type type, const exit_reason& reason) noexcept;

/// The restart intensity of a supervisor: more than `max_restarts` restarts within `period`
/// shut it down (OTP's `intensity` and `period`; SPEC rule 113).
struct restart_intensity_options {
  std::size_t max_restarts = 3;
  /// The window restarts are counted in.
  std::chrono::milliseconds period = std::chrono::seconds(5);
  /// The old name of `period` (it held milliseconds), which it overrides when set; kept for one
  /// release. Not marked [[deprecated]]: a deprecated member with a default warns at every
  /// designated initialiser that leaves it out, which would break users' -Werror builds.
  std::optional<std::chrono::milliseconds> max_seconds{};

  /// The window: `period`, or the old `max_seconds` when it is set.
  std::chrono::milliseconds window() const noexcept { return max_seconds ? *max_seconds : period; }

  /// Throws `datamesh::error` with `errc::bad_options` when the window is not positive.
  /// A window longer than any clock's range (`milliseconds::max()`) means "since the start".
  void validate() const;
};

/// Counts restarts in a sliding window.
///
/// Thread safety: not thread-safe; owned by one supervisor.
class restart_intensity {
 public:
  using clock = std::chrono::steady_clock;

  restart_intensity() = default;
  /// @throws datamesh::error `bad_options` (see `restart_intensity_options::validate`).
  explicit restart_intensity(restart_intensity_options opts);

  /// Records a restart at `now`. Returns false when it is one too many: more than
  /// `max_restarts` within the last `period`, counting this one. Then the supervisor shuts
  /// down instead of restarting.
  bool add_restart(clock::time_point now);

  /// Restarts recorded within the window that ended at the last `add_restart`.
  std::size_t recent() const noexcept { return restarts_.size(); }
  const restart_intensity_options& options() const noexcept { return opts_; }

 private:
  restart_intensity_options opts_{};
  std::deque<clock::time_point> restarts_;  // oldest first, within the window
};

}  // namespace datamesh
