// A floating-point value is no node id.
// expect: a floating-point value cannot be a node id
#include <datamesh/datamesh.hpp>

int main() {
  datamesh::runtime rt;
  datamesh::mesh m(rt);
  m.start_node(0.5, [](const int&, datamesh::node_context<void>&) {});
}
