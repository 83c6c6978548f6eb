// The children table both supervisors share: start, restart by type and intensity, terminate by
// shutdown policy, and the views which_children and count_children read.
#include <datamesh/supervisor/detail/supervisor_core.hpp>

#include <algorithm>
#include <any>
#include <exception>
#include <string>
#include <utility>

namespace datamesh::detail {

void supervisor_core::init(std::weak_ptr<stage_base> self, runtime_state* rt,
                           restart_intensity_options opts, hooks h) {
  exits_ = std::make_shared<exit_queue>(self);
  self_ = std::move(self);
  rt_ = rt;
  intensity_ = restart_intensity(opts);
  hooks_ = std::move(h);
}

child_id supervisor_core::start(record r) {
  const child_id id = next_id_++;
  r.run = r.start(child_env{rt_, &exits_, id, 0, &batch_});
  children_.emplace(id, std::move(r));
  return id;
}

void supervisor_core::on_exits() {
  exits_->take(notes_);
  for (auto& n : notes_) {
    auto it = children_.find(n.id);
    if (it == children_.end() || it->second.generation != n.generation || !it->second.run) {
      continue;  // a killed child's late report, or a stale generation
    }
    record& r = it->second;
    if (r.terminating || stopping_) {
      finish(it);
    } else if (should_restart(r.restart, n.reason)) {
      log(log_level::warning,
          "child " + describe(n.id, r) + " exited (" + n.reason.to_string() + "); restarting it");
      restart(it);
    } else {
      if (!n.reason.is_clean()) {
        log(log_level::error, "child " + describe(n.id, r) + " exited: " + n.reason.to_string());
      }
      finish(it);
    }
    if (stopping_ && children_.empty()) break;
  }
  notes_.clear();
  flush();  // the restarted workers
}

void supervisor_core::on_retry(child_id id) {
  auto it = children_.find(id);
  if (it == children_.end() || it->second.run || it->second.terminating || stopping_) return;
  restart(it);
  flush();
}

void supervisor_core::on_timeout(child_id id, std::uint32_t generation) {
  auto it = children_.find(id);
  if (it == children_.end() || it->second.generation != generation || !it->second.terminating) {
    return;
  }
  log(log_level::warning,
      "child " + describe(id, it->second) + " did not stop within its shutdown timeout; killed");
  it->second.run->kill();
  finish(it);
}

bool supervisor_core::terminate(child_id id, std::function<void()> done) {
  auto it = children_.find(id);
  if (it == children_.end()) return false;
  record& r = it->second;
  if (done) r.on_gone.push_back(std::move(done));
  if (r.terminating) return true;
  r.terminating = true;
  if (!r.run) {  // restarting: nothing runs
    finish(it);
    return true;
  }
  switch (r.shutdown.how) {
    case shutdown_policy::kind::brutal_kill:
      r.run->kill();
      finish(it);
      break;
    case shutdown_policy::kind::after:
      r.run->request_stop();
      // A timeout beyond any clock's range (milliseconds::max()) waits as infinity does:
      // converting it to the clock's nanoseconds would overflow into the past.
      if (r.shutdown.timeout < max_timer) {
        rt_->timers->after(r.shutdown.timeout, [self = self_, id, g = r.generation] {
          if (auto s = self.lock()) s->post_message(std::any(shutdown_timeout{id, g}));
        });
      }
      break;
    case shutdown_policy::kind::infinity:
      r.run->request_stop();
      break;
  }
  return true;
}

void supervisor_core::shutdown(exit_reason reason) {
  if (stopping_) return;
  stopping_ = true;
  stop_reason_ = std::move(reason);
  std::vector<child_id> ids;
  ids.reserve(children_.size());
  for (const auto& [id, r] : children_) ids.push_back(id);
  for (child_id id : ids) terminate(id, {});
  if (children_.empty()) notify_stopped();
}

void supervisor_core::abandon() {
  for (auto& [id, r] : children_) {
    if (r.run) r.run->request_stop();
  }
  children_.clear();
}

void supervisor_core::restart(iterator it) {
  record& r = it->second;
  if (!intensity_.add_restart(rt_->timers->now())) {
    log(log_level::error, "reached its maximum restart intensity (" +
                              std::to_string(intensity_.options().max_restarts) +
                              " restarts); shutting down");
    r.run.reset();
    finish(it);
    shutdown(exit_reason::shutdown("reached maximum restart intensity"));  // SPEC rule 113
    return;
  }
  ++r.generation;
  try {
    r.run = r.start(child_env{rt_, &exits_, it->first, r.generation, &batch_});
  } catch (const std::exception& e) {
    fail_restart(it, e.what());
  } catch (...) {
    fail_restart(it, "a non-standard exception");
  }
}

void supervisor_core::fail_restart(iterator it, const std::string& why) {
  it->second.run.reset();
  log(log_level::error,
      "child " + describe(it->first, it->second) + " failed to restart: " + why + "; trying again");
  if (auto s = self_.lock()) s->post_message(std::any(retry_restart{it->first}));
}

void supervisor_core::finish(iterator it) {
  std::vector<std::function<void()>> waiting = std::move(it->second.on_gone);
  if (hooks_.gone) hooks_.gone(it->second);
  children_.erase(it);
  for (auto& f : waiting) f();
  if (stopping_ && children_.empty()) notify_stopped();
}

void supervisor_core::notify_stopped() {
  if (stopped_notified_) return;
  stopped_notified_ = true;
  hooks_.all_stopped(stop_reason_);
}

std::string supervisor_core::describe(child_id id, const record& r) {
  // Appended, not "#" + std::to_string(id): GCC 12 at -O3 reports a false -Wrestrict on that.
  std::string out = r.name.empty() ? std::string() : r.name + " ";
  out += '#';
  out += std::to_string(id);
  return out;
}

void supervisor_core::log(log_level level, const std::string& text) {
  if (hooks_.log) hooks_.log(level, text);
}

child_info supervisor_core::info_of(child_id id) const {
  const record& r = children_.at(id);
  return child_info{id, r.kind, r.run == nullptr, r.run ? r.run->stage() : stage_ref(), r.name};
}

std::vector<child_info> supervisor_core::which() const {
  std::vector<child_info> out;
  out.reserve(children_.size());
  for (const auto& [id, r] : children_) out.push_back(info_of(id));
  std::sort(out.begin(), out.end(),
            [](const child_info& a, const child_info& b) { return a.id < b.id; });
  return out;
}

child_counts supervisor_core::counts(std::size_t specs) const {
  child_counts c;
  c.specs = specs;
  for (const auto& [id, r] : children_) {
    if (r.run) ++c.active;
    if (r.kind == child_kind::worker) {
      ++c.workers;
    } else {
      ++c.supervisors;
    }
  }
  return c;
}

}  // namespace datamesh::detail
