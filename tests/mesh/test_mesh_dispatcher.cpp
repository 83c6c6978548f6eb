// The mesh dispatcher as pure policy: broadcasts reach every link at the pace of the slowest,
// targeted events reach one link at its pace, order is kept, a late link never sees earlier
// events, and what goes upstream stays within the smallest link demand.
#include <datamesh/mesh/mesh_dispatcher.hpp>

#include <doctest/doctest.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

using namespace datamesh;

namespace {

constexpr std::uint32_t all = mesh_targets::everyone;

/// An event as a node's logic makes it: a datum, broadcast or sent to one link.
struct ev {
  int data;
  std::uint32_t to = all;
};

/// A dispatcher with its sends recorded per subscription, and helpers to make events.
struct rig {
  std::shared_ptr<mesh_targets> targets = std::make_shared<mesh_targets>();
  mesh_dispatcher<int> d{mesh_dispatcher<int>::options{targets, 8}};
  std::map<subscription_id, std::vector<int>> got;
  std::size_t upstream = d.initial_demand();

  std::size_t link(subscription_id id, std::uint32_t key, selector<int> s = {}) {
    return d.subscribe(id, subscribe_options{.dispatch = mesh_link<int>{key, std::move(s)}});
  }
  /// An event as the node makes it.
  static ev make(int v, std::uint32_t to = all) { return ev{v, to}; }
  void record(subscription_id id, std::vector<int>&& batch) {
    got[id].insert(got[id].end(), batch.begin(), batch.end());
  }
  /// Dispatches the events' data, their sends noted as a node's stage notes them; returns how
  /// many events are held, and adds what drain owes upstream.
  std::size_t dispatch(const std::vector<ev>& events) {
    std::vector<int> data;
    for (const auto& e : events) {
      if (e.to != all) targets->sends.emplace_back(data.size(), e.to);
      data.push_back(e.data);
    }
    d.dispatch(data, [&](subscription_id id, std::vector<int>&& b) { record(id, std::move(b)); });
    CHECK(data.empty());            // the dispatcher takes every event
    CHECK(targets->sends.empty());  // and the sends noted among them
    drain();
    return d.queued();
  }
  /// An ask that may release held events.
  std::size_t ask(subscription_id id, std::size_t n) {
    const std::size_t up =
        d.ask(id, n, [&](subscription_id to, std::vector<int>&& b) { record(to, std::move(b)); });
    drain();
    return up;
  }
  void drain() {
    d.drain([](subscription_id, std::size_t) {},
            [&](std::any&& msg) { infos.push_back(std::any_cast<std::string>(msg)); },
            [&](std::size_t n) { upstream += n; });
  }
  std::vector<std::string> infos;
};

}  // namespace

TEST_CASE("mesh dispatcher: a node without links is given its unlinked window") {
  rig r;
  CHECK(r.upstream == 8);
  CHECK(r.d.link_count() == 0);
}

TEST_CASE("F5: the unlinked window ends with the first link: the node runs no further ahead") {
  rig r;
  CHECK(r.d.take_back() == 0);
  r.link(1, 10);
  CHECK(r.d.take_back() == 8);  // what the window gave and was not used is taken back
  CHECK(r.d.take_back() == 0);
  CHECK(r.d.waiting() == 0);
  CHECK(r.ask(1, 3) == 3);
  r.link(2, 20);  // a second link takes nothing back: the first one's demand was asked
  CHECK(r.d.take_back() == 0);
}

TEST_CASE("mesh dispatcher: a broadcast reaches every link, at the pace of the slowest") {
  rig r;
  CHECK(r.link(1, 10) == 0);
  CHECK(r.link(2, 20) == 0);
  // The unlinked window ended with the first link: the smaller demand goes upstream.
  CHECK(r.d.ask(1, 5) == 0);
  CHECK(r.d.ask(2, 3) == 3);
  CHECK(r.dispatch({r.make(1), r.make(2), r.make(3), r.make(4)}) == 1);
  CHECK(r.got[1] == std::vector<int>{1, 2, 3});
  CHECK(r.got[2] == std::vector<int>{1, 2, 3});
  // 4 is held for link 2; its ask releases it.
  r.ask(2, 4);
  CHECK(r.d.queued() == 0);
  CHECK(r.got[1] == std::vector<int>{1, 2, 3, 4});
  CHECK(r.got[2] == std::vector<int>{1, 2, 3, 4});
  CHECK(r.d.demand_of(10) == 1);
  CHECK(r.d.demand_of(20) == 3);
}

TEST_CASE("mesh dispatcher: upstream demand is the smallest link demand less what is awaited") {
  rig r;
  r.link(1, 10);
  r.dispatch({});  // spends nothing
  r.d.ask(1, 20);
  // 8 were granted while unlinked; link 1's 20 allow 12 more.
  CHECK(r.d.waiting() == 20);
  r.link(2, 20);
  CHECK(r.d.ask(2, 30) == 0);  // the smaller link (20) bounds it
  std::vector<ev> batch;
  for (int i = 0; i < 20; ++i) batch.push_back(r.make(i));
  const std::size_t before = r.upstream;
  CHECK(r.dispatch(batch) == 0);
  CHECK(r.upstream == before);  // link 1 has no demand left: nothing more upstream
  CHECK(r.d.ask(1, 5) == 5);
}

TEST_CASE("mesh dispatcher: a targeted event reaches only its link, at that link's pace") {
  rig r;
  r.link(1, 10);
  r.link(2, 20);
  r.d.ask(1, 2);
  r.d.ask(2, 10);
  CHECK(r.dispatch({r.make(1, 20), r.make(2, 20), r.make(3, 10), r.make(4, 20)}) == 0);
  CHECK(r.got[1] == std::vector<int>{3});
  CHECK(r.got[2] == std::vector<int>{1, 2, 4});
  // Link 1 has 1 demand left: a second event for it is held, and so is the one after it, even
  // though link 2 has demand (order is kept).
  CHECK(r.dispatch({r.make(5, 10), r.make(6, 10), r.make(7, 20)}) == 2);
  CHECK(r.got[1] == std::vector<int>{3, 5});
  CHECK(r.got[2] == std::vector<int>{1, 2, 4});
  r.ask(1, 1);
  CHECK(r.got[1] == std::vector<int>{3, 5, 6});
  CHECK(r.got[2] == std::vector<int>{1, 2, 4, 7});
}

TEST_CASE("mesh dispatcher: broadcasts, sends and broadcasts in one batch keep their order") {
  // The leading broadcasts go in bulk; what follows a send is routed one by one, and the first
  // event without demand holds the rest, whichever way it was reached.
  rig r;
  r.link(1, 10);
  r.link(2, 20);
  r.d.ask(1, 4);
  r.d.ask(2, 10);
  CHECK(r.dispatch({r.make(1), r.make(2), r.make(3, 20), r.make(4), r.make(5), r.make(6)}) == 1);
  CHECK(r.got[1] == std::vector<int>{1, 2, 4, 5});
  CHECK(r.got[2] == std::vector<int>{1, 2, 3, 4, 5});  // 6 waits for link 1's demand
  CHECK(r.d.demand_of(10) == 0);
  CHECK(r.d.demand_of(20) == 5);
  r.ask(1, 1);
  CHECK(r.d.queued() == 0);
  CHECK(r.got[1] == std::vector<int>{1, 2, 4, 5, 6});
  CHECK(r.got[2] == std::vector<int>{1, 2, 3, 4, 5, 6});
}

TEST_CASE("mesh dispatcher: a link made after an event was made never receives it") {
  rig r;
  r.link(1, 10);
  r.d.ask(1, 1);
  // 2 and 3 are held for link 1 when link 2 is made: they were made before it.
  CHECK(r.dispatch({r.make(1), r.make(2), r.make(3, 10)}) == 2);
  r.link(2, 20);
  r.ask(2, 10);
  CHECK(r.dispatch({r.make(4), r.make(5, 20)}) == 4);  // behind the held ones
  CHECK(r.got[2].empty());
  r.ask(1, 10);
  CHECK(r.d.queued() == 0);
  CHECK(r.got[1] == std::vector<int>{1, 2, 3, 4});
  CHECK(r.got[2] == std::vector<int>{4, 5});
  // Behind nothing held, a batch goes to both at once.
  CHECK(r.dispatch({r.make(6)}) == 0);
  CHECK(r.got[1] == std::vector<int>{1, 2, 3, 4, 6});
  CHECK(r.got[2] == std::vector<int>{4, 5, 6});
}

TEST_CASE("mesh dispatcher: a selector filters the broadcasts a link receives, not its sends") {
  rig r;
  r.link(1, 10, [](const int& x) { return x % 2 == 0; });
  r.link(2, 20);
  r.d.ask(1, 10);
  r.d.ask(2, 10);
  CHECK(r.dispatch({r.make(1), r.make(2), r.make(3), r.make(5, 10)}) == 0);
  CHECK(r.got[1] == std::vector<int>{2, 5});
  CHECK(r.got[2] == std::vector<int>{1, 2, 3});
}

TEST_CASE("mesh dispatcher: an event no link takes is dropped and counted, and asked again") {
  rig r;
  r.link(1, 10, [](const int&) { return false; });
  r.d.ask(1, 10);
  const std::size_t before = r.upstream;
  CHECK(r.dispatch({r.make(1), r.make(2, 99)}) == 0);
  CHECK(r.d.dropped() == 2);
  CHECK(r.got.empty());
  CHECK(r.upstream == before + 2);  // link 1's demand is untouched: two more may come
}

TEST_CASE("mesh dispatcher: removing a link frees the others, the last gives the window back") {
  rig r;
  r.link(1, 10);
  r.link(2, 20);
  r.d.ask(1, 100);
  r.d.ask(2, 10);
  CHECK(r.d.waiting() == 10);
  CHECK(r.d.cancel(2) == 90);  // link 1 alone now bounds it
  std::vector<ev> batch;
  for (int i = 0; i < 100; ++i) batch.push_back(r.make(i));
  CHECK(r.dispatch(batch) == 0);
  CHECK(r.d.cancel(1) == 8);  // no link: the unlinked window again
}

TEST_CASE("mesh dispatcher: a second link to the same node, or no mesh_link, is refused") {
  rig r;
  r.link(1, 10);
  CHECK_THROWS_AS(r.link(2, 10), error);
  CHECK_THROWS_AS(r.d.check_subscribe(subscribe_options{}), error);
  CHECK_THROWS_AS(r.d.check_subscribe(subscribe_options{.dispatch = 3}), error);
  CHECK_THROWS_AS(r.d.check_subscribe(subscribe_options{.dispatch = mesh_link<int>{all, {}}}),
                  error);
  CHECK(r.d.link_count() == 1);
}

TEST_CASE("mesh dispatcher: an info waits for the events held before it") {
  rig r;
  r.link(1, 10);
  r.ask(1, 1);
  CHECK(r.dispatch({r.make(1), r.make(2)}) == 1);
  r.d.info(std::string("after 2"),
           [&](std::any&& m) { r.infos.push_back(std::any_cast<std::string>(m)); });
  r.drain();
  CHECK(r.infos.empty());
  r.ask(1, 1);
  CHECK(r.got[1] == std::vector<int>{1, 2});
  CHECK(r.infos == std::vector<std::string>{"after 2"});
}

TEST_CASE(
    "F4: cancelling the slowest link releases what was held for it to the links that remain") {
  rig r;
  r.link(1, 10);  // fast
  r.link(2, 20);  // slow
  r.ask(1, 10);   // the slow link asks nothing
  // The slow link has no demand: all of these are held, in order.
  CHECK(r.dispatch({r.make(1), r.make(2), r.make(3), r.make(4), r.make(5), r.make(6), r.make(7),
                    r.make(8), r.make(9, 20)}) == 9);
  CHECK(r.got[1].empty());
  r.upstream = 0;
  const std::size_t up =
      r.d.cancel(2, [&](subscription_id id, std::vector<int>&& b) { r.record(id, std::move(b)); });
  r.drain();
  // The broadcasts reach the fast link at once, the event sent to the departed link alone is
  // dropped and counted, and the demand the fast link has left goes upstream.
  CHECK(r.got[1] == std::vector<int>{1, 2, 3, 4, 5, 6, 7, 8});
  CHECK(r.got[2].empty());
  CHECK(r.d.queued() == 0);
  CHECK(r.d.dropped() == 1);
  CHECK(r.d.demand_of(10) == 2);
  // The window granted at start (8) was taken by the 9 events: the 2 left are new demand.
  CHECK(up == 2);
}

TEST_CASE("F5: a link whose receiver is away keeps its place: events wait for it, none is lost") {
  rig r;
  r.link(1, 10);
  r.link(2, 20);
  r.ask(1, 4);
  r.ask(2, 4);
  CHECK(r.dispatch({r.make(1), r.make(2)}) == 0);
  // Link 2's receiver restarts: its node's stage marks it away before the cancel reaches here.
  r.targets->away.push_back(20);
  r.upstream = 0;
  CHECK(r.d.cancel(
            2, [&](subscription_id id, std::vector<int>&& b) { r.record(id, std::move(b)); }) == 0);
  CHECK(r.d.away() == 1);
  CHECK(r.d.link_count() == 2);
  // The node runs at the pace of the place kept: no unlinked window, no demand upstream.
  CHECK(r.dispatch({r.make(3), r.make(4, 20), r.make(5)}) == 3);
  CHECK(r.got[1] == std::vector<int>{1, 2});
  CHECK(r.upstream == 0);
  // Back under a new subscription with the same key: what was held for it arrives, in order.
  CHECK(r.link(3, 20) == 0);
  CHECK(r.d.away() == 0);
  CHECK(r.targets->away.empty());
  r.ask(3, 4);
  CHECK(r.got[3] == std::vector<int>{3, 4, 5});
  CHECK(r.got[1] == std::vector<int>{1, 2, 3, 5});
  CHECK(r.d.queued() == 0);
  CHECK(r.d.dropped() == 0);
}

TEST_CASE(
    "F5: a withdrawn place releases what it held: the others get theirs, its own is counted") {
  rig r;
  r.link(1, 10);
  r.link(2, 20);
  r.ask(1, 8);
  r.targets->away.push_back(20);
  auto send = [&](subscription_id id, std::vector<int>&& b) { r.record(id, std::move(b)); };
  CHECK(r.d.cancel(2, send) == 0);
  CHECK(r.dispatch({r.make(1), r.make(2, 20), r.make(3)}) == 3);
  std::any other = std::string("not a note");
  CHECK(r.d.note(other, send) == 0);  // anything else is not for it
  CHECK(r.d.away() == 1);
  std::any note = link_withdrawn{20};
  r.upstream = 0;
  const std::size_t up = r.d.note(note, send);
  CHECK(r.d.away() == 0);
  CHECK(r.targets->withdrawn);
  CHECK(r.targets->away.empty());
  CHECK(r.got[1] == std::vector<int>{1, 3});
  CHECK(r.d.dropped() == 1);  // the send to the link withdrawn
  CHECK(r.d.queued() == 0);
  // Link 1 alone bounds the node again: its demand left (6) goes upstream.
  CHECK(r.d.waiting() == 6);
  CHECK(up == 6);
  CHECK(r.d.note(note, send) == 0);  // a second note finds no place: nothing happens
}

TEST_CASE("F5: a cancel whose receiver will not come back removes the link as before") {
  rig r;
  r.link(1, 10);
  r.ask(1, 2);
  r.targets->away.push_back(99);  // another key's receiver is away, not this one
  auto send = [&](subscription_id id, std::vector<int>&& b) { r.record(id, std::move(b)); };
  r.d.cancel(1, send);
  CHECK(r.d.link_count() == 0);
  CHECK(r.d.away() == 0);
}

TEST_CASE("F5: a restarted node starts with the places of its links kept, and no window") {
  auto targets = std::make_shared<mesh_targets>();
  mesh_dispatcher<int> d(mesh_dispatcher<int>::options{targets, 8, {10, 20}});
  CHECK(d.initial_demand() == 0);
  CHECK(d.away() == 2);
  CHECK(targets->away == std::vector<std::uint32_t>{10, 20});
  d.subscribe(1, subscribe_options{.dispatch = mesh_link<int>{10, {}}});
  CHECK(d.ask(1, 5) == 0);  // link 20 is not back yet
  d.subscribe(2, subscribe_options{.dispatch = mesh_link<int>{20, {}}});
  CHECK(d.ask(2, 3) == 3);  // both back: the smaller demand goes upstream
  CHECK(d.away() == 0);
}
