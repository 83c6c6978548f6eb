/// @file
/// The interface every dispatcher shares: the pure policy that decides which subscriber of a
/// producer gets which event, and how much demand the producer passes to `handle_demand`.
///
/// A dispatcher is a plain class, testable with plain values, with these members (GenStage's
/// `GenStage.Dispatcher` behaviour, SPEC section F):
///
///     std::size_t subscribe(subscription_id id, const subscribe_options& opts);  // may throw
///     std::size_t cancel(subscription_id id);
///     std::size_t ask(subscription_id id, std::size_t n);
///     void dispatch(std::vector<Event>& events, Send&& send);
///     void info(Info&& msg, Deliver&& deliver);
///     void set_logger(log_function);
///
/// `subscribe`, `cancel` and `ask` return the demand the producer must now serve (from its buffer
/// first, then `handle_demand`). `dispatch` hands batches to `send(id, std::vector<Event>&&)` and
/// leaves in `events` what nobody had demand for (the leftovers go to the producer's buffer).
/// `info` calls `deliver(msg)` once every event dispatched before it has been sent.
///
/// Optional members, used when present (the broadcast, partition and route dispatchers need
/// them; the demand dispatcher does not):
///
///     std::size_t subscribe(subscription_id, const subscribe_options&, const void* consumer);
///         // knows which consumer subscribes (broadcast refuses a second one, rule 35)
///     void check_subscribe(const subscribe_options& opts) const;
///         // thread-safe: throws `errc::bad_options` at the `subscribe` call for options the
///         // dispatcher can never accept; reads only configuration fixed at construction
///     std::size_t ask(subscription_id, std::size_t n, Send&& send);
///         // an ask that may send queued events at once (per-partition queues)
///     void drain(Reask&& reask, Deliver&& deliver, Serve&& serve);
///         // after every call: `reask(id, n)` asks the producer again on a consumer's behalf
///         // (broadcast selectors, rule 75); `deliver(msg)` hands over infos that became due;
///         // `serve(n)` asks the producer for `n` events in place of dropped ones
///     std::size_t initial_demand();
///         // a producer_consumer may start before its first consumer: it starts with this
///         // downstream demand, so it handles what its producers send at once. Until a consumer
///         // subscribes, what it emits waits in its buffer (buffer_size bounds it; the excess is
///         // dropped and counted) and does not use that demand up
///     void set_queue_limit(std::size_t limit, buffer_keep keep);
///         // bounds the dispatcher's own queues by the producer's buffer_size
///     std::size_t queued() const;     // events in those queues (in estimate_buffered_count)
///     std::uint64_t dropped() const;  // events discarded by the dispatcher so far
///     std::size_t cancel(subscription_id, Send&& send);
///         // a cancel that may send events held for the slowest subscriber
///     std::size_t away() const;
///         // places kept for subscribers that will come back: while positive, the producer
///         // dispatches even with no subscriber, and the dispatcher holds their events
///     std::size_t take_back();
///         // demand given before that the producer_consumer must no longer use (a start-up
///         // window that ends with the first subscriber)
///     std::size_t note(std::any& note, Send&& send);
///         // a message for the dispatcher, queued to its producer like any other message
///         // (`stage_base::post_dispatcher_note`); returns the demand it frees
///
/// An optional member that is one plain function (`check_subscribe`, `initial_demand`,
/// `set_queue_limit`, `queued`, `dropped`, `away`, `take_back`) and exists under its name with
/// another form is a compile error naming the form above, not a feature silently off.
///
/// `subscribe` refuses a subscription by throwing `datamesh::error`: `already_subscribed` or
/// `subscription_refused` (the producer cancels that subscription and keeps running; the consumer
/// is not made to exit, as with SPEC rule 92), or `bad_options`.
///
/// Example, valid:   `datamesh::demand_dispatcher<int>` satisfies `dispatcher_for<D, int>`.
/// Example, invalid: a class without `ask` does not; the producer's static check names the
/// missing member.
#pragma once

#include <datamesh/buffer.hpp>
#include <datamesh/log.hpp>
#include <datamesh/subscribe_options.hpp>
#include <datamesh/subscription_id.hpp>

#include <any>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace datamesh {

namespace detail {
// Stand-ins used only to check the dispatcher concept.
template <class Event>
struct archetype_send {
  void operator()(subscription_id, std::vector<Event>&&) const {}
};
struct archetype_deliver {
  void operator()(std::any&&) const {}
};
}  // namespace detail

/// A dispatcher for events of type `Event` (see the file comment for the contract).
template <class D, class Event>
concept dispatcher_for = requires(D d, subscription_id id, std::size_t n,
                                  const subscribe_options& opts, std::vector<Event>& events,
                                  std::any info, log_function log) {
  { d.subscribe(id, opts) } -> std::same_as<std::size_t>;
  { d.cancel(id) } -> std::same_as<std::size_t>;
  { d.ask(id, n) } -> std::same_as<std::size_t>;
  d.dispatch(events, detail::archetype_send<Event>{});
  d.info(std::move(info), detail::archetype_deliver{});
  d.set_logger(log);
};

namespace detail {
/// The optional members above that are one plain function each: a dispatcher that has one
/// under its name must give it the form the producer calls, or the producer would skip it and
/// its feature would be off without a word. Instantiated by every producer's engine; each
/// failure names the member and its form. (`subscribe`, `ask`, `cancel`, `drain` and `note`
/// are overloads or templates, which C++ cannot find by name alone.)
template <class D>
struct optional_members_checked {
  static_assert(
      !requires { &D::check_subscribe; } ||
          requires(const D& d, const subscribe_options& o) { d.check_subscribe(o); },
      "the dispatcher's check_subscribe is never called: its form must be "
      "`void check_subscribe(const subscribe_options&) const`");
  static_assert(
      !requires { &D::initial_demand; } ||
          requires(D & d) {
            { d.initial_demand() } -> std::convertible_to<std::size_t>;
          },
      "the dispatcher's initial_demand is never called: its form must be "
      "`std::size_t initial_demand()`");
  static_assert(
      !requires { &D::set_queue_limit; } ||
          requires(D & d, std::size_t n, buffer_keep k) { d.set_queue_limit(n, k); },
      "the dispatcher's set_queue_limit is never called: its form must be "
      "`void set_queue_limit(std::size_t limit, buffer_keep keep)`");
  static_assert(
      !requires { &D::queued; } ||
          requires(const D& d) {
            { d.queued() } -> std::convertible_to<std::size_t>;
          },
      "the dispatcher's queued is never called: its form must be "
      "`std::size_t queued() const`");
  static_assert(
      !requires { &D::dropped; } ||
          requires(const D& d) {
            { d.dropped() } -> std::convertible_to<std::uint64_t>;
          },
      "the dispatcher's dropped is never called: its form must be "
      "`std::uint64_t dropped() const`");
  static_assert(
      !requires { &D::away; } ||
          requires(const D& d) {
            { d.away() } -> std::convertible_to<std::size_t>;
          },
      "the dispatcher's away is never called: its form must be "
      "`std::size_t away() const`");
  static_assert(
      !requires { &D::take_back; } ||
          requires(D & d) {
            { d.take_back() } -> std::convertible_to<std::size_t>;
          },
      "the dispatcher's take_back is never called: its form must be "
      "`std::size_t take_back()`");
  static constexpr bool value = true;
};
}  // namespace detail

}  // namespace datamesh
