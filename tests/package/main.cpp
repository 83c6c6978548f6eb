// A program using DataMesh through find_package(datamesh): see tests/package/CMakeLists.txt.
// It exits 0 only if the headers are found and the compiled library links and works.
#include <datamesh/error.hpp>

#include <cstdio>
#include <string>

int main() {
  const datamesh::error e(datamesh::errc::bad_options, "x");
  if (e.code() != datamesh::errc::bad_options) {
    std::fprintf(stderr, "unexpected error code %d\n", e.code().value());
    return 1;
  }
  if (std::string(e.code().category().name()) != "datamesh") {
    std::fprintf(stderr, "unexpected error category %s\n", e.code().category().name());
    return 1;
  }
  std::puts("datamesh package test: ok");
  return 0;
}
