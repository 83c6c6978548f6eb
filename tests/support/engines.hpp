/// @file
/// The stage engines most test files run, compiled once in `engines.cpp` instead of in every
/// test file that uses them: a stage engine is one class template per role, event types and
/// dispatcher (`detail/stage_engine.hpp`), and dozens of test files use the same few of those.
/// This saves build time only; a test file using other shapes compiles them as usual.
#pragma once

#include <datamesh/datamesh.hpp>

#include <cstddef>
#include <string>

#define DATAMESH_TEST_ENGINES(X)                                                 \
  X(producer, void, int, demand_dispatcher<int>)                                 \
  X(producer, void, int, broadcast_dispatcher<int>)                              \
  X(producer, void, int, partition_dispatcher<int>)                              \
  X(producer_consumer, int, int, demand_dispatcher<int>)                         \
  X(consumer, int, void, demand_dispatcher<none>)                                \
  X(producer, void, std::size_t, demand_dispatcher<std::size_t>)                 \
  X(producer_consumer, std::size_t, std::size_t, demand_dispatcher<std::size_t>) \
  X(consumer, std::size_t, void, demand_dispatcher<none>)                        \
  X(consumer, std::string, void, demand_dispatcher<none>)                        \
  X(producer_consumer, int, int, mesh_dispatcher<int>)                           \
  X(producer_consumer, int, none, mesh_dispatcher<none>)

#define DATAMESH_TEST_ENGINE_DECLARE(role, in, out, dispatcher)                             \
  extern template class datamesh::detail::stage_engine<datamesh::stage_role::role, in, out, \
                                                       datamesh::dispatcher>;
namespace datamesh {
DATAMESH_TEST_ENGINES(DATAMESH_TEST_ENGINE_DECLARE)
}
