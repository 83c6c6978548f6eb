// The calls on running stages and subscriptions, and the checks of stage options.
#include <datamesh/detail/subscribe_reply.hpp>
#include <datamesh/detail/type_name.hpp>
#include <datamesh/error.hpp>
#include <datamesh/runtime/runtime.hpp>
#include <datamesh/stage.hpp>
#include <datamesh/stage_calls.hpp>
#include <datamesh/subscription.hpp>

#include <string>
#include <typeindex>

namespace datamesh {

detail::stage_base& stage_ref::core() const {
  if (!p_) throw error(errc::no_stage, "the stage handle is empty");
  return *p_;
}

void stage_options::validate(stage_role role, std::type_index input) const {
  std::string unknown;
  auto add = [&](bool set, const char* name) {
    if (!set) return;
    if (!unknown.empty()) unknown += ", ";
    unknown += name;
  };
  if (role == stage_role::consumer) {
    add(buffer_size.has_value(), "buffer_size");
    add(buffer_keep.has_value(), "buffer_keep");
    add(demand.has_value(), "demand");
    add(dispatcher_options.has_value(), "dispatcher_options");
  } else if (role == stage_role::producer_consumer) {
    add(demand.has_value(), "demand");
  } else {
    add(!subscribe_to.empty(), "subscribe_to");
  }
  if (!unknown.empty()) {
    throw error(errc::bad_options, std::string("unknown options [") + unknown + "] for a " +
                                       to_string(role) + " (SPEC rule 2)");
  }
  if (buffer_size && *buffer_size == 0) {
    throw error(errc::bad_options,
                "expected buffer_size to be greater than 0 (or infinity), got: 0");
  }
  if (buffer_keep && *buffer_keep != datamesh::buffer_keep::first &&
      *buffer_keep != datamesh::buffer_keep::last) {
    throw error(errc::bad_options, "buffer_keep is not a buffer_keep value");
  }
  if (demand && *demand != producer_demand::forward && *demand != producer_demand::accumulate) {
    throw error(errc::bad_options, "demand is not a producer_demand value");
  }
  // The same checks as `subscribe`: a start-time subscription is one like any other.
  const std::string who = name.empty() ? std::string("the new ") + to_string(role) : name;
  for (const auto& [producer, opts] : subscribe_to) {
    detail::check_subscription(role, input, who, producer, opts);
  }
}

namespace detail {

void check_subscription(stage_role consumer_role, std::type_index input,
                        const std::string& consumer_name, const stage_ref& producer,
                        const subscribe_options& opts) {
  opts.validate();
  if (!consumes(consumer_role)) {
    throw error(errc::not_a_consumer, "cannot subscribe '" + consumer_name +
                                          "': it is a producer, not a consumer (SPEC rule 24)");
  }
  if (!producer) return;  // an empty handle: the consumer exits with `noproc` (rule 29)
  if (!produces(producer.role())) {
    throw error(errc::not_a_producer,
                "cannot subscribe to '" + producer.name() + "': it is a consumer, not a producer");
  }
  if (producer.output_type() != input) {
    throw error(errc::type_mismatch, "cannot subscribe '" + consumer_name + "' (input " +
                                         detail::type_name(input) + ") to '" + producer.name() +
                                         "' (output " + detail::type_name(producer.output_type()) +
                                         ")");
  }
  producer.core_ptr()->check_subscribe(opts);
}

namespace {

/// Checks a subscribe request and sends it to the consumer. With `accepted`, that future hears
/// whether the producer accepted the new subscription.
subscription send_subscribe(const stage_ref& consumer, const stage_ref& producer,
                            subscribe_options opts, std::future<subscription>* accepted) {
  if (!consumer) throw error(errc::no_stage, "cannot subscribe: the consumer handle is empty");
  if (!consumer.alive()) {
    throw error(errc::no_stage, "cannot subscribe: the consumer stage has exited");
  }
  const auto& core = consumer.core_ptr();
  if (producer && producer.core_ptr() == core) {
    throw error(errc::self_connection, "cannot subscribe '" + consumer.name() +
                                           "' to itself: its own events would "
                                           "take all of its demand");
  }
  try {
    check_subscription(consumer.role(), consumer.input_type(), consumer.name(), producer, opts);
  } catch (const error& e) {
    if (e.code() == errc::not_a_consumer) {
      core->runtime()->write_log(
          log_level::error,
          consumer.name() + " is a producer and cannot be subscribed to another stage");
    }
    throw;
  }
  const subscription_id id =
      core->runtime()->next_subscription.fetch_add(1, std::memory_order_relaxed);
  subscription sub(id, core, producer.core_ptr());
  subscribe_reply_ptr reply;
  if (accepted != nullptr) {
    reply = std::make_shared<subscribe_reply>(sub);
    *accepted = reply->future();
  }
  if (!core->post_subscribe_to(producer.core_ptr(), id, std::move(opts), std::move(reply))) {
    throw error(errc::no_stage, "cannot subscribe: the consumer stage has exited");
  }
  return sub;
}

}  // namespace

subscription subscribe(const stage_ref& consumer, const stage_ref& producer,
                       subscribe_options opts) {
  return send_subscribe(consumer, producer, std::move(opts), nullptr);
}

std::future<subscription> sync_subscribe(const stage_ref& consumer, const stage_ref& producer,
                                         subscribe_options opts) {
  std::future<subscription> accepted;
  send_subscribe(consumer, producer, std::move(opts), &accepted);
  return accepted;
}

}  // namespace detail

subscription async_subscribe(const stage_ref& consumer, const stage_ref& producer,
                             subscribe_options opts) noexcept {
  try {
    return detail::subscribe(consumer, producer, std::move(opts));
  } catch (const error& e) {
    if (consumer) consumer.core_ptr()->runtime()->write_log(log_level::error, e.what());
  } catch (...) {
  }
  return {};
}

void cancel(const subscription& sub, exit_reason reason) noexcept {
  try {
    // Through the consumer, as `ask`: a cancel made right after `subscribe` must not overtake
    // the subscribe on its way to the producer, which would ignore it as unknown and then
    // accept the subscription for good. With the consumer gone, the producer is told directly.
    auto c = sub.consumer().core_ptr();
    if (c && c->post_cancel_request(sub.id(), reason, nullptr)) return;
    if (auto p = sub.producer().core_ptr()) p->post_cancel(sub.id(), std::move(reason), false);
  } catch (...) {
  }
}

std::future<void> sync_cancel(const subscription& sub, exit_reason reason) {
  auto done = std::make_shared<std::promise<void>>();
  auto f = done->get_future();
  auto c = sub.consumer().core_ptr();
  if (!c || !c->post_cancel_request(sub.id(), std::move(reason), done)) done->set_value();
  return f;
}

void ask(const subscription& sub, std::size_t n) noexcept {
  if (n == 0) return;
  try {
    // Through the consumer, so the ask follows the consumer's subscribe to the producer even
    // when it is made right after `subscribe` (rule 41).
    if (auto c = sub.consumer().core_ptr()) c->post_ask_request(sub.id(), n);
  } catch (...) {
  }
}

namespace {

detail::stage_base& live(const stage_ref& s, const char* what) {
  if (!s.alive()) throw error(errc::no_stage, std::string(what) + ": the stage has exited");
  return *s.core_ptr();
}

}  // namespace

void drain(const stage_ref& stage) {
  if (!live(stage, "drain").post_drain())
    throw error(errc::no_stage, "drain: the stage has exited");
}

void stop(const stage_ref& stage, exit_reason reason) {
  if (!live(stage, "stop").post_stop(std::move(reason))) {
    throw error(errc::no_stage, "stop: the stage has exited");
  }
}

std::future<void> sync_info(const stage_ref& stage, std::any msg) {
  auto done = std::make_shared<std::promise<void>>();
  auto f = done->get_future();
  if (!live(stage, "sync_info").post_info(std::move(msg), std::move(done))) {
    throw error(errc::no_stage, "sync_info: the stage has exited");
  }
  return f;
}

void async_info(const stage_ref& stage, std::any msg) noexcept {
  try {
    if (auto p = stage.core_ptr()) p->post_info(std::move(msg), nullptr);
  } catch (...) {
  }
}

std::future<std::any> call(const stage_ref& stage, std::any request) {
  auto reply = std::make_shared<std::promise<std::any>>();
  auto f = reply->get_future();
  if (!live(stage, "call").post_call(std::move(request), std::move(reply))) {
    throw error(errc::no_stage, "call: the stage has exited");
  }
  return f;
}

void send(const stage_ref& stage, std::any msg) {
  if (!live(stage, "send").post_message(std::move(msg))) {
    throw error(errc::no_stage, "send: the stage has exited");
  }
}

std::size_t estimate_buffered_count(const stage_ref& producer) {
  auto& core = live(producer, "estimate_buffered_count");
  if (!produces(core.role())) {
    core.runtime()->write_log(log_level::error, core.display_name() +
                                                    " buffered count can only be requested "
                                                    "for producers (rule 57)");
    return 0;
  }
  return core.buffered_estimate();
}

std::uint64_t estimate_dropped_count(const stage_ref& producer) {
  return live(producer, "estimate_dropped_count").dropped_estimate();
}

producer_demand demand(const stage_ref& producer) {
  return live(producer, "demand").demand_mode_estimate();
}

void demand(const stage_ref& producer, producer_demand mode) {
  if (!live(producer, "demand").post_demand_mode(mode)) {
    throw error(errc::no_stage, "demand: the stage has exited");
  }
}

}  // namespace datamesh
