// Subscriptions: the checks of a subscribe request, subscribe, cancel and ask.
#include <datamesh/detail/stage_base.hpp>
#include <datamesh/detail/subscribe_reply.hpp>
#include <datamesh/detail/type_name.hpp>
#include <datamesh/error.hpp>
#include <datamesh/runtime/detail/runtime_state.hpp>
#include <datamesh/stage.hpp>
#include <datamesh/subscription.hpp>

#include <string>
#include <typeindex>

namespace datamesh {

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

}  // namespace datamesh
