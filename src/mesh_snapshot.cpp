// mesh_snapshot: lookups and the Graphviz DOT form.
#include <datamesh/mesh/snapshot.hpp>

#include <algorithm>
#include <sstream>
#include <string>

namespace datamesh {

const node_snapshot* mesh_snapshot::node(const node_id& id) const {
  auto it = std::find_if(nodes.begin(), nodes.end(), [&](const auto& n) { return n.id == id; });
  return it == nodes.end() ? nullptr : &*it;
}

const link_snapshot* mesh_snapshot::link(const node_id& from, const node_id& to) const {
  auto it = std::find_if(links.begin(), links.end(),
                         [&](const auto& l) { return l.from == from && l.to == to; });
  return it == links.end() ? nullptr : &*it;
}

namespace {

// A DOT double-quoted string: quotes and backslashes escaped, so any id prints safely.
std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  out += '"';
  return out;
}

}  // namespace

std::string mesh_snapshot::to_dot() const {
  // Nodes are named by position, labelled by id: the ids 7 and "7" print alike but differ.
  auto name_of = [this](const node_id& id) {
    auto it = std::find_if(nodes.begin(), nodes.end(), [&](const auto& n) { return n.id == id; });
    std::string name = "n";  // built by appending: GCC 12 misreports "n" + s (-Wrestrict)
    name += std::to_string(it - nodes.begin());
    return name;
  };
  std::ostringstream os;
  os.imbue(std::locale::classic());
  os << "digraph mesh {\n"
     << "  rankdir=LR;\n"
     << "  node [shape=box, fontname=\"Helvetica\"];\n"
     << "  edge [fontname=\"Helvetica\", fontsize=10];\n";
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const auto& n = nodes[i];
    std::ostringstream label;
    label << n.id.str() << "\nin " << n.in << "  out " << n.out;
    if (n.inlet_depth > 0) label << "\ninlet " << n.inlet_depth;
    if (n.buffered > 0) label << "\nbuffered " << n.buffered;
    if (n.dropped > 0) label << "\ndropped " << n.dropped;
    if (n.supervised) label << "\nrestarts " << n.restarts;
    os << "  n" << i << " [label=" << quoted(label.str());
    if (!n.running) os << ", style=dashed";
    os << "];\n";
  }
  for (const auto& l : links) {
    std::ostringstream label;
    label << l.events << " ev\ndemand " << l.pending_demand;
    if (l.held > 0) label << "\nheld " << l.held;
    os << "  " << name_of(l.from) << " -> " << name_of(l.to) << " [label=" << quoted(label.str());
    if (l.held > 0) os << ", color=red";
    os << "];\n";
  }
  os << "}\n";
  return std::move(os).str();
}

}  // namespace datamesh
