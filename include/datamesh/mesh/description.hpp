/// @file
/// A mesh described as data: which nodes run which logic, with which arguments and options, and
/// how they are linked. Use it to keep a deployment in a file and start it in one call, instead
/// of a sequence of `start_node` and `connect` calls in code. The description comes as a plain
/// struct (`mesh_description`) or as text:
///
///     # a sensor network
///     node sensor-1 = source
///     node "filter" = threshold(threshold = 10.5, unit = "C") [restart = transient]
///     node ("sink", 7) = recorder
///     link sensor-1 -> filter [max_demand = 100, min_demand = 50]
///     link filter -> ("sink", 7)
///
///     datamesh::logic_catalog catalog;
///     catalog.add<passthrough>("source").add<threshold_filter>("threshold");
///     catalog.add("recorder", recorder{&log});  // a prototype carries what args cannot
///     datamesh::start_mesh(mesh, text, catalog);
///
/// Text names a logic, so a `logic_catalog` maps names to logic types; a catalogued logic takes
/// its arguments as `node_args`, the named values text can spell.
///
/// The text form has one statement a line; `#` starts a comment, blank lines are ignored:
///
///     node ID = LOGIC [(NAME = VALUE, ...)] [[OPTION = VALUE, ...]]
///     link ID -> ID [[OPTION = VALUE, ...]]
///
///   - ID: an integer (an `std::int64_t` id), a word `[A-Za-z_][A-Za-z0-9_.:-]*` or a quoted
///     string (escapes `\"`, `\\`, `\n`) (a string id), or a tuple of 1 to 3 of these in
///     parentheses. `7` and `"7"` are different ids, as in `node_id`.
///   - LOGIC and NAME: a word (a NAME may also be a quoted string).
///   - VALUE: an integer, a floating number (with `.` or an exponent), `true`, `false`, or a
///     quoted string.
///   - node options: `restart = permanent|transient|temporary`, `inlet_capacity`, `inlet_batch`
///     (positive integers; `max_demand`, its old name, is read for one release). link options:
///     `max_demand` (positive), `min_demand` (from 0).
///
/// What text cannot say (a link's `select`, a node's `shutdown` and `intensity`) keeps its
/// default when parsed and is left out by `to_text`.
#pragma once

#include <datamesh/error.hpp>
#include <datamesh/mesh/mesh.hpp>
#include <datamesh/mesh/node.hpp>
#include <datamesh/mesh/node_args.hpp>
#include <datamesh/mesh/node_id.hpp>

#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace datamesh {

/// One node of a description: its id, the catalog name of its logic, and how to start it.
/// Thread safety: a value.
struct node_description {
  node_id id;
  std::string logic;
  node_args args;
  node_options options;
  /// The line of the text it was parsed from; 0 when it was not.
  std::size_t line = 0;
};

/// One link of a description: `to` receives what `from` emits.
/// Thread safety: a value.
struct link_description {
  node_id from;
  node_id to;
  link_options options;
  /// The line of the text it was parsed from; 0 when it was not.
  std::size_t line = 0;
};

/// A whole mesh: its nodes, started in order, then its links, connected in order.
/// Thread safety: a value.
struct mesh_description {
  std::vector<node_description> nodes;
  std::vector<link_description> links;
};

}  // namespace datamesh

namespace datamesh::detail {

/// Whether `s` is a word, `[A-Za-z_][A-Za-z0-9_.:-]*`: what text can spell without quotes.
bool is_word(std::string_view s) noexcept;

}  // namespace datamesh::detail

namespace datamesh {

/// Names of node logic, and how to start a node of each: what a description's `logic` means.
///
///     catalog.add<passthrough>("source").add("recorder", recorder{&log});
///
/// Thread safety: distinct objects are safe. Shared objects: the const members are safe from
/// several threads; `add` is not safe while another thread uses the same catalog.
class logic_catalog {
 public:
  /// Starts the node a description describes, in a mesh.
  using starter = std::function<void(mesh&, const node_description&)>;

  /// Names `prototype`'s logic `name`: each node of that logic starts with a copy of it.
  /// `name` must be a word, so that text can name it.
  /// @throws datamesh::error `bad_description` when `name` is not a word or is taken.
  template <node_logic L>
  logic_catalog& add(std::string name, L prototype = L{}) {
    constexpr bool named_args = std::is_same_v<typename node_traits<L>::args_type, node_args>;
    static_assert(named_args,
                  "logic_catalog::add: the logic's init must take const node_args&, because a "
                  "description gives a node its arguments as named values");
    if constexpr (named_args) {
      if (!detail::is_word(name)) {
        throw error(errc::bad_description,
                    "a logic name is a word ([A-Za-z_][A-Za-z0-9_.:-]*) "
                    "so that text can name it, not '" +
                        name + "'");
      }
      if (contains(name)) {
        throw error(errc::bad_description, "the catalog already has a logic named '" + name + "'");
      }
      starters_.emplace(std::move(name),
                        [logic = std::move(prototype)](mesh& m, const node_description& d) {
                          m.start_node(d.id, logic, d.args, d.options);
                        });
    }
    return *this;
  }

  /// Whether a logic is named `name`.
  bool contains(std::string_view name) const { return starters_.find(name) != starters_.end(); }

  /// The logic names, in order.
  std::vector<std::string> names() const;

  /// Starts node `d` in `m` with the logic named `d.logic`.
  /// @throws datamesh::error `bad_description` (no logic of that name), and what
  ///   `mesh::start_node` throws.
  void start(mesh& m, const node_description& d) const;

 private:
  std::map<std::string, starter, std::less<>> starters_;
};

/// Reads the text form (see the file comment).
/// @throws datamesh::error `bad_description`, "line N: ..." naming the first mistake.
mesh_description parse_mesh_description(std::string_view text);

/// Writes `d` in the text form, which `parse_mesh_description` reads back to the same ids,
/// logic names, arguments and text-form options. Options at their defaults are left out.
/// @throws datamesh::error `bad_description` for what text cannot say: an id that is not an
///   integer, a string or a tuple of 1 to 3 of these; a logic name that is not a word; a
///   number argument that is not finite.
std::string to_text(const mesh_description& d);

/// Starts `d` in `m`: every node in order, then every link in order. A link's ends are nodes
/// of `d` or nodes already running in `m`. All or nothing: `d` is checked first, and if a start
/// or connect still fails, what this call made is undone, so `m` is left as it was. Not from a
/// node's `process` (connect waits for the sending node).
/// @throws datamesh::error `bad_description` (a logic `c` does not have, a node id described
///   twice), `duplicate_node` (a described node already runs), `unknown_node` (a link end that
///   is neither described nor running); then what `mesh::start_node` and `mesh::connect`
///   throw, after the undo.
void start_mesh(mesh& m, const mesh_description& d, const logic_catalog& c);

/// Parses `text` (see `parse_mesh_description`) and starts it (see the overload above). Every
/// mistake in the text is a `bad_description` naming its line, those found only when the mesh
/// starts too (a link from a node to itself, the same link twice, a link across types, link
/// options out of range). What depends on the mesh it starts in is passed on, naming the line
/// too: `unknown_node` (a link end neither described nor running), `duplicate_node` (a described
/// node already runs), `start_failed` (a node's `init` failed), `no_stage`, `runtime_stopped`,
/// `would_deadlock`.
/// @throws datamesh::error as said.
void start_mesh(mesh& m, std::string_view text, const logic_catalog& c);

}  // namespace datamesh
