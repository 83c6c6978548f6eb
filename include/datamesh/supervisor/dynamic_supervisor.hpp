/// @file
/// `dynamic_supervisor`: starts children on request, watches them, and restarts them by their
/// restart type (OTP's DynamicSupervisor, strategy one_for_one).
///
///     auto sup = datamesh::dynamic_supervisor::start(rt);
///     auto child = sup.start_child(datamesh::worker_spec(print, 42)
///                                      .restart(datamesh::restart_type::transient)).get();
///
/// More than `max_restarts` restarts within `period` shut it down: it stops every child,
/// then exits with reason `shutdown`, which reaches whoever watches it (`on_exit`, `wait`, a
/// parent supervisor). A stop request (`datamesh::stop`, `runtime::stop`) also stops every
/// child, each by its shutdown policy, before the supervisor exits.
///
/// The supervisor runs as a stage of the runtime (so it has a name, `on_exit`, `wait`), a
/// consumer of nothing: no producer can subscribe it. Its calls return futures; on a
/// deterministic executor, step the executor until they are ready.
#pragma once

#include <datamesh/detail/reply_once.hpp>
#include <datamesh/runtime/runtime.hpp>
#include <datamesh/stage_calls.hpp>
#include <datamesh/start.hpp>
#include <datamesh/supervisor/child_spec.hpp>
#include <datamesh/supervisor/detail/supervisor_core.hpp>
#include <datamesh/supervisor/restart.hpp>

#include <any>
#include <cstddef>
#include <exception>
#include <future>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace datamesh {

/// Options of a dynamic supervisor.
struct dynamic_supervisor_options {
  /// A unique stage name; empty for none.
  std::string name{};
  restart_intensity_options intensity{};
  /// At most this many children; `start_child` beyond fails with `errc::max_children`.
  std::optional<std::size_t> max_children{};
};
/// The old name of `dynamic_supervisor_options`, kept for one release.
using supervisor_options [[deprecated("use dynamic_supervisor_options")]] =
    dynamic_supervisor_options;

namespace detail {

/// The reply to one supervisor request: fails with `no_stage` if the supervisor drops the
/// request unanswered (it exited first).
template <class T>
class pending_reply : public reply_once<T> {
 public:
  pending_reply() : reply_once<T>("the supervisor exited before answering") {}
};

/// Requests to a supervisor, sent to its `handle_info`.
struct sup_start_child {
  std::any args;  // a child_spec (dynamic) or an event (consumer supervisor)
  pending_reply<child_info> reply;
};
struct sup_terminate_child {
  child_id id;
  pending_reply<void> reply;
};
struct sup_which_children {
  pending_reply<std::vector<child_info>> reply;
};
struct sup_count_children {
  pending_reply<child_counts> reply;
};

/// Sends `request` to `sup` and gives the future of its reply. @throws `no_stage`.
template <class Request>
auto supervisor_request(const stage_ref& sup, Request request) {
  auto f = request.reply.future();
  send(sup, std::any(std::move(request)));
  return f;
}

/// Handles the messages both supervisors share: exit reports, retries, timeouts, and the
/// terminate/which/count requests. False if `msg` is none of them.
bool handle_common_message(supervisor_core& core, std::size_t specs, std::any& msg);

/// Answers a `start_child` request: `start()` returns the new child's id or throws.
template <class Start>
void answer_start_child(supervisor_core& core, pending_reply<child_info>& reply, Start start) {
  try {
    if (core.stopping()) throw error(errc::no_stage, "start_child: the supervisor is stopping");
    reply(core.info_of(start()));
  } catch (const error&) {
    reply.fail(std::current_exception());
  } catch (const std::exception& e) {
    reply.fail(std::make_exception_ptr(error(
        errc::start_failed, std::string("start_child: the child failed to start: ") + e.what())));
  } catch (...) {
    reply.fail(std::make_exception_ptr(
        error(errc::start_failed, "start_child: the child threw a non-standard exception")));
  }
}

/// The events a dynamic supervisor's stage consumes: a type of its own, not `none`, so that no
/// producer (a mesh sink node emits `none`) can be subscribed to it.
struct no_events {};

/// The stage logic of a dynamic supervisor.
class dynamic_supervisor_logic {
 public:
  explicit dynamic_supervisor_logic(dynamic_supervisor_options opts) : opts_(std::move(opts)) {}

  void init(context<void>& ctx);
  void handle_events(std::span<const no_events>) {}
  void handle_info(std::any& msg, context<void>& ctx);
  bool defer_stop(const exit_reason& reason, context<void>& ctx);
  void terminate(const exit_reason&) { core_.abandon(); }

 private:
  dynamic_supervisor_options opts_;
  supervisor_core core_;
  context<void>* ctx_ = nullptr;  // the engine's context, which outlives every callback
};

}  // namespace detail

/// Calls every supervisor answers.
///
/// Thread safety: as `stage_ref`.
class supervisor_ref : public stage_ref {
 public:
  supervisor_ref() = default;
  explicit supervisor_ref(detail::stage_ptr p) noexcept : stage_ref(std::move(p)) {}

  /// Stops child `id` by its shutdown policy; ready once it is gone (SPEC rules 116, 118).
  /// The future throws `errc::no_child` for an unknown id. @throws `no_stage`.
  std::future<void> terminate_child(child_id id) const {
    return detail::supervisor_request(*this, detail::sup_terminate_child{id, {}});
  }
  /// Its children, ordered by id (rule 114). @throws `no_stage`.
  std::future<std::vector<child_info>> which_children() const {
    return detail::supervisor_request(*this, detail::sup_which_children{});
  }
  /// Its children counted (rule 114). @throws `no_stage`.
  std::future<child_counts> count_children() const {
    return detail::supervisor_request(*this, detail::sup_count_children{});
  }
};

/// A running dynamic supervisor.
class dynamic_supervisor : public supervisor_ref {
 public:
  dynamic_supervisor() = default;
  explicit dynamic_supervisor(detail::stage_ptr p) noexcept : supervisor_ref(std::move(p)) {}

  /// Starts a dynamic supervisor on `rt`.
  /// @throws datamesh::error `bad_options` (intensity), `already_started` (name),
  ///   `runtime_stopped`.
  static dynamic_supervisor start(runtime& rt, dynamic_supervisor_options opts = {});

  /// Starts a child and watches it. The future holds the child, or throws: `bad_options` for
  /// an invalid spec, `max_children`, `start_failed` when its start function threw (the child
  /// is not recorded), `runtime_stopped`. @throws `no_stage`.
  std::future<child_info> start_child(child_spec spec) const {
    return detail::supervisor_request(*this, detail::sup_start_child{std::move(spec), {}});
  }
};

}  // namespace datamesh
