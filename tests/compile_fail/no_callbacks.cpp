// A struct with neither handle_demand nor handle_events is not a stage.
// expect: a stage must define handle_demand \(a producer\) or handle_events
#include <datamesh/datamesh.hpp>

struct nothing {
  int x = 0;
};

int main() {
  datamesh::runtime rt;
  rt.start<nothing>();
}
