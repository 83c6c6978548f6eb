/// @file
/// `stage_impl<S>`: a user's stage type `S` on its engine. It holds the user's object and turns
/// the engine's `user_*` hooks into calls of `S`'s callbacks; the protocol is the engine's
/// (`stage_engine.hpp`), shared by every stage type with the same role, events and dispatcher.
///
/// Threading: as the engine's, every hook runs on the stage's executor.
#pragma once

#include <datamesh/detail/stage_engine.hpp>
#include <datamesh/stage.hpp>

#include <concepts>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>

namespace datamesh::detail {

/// Converts to a `T` built from `args` by aggregate initialisation. Used where `T` has no
/// constructor taking them: compilers without C++20's parenthesised aggregate initialisation
/// (clang before 16) cannot `emplace` a plain struct from its members.
template <class T, class... Args>
struct aggregate_maker {
  std::tuple<Args&&...> args;
  operator T() && {
    return std::apply([](auto&&... a) { return T{std::forward<decltype(a)>(a)...}; },
                      std::move(args));
  }
};

/// Constructs the user's `S` in `slot` from `args`, by constructor or else as an aggregate.
template <class S, class... Args>
void emplace_user(std::optional<S>& slot, Args&&... args) {
  if constexpr (std::is_constructible_v<S, Args&&...>) {
    slot.emplace(std::forward<Args>(args)...);
  } else {
    slot.emplace(aggregate_maker<S, Args...>{std::forward_as_tuple(std::forward<Args>(args)...)});
  }
}

/// The engine a stage type `S` runs on.
template <class S>
using engine_of = stage_engine<
    stage_traits<S>::role, typename stage_traits<S>::input_type,
    typename stage_traits<S>::output_type,
    std::conditional_t<
        produces(stage_traits<S>::role),
        typename dispatcher_of<S, event_or_none<typename stage_traits<S>::output_type>>::type,
        demand_dispatcher<event_or_none<typename stage_traits<S>::output_type>>>>;

template <class S>
class stage_impl final : public engine_of<S> {
  using engine = engine_of<S>;
  using typename engine::ctx_t;
  using typename engine::in_t;

  static constexpr optional_callbacks callbacks_of() {
    optional_callbacks c;
    c.init = requires(S & s, ctx_t & x) { s.init(x); };
    c.handle_subscribe = requires(S & s, peer_role p, const subscription& sub,
                                  const subscribe_options& o, ctx_t& x) {
      s.handle_subscribe(p, sub, o, x);
    };
    c.handle_cancel = requires(S & s, const cancellation& w, const subscription& sub, ctx_t& x) {
      s.handle_cancel(w, sub, x);
    };
    c.handle_info = requires(S & s, std::any & a, ctx_t & x) { s.handle_info(a, x); };
    c.handle_call = requires(S & s, std::any & r, call_reply & y, ctx_t & x) {
      s.handle_call(r, y, x);
    };
    c.defer_stop = requires(S & s, const exit_reason& r, ctx_t& x) {
      { s.defer_stop(r, x) } -> std::same_as<bool>;
    };
    c.format_discarded = requires(S & s, std::size_t n) {
      { s.format_discarded(n) } -> std::convertible_to<bool>;
    };
    c.handle_spare_demand =
        engine::is_producer_consumer && requires(S & s, std::size_t n, ctx_t & x) {
      s.handle_spare_demand(n, x);
    };
    return c;
  }

  /// An optional callback under its name but in another form is a compile error that names the
  /// form: otherwise the engine would not call it, and its feature would be off without a word.
  /// A member function found by name alone (not an overload set or a template) is checked.
  static constexpr bool forms_checked() {
    constexpr optional_callbacks c = callbacks_of();
    static_assert(
        c.init || !requires { requires std::is_member_function_pointer_v<decltype(&S::init)>; },
        "the stage's init is never called: its form must be `void init(context<Out>&)`");
    static_assert(
        c.handle_subscribe ||
            !requires {
              requires std::is_member_function_pointer_v<decltype(&S::handle_subscribe)>;
            },
        "the stage's handle_subscribe is never called: its form must be `R handle_subscribe("
        "peer_role, const subscription&, const subscribe_options&, context<Out>&)`, R void or "
        "demand_mode");
    static_assert(
        c.handle_cancel ||
            !requires { requires std::is_member_function_pointer_v<decltype(&S::handle_cancel)>; },
        "the stage's handle_cancel is never called: its form must be `void handle_cancel(const "
        "cancellation&, const subscription&, context<Out>&)`");
    static_assert(
        c.handle_info ||
            !requires { requires std::is_member_function_pointer_v<decltype(&S::handle_info)>; },
        "the stage's handle_info is never called: its form must be `void handle_info(std::any&, "
        "context<Out>&)`");
    static_assert(
        c.handle_call ||
            !requires { requires std::is_member_function_pointer_v<decltype(&S::handle_call)>; },
        "the stage's handle_call is never called: its form must be `R handle_call(std::any&, "
        "call_reply&, context<Out>&)`, R void or std::any");
    static_assert(
        c.defer_stop ||
            !requires { requires std::is_member_function_pointer_v<decltype(&S::defer_stop)>; },
        "the stage's defer_stop is never called: its form must be `bool defer_stop(const "
        "exit_reason&, context<Out>&)`");
    static_assert(
        c.format_discarded ||
            !requires {
              requires std::is_member_function_pointer_v<decltype(&S::format_discarded)>;
            },
        "the stage's format_discarded is never called: its form must be `bool "
        "format_discarded(std::size_t)`");
    static_assert(
        has_terminate ||
            !requires { requires std::is_member_function_pointer_v<decltype(&S::terminate)>; },
        "the stage's terminate is never called: its form must be `void terminate(const "
        "exit_reason&)`");
    static_assert(
        c.handle_spare_demand || !engine::is_producer_consumer ||
            !requires {
              requires std::is_member_function_pointer_v<decltype(&S::handle_spare_demand)>;
            },
        "the stage's handle_spare_demand is never called: its form must be `void "
        "handle_spare_demand(std::size_t, context<Out>&)`");
    return true;
  }

  static constexpr bool has_terminate = requires(S & s, const exit_reason& r) { s.terminate(r); };

 public:
  template <class... Args>
  stage_impl(std::shared_ptr<runtime_state> rt, const stage_options& opts, Args&&... args)
      : engine(std::move(rt), opts, callbacks_of()) {
    static_assert(forms_checked());
    emplace_user(user_, std::forward<Args>(args)...);
  }

 private:
  void user_init([[maybe_unused]] ctx_t& c) override {
    if constexpr (callbacks_of().init) user_->init(c);
  }

  void user_handle_events([[maybe_unused]] std::span<const in_t> batch,
                          [[maybe_unused]] const subscription& from,
                          [[maybe_unused]] ctx_t& c) override {
    if constexpr (engine::is_consumer) {
      if constexpr (requires(S & s) { s.handle_events(batch, from, c); }) {
        user_->handle_events(batch, from, c);
      } else if constexpr (requires(S & s) { s.handle_events(batch, c); }) {
        user_->handle_events(batch, c);
      } else {
        user_->handle_events(batch);
      }
    }
  }

  void user_handle_demand([[maybe_unused]] std::size_t n, [[maybe_unused]] ctx_t& c) override {
    if constexpr (engine::role_v == stage_role::producer) {
      user_->handle_demand(n, c);
    } else if constexpr (callbacks_of().handle_spare_demand) {
      user_->handle_spare_demand(n, c);
    }
  }

  void user_handle_subscribe([[maybe_unused]] peer_role peer,
                             [[maybe_unused]] const subscription& sub,
                             [[maybe_unused]] const subscribe_options& opts,
                             [[maybe_unused]] demand_mode& mode,
                             [[maybe_unused]] ctx_t& c) override {
    if constexpr (callbacks_of().handle_subscribe) {
      using result = decltype(user_->handle_subscribe(peer, sub, opts, c));
      if constexpr (std::is_same_v<result, demand_mode>) {
        mode = user_->handle_subscribe(peer, sub, opts, c);
      } else {
        user_->handle_subscribe(peer, sub, opts, c);
      }
    }
  }

  void user_handle_cancel([[maybe_unused]] const cancellation& why,
                          [[maybe_unused]] const subscription& sub,
                          [[maybe_unused]] ctx_t& c) override {
    if constexpr (callbacks_of().handle_cancel) user_->handle_cancel(why, sub, c);
  }

  void user_handle_info([[maybe_unused]] std::any& msg, [[maybe_unused]] ctx_t& c) override {
    if constexpr (callbacks_of().handle_info) user_->handle_info(msg, c);
  }

  bool user_handle_call([[maybe_unused]] std::any& request, [[maybe_unused]] call_reply& reply,
                        [[maybe_unused]] ctx_t& c, [[maybe_unused]] std::any& value) override {
    if constexpr (callbacks_of().handle_call) {
      using result = decltype(user_->handle_call(request, reply, c));
      if constexpr (std::is_void_v<result>) {
        user_->handle_call(request, reply, c);
        return false;
      } else {
        value = user_->handle_call(request, reply, c);
        return true;
      }
    }
    return false;
  }

  bool user_defer_stop([[maybe_unused]] const exit_reason& why,
                       [[maybe_unused]] ctx_t& c) override {
    if constexpr (callbacks_of().defer_stop) return user_->defer_stop(why, c);
    return false;
  }

  bool user_format_discarded([[maybe_unused]] std::size_t n) override {
    if constexpr (callbacks_of().format_discarded) return user_->format_discarded(n);
    return true;
  }

  void user_terminate([[maybe_unused]] const exit_reason& why) override {
    if constexpr (has_terminate) {
      if (user_) user_->terminate(why);
    }
  }

  void user_destroy() noexcept override { user_.reset(); }

  std::optional<S> user_;
};

}  // namespace datamesh::detail
