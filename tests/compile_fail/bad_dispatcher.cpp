// A stage's dispatcher_type must be a dispatcher (SPEC rule 3, at compile time).
// expect: the stage's dispatcher_type does not satisfy datamesh::dispatcher_for
#include <datamesh/datamesh.hpp>

struct numbers {
  using dispatcher_type = int;
  void handle_demand(std::size_t, datamesh::context<int>&) {}
};

int main() {
  datamesh::runtime rt;
  rt.start<numbers>();
}
