// mesh::settle: waiting until what was triggered has been processed everywhere it went.
#include <datamesh/mesh/mesh.hpp>

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <utility>

namespace datamesh {

namespace {

/// Sent to every node by `settle`: a node ignores it, and its answer means that every message
/// queued to the node before it has been handled.
struct settle_probe {};

constexpr auto relaxed = std::memory_order_relaxed;

}  // namespace

mesh::settle_view mesh::look() const {
  settle_view v;
  std::vector<node_ptr> nodes;
  {
    std::lock_guard lock(reg_->mutex);
    for (const auto& [id, n] : reg_->nodes) {
      nodes.push_back(n);
      const node_figures f = figures_of(*n);
      v.moved += f.in + f.out + f.restarts + f.dropped;
      if (!n->live()) continue;
      if (!n->stage.alive()) {
        v.idle = false;  // a supervised node waiting to be restarted
        continue;
      }
      const detail::stage_base& core = *n->stage.core_ptr();
      if (core.buffered_estimate() > 0 || core.waiting_estimate() > 0) v.idle = false;
      v.stages.push_back(n->stage);
    }
    for (const auto& [k, le] : reg_->links) {
      v.moved += le.gauge->events.load(relaxed);
      if (le.gauge->held.load(relaxed) > 0) v.idle = false;
    }
  }
  v.moved += reg_->discarded.load(relaxed);
  // The inlets' own locks are taken outside the registry's.
  for (const auto& n : nodes) {
    v.moved += n->inlet->taken();
    if (!n->gone.load(std::memory_order_acquire) && n->inlet->depth() > 0) v.idle = false;
  }
  return v;
}

// A double collect: read the figures, let every node handle what was queued to it before a
// probe, read them again. Nothing moved in between and nothing waits: every datum that was in
// the mesh at the first read has been processed or counted as lost. A datum still in a mailbox
// at the first read is ahead of the probe, so handling it would have moved the figures.
bool mesh::settle_until(std::optional<std::chrono::steady_clock::time_point> deadline) {
  refuse_on_runtime_thread("settle");
  auto pause = std::chrono::microseconds(50);
  auto past = [&] { return deadline && std::chrono::steady_clock::now() >= *deadline; };
  for (;;) {
    const settle_view before = look();
    std::vector<std::future<void>> probes;
    for (const auto& s : before.stages) {
      try {
        probes.push_back(sync_info(s, settle_probe{}));
      } catch (const error&) {  // stopped meanwhile: the figures tell
      }
    }
    for (auto& p : probes) {
      const bool driven = detail::drive_until(
          *state_, [&] { return p.wait_for(std::chrono::seconds(0)) == std::future_status::ready; },
          [] { return std::string("settle: a node has not answered"); });
      if (!driven) {
        if (!deadline) {
          p.wait();
        } else if (p.wait_until(*deadline) != std::future_status::ready) {
          return false;
        }
      }
      try {
        p.get();
      } catch (const error&) {  // the node stopped before the probe: the figures tell
      }
    }
    const settle_view after = look();
    if (after.moved == before.moved && after.idle) return true;
    if (past()) return false;
    if (after.moved != before.moved) {
      pause = std::chrono::microseconds(50);
      continue;
    }
    // Nothing moved, and data wait (a restart, a held event): let the mesh run, one step (the
    // first `ready` says no, the second yes).
    bool stepped = false;
    const bool driven = detail::drive_until(
        *state_, [&] { return std::exchange(stepped, true); },
        [] { return std::string("settle: data still wait in the mesh"); });
    if (!driven) {
      std::this_thread::sleep_for(pause);
      pause = std::min<std::chrono::microseconds>(pause * 2, std::chrono::milliseconds(10));
    }
  }
}

}  // namespace datamesh
