/// @file
/// `consumer_supervisor<Event>`: a consumer that starts one child per event, from one template,
/// with the event appended to the template's arguments (GenStage's ConsumerSupervisor, SPEC
/// section L).
///
///     auto sup = datamesh::consumer_supervisor<int>::start(
///         rt, datamesh::worker_template<int>(print_event, "prefix")
///                 .restart(datamesh::restart_type::transient));
///     datamesh::subscribe(sup, producer, {.max_demand = 50, .min_demand = 25});
///
/// Its demand is its free worker slots (rule 110): per producer at most `max_demand` children
/// live at once, and it asks again, for exactly that many, once `min_demand` of them have
/// finished. A restarting child keeps its slot (rule 112); a child that fails to start frees it
/// at once (rule 111). A child started with `start_child` is outside this accounting (rule 115).
/// Its children outlive a producer that goes down on a temporary subscription (rule 117).
///
/// It is a consumer stage like any other for subscribing and cancel modes (rule 119). Asked to
/// stop, or to exit by a cancel mode, it first stops every child by its shutdown policy (rule
/// 118); events that still arrive meanwhile start nothing and are logged as dropped.
#pragma once

#include <datamesh/runtime/runtime.hpp>
#include <datamesh/stage_calls.hpp>
#include <datamesh/start.hpp>
#include <datamesh/supervisor/child_spec.hpp>
#include <datamesh/supervisor/detail/supervisor_core.hpp>
#include <datamesh/supervisor/dynamic_supervisor.hpp>
#include <datamesh/supervisor/restart.hpp>
#include <datamesh/supervisor/worker_slots.hpp>

#include <any>
#include <cstddef>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace datamesh {

/// The one child spec of a consumer supervisor: how to start a child for an event. Built with
/// `worker_template` or `stage_template`, then adjusted with the setters. Its restart type must
/// be set: permanent, OTP's default, is refused (rule 108).
///
/// Thread safety: a value type.
template <class Event>
class child_template : public detail::child_policy<child_template<Event>> {
 public:
  using start_fn =
      std::function<std::shared_ptr<detail::running_child>(const detail::child_env&, const Event&)>;

  child_template(child_kind kind, start_fn start)
      : detail::child_policy<child_template<Event>>(kind), start_(std::move(start)) {}

  const start_fn& start() const noexcept { return start_; }

  /// Throws `bad_options` for a permanent restart type (rule 108), an invalid shutdown or an
  /// empty start function.
  void validate() const {
    check_restart_type(this->restart());
    if (this->restart() == restart_type::permanent) {
      throw error(errc::bad_options,
                  "a child template with restart set to permanent is not supported by a consumer "
                  "supervisor: its children finish by design (SPEC rule 108); use transient or "
                  "temporary");
    }
    this->shutdown().validate();
    if (!start_) throw error(errc::bad_options, "a child template needs a start function");
  }

 private:
  start_fn start_;
};

/// A template whose children are workers running `fn(args..., event)` (or
/// `fn(stop_token, args..., event)`) to completion on the runtime's executor (rule 109).
template <class Event, class F, class... Args>
child_template<Event> worker_template(F fn, Args... args) {
  return child_template<Event>(
      child_kind::worker, [fn = std::move(fn), args = std::tuple<Args...>(std::move(args)...)](
                              const detail::child_env& env, const Event& e) {
        return detail::launch_worker(env, std::nullopt, fn, std::tuple_cat(args, std::tuple(e)));
      });
}

/// As `worker_template`, on the executor `on` (for work that blocks).
template <class Event, class F, class... Args>
child_template<Event> worker_template_on(boost::asio::any_io_executor on, F fn, Args... args) {
  return child_template<Event>(
      child_kind::worker, [on = std::optional(std::move(on)), fn = std::move(fn),
                           args = std::tuple<Args...>(std::move(args)...)](
                              const detail::child_env& env, const Event& e) {
        return detail::launch_worker(env, on, fn, std::tuple_cat(args, std::tuple(e)));
      });
}

/// A template whose children are stages: `start(event)` starts one and returns its handle.
template <class Event, class F>
child_template<Event> stage_template(F start) {
  return child_template<Event>(
      child_kind::worker, [start = std::move(start)](const detail::child_env& env, const Event& e) {
        return detail::watch_stage(env, stage_ref(start(e)));
      });
}

/// Options of a consumer supervisor.
struct consumer_supervisor_options {
  /// A unique stage name; empty for none.
  std::string name{};
  restart_intensity_options intensity{};
  /// Producers to subscribe to while starting (rule 28).
  std::vector<std::pair<stage_ref, subscribe_options>> subscribe_to{};
};

namespace detail {

/// The stage logic of a consumer supervisor.
template <class Event>
class consumer_supervisor_logic {
 public:
  consumer_supervisor_logic(child_template<Event> tmpl, restart_intensity_options intensity)
      : tmpl_(std::move(tmpl)), intensity_(intensity) {}

  void init(context<void>& ctx) {
    ctx_ = &ctx;  // the engine's context outlives every callback
    stage_ptr self = ctx.self().core_ptr();
    supervisor_core::hooks h;
    h.gone = [this](const supervisor_core::record& r) {
      if (r.tag != 0 && !core_.stopping()) release(r.tag);
    };
    h.all_stopped = [this](const exit_reason& r) { ctx_->stop(r); };
    h.log = [this](log_level level, const std::string& text) { ctx_->log(level, text); };
    core_.init(self, self->runtime().get(), intensity_, std::move(h));
  }

  demand_mode handle_subscribe(peer_role, const subscription& sub, const subscribe_options& opts,
                               context<void>& ctx) {
    auto [it, added] = producers_.insert_or_assign(
        sub.id(), producer{sub, worker_slots(opts.max_demand, opts.effective_min_demand())});
    ctx.ask(sub, it->second.slots.first_ask());
    return demand_mode::manual;
  }

  void handle_events(std::span<const Event> events, const subscription& from, context<void>&) {
    if (core_.stopping()) {
      ctx_->log(log_level::warning, "is shutting down; " + std::to_string(events.size()) +
                                        " events started no child and are dropped");
      return;
    }
    auto it = producers_.find(from.id());
    for (const Event& e : events) {
      if (it != producers_.end()) it->second.slots.take();
      start_one(e, from.id());
    }
    core_.flush();
  }

  void handle_cancel(const cancellation&, const subscription& sub, context<void>&) {
    producers_.erase(sub.id());  // its children keep running (rule 117) and ask no one
  }

  void handle_info(std::any& msg, context<void>&) {
    if (auto* s = std::any_cast<sup_start_child>(&msg)) {
      answer_start_child(core_, s->reply, [&] {
        const Event* e = std::any_cast<Event>(&s->args);
        if (!e) throw error(errc::type_mismatch, "start_child: the argument is not an event");
        return core_.start(record_for(*e, 0));
      });
      core_.flush();
    } else {
      handle_common_message(core_, 1, msg);
    }
  }

  bool defer_stop(const exit_reason& reason, context<void>&) {
    core_.shutdown(reason);
    return true;
  }

  void terminate(const exit_reason&) { core_.abandon(); }

 private:
  struct producer {
    subscription sub;
    worker_slots slots;
  };

  supervisor_core::record record_for(const Event& e, std::uint64_t tag) const {
    supervisor_core::record r;
    r.kind = tmpl_.kind();
    r.restart = tmpl_.restart();
    r.shutdown = tmpl_.shutdown();
    r.name = tmpl_.name();
    r.tag = tag;
    r.start = [start = &tmpl_.start(), e](const child_env& env) { return (*start)(env, e); };
    return r;
  }

  /// Starts the child of one event; a start that fails frees its slot at once (rule 111).
  void start_one(const Event& e, subscription_id from) {
    try {
      core_.start(record_for(e, from));
    } catch (const std::exception& ex) {
      ctx_->log(log_level::error, std::string("a child failed to start: ") + ex.what());
      release(from);
    } catch (...) {
      ctx_->log(log_level::error, "a child failed to start: a non-standard exception");
      release(from);
    }
  }

  void release(subscription_id id) {
    auto it = producers_.find(id);
    if (it == producers_.end()) return;
    if (const std::size_t n = it->second.slots.release(); n > 0) ctx_->ask(it->second.sub, n);
  }

  child_template<Event> tmpl_;
  restart_intensity_options intensity_;
  supervisor_core core_;
  std::unordered_map<subscription_id, producer> producers_;
  context<void>* ctx_ = nullptr;
};

}  // namespace detail

/// A running consumer supervisor of `Event`s; usable wherever a `consumer_ref<Event>` is.
///
/// Thread safety: as `stage_ref`.
template <class Event>
class consumer_supervisor : public supervisor_ref {
 public:
  using input_type = Event;

  consumer_supervisor() = default;
  explicit consumer_supervisor(detail::stage_ptr p) noexcept : supervisor_ref(std::move(p)) {}

  /// Starts a consumer supervisor on `rt` whose children come from `tmpl`.
  /// @throws datamesh::error `bad_options` (a permanent template, rule 108; an invalid shutdown
  ///   or intensity), `already_started` (name), `runtime_stopped`.
  static consumer_supervisor start(runtime& rt, child_template<Event> tmpl,
                                   consumer_supervisor_options opts = {}) {
    tmpl.validate();
    opts.intensity.validate();
    stage_options so;
    so.name = std::move(opts.name);
    so.subscribe_to = std::move(opts.subscribe_to);
    auto h =
        rt.start<detail::consumer_supervisor_logic<Event>>(so, std::move(tmpl), opts.intensity);
    return consumer_supervisor(h.core_ptr());
  }

  /// Starts a child for `e` outside the demand accounting (rule 115). The future holds the
  /// child or throws `start_failed`. @throws `no_stage`.
  std::future<child_info> start_child(Event e) const {
    return detail::supervisor_request(*this, detail::sup_start_child{std::move(e), {}});
  }

  operator consumer_ref<Event>() const { return consumer_ref<Event>(core_ptr()); }  // NOLINT
};

}  // namespace datamesh
