/// @file
/// Stages from functions: the lambda form of the three roles, for stateless (or self-contained)
/// logic. Each wraps the callable in a small stage struct, so everything a struct stage does
/// (demand, buffer, cancel modes, errors) applies unchanged.
///
///     auto src = rt.start_producer<int>([n = 0](std::size_t demand, context<int>& ctx) mutable {
///       while (demand--) ctx.push(n++);
///     });
///     auto twice = rt.start_map<int>([](int x) { return 2L * x; });       // int -> long
///     auto evens = rt.start_filter<long>([](long x) { return x % 4 == 0; });
///     auto out   = rt.start_consumer<long>([](std::span<const long> batch) { ... });
#pragma once

#include <datamesh/context.hpp>

#include <cstddef>
#include <functional>
#include <span>
#include <type_traits>

namespace datamesh {

/// A producer calling `f(demand, ctx)`.
template <class Out, class F>
struct function_producer {
  F f;
  void handle_demand(std::size_t demand, context<Out>& ctx) { std::invoke(f, demand, ctx); }
};

/// A producer_consumer emitting `f(event)` for each event.
template <class In, class F>
struct function_map {
  using output = std::decay_t<std::invoke_result_t<F&, const In&>>;
  static_assert(!std::is_void_v<output>, "start_map's function must return the mapped event");
  F f;
  void handle_events(std::span<const In> in, context<output>& ctx) {
    ctx.reserve(in.size());
    for (const In& e : in) ctx.push(std::invoke(f, e));
  }
};

/// A producer_consumer passing on the events for which `f(event)` is true.
template <class In, class F>
struct function_filter {
  static_assert(std::is_convertible_v<std::invoke_result_t<F&, const In&>, bool>,
                "start_filter's predicate must return something convertible to bool");
  F f;
  void handle_events(std::span<const In> in, context<In>& ctx) {
    for (const In& e : in)
      if (std::invoke(f, e)) ctx.push(e);
  }
};

/// A consumer calling `f(batch)`.
template <class In, class F>
struct function_consumer {
  F f;
  void handle_events(std::span<const In> in) { std::invoke(f, in); }
};

}  // namespace datamesh
