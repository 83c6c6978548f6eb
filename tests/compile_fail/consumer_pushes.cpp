// A consumer cannot emit events: its context<void> has no push (SPEC rule 9, at compile time).
// expect: no member named 'push'
#include <datamesh/datamesh.hpp>

#include <span>

struct echo {
  void handle_events(std::span<const int> in, datamesh::context<void>& ctx) {
    for (int x : in) ctx.push(x);
  }
};

int main() {
  datamesh::runtime rt;
  rt.start<echo>();
}
