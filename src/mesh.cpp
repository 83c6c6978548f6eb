// The mesh's calls that need no node type: wiring, stopping, the registry's views, and settle.
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

mesh::~mesh() {
  for (const auto& id : nodes()) {
    try {
      stop_node(id, exit_reason::shutdown());
    } catch (const error&) {  // stopped meanwhile
    }
  }
}

void mesh::connect(const node_id& from, const node_id& to, link_options opts) {
  refuse_on_runtime_thread("connect");
  std::unique_lock lock(reg_->mutex);
  auto f = find(from);
  auto t = find(to);
  if (from == to) {
    throw error(errc::self_connection, "node " + from.str() + " cannot be connected to itself");
  }
  if (reg_->links.contains({from, to})) {
    throw error(errc::already_connected,
                "node " + from.str() + " is already connected to node " + to.str());
  }
  if (f->output != t->input) {
    throw error(errc::type_mismatch, "node " + from.str() + " emits " +
                                         detail::type_name(f->output) + " but node " + to.str() +
                                         " takes " + detail::type_name(t->input));
  }
  auto linked = std::make_shared<std::promise<void>>();
  std::future<void> done = linked->get_future();
  detail::mesh_link_entry le{{}, std::move(opts), std::make_shared<link_gauge>()};
  le.sub = detail::mesh_registry::link(*f, *t, le, std::move(linked));
  const subscription sub = le.sub;
  const stage_ref sender = f->stage;
  reg_->links.emplace(std::pair{from, to}, std::move(le));
  lock.unlock();
  try {
    await(done, "connect");
  } catch (const std::future_error&) {  // an end stopped before the link was made
    std::lock_guard relock(reg_->mutex);
    auto it = reg_->links.find({from, to});
    if (it != reg_->links.end() && !(it->second.sub == sub)) return;  // a restart relinked it
    if (it != reg_->links.end()) reg_->links.erase(it);
    throw error(errc::no_stage, "node " + from.str() + " or node " + to.str() +
                                    " stopped before the link was made");
  }
}

void mesh::disconnect(const node_id& from, const node_id& to) {
  refuse_on_runtime_thread("disconnect");
  std::unique_lock lock(reg_->mutex);
  auto it = reg_->links.find({from, to});
  if (it == reg_->links.end()) {
    throw error(errc::not_connected,
                "node " + from.str() + " is not connected to node " + to.str());
  }
  const subscription sub = it->second.sub;
  reg_->withdraw(it->first, it->second);  // a place its sender keeps goes too
  reg_->links.erase(it);
  lock.unlock();
  // Ready at once when the receiver has stopped: its links went with it.
  std::future<void> done = sync_cancel(sub, exit_reason::normal());
  await(done, "disconnect");
}

void mesh::stop_node(const node_id& id, exit_reason reason) {
  std::shared_ptr<detail::mesh_node> n;
  stage_ref s;
  {
    std::lock_guard lock(reg_->mutex);
    n = find(id);
    s = n->stage;
    reg_->forget(id);
  }
  if (n->supervisor) {
    n->finish();  // before the supervisor's shutdown, which a restart must not outrun
    detail::stop_if_running(*n->supervisor, exit_reason::shutdown());
  } else {
    detail::stop_if_running(s, std::move(reason));
  }
}

bool mesh::contains(const node_id& id) const {
  std::lock_guard lock(reg_->mutex);
  auto it = reg_->nodes.find(id);
  return it != reg_->nodes.end() && it->second->live();
}

std::vector<node_id> mesh::nodes() const {
  std::lock_guard lock(reg_->mutex);
  std::vector<node_id> ids;
  for (const auto& [id, n] : reg_->nodes) {
    if (n->live()) ids.push_back(id);
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

std::vector<std::pair<node_id, node_id>> mesh::links() const {
  std::lock_guard lock(reg_->mutex);
  std::vector<std::pair<node_id, node_id>> out;
  for (const auto& [k, le] : reg_->links) out.push_back(k);
  std::sort(out.begin(), out.end());
  return out;
}

stage_ref mesh::stage_of(const node_id& id) const {
  std::lock_guard lock(reg_->mutex);
  return find(id)->stage;
}

mesh::node_figures mesh::figures(const node_id& id) const {
  std::lock_guard lock(reg_->mutex);
  return figures_of(*find(id));
}

mesh_snapshot mesh::snapshot() const {
  mesh_snapshot snap;
  snap.discarded = reg_->discarded.load(std::memory_order_relaxed);
  std::vector<std::shared_ptr<detail::mesh_node>> live;
  {
    std::lock_guard lock(reg_->mutex);
    for (const auto& [id, n] : reg_->nodes) {
      if (n->live()) live.push_back(n);
    }
    for (const auto& [k, le] : reg_->links) {
      snap.links.push_back({k.first, k.second, le.gauge->events.load(std::memory_order_relaxed),
                            le.gauge->demand.load(std::memory_order_relaxed),
                            le.gauge->held.load(std::memory_order_relaxed)});
    }
    for (const auto& n : live) {
      const node_figures f = figures_of(*n);
      node_snapshot row{n->id,      n->stage.alive(), n->supervisor.has_value(), f.in, f.out,
                        f.unlinked, f.restarts};
      row.buffered = n->stage.alive() ? n->stage.core_ptr()->buffered_estimate() : 0;
      row.dropped = f.dropped;
      snap.nodes.push_back(std::move(row));
    }
  }
  // The inlets' own locks are taken outside the registry's.
  for (std::size_t i = 0; i < live.size(); ++i) snap.nodes[i].inlet_depth = live[i]->inlet->depth();
  std::sort(snap.nodes.begin(), snap.nodes.end(),
            [](const auto& a, const auto& b) { return a.id < b.id; });
  std::sort(snap.links.begin(), snap.links.end(), [](const auto& a, const auto& b) {
    return std::tie(a.from, a.to) < std::tie(b.from, b.to);
  });
  for (const auto& l : snap.links) {
    for (auto& n : snap.nodes) {
      if (n.id == l.from) n.pending_demand += l.pending_demand;
    }
  }
  return snap;
}

mesh::node_figures mesh::figures_of(const detail::mesh_node& n) {
  const detail::node_counters& c = *n.counters;
  node_figures f{c.in.load(std::memory_order_relaxed), c.out.load(std::memory_order_relaxed),
                 c.unlinked.load(std::memory_order_relaxed),
                 c.restarts.load(std::memory_order_relaxed),
                 c.dropped_before.load(std::memory_order_relaxed)};
  // The running stage's own count; an exited one's is in dropped_before once its exit
  // callback ran.
  if (n.stage.alive()) f.dropped += n.stage.core_ptr()->dropped_estimate();
  return f;
}

void mesh::refuse_on_runtime_thread(const char* what) const {
  if (detail::on_runtime_thread(state_.get())) {
    throw error(errc::would_deadlock,
                std::string(what) +
                    ": called from a stage of the mesh's runtime (a node's process?), where it "
                    "would wait for itself; use try_trigger_data, or call it from outside");
  }
}

mesh::node_ptr mesh::find(const node_id& id) const {
  auto it = reg_->nodes.find(id);
  if (it == reg_->nodes.end() || !it->second->live()) {
    throw error(errc::unknown_node, "there is no running node " + id.str());
  }
  return it->second;
}

// -- settle ---

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
