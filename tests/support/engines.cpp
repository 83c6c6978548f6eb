// The one compilation of the engines `engines.hpp` declares.
#include "support/engines.hpp"

#define DATAMESH_TEST_ENGINE_DEFINE(role, in, out, dispatcher)                       \
  template class datamesh::detail::stage_engine<datamesh::stage_role::role, in, out, \
                                                datamesh::dispatcher>;
namespace datamesh {
DATAMESH_TEST_ENGINES(DATAMESH_TEST_ENGINE_DEFINE)
}
