// A pure producer cannot be the consumer side of a subscription (SPEC rule 24, at compile time).
// expect: a pure producer cannot subscribe \(SPEC rule 24\)
#include <datamesh/datamesh.hpp>

struct numbers {
  void handle_demand(std::size_t, datamesh::context<int>&) {}
};

int main() {
  datamesh::runtime rt;
  auto a = rt.start<numbers>();
  auto b = rt.start<numbers>();
  datamesh::subscribe(a, b);
}
