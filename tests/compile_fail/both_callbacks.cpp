// A stage is a producer or a consumer by its callbacks, never both at once.
// expect: a stage defines handle_demand \(a producer\) or handle_events \(a consumer or
#include <datamesh/datamesh.hpp>

#include <span>

struct confused {
  void handle_demand(std::size_t, datamesh::context<int>&) {}
  void handle_events(std::span<const int>) {}
};

int main() {
  datamesh::runtime rt;
  rt.start<confused>();
}
