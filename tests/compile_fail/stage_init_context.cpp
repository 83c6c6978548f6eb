// A stage's init taking another context than its own (here: a producer of long whose init takes
// a context<int>) is a compile error that names init's form, not an init silently skipped.
// expect: the stage's init is never called: its form must be `void init\(context<Out>&\)`
#include <datamesh/datamesh.hpp>

struct numbers {
  long next = 0;
  void init(datamesh::context<int>&) { next = 100; }
  void handle_demand(std::size_t n, datamesh::context<long>& ctx) {
    while (n--) ctx.push(next++);
  }
};

int main() {
  datamesh::runtime rt;
  rt.start<numbers>();
}
