// A node logic whose process keeps no state has no init: the state init makes would go nowhere.
// expect: a node logic whose process keeps no state has no init
#include <datamesh/datamesh.hpp>

struct printer {
  int init(const datamesh::node_args&) { return 0; }
  void process(const int&, datamesh::node_context<void>&) {}
};

int main() {
  datamesh::runtime rt;
  datamesh::mesh m(rt);
  m.start_node("printer", printer{});
}
