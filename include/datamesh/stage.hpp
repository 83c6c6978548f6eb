/// @file
/// Stages: the user's plain struct with GenStage's callbacks, the role that follows from them,
/// the options a stage starts with, and the typed handle `start` returns.
///
/// A producer defines `handle_demand`; a consumer or producer_consumer defines `handle_events`,
/// and is a producer_consumer when that takes a `context<Out>&` with a non-void `Out`:
///
///     struct counter {                               // producer of int
///       int next = 0;
///       void handle_demand(std::size_t n, datamesh::context<int>& ctx) {
///         while (n--) ctx.push(next++);
///       }
///     };
///     struct doubler {                               // producer_consumer int -> long
///       void handle_events(std::span<const int> in, datamesh::context<long>& ctx) {
///         for (int x : in) ctx.push(2L * x);
///       }
///     };
///     struct printer {                               // consumer of long
///       void handle_events(std::span<const long> in) { for (long x : in) std::cout << x; }
///     };
///
/// Invalid: a struct with neither callback, or with both, or whose `handle_events` does not take
/// a `std::span<const In>` first; each fails with a sentence naming the rule broken.
///
/// Optional callbacks, each with GenStage's default when absent (one under its name but in
/// another form, say an `init` taking another context, is a compile error naming the form):
///   - `void init(context<Out>&)`: runs once before anything else (the constructor takes the
///     start arguments; `init` may stop the stage or set its demand mode).
///   - `R handle_subscribe(peer_role, const subscription&, const subscribe_options&,
///     context<Out>&)` with `R` void or `demand_mode` (manual demand, SPEC rules 12, 13, 41).
///   - `void handle_cancel(const cancellation&, const subscription&, context<Out>&)` (rule 14).
///   - `void handle_info(std::any&, context<Out>&)` (rule 15).
///   - `R handle_call(std::any& request, call_reply& reply, context<Out>&)` with `R` void or
///     `std::any`: answers `datamesh::call` (rules 10, 11); without it a call fails with
///     `errc::not_supported` and the stage keeps running.
///   - `void terminate(const exit_reason&)` (rule 16).
///   - `bool defer_stop(const exit_reason&, context<Out>&)`: the stage is asked to exit from
///     outside (`datamesh::stop`, `runtime::stop`, a producer's exit by cancel mode); return true
///     to keep running and exit later through `ctx.stop`. Supervisors use it to stop their
///     children first. An exception in the stage's own code still exits at once.
///   - `bool format_discarded(std::size_t)`: return false to skip the discard log (rule 55).
///   - `void handle_spare_demand(std::size_t n, context<Out>&)`, a producer_consumer's only, and
///     DataMesh's, not GenStage's: called when downstream demand arrives and `n`, all of it, is
///     left with no upstream event waiting to meet it, so that the stage may also produce from
///     a source of its own (a queue other threads fill, a socket, a timer's readings) while it
///     relays its producers' events. What it pushes counts against that demand; upstream events
///     that arrive later wait for demand as usual (rule 45). `ctx.spare_demand()` gives the
///     same figure in other callbacks, for a supply that arrives between demands.
///   - `using dispatcher_type = ...;` a dispatcher other than `demand_dispatcher<Out>`.
#pragma once

#include <datamesh/buffer.hpp>
#include <datamesh/context.hpp>
#include <datamesh/dispatch/demand.hpp>
#include <datamesh/stage_ref.hpp>
#include <datamesh/stage_role.hpp>
#include <datamesh/subscription.hpp>

#include <any>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <typeindex>
#include <utility>
#include <vector>

namespace datamesh {

/// In `handle_subscribe`: which side the peer is on.
enum class peer_role { producer, consumer };

/// In `handle_cancel`: an explicit cancel, or the peer went down (SPEC rule 14).
enum class cancel_kind { cancel, down };

const char* to_string(peer_role r) noexcept;
const char* to_string(cancel_kind k) noexcept;

/// Why a subscription ended, as `handle_cancel` receives it.
struct cancellation {
  cancel_kind kind = cancel_kind::cancel;
  exit_reason reason;
};

/// The options a stage starts with (SPEC rules 2-5, 28, 53). Each is checked against the role.
struct stage_options {
  /// A unique name among the runtime's running stages; empty for none (rule 6).
  std::string name{};
  /// Producers: 10'000 by default; producer_consumers: `infinity`. Must be > 0 (rule 4).
  std::optional<std::size_t> buffer_size{};
  /// What a full buffer keeps; `last` by default (rule 54). Producers and producer_consumers.
  std::optional<datamesh::buffer_keep> buffer_keep{};
  /// Start accumulating demand (rule 48). Producers only (rule 2).
  std::optional<producer_demand> demand{};
  /// Options for the stage's dispatcher: a `D::options` value, or empty for the defaults.
  std::any dispatcher_options{};
  /// Producers to subscribe to while starting (rule 28). Consumers and producer_consumers.
  std::vector<std::pair<stage_ref, subscribe_options>> subscribe_to{};

  /// Throws `datamesh::error` with `errc::bad_options` when an option does not fit `role`, and
  /// checks each `subscribe_to` entry as `subscribe` does for a consumer of `input` events
  /// (`not_a_producer`, `type_mismatch`, `bad_options`).
  void validate(stage_role role, std::type_index input) const;
};

namespace detail {

template <class... A>
struct type_list {};

template <class F>
struct member_args;
template <class C, class R, class... A>
struct member_args<R (C::*)(A...)> {
  using type = type_list<A...>;
  using result = R;
};
template <class C, class R, class... A>
struct member_args<R (C::*)(A...) noexcept> : member_args<R (C::*)(A...)> {};
template <class C, class R, class... A>
struct member_args<R (C::*)(A...) const> : member_args<R (C::*)(A...)> {};
template <class C, class R, class... A>
struct member_args<R (C::*)(A...) const noexcept> : member_args<R (C::*)(A...)> {};

template <class T>
struct context_output {
  static constexpr bool is_context = false;
};
template <class Out>
struct context_output<context<Out>&> {
  static constexpr bool is_context = true;
  using type = Out;
};

template <class T>
struct span_element {
  static constexpr bool is_span = false;
};
template <class In, std::size_t Extent>
struct span_element<std::span<const In, Extent>> {
  static constexpr bool is_span = true;
  using type = In;
};

template <class List>
struct last_arg;
template <class A>
struct last_arg<type_list<A>> {
  using type = A;
};
template <class A, class B, class... Rest>
struct last_arg<type_list<A, B, Rest...>> : last_arg<type_list<B, Rest...>> {};

template <class List>
struct first_arg;
template <class A, class... Rest>
struct first_arg<type_list<A, Rest...>> {
  using type = A;
};

template <class S>
concept has_handle_demand = requires {
  &S::handle_demand;
};
template <class S>
concept has_handle_events = requires {
  &S::handle_events;
};

template <class S, bool Producer = has_handle_demand<S>, bool Consumer = has_handle_events<S>>
struct role_of {
  static constexpr bool valid = false;
};

template <class S>
struct role_of<S, true, false> {
  using args = typename member_args<decltype(&S::handle_demand)>::type;
  using ctx = typename last_arg<args>::type;
  static_assert(context_output<ctx>::is_context,
                "a producer's handle_demand must be `void handle_demand(std::size_t demand, "
                "datamesh::context<Event>& ctx)`");
  using output_type = typename context_output<ctx>::type;
  static_assert(!std::is_void_v<output_type>,
                "a producer's handle_demand must take a context<Event>& with the event type it "
                "emits, not context<void>");
  using input_type = void;
  static constexpr stage_role role = stage_role::producer;
  static constexpr bool valid = true;
};

template <class S>
struct role_of<S, false, true> {
  using args = typename member_args<decltype(&S::handle_events)>::type;
  using first = std::remove_cvref_t<typename first_arg<args>::type>;
  static_assert(span_element<first>::is_span,
                "handle_events must take the batch as its first parameter, as "
                "`std::span<const Event>`");
  using input_type = typename span_element<first>::type;
  using last = typename last_arg<args>::type;
  using output_type =
      typename std::conditional_t<context_output<last>::is_context, context_output<last>,
                                  std::type_identity<void>>::type;
  static constexpr stage_role role =
      std::is_void_v<output_type> ? stage_role::consumer : stage_role::producer_consumer;
  static constexpr bool valid = true;
};

template <class S>
struct role_of<S, true, true> {
  static_assert(!sizeof(S*),
                "a stage defines handle_demand (a producer) or handle_events (a consumer or "
                "producer_consumer), not both");
  static constexpr bool valid = false;
};

template <class S>
struct role_of<S, false, false> {
  static_assert(!sizeof(S*),
                "a stage must define handle_demand (a producer) or handle_events (a consumer or "
                "producer_consumer); neither was found (a template or overloaded callback "
                "cannot be inspected)");
  static constexpr bool valid = false;
};

template <class S, class Out, bool = requires { typename S::dispatcher_type; }
> struct dispatcher_of { using type = demand_dispatcher<Out>; };
template <class S, class Out>
struct dispatcher_of<S, Out, true> {
  using type = typename S::dispatcher_type;
};

}  // namespace detail

/// What a stage type is: its role and event types, deduced from its callbacks.
template <class S>
struct stage_traits {
  using input_type = typename detail::role_of<S>::input_type;    ///< void for a producer
  using output_type = typename detail::role_of<S>::output_type;  ///< void for a consumer
  static constexpr stage_role role = detail::role_of<S>::role;
};

/// A stage type: a struct whose callbacks make one role (see the file comment).
template <class S>
concept stage_logic = std::is_class_v<S> && detail::role_of<S>::valid;

/// A handle to a running stage of type `S`; converts to `producer_ref<Out>` and
/// `consumer_ref<In>` as its role allows.
///
/// Thread safety: as `stage_ref`.
template <class S>
class stage_handle : public stage_ref {
 public:
  using stage_type = S;
  using input_type = typename stage_traits<S>::input_type;
  using output_type = typename stage_traits<S>::output_type;

  stage_handle() = default;
  explicit stage_handle(detail::stage_ptr p) noexcept : stage_ref(std::move(p)) {}

  operator producer_ref<output_type>() const  // NOLINT: a handle is usable as its roles
      requires(!std::is_void_v<output_type>) {
    return producer_ref<output_type>(core_ptr());
  }
  operator consumer_ref<input_type>() const  // NOLINT
      requires(!std::is_void_v<input_type>) {
    return consumer_ref<input_type>(core_ptr());
  }
};

}  // namespace datamesh
