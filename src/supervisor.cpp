#include <datamesh/supervisor/dynamic_supervisor.hpp>

#include <algorithm>
#include <string>
#include <utility>

namespace datamesh {

void shutdown_policy::validate() const {
  if (how != kind::brutal_kill && how != kind::after && how != kind::infinity) {
    throw error(errc::bad_options, "invalid shutdown: not a shutdown_policy kind");
  }
  if (how == kind::after && timeout.count() <= 0) {
    throw error(errc::bad_options, "invalid shutdown: a shutdown timeout must be positive, got " +
                                       std::to_string(timeout.count()) + " ms (SPEC rule 108)");
  }
}

void child_spec::validate() const {
  check_restart_type(restart());
  shutdown().validate();
  if (!start_) throw error(errc::bad_options, "a child spec needs a start function");
}

namespace detail {

bool handle_common_message(supervisor_core& core, std::size_t specs, std::any& msg) {
  if (std::any_cast<exits_ready>(&msg)) {
    core.on_exits();
  } else if (auto* r = std::any_cast<retry_restart>(&msg)) {
    core.on_retry(r->id);
  } else if (auto* t = std::any_cast<shutdown_timeout>(&msg)) {
    core.on_timeout(t->id, t->generation);
  } else if (auto* t = std::any_cast<sup_terminate_child>(&msg)) {
    if (!core.terminate(t->id, [reply = t->reply]() mutable { reply(); })) {
      t->reply.fail(std::make_exception_ptr(error(
          errc::no_child, "terminate_child: no child #" + std::to_string(t->id) + " (rule 116)")));
    }
  } else if (auto* w = std::any_cast<sup_which_children>(&msg)) {
    w->reply(core.which());
  } else if (auto* c = std::any_cast<sup_count_children>(&msg)) {
    c->reply(core.counts(specs));
  } else {
    return false;
  }
  return true;
}

void dynamic_supervisor_logic::init(context<void>& ctx) {
  ctx_ = &ctx;  // the engine's context outlives every callback
  stage_ptr self = ctx.self().core_ptr();
  supervisor_core::hooks h;
  h.all_stopped = [this](const exit_reason& r) { ctx_->stop(r); };
  h.log = [this](log_level level, const std::string& text) { ctx_->log(level, text); };
  core_.init(self, self->runtime().get(), opts_.intensity, std::move(h));
}

void dynamic_supervisor_logic::handle_info(std::any& msg, context<void>&) {
  auto* s = std::any_cast<sup_start_child>(&msg);
  if (!s) {
    handle_common_message(core_, core_.size(), msg);
    return;
  }
  answer_start_child(core_, s->reply, [&] {
    auto* spec = std::any_cast<child_spec>(&s->args);
    if (!spec) throw error(errc::bad_options, "start_child: the argument is not a child_spec");
    spec->validate();
    if (opts_.max_children && core_.size() >= *opts_.max_children) {
      throw error(errc::max_children, "start_child: the supervisor already runs its " +
                                          std::to_string(*opts_.max_children) + " children");
    }
    supervisor_core::record r;
    r.kind = spec->kind();
    r.restart = spec->restart();
    r.shutdown = spec->shutdown();
    r.name = spec->name();
    r.start = spec->start();
    return core_.start(std::move(r));
  });
  core_.flush();
}

bool dynamic_supervisor_logic::defer_stop(const exit_reason& reason, context<void>&) {
  core_.shutdown(reason);
  return true;
}

}  // namespace detail

dynamic_supervisor dynamic_supervisor::start(runtime& rt, dynamic_supervisor_options opts) {
  opts.intensity.validate();
  stage_options so;
  so.name = opts.name;
  auto h = rt.start<detail::dynamic_supervisor_logic>(so, std::move(opts));
  return dynamic_supervisor(h.core_ptr());
}

}  // namespace datamesh
