/// @file
/// `context<Out>`: what a stage's callbacks receive to emit events (producers and
/// producer_consumers), send demand, cancel, stop, and queue infos.
///
/// A consumer's context is `context<void>`: it has no `push`, so a consumer that tries to emit
/// events does not compile (DataMesh's answer to SPEC rule 9).
#pragma once

#include <datamesh/demand.hpp>
#include <datamesh/detail/reply_once.hpp>
#include <datamesh/exit_reason.hpp>
#include <datamesh/fwd.hpp>
#include <datamesh/log.hpp>
#include <datamesh/stage_ref.hpp>
#include <datamesh/subscription.hpp>

#include <any>
#include <cstddef>
#include <exception>
#include <future>
#include <iterator>
#include <memory>
#include <ranges>
#include <string>
#include <utility>
#include <vector>

namespace datamesh {

/// The reply to one `call` (SPEC rules 10, 11). `handle_call` answers by returning a value,
/// which goes out after the events the callback pushed, or by calling `reply(v)`, which goes out
/// at once; a copy may answer later, from another callback. A call never answered fails with
/// `std::future_error` (broken promise) once the stage exits.
///
/// Thread safety: copies share one reply; answer it once.
class call_reply {
 public:
  explicit call_reply(detail::reply_once<std::any> r) noexcept : r_(std::move(r)) {}
  /// Answers the call; a second answer is ignored.
  void operator()(std::any value) { r_(std::move(value)); }
  bool replied() const noexcept { return r_.answered(); }
  /// Internal: fails the call with `e` unless it was answered.
  void fail(std::exception_ptr e) noexcept { r_.fail(std::move(e)); }

 private:
  detail::reply_once<std::any> r_;
};

namespace detail {
/// What the engine offers a context; implemented by `stage_impl`.
class stage_control {
 public:
  virtual void ctl_ask(const subscription& s, std::size_t n) = 0;
  virtual void ctl_cancel(const subscription& s, exit_reason r) = 0;
  virtual void ctl_stop(exit_reason r) = 0;
  virtual void ctl_async_info(std::any msg) = 0;
  virtual void ctl_set_demand(producer_demand m) = 0;
  virtual producer_demand ctl_demand() const = 0;
  virtual std::size_t ctl_buffered() const = 0;
  /// A producer_consumer's downstream demand that no upstream event waits to meet; 0 for others.
  virtual std::size_t ctl_spare_demand() const = 0;
  virtual stage_ref ctl_self() = 0;
  virtual void ctl_log(log_level level, const std::string& text) = 0;
  /// Counts `n` events the stage's own code dropped (see `context_base::count_dropped`).
  virtual void ctl_count_dropped(std::size_t n) = 0;

 protected:
  ~stage_control() = default;
};
}  // namespace detail

/// The calls every stage's callbacks may make. Stage context only: use it only inside the
/// callback that received it.
class context_base {
 public:
  /// Sends `n` more demand on `from`, a manual subscription (SPEC rule 41); 0 does nothing.
  void ask(const subscription& from, std::size_t n) { ctl_->ctl_ask(from, n); }
  /// Cancels a subscription of this stage (SPEC rule 86).
  void cancel(const subscription& sub, exit_reason r = exit_reason::normal()) {
    ctl_->ctl_cancel(sub, std::move(r));
  }
  /// Stops this stage once the callback returns; events pushed before are dispatched first.
  void stop(exit_reason r = exit_reason::normal()) { ctl_->ctl_stop(std::move(r)); }
  /// Queues `msg` for this stage's `handle_info` behind the events buffered now: the way to stop
  /// after the last events are dispatched (SPEC rule 63).
  void async_info(std::any msg) { ctl_->ctl_async_info(std::move(msg)); }
  /// Switches this producer's demand mode (SPEC rules 48-52).
  void set_demand(producer_demand m) { ctl_->ctl_set_demand(m); }
  producer_demand demand() const { return ctl_->ctl_demand(); }
  /// Events in this producer's buffer.
  std::size_t buffered_count() const { return ctl_->ctl_buffered(); }
  /// A handle to this stage.
  stage_ref self() const { return ctl_->ctl_self(); }
  /// Logs through the runtime's hook, prefixed with this stage's name.
  void log(log_level level, const std::string& text) { ctl_->ctl_log(level, text); }
  /// Counts `n` events this stage dropped on purpose (a filter that discards what it cannot
  /// route, a sampler): the library counts what it loses itself, and this adds what the stage's
  /// own code loses to the same figure, `estimate_dropped_count`.
  void count_dropped(std::size_t n) { ctl_->ctl_count_dropped(n); }

 protected:
  explicit context_base(detail::stage_control* ctl) noexcept : ctl_(ctl) {}
  detail::stage_control* ctl_;
};

/// The context of a stage that emits events of type `Out`.
template <class Out>
class context : public context_base {
 public:
  using output_type = Out;

  /// Emits one event. Stage context only. Never blocks; allocates only when the batch grows.
  void push(const Out& e) { out_->push_back(e); }
  void push(Out&& e) { out_->push_back(std::move(e)); }
  /// Emits a range of events in order.
  template <std::ranges::input_range R>
  void push_range(R&& r) {
    if constexpr (std::ranges::sized_range<R>) out_->reserve(out_->size() + std::ranges::size(r));
    for (auto&& e : r) out_->push_back(std::forward<decltype(e)>(e));
  }
  /// Reserves room for `n` more events in the batch being built.
  void reserve(std::size_t n) { out_->reserve(out_->size() + n); }
  /// Events pushed by the running callback and not yet dispatched.
  std::size_t pushed() const noexcept { return out_->size(); }
  /// The batch `push` appends to: the events pushed by the running callback, in order. A stage
  /// that emits in a tight loop may append to it directly (`emplace_back`, or keep the reference
  /// across the loop) instead of calling `push` per event. Appending is all it is for: what is
  /// removed from it is neither dispatched nor counted.
  std::vector<Out>& batch() noexcept { return *out_; }
  /// A producer_consumer's spare demand: downstream demand that no upstream event waits to
  /// meet, so what it may emit now from a source of its own without buffering (see
  /// `handle_spare_demand`, stage.hpp). Events pushed by the running callback are not yet
  /// deducted. Always 0 for a producer, whose demand comes to `handle_demand`.
  std::size_t spare_demand() const { return ctl_->ctl_spare_demand(); }

  /// Internal: made by the engine.
  context(detail::stage_control* ctl, std::vector<Out>* out) noexcept
      : context_base(ctl), out_(out) {}

 private:
  std::vector<Out>* out_;
};

/// The context of a consumer: no `push`.
template <>
class context<void> : public context_base {
 public:
  using output_type = void;
  /// Internal: made by the engine.
  explicit context(detail::stage_control* ctl) noexcept : context_base(ctl) {}
};

}  // namespace datamesh
