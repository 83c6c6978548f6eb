// A node logic whose process has another shape (here the context by value) does not compile, and
// the error names the shapes it must have.
// expect: a node logic's process \(or a lambda's call operator\) must be
// expect: `State process\(const In&, State, node_context<Out>&\)`
// expect: `void process\(const In&, node_context<Out>&\)`
#include <datamesh/datamesh.hpp>

struct doubler {
  void process(const int& x, datamesh::node_context<int> ctx) { ctx.broadcast(2 * x); }
};

int main() {
  datamesh::runtime rt;
  datamesh::mesh m(rt);
  m.start_node("doubler", doubler{});
}
