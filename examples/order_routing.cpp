// Targeted routing: a router sends each order to the desk its region names, at that desk's own
// pace; orders for a region without a desk go to a triage desk (the route dispatcher's
// default target). A slow desk never holds up the fast ones beyond its own queue.
//
//   example_order_routing [--quick]
#include <datamesh/datamesh.hpp>

#include <any>
#include <atomic>
#include <cstring>
#include <iostream>
#include <map>
#include <span>
#include <string>
#include <vector>

namespace {

struct order {
  int id;
  std::string region;
};

struct done {};

/// Emits orders round-robin over regions, one of which has no desk.
struct order_source {
  using dispatcher_type = datamesh::route_dispatcher<order, std::string>;
  int next = 0;
  int limit;
  std::atomic<int>* desks;
  order_source(int l, std::atomic<int>* d) : limit(l), desks(d) {}
  void handle_demand(std::size_t n, datamesh::context<order>& ctx) {
    static const char* regions[] = {"emea", "apac", "amer", "emea", "mars"};
    if (next == limit) return;
    for (; n > 0 && next < limit; --n, ++next) ctx.push(order{next, regions[next % 5]});
    if (next == limit) ctx.async_info(done{});  // behind every desk's queue
  }
  void handle_info(std::any& msg, datamesh::context<order>& ctx) {
    if (std::any_cast<done>(&msg)) ctx.stop();
  }
  void handle_subscribe(datamesh::peer_role, const datamesh::subscription&,
                        const datamesh::subscribe_options&, datamesh::context<order>&) {
    desks->fetch_add(1);
    desks->notify_all();
  }
};

/// Handles the orders of one region.
struct desk {
  std::string name;
  std::map<std::string, int>* handled;  // per region seen, written by this desk only
  void handle_events(std::span<const order> in) {
    for (const order& o : in) ++(*handled)[o.region];
  }
};

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const int orders = quick ? 1000 : 1'000'000;

  datamesh::runtime rt(datamesh::runtime_options{.threads = 2});
  std::atomic<int> desks{0};
  // Accumulate until every desk is in: an order for a desk that has not subscribed yet would go
  // to triage instead.
  auto router = rt.start<order_source>(
      {.demand = datamesh::producer_demand::accumulate,
       .dispatcher_options =
           order_source::dispatcher_type::options{.key = [](const order& o) { return o.region; },
                                                  .default_target = "triage"}},
      orders, &desks);

  const std::vector<std::string> names = {"emea", "apac", "amer", "triage"};
  std::vector<std::map<std::string, int>> handled(names.size());
  std::vector<datamesh::stage_handle<desk>> stages;
  for (std::size_t i = 0; i < names.size(); ++i) {
    stages.push_back(rt.start<desk>(desk{names[i], &handled[i]}));
    // The amer desk is slow to ask (max_demand 5): it gets its orders at its own pace.
    datamesh::subscribe(stages.back(), router,
                        {.max_demand = names[i] == "amer" ? 5u : 200u, .dispatch = names[i]});
  }
  for (int seen = desks.load(); seen < static_cast<int>(names.size()); seen = desks.load()) {
    desks.wait(seen);
  }
  datamesh::demand(router, datamesh::producer_demand::forward);
  for (auto& s : stages) s.wait();

  int total = 0;
  bool misrouted = false;
  for (std::size_t i = 0; i < names.size(); ++i) {
    std::cout << names[i] << " desk:";
    for (const auto& [region, n] : handled[i]) {
      std::cout << " " << region << "=" << n;
      total += n;
      const bool belongs = region == names[i] || (names[i] == "triage" && region == "mars");
      if (!belongs) misrouted = true;
    }
    std::cout << "\n";
  }
  std::cout << total << " of " << orders << " orders handled, "
            << (misrouted ? "some at the wrong desk" : "each at its region's desk") << "\n";
  return total == orders && !misrouted ? 0 : 1;
}
