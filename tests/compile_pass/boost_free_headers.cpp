// The stage layer's headers parse without Boost: a stage author's translation unit that
// includes only these pays for none of Asio (issue 20). Built with the tests, without the
// precompiled umbrella; a header that starts to pull Boost in fails the build here.
#include <datamesh/buffer.hpp>
#include <datamesh/context.hpp>
#include <datamesh/demand.hpp>
#include <datamesh/dispatch/broadcast.hpp>
#include <datamesh/dispatch/demand.hpp>
#include <datamesh/dispatch/dispatcher.hpp>
#include <datamesh/dispatch/partition.hpp>
#include <datamesh/dispatch/route.hpp>
#include <datamesh/error.hpp>
#include <datamesh/exit_reason.hpp>
#include <datamesh/function_stage.hpp>
#include <datamesh/fwd.hpp>
#include <datamesh/log.hpp>
#include <datamesh/mesh/node_id.hpp>
#include <datamesh/mesh/snapshot.hpp>
#include <datamesh/none.hpp>
#include <datamesh/stage.hpp>
#include <datamesh/stage_calls.hpp>
#include <datamesh/stage_ref.hpp>
#include <datamesh/stage_role.hpp>
#include <datamesh/subscribe_options.hpp>
#include <datamesh/subscription.hpp>
#include <datamesh/supervisor/restart.hpp>

// Every Boost header includes <boost/config.hpp> (Asio's through its own config), which
// defines BOOST_CONFIG_HPP; <boost/version.hpp> defines BOOST_VERSION.
#if defined(BOOST_CONFIG_HPP) || defined(BOOST_VERSION) || defined(BOOST_ASIO_VERSION)
#  error "a stage-layer header includes Boost; see tests/compile_pass/boost_free_headers.cpp"
#endif

// A stage written against these headers alone compiles (it is started elsewhere).
namespace {
struct doubler {
  void handle_events(std::span<const int> in, datamesh::context<long>& ctx) {
    for (int x : in) ctx.push(2L * x);
  }
};
static_assert(datamesh::stage_traits<doubler>::role == datamesh::stage_role::producer_consumer);
}  // namespace
