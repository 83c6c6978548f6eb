/// @file
/// Handles to running stages: `stage_ref` (any stage, types checked at run time) and the typed
/// `producer_ref<T>` / `consumer_ref<T>`, whose types a subscription checks at compile time.
///
/// The runtime owns its stages: a stage runs until it is stopped, fails, or the runtime stops,
/// whether or not a handle to it is left, so destroying handles never stops (or frees) a running
/// stage. A handle keeps an exited stage's memory alive: it answers calls with `errc::no_stage`.
#pragma once

#include <datamesh/detail/stage_base.hpp>
#include <datamesh/fwd.hpp>

#include <memory>
#include <optional>
#include <string>
#include <typeindex>
#include <utility>

namespace datamesh {

/// A handle to any stage.
///
/// Thread safety: distinct handles are independent; every member is thread-safe.
class stage_ref {
 public:
  /// An empty handle, naming no stage.
  stage_ref() = default;
  explicit stage_ref(detail::stage_ptr p) noexcept : p_(std::move(p)) {}

  explicit operator bool() const noexcept { return p_ != nullptr; }
  stage_role role() const { return core().role(); }
  std::type_index input_type() const { return core().input_type(); }
  std::type_index output_type() const { return core().output_type(); }
  /// The name given at start, or a generated one.
  std::string name() const { return core().display_name(); }
  /// Whether the stage is still running. Thread-safe, never blocks.
  bool alive() const noexcept { return p_ && p_->alive(); }
  /// Why the stage exited, or nothing while it runs. Thread-safe, never blocks.
  std::optional<exit_reason> exit_reason_if_exited() const {
    return core().exit_reason_if_exited();
  }
  /// Blocks until the stage exits and returns why. Not from the stage's own executor thread.
  exit_reason wait() const { return core().wait(); }
  /// Calls `f(reason)` once the stage exits (at once if it has). Thread-safe.
  void on_exit(std::function<void(const exit_reason&)> f) const { core().on_exit(std::move(f)); }

  /// The type-erased core. Internal.
  const detail::stage_ptr& core_ptr() const noexcept { return p_; }

  friend bool operator==(const stage_ref& a, const stage_ref& b) noexcept { return a.p_ == b.p_; }

 private:
  detail::stage_base& core() const;

  detail::stage_ptr p_;
};

/// A handle to a stage that produces events of type `T` (a producer or producer_consumer).
template <class T>
class producer_ref : public stage_ref {
 public:
  using output_type = T;
  producer_ref() = default;
  explicit producer_ref(detail::stage_ptr p) noexcept : stage_ref(std::move(p)) {}
};

/// A handle to a stage that consumes events of type `T` (a consumer or producer_consumer).
template <class T>
class consumer_ref : public stage_ref {
 public:
  using input_type = T;
  consumer_ref() = default;
  explicit consumer_ref(detail::stage_ptr p) noexcept : stage_ref(std::move(p)) {}
};

}  // namespace datamesh
