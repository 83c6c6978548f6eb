// An optional dispatcher member under its name but in another form is a compile error that
// names the form, not a feature silently off (here: queued without const, so the producer's
// estimate_buffered_count would never count the dispatcher's queue).
// expect: the dispatcher's queued is never called: its form must be
#include <datamesh/datamesh.hpp>

struct queueing : datamesh::demand_dispatcher<int> {
  std::size_t queued() { return 0; }
};

struct numbers {
  using dispatcher_type = queueing;
  void handle_demand(std::size_t, datamesh::context<int>&) {}
};

int main() {
  datamesh::runtime rt;
  rt.start<numbers>();
}
