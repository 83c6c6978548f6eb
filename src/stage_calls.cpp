// The calls on running stages: drain, stop, infos, calls, estimates and the demand mode.
#include <datamesh/detail/stage_base.hpp>
#include <datamesh/error.hpp>
#include <datamesh/runtime/detail/runtime_state.hpp>
#include <datamesh/stage_calls.hpp>
#include <datamesh/stage_ref.hpp>

#include <string>

namespace datamesh {

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
  detail::reply_once<std::any> reply;  // unanswered: broken promise, as documented
  auto f = reply.future();
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
