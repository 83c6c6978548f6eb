/// @file
/// The mesh's registry: its nodes and links by id, as the mesh and its supervisors' restart
/// functions share them (internal; the API is mesh/mesh.hpp).
#pragma once

#include <datamesh/exit_reason.hpp>
#include <datamesh/mesh/detail/inlet.hpp>
#include <datamesh/mesh/mesh_dispatcher.hpp>
#include <datamesh/mesh/node.hpp>
#include <datamesh/mesh/node_id.hpp>
#include <datamesh/mesh/options.hpp>
#include <datamesh/stage_ref.hpp>
#include <datamesh/subscription.hpp>
#include <datamesh/supervisor/dynamic_supervisor.hpp>
#include <datamesh/supervisor/restart.hpp>

#include <any>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <typeindex>
#include <unordered_map>
#include <utility>
#include <vector>

namespace datamesh::detail {

/// Stops `s` unless it has already gone. These callers (exit callbacks, teardown) may race the
/// stage's own exit, so they post the stop as the runtime and supervisors do, where a stage
/// that has gone simply refuses it, rather than through `datamesh::stop`, which throws then.
void stop_if_running(const stage_ref& s, exit_reason reason);

/// One node as the mesh's registry keeps it.
struct mesh_node {
  node_id id;
  std::uint32_t key = 0;  // its link key in its senders' dispatchers
  restart_type restart = restart_type::temporary;
  std::type_index input = typeid(void);
  std::type_index output = typeid(void);
  std::shared_ptr<inlet_base> inlet;  // a detail::inlet_queue<In>
  std::function<std::any(std::uint32_t, const std::any&, const node_id&,
                         std::shared_ptr<link_gauge>)>
      make_link;
  std::shared_ptr<node_counters> counters;
  std::optional<dynamic_supervisor> supervisor;  // supervised nodes only
  /// Stopped for good (a supervised node between restarts is not).
  std::atomic<bool> gone{false};
  /// The stage running it now; empty while it starts. Guarded by the registry's mutex.
  stage_ref stage;
  /// Told how many data its inlet held, never taken, when it closed for good.
  std::function<void(const mesh_node&, std::size_t)> discarded;

  /// Whether it runs, or a supervisor will restart it. Call with the registry's mutex held.
  bool live() const {
    return !gone.load(std::memory_order_acquire) && stage && (supervisor || stage.alive());
  }
  /// Marks it stopped for good; its inlet closes with it. Thread-safe, idempotent.
  void finish();
};

/// One link as the registry keeps it: enough to make it again when either end restarts.
struct mesh_link_entry {
  subscription sub;
  link_options opts;
  std::shared_ptr<link_gauge> gauge;
};

struct node_pair_hash {
  std::size_t operator()(const std::pair<node_id, node_id>& p) const noexcept {
    return p.first.hash() * 31 + p.second.hash();
  }
};

/// What the mesh and its supervisors' restart functions share, so a restart that races the
/// mesh's destruction finds it gone rather than dangling.
///
/// Thread safety: `mutex` guards `nodes`, `links`, `next_key` and each node's `stage`.
struct mesh_registry {
  std::mutex mutex;
  std::unordered_map<node_id, std::shared_ptr<mesh_node>> nodes;
  std::unordered_map<std::pair<node_id, node_id>, mesh_link_entry, node_pair_hash> links;
  std::uint32_t next_key = 1;
  /// Data discarded in the inlets of nodes stopped for good (mesh_snapshot::discarded).
  std::atomic<std::uint64_t> discarded{0};

  /// Subscribes `to` to `from` for link `le`; the new subscription. Call with `mutex` held.
  static subscription link(const mesh_node& from, const mesh_node& to, const mesh_link_entry& le,
                           std::shared_ptr<std::promise<void>> linked,
                           std::shared_ptr<link_gate> gate = nullptr);

  /// The link `k` will not be made again: its sender keeps no place for it from now on, and
  /// releases one it kept (its receiver was away). Call with `mutex` held.
  void withdraw(const std::pair<node_id, node_id>& k, const mesh_link_entry& le);

  /// Withdraws every link to `to`, which will not come back. Call with `mutex` held.
  void withdraw_links_to(const node_id& to);

  /// Drops node `id` and its links. Call with `mutex` held.
  void forget(const node_id& id);

  /// The keys of the links from `n`: their places are kept in a restarted sender until its
  /// receivers subscribe again. Call with `mutex` held.
  std::vector<std::uint32_t> link_keys_from(const mesh_node& n) const;

  /// Makes again every link of `n`, which has just restarted, whose other end runs (one that
  /// is restarting too relinks when it is back); runs `linked` once `n` has its outgoing links
  /// back, or they cannot come. `kept`: the links whose places `n`'s new stage started with;
  /// those that will not be made again are withdrawn. Call with `mutex` held.
  void relink(const mesh_node& n, const std::vector<std::uint32_t>& kept,
              std::function<void()> linked);
};

}  // namespace datamesh::detail
