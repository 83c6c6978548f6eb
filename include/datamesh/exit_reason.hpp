/// @file
/// `exit_reason`: why a stage stopped or a subscription was cancelled.
///
/// GenStage's reasons are Erlang terms (`:normal`, `:shutdown`, `{:shutdown, x}`, `:noproc`, an
/// exception). DataMesh keeps the same cases as a small value type, so cancel modes (SPEC rules
/// 87-92) and restart types can decide on them.
#pragma once

#include <exception>
#include <string>
#include <utility>

namespace datamesh {

/// Why a stage exited or a subscription ended.
///
/// Thread safety: a value type; distinct objects are independent, shared `const` objects may be
/// read from any thread.
class exit_reason {
 public:
  /// The cases GenStage's semantics tell apart.
  enum class kind {
    normal,                   ///< a deliberate, clean stop (`:normal`)
    shutdown,                 ///< stopped by its owner (`:shutdown` or `{:shutdown, detail}`)
    killed,                   ///< stopped without running its callbacks
    noproc,                   ///< the peer did not exist when it was reached
    already_subscribed,       ///< refused: the consumer is already subscribed (SPEC rule 35)
    duplicated_subscription,  ///< refused: the same subscription id twice (SPEC rule 32)
    refused,                  ///< refused by the producer's dispatcher; `detail()` says why
    unknown_subscription,     ///< the peer does not know this subscription (SPEC rule 33)
    bad_return_value,         ///< a callback answered something the protocol forbids (rule 12)
    exception,                ///< user code threw; `exception()` holds what it threw
    error,                    ///< any other abnormal reason, described by `detail()`
  };

  /// A normal exit.
  exit_reason() = default;

  static exit_reason normal() { return {}; }
  /// A normal exit after a drain (`datamesh::drain`): the stage passed on everything it held.
  /// Its consumers drain in turn once no producer of theirs is left, whatever their cancel mode.
  static exit_reason drained() { return exit_reason(kind::normal, "drained"); }
  static exit_reason shutdown(std::string detail = {}) {
    return exit_reason(kind::shutdown, std::move(detail));
  }
  static exit_reason killed() { return exit_reason(kind::killed, {}); }
  static exit_reason noproc() { return exit_reason(kind::noproc, {}); }
  static exit_reason already_subscribed() { return exit_reason(kind::already_subscribed, {}); }
  static exit_reason duplicated_subscription() {
    return exit_reason(kind::duplicated_subscription, {});
  }
  /// The producer's dispatcher refused the subscription (a taken partition or route target).
  static exit_reason refused(std::string why) { return exit_reason(kind::refused, std::move(why)); }
  static exit_reason unknown_subscription() { return exit_reason(kind::unknown_subscription, {}); }
  static exit_reason bad_return_value(std::string what) {
    return exit_reason(kind::bad_return_value, std::move(what));
  }
  static exit_reason error(std::string what) { return exit_reason(kind::error, std::move(what)); }
  /// The reason for an exception that escaped user code; `detail()` is its `what()`.
  static exit_reason from_exception(std::exception_ptr e);

  kind get_kind() const noexcept { return kind_; }
  const std::string& detail() const noexcept { return detail_; }
  /// The exception user code threw, or null.
  const std::exception_ptr& exception() const noexcept { return exception_; }

  bool is_normal() const noexcept { return kind_ == kind::normal; }
  /// A normal exit after a drain (see `drained`).
  bool is_drained() const noexcept { return kind_ == kind::normal && detail_ == "drained"; }
  /// `:normal`, `:shutdown` or `{:shutdown, _}`: the reasons a transient peer or child does not
  /// treat as a failure (SPEC rule 88, OTP's transient restart).
  bool is_clean() const noexcept { return kind_ == kind::normal || kind_ == kind::shutdown; }

  /// A readable form, e.g. "normal", "shutdown: draining", "exception: bad input".
  std::string to_string() const;

  friend bool operator==(const exit_reason& a, const exit_reason& b) noexcept {
    return a.kind_ == b.kind_ && a.detail_ == b.detail_ && a.exception_ == b.exception_;
  }

 private:
  exit_reason(kind k, std::string detail) : kind_(k), detail_(std::move(detail)) {}

  kind kind_ = kind::normal;
  std::string detail_;
  std::exception_ptr exception_;
};

/// The name of a reason kind, e.g. "noproc".
const char* to_string(exit_reason::kind k) noexcept;

}  // namespace datamesh
