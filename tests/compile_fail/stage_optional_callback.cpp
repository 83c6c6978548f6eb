// An optional stage callback under its name but in another form is a compile error that names
// the form, not a callback silently never called (here: handle_cancel without the
// subscription, so the stage would never learn that one ended).
// expect: the stage's handle_cancel is never called: its form must be
#include <datamesh/datamesh.hpp>

#include <span>

struct sink {
  void handle_events(std::span<const int>) {}
  void handle_cancel(const datamesh::cancellation&, datamesh::context<void>&) {}
};

int main() {
  datamesh::runtime rt;
  rt.start<sink>();
}
