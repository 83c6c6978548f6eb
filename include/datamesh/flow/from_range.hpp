/// @file
/// A producer from a range, an iterator pair or a generator function: GenStage's
/// `from_enumerable` (SPEC section K).
///
/// Use it to feed a pipeline from data you already have (a container, a view, a file read as an
/// input range) or from a function that makes the next item on request:
///
///     auto numbers = datamesh::start_from_range(rt, std::vector<int>{1, 2, 3});
///     auto lines   = datamesh::start_from_range(rt, v.begin(), v.end());     // borrows v
///     auto ticks   = datamesh::start_from_generator(rt, [n = 0]() mutable {
///       return n < 10 ? std::optional<int>(n++) : std::nullopt;               // nullopt: the end
///     });
///     datamesh::subscribe(consumer, numbers);
///
/// Each `handle_demand(n)` pulls exactly `n` items (rule 104), so the source is read only as fast
/// as the consumers ask. When the source ends, the producer emits what it pulled and then stops
/// with reason `normal` *after* those events have been dispatched (it queues an info behind them,
/// SPEC rule 63), so a consumer sees every event before the producer's exit.
///
/// GenStage's `link:` option has no counterpart: C++ has no process links. The producer runs until
/// its source ends, it is stopped (`datamesh::stop`), its last consumer cancels under
/// `producer_on_cancel::stop`, or the runtime stops; watch it with `stage_ref::on_exit` or `wait`.
#pragma once

#include <datamesh/context.hpp>
#include <datamesh/dispatch/demand.hpp>
#include <datamesh/dispatch/dispatcher.hpp>
#include <datamesh/runtime/runtime.hpp>
#include <datamesh/stage.hpp>
#include <datamesh/stage_calls.hpp>
#include <datamesh/start.hpp>

#include <any>
#include <concepts>
#include <cstddef>
#include <functional>
#include <iterator>
#include <optional>
#include <ranges>
#include <type_traits>
#include <unordered_set>
#include <utility>

namespace datamesh {

/// What a producer started from a range or a generator does when a consumer cancels (SPEC
/// rule 105). GenStage's `:continue` is spelled `continue_running` (`continue` is a keyword).
enum class producer_on_cancel {
  continue_running,  ///< keep running, so a later consumer gets the rest (the default)
  stop,              ///< stop with reason `normal` once the last consumer has cancelled
};

/// "continue" or "stop", GenStage's names.
const char* to_string(producer_on_cancel p) noexcept;

/// Options of a producer started from a range or a generator (SPEC rule 103).
struct source_options {
  /// The stage's options: `name`, `demand` (start accumulating, rule 48), `dispatcher_options`,
  /// `buffer_size`, `buffer_keep`. Checked for a producer when it starts.
  stage_options stage{};
  /// What a consumer's cancel does (rule 105).
  producer_on_cancel on_cancel = producer_on_cancel::continue_running;
};

namespace detail {

/// Queued by a source producer behind its last events; stops it when it comes back.
struct end_of_source {};

/// A range a producer can own: an input range whose decayed type can be moved into the stage.
template <class R>
concept ownable_range = std::ranges::input_range<R> && std::movable<std::remove_cvref_t<R>>;

/// A function a generator producer can keep and call: `next()` on its own stored copy.
template <class F>
concept generator_function = std::invocable < std::decay_t<F>
& > ;

/// The dispatcher a source producer uses: `void` stands for `demand_dispatcher<Event>`.
template <class Dispatcher, class Event>
using source_dispatcher_t =
    std::conditional_t<std::is_void_v<Dispatcher>, demand_dispatcher<Event>, Dispatcher>;

/// Pushes `*it` as an `Event`, converting only when the iterator's reference is another type.
template <class Event, class Out>
void push_converted(context<Event>& ctx, Out&& v) {
  if constexpr (std::is_same_v<std::remove_cvref_t<Out>, Event>) {
    ctx.push(std::forward<Out>(v));
  } else {
    ctx.push(static_cast<Event>(std::forward<Out>(v)));
  }
}

/// Pulls items from a range the producer owns. The iterator is taken at the first pull, when the
/// range already sits in the stage and will not move again, and so that a lazy input range
/// (e.g. `std::views::istream`) reads nothing before the first demand.
template <class R>
class range_source {
 public:
  using event_type = std::ranges::range_value_t<R>;

  template <class Arg>
  explicit range_source(Arg&& r) : range_(std::forward<Arg>(r)) {}

  /// Pushes up to `n` items; true once the range is exhausted. An exhausted range is seen right
  /// after its last item (the iterator is compared with the end), so the producer stops without
  /// waiting for another demand.
  bool pull(std::size_t n, context<event_type>& ctx) {
    if (!it_) it_.emplace(std::ranges::begin(range_));
    auto& it = *it_;
    const auto last = std::ranges::end(range_);
    for (; n > 0 && it != last; --n, ++it) {
      // A container the stage owns gives its items away; a view may alias the caller's data
      // (an iterator pair, a span, a ref_view), so its items are copied.
      if constexpr (std::ranges::view<R>) {
        push_converted<event_type>(ctx, *it);
      } else {
        push_converted<event_type>(ctx, std::ranges::iter_move(it));
      }
    }
    return it == last;
  }

 private:
  R range_;
  std::optional<std::ranges::iterator_t<R>> it_;
};

template <class T>
struct optional_value {
  static constexpr bool is_optional = false;
};
template <class T>
struct optional_value<std::optional<T>> {
  static constexpr bool is_optional = true;
  using type = T;
};

/// Pulls items from a function returning `std::optional<Event>`, `nullopt` meaning the end.
template <class F>
class generator_source {
  using result = std::remove_cvref_t<std::invoke_result_t<F&>>;
  static_assert(optional_value<result>::is_optional,
                "start_from_generator's function must return std::optional<Event>, with "
                "std::nullopt meaning the end");

 public:
  using event_type = typename optional_value<result>::type;

  template <class Arg>
  explicit generator_source(Arg&& f) : f_(std::forward<Arg>(f)) {}

  /// Calls the function at most `n` times; true once it has returned `nullopt`. The end is seen
  /// only by calling once more, so a generator whose last item filled a demand ends at the next
  /// demand: pulling ahead would call it more often than asked (rule 104).
  bool pull(std::size_t n, context<event_type>& ctx) {
    for (; n > 0; --n) {
      std::optional<event_type> v = std::invoke(f_);
      if (!v) return true;
      ctx.push(std::move(*v));
    }
    return false;
  }

 private:
  F f_;
};

/// The stage behind `start_from_range` and `start_from_generator`: GenStage's Streamer.
template <class Source, class Dispatcher>
struct source_producer {
  using event_type = typename Source::event_type;
  using dispatcher_type = source_dispatcher_t<Dispatcher, event_type>;
  static_assert(dispatcher_for<dispatcher_type, event_type>,
                "the Dispatcher given to start_from_range / start_from_generator must satisfy "
                "datamesh::dispatcher_for<Dispatcher, Event> for the source's event type");

  template <class Arg>
  source_producer(producer_on_cancel on_cancel, Arg&& source)
      : source_(std::forward<Arg>(source)), on_cancel_(on_cancel) {}

  void handle_demand(std::size_t n, context<event_type>& ctx) {
    if (ended_) return;  // the end was seen; the info that stops the stage is on its way
    if (source_.pull(n, ctx)) {
      ended_ = true;
      // Behind the events just pushed: the stage stops only once they are dispatched (rule 63),
      // even when some wait in the buffer for a consumer's demand.
      ctx.async_info(end_of_source{});
    }
  }

  void handle_subscribe(peer_role peer, const subscription& sub, const subscribe_options&,
                        context<event_type>&) {
    if (peer == peer_role::consumer) consumers_.insert(sub.id());
  }

  void handle_cancel(const cancellation&, const subscription& sub, context<event_type>& ctx) {
    consumers_.erase(sub.id());
    if (on_cancel_ == producer_on_cancel::stop && consumers_.empty()) ctx.stop();  // rule 105
  }

  void handle_info(std::any& msg, context<event_type>& ctx) {
    if (std::any_cast<end_of_source>(&msg) != nullptr) {
      ctx.stop();  // normal: the source ended (rule 104)
      return;
    }
    ctx.log(log_level::warning, "ignores an info it does not know (a range producer)");
  }

 private:
  Source source_;
  producer_on_cancel on_cancel_;
  bool ended_ = false;
  // The consumers subscribed now, for `producer_on_cancel::stop`.
  std::unordered_set<subscription_id> consumers_;
};

}  // namespace detail

/// Starts a producer emitting the items of `range` (SPEC section K), pulling exactly what is
/// demanded (rule 104), and stopping with reason `normal` once the last item is dispatched.
///
/// The producer owns the range: an rvalue is moved in, an lvalue is copied (move it, or pass an
/// iterator pair or a view such as `std::span` to borrow it instead). A container's items are
/// moved out as they are emitted; a view's are copied. An exception thrown by the range (its
/// iterator or a view's function) stops the producer with that exception as its reason.
///
/// `Dispatcher` is the producer's dispatcher type (rule 103), e.g. a broadcast dispatcher of the
/// event type; `void`, the default, means `demand_dispatcher<Event>`. The event type is the
/// range's value type.
/// @throws datamesh::error as `runtime::start`: `bad_options` (rules 2-4, dispatcher options of
///   another type), `already_started` (the name is taken), `runtime_stopped`.
/// Thread-safe.
template <class Dispatcher = void, detail::ownable_range R>
producer_ref<std::ranges::range_value_t<R>> start_from_range(runtime& rt, R&& range,
                                                             source_options opts = {}) {
  using stage = detail::source_producer<detail::range_source<std::remove_cvref_t<R>>, Dispatcher>;
  return rt.start<stage>(opts.stage, opts.on_cancel, std::forward<R>(range));
}

/// Starts a producer emitting the items in `[first, last)`, as `start_from_range`. The caller
/// keeps the underlying data alive, unchanged, until the producer has exited: the producer
/// holds only the iterators and copies each item as it is emitted.
/// Thread-safe.
template <class Dispatcher = void, std::input_iterator I, std::sentinel_for<I> S>
producer_ref<std::iter_value_t<I>> start_from_range(runtime& rt, I first, S last,
                                                    source_options opts = {}) {
  using view = std::ranges::subrange<I, S>;
  using stage = detail::source_producer<detail::range_source<view>, Dispatcher>;
  return rt.start<stage>(opts.stage, opts.on_cancel, view(std::move(first), std::move(last)));
}

/// Starts a producer that calls `next()` once per event demanded (rule 104); `next` returns
/// `std::optional<Event>`, and `std::nullopt` ends the source. The producer then stops with
/// reason `normal` after dispatching what it emitted. `next` runs on the producer's executor,
/// one call at a time; an exception it throws stops the producer with that exception as reason.
/// Returns a `producer_ref<Event>`. `Dispatcher` and the errors are as for `start_from_range`.
/// Thread-safe.
template <class Dispatcher = void, detail::generator_function F>
auto start_from_generator(runtime& rt, F&& next, source_options opts = {}) {
  using source = detail::generator_source<std::decay_t<F>>;
  using stage = detail::source_producer<source, Dispatcher>;
  return producer_ref<typename source::event_type>(
      rt.start<stage>(opts.stage, opts.on_cancel, std::forward<F>(next)));
}

}  // namespace datamesh
