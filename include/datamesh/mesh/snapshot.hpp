/// @file
/// A mesh's figures at one moment, per node and per link, and the topology as Graphviz DOT with
/// those figures on the edges:
///
///     auto snap = mesh.snapshot();
///     for (const auto& n : snap.nodes) std::cout << n.id << ": " << n.in << " in\n";
///     std::ofstream("mesh.dot") << snap.to_dot();   // dot -Tsvg mesh.dot > mesh.svg
///
/// Each figure is read without stopping the mesh, so figures of different nodes may be a few
/// events apart; each one alone is exact as of when it was read.
#pragma once

#include <datamesh/mesh/node_id.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace datamesh {

/// One node's figures.
struct node_snapshot {
  node_id id;
  /// False while a supervised node waits to be restarted.
  bool running = true;
  bool supervised = false;
  std::uint64_t in = 0;        ///< data processed
  std::uint64_t out = 0;       ///< data broadcast or sent on a link
  std::uint64_t unlinked = 0;  ///< broadcasts made while no node was connected
  std::uint64_t restarts = 0;  ///< times its supervisor restarted it
  /// Data `trigger_data` handed in and the node has not yet taken.
  std::size_t inlet_depth = 0;
  /// Data the node made that wait for a connected node's demand.
  std::size_t buffered = 0;
  /// Data it lost, over all its stages (each one's `estimate_dropped_count`; a supervised
  /// node's earlier stages included): broadcasts no link took (`unlinked` among them), sends to
  /// a link gone meanwhile, what it held or had queued when a stage of it exited, and the data
  /// after the one that stopped it (by an exception or a returned reason).
  std::uint64_t dropped = 0;
  /// Demand its connected nodes have asked for and it has not yet met (its links' sum).
  std::size_t pending_demand = 0;
};

/// One link's figures.
struct link_snapshot {
  node_id from;
  node_id to;
  std::uint64_t events = 0;        ///< sent on this link, over its whole life
  std::size_t pending_demand = 0;  ///< asked for by `to`, not yet sent
  std::size_t held = 0;            ///< held by `from` until `to` asks for more
};

/// The mesh at one moment: nodes ordered by id, links by (from, to).
struct mesh_snapshot {
  std::vector<node_snapshot> nodes;
  std::vector<link_snapshot> links;
  /// Data that waited in the inlets of nodes stopped for good (or given up), discarded with
  /// them; each such stop is also logged.
  std::uint64_t discarded = 0;

  /// The row of node `id`, or null.
  const node_snapshot* node(const node_id& id) const;
  /// The row of the link from `from` to `to`, or null.
  const link_snapshot* link(const node_id& from, const node_id& to) const;

  /// The topology in Graphviz DOT: a box per node labelled with its figures, an edge per link
  /// labelled with its events, pending demand and held events. A link that holds events is
  /// drawn red: that receiver is the one slowing its sender down.
  std::string to_dot() const;
};

}  // namespace datamesh
