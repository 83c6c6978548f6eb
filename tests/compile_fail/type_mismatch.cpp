// A typed subscription between a producer of int and a consumer of std::string does not compile.
// expect: the producer's event type differs from the consumer's input type
#include <datamesh/datamesh.hpp>

#include <span>
#include <string>

struct numbers {
  void handle_demand(std::size_t, datamesh::context<int>&) {}
};
struct words {
  void handle_events(std::span<const std::string>) {}
};

int main() {
  datamesh::runtime rt;
  auto p = rt.start<numbers>();
  auto c = rt.start<words>();
  datamesh::subscribe(c, p);
}
