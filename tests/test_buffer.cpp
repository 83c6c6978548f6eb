// buffer<T, Info>: the producer buffer with infos queued behind its events (SPEC sections D and
// E, rules 53-62). Events are ints standing for GenStage's atoms (a = 1, b = 2, ...), infos are
// strings.
#include <datamesh/buffer.hpp>

#include <doctest/doctest.h>

#include <cstddef>
#include <numeric>
#include <string>
#include <vector>

namespace {

using datamesh::buffer_keep;
using buf = datamesh::buffer<int, std::string>;
using events = std::vector<int>;
using infos = std::vector<std::string>;

enum : int { a = 1, b, c, d, e, f, g, h, i };

// Stores a copy of `evs` and checks that no info is released.
std::size_t store(buf& bf, events evs) {
  infos released;
  const std::size_t discarded = bf.store(evs, 0, released);
  CHECK(released.empty());
  return discarded;
}

bool store_info(buf& bf, const std::string& s) {
  std::string info = s;
  return bf.store_info(info);
}

struct taken {
  events evs;
  infos reached;
};

taken take(buf& bf, std::size_t n) {
  taken t;
  const std::size_t k = bf.take(n, t.evs, t.reached);
  CHECK(k == t.evs.size());
  return t;
}

// Takes everything, `n` at a time, and returns the events in order.
events drain(buf& bf, std::size_t n) {
  events all;
  while (!bf.empty()) {
    const taken t = take(bf, n);
    all.insert(all.end(), t.evs.begin(), t.evs.end());
  }
  return all;
}

}  // namespace

TEST_CASE("rule 53: the default buffer holds 10000 events and keeps the last") {
  buf bf;
  CHECK(bf.capacity() == 10'000);
  CHECK(bf.keep() == buffer_keep::last);
  CHECK(bf.empty());

  events many(10'000);
  for (std::size_t k = 0; k < many.size(); ++k) many[k] = static_cast<int>(k);
  CHECK(store(bf, many) == 0);
  CHECK(bf.size() == 10'000);
  CHECK(store(bf, {10'000}) == 1);
  CHECK(bf.size() == 10'000);
  const taken t = take(bf, 1);
  CHECK(t.evs == events{1});  // event 0 was the oldest and was dropped
}

TEST_CASE("rule 53: events up to the capacity are buffered without loss") {
  for (const buffer_keep keep : {buffer_keep::first, buffer_keep::last}) {
    CAPTURE(datamesh::to_string(keep));
    buf bf(5, keep);
    CHECK(bf.capacity() == 5);
    CHECK(bf.keep() == keep);
    CHECK(store(bf, {a, b}) == 0);
    CHECK(store(bf, {c, d, e}) == 0);
    CHECK(bf.size() == 5);
    CHECK(drain(bf, 10) == events{a, b, c, d, e});
  }
}

TEST_CASE("rule 54: keep last drops the oldest events on overflow") {
  buf bf(5, buffer_keep::last);
  CHECK(store(bf, {a, b, c, d, e}) == 0);
  CHECK(store(bf, {f, g, h}) == 3);
  CHECK(bf.size() == 5);
  CHECK(take(bf, 4).evs == events{d, e, f, g});
  CHECK(take(bf, 4).evs == events{h});
  CHECK(bf.empty());
}

TEST_CASE("rule 54: keep last with more incoming events than capacity keeps their tail") {
  buf bf(3, buffer_keep::last);
  CHECK(store(bf, {a, b}) == 0);
  CHECK(store(bf, {c, d, e, f, g}) == 4);
  CHECK(bf.size() == 3);
  CHECK(drain(bf, 10) == events{e, f, g});
}

TEST_CASE("rule 54: keep first drops the incoming events on overflow") {
  buf bf(5, buffer_keep::first);
  CHECK(store(bf, {a, b, c, d, e}) == 0);
  CHECK(store(bf, {f, g, h}) == 3);
  CHECK(bf.size() == 5);
  CHECK(take(bf, 4).evs == events{a, b, c, d});
  CHECK(take(bf, 4).evs == events{e});

  SUBCASE("and keeps the incoming events that still fit") {
    buf part(5, buffer_keep::first);
    CHECK(store(part, {a, b, c}) == 0);
    CHECK(store(part, {d, e, f, g}) == 2);
    CHECK(drain(part, 10) == events{a, b, c, d, e});
  }
}

TEST_CASE("rule 54: store takes events from the given offset on") {
  buf bf(10);
  events evs{a, b, c, d};
  infos released;
  CHECK(bf.store(evs, 2, released) == 0);
  CHECK(released.empty());
  CHECK(bf.size() == 2);
  CHECK(drain(bf, 10) == events{c, d});
  // Nothing past the end is nothing stored.
  CHECK(bf.store(evs, evs.size(), released) == 0);
  CHECK(bf.empty());
}

TEST_CASE("rule 56: an infinite buffer never drops anything") {
  for (const buffer_keep keep : {buffer_keep::first, buffer_keep::last}) {
    CAPTURE(datamesh::to_string(keep));
    buf bf(datamesh::infinity, keep);
    CHECK(bf.capacity() == datamesh::infinity);
    int next = 0;
    for (int round = 0; round < 30; ++round) {
      events chunk(1'000);
      for (auto& ev : chunk) ev = next++;
      CHECK(store(bf, chunk) == 0);
    }
    CHECK(bf.size() == 30'000);
    events expected(30'000);
    std::iota(expected.begin(), expected.end(), 0);
    CHECK(drain(bf, 7'000) == expected);
  }
}

TEST_CASE("rule 57: size counts buffered events, never queued infos") {
  buf bf(10);
  CHECK(store(bf, {a, b, c}) == 0);
  CHECK(store_info(bf, "d"));
  CHECK(store_info(bf, "e"));
  CHECK(bf.size() == 3);
  CHECK(store(bf, {f}) == 0);
  CHECK(bf.size() == 4);
  const taken t = take(bf, 10);
  CHECK(t.evs == events{a, b, c});
  CHECK(t.reached == infos{"d", "e"});
  CHECK(bf.size() == 1);
}

TEST_CASE("rule 58: the buffer is FIFO across stores and takes") {
  buf bf(100);
  CHECK(store(bf, {a, b}) == 0);
  CHECK(store(bf, {c}) == 0);
  CHECK(take(bf, 2).evs == events{a, b});
  CHECK(store(bf, {d, e, f}) == 0);
  CHECK(take(bf, 1).evs == events{c});
  CHECK(store(bf, {g, h, i}) == 0);
  CHECK(drain(bf, 2) == events{d, e, f, g, h, i});
  CHECK(take(bf, 5).evs.empty());
}

TEST_CASE("rule 59: store_info on an empty buffer returns false and leaves the info untouched") {
  buf bf(10);
  std::string info = "hello";
  CHECK_FALSE(bf.store_info(info));
  CHECK(info == "hello");
  CHECK(bf.empty());

  SUBCASE("and again once the buffer has been drained") {
    CHECK(store(bf, {a}) == 0);
    std::string queued = "queued";
    CHECK(bf.store_info(queued));
    CHECK(take(bf, 1).reached == infos{"queued"});
    std::string later = "later";
    CHECK_FALSE(bf.store_info(later));
    CHECK(later == "later");
  }
}

TEST_CASE("rule 60: infos come out FIFO among themselves and against the events") {
  buf bf(datamesh::infinity);
  CHECK(store(bf, {a, b, c}) == 0);
  CHECK(store_info(bf, "d"));
  CHECK(store_info(bf, "e"));
  CHECK(store_info(bf, "f"));
  CHECK(store(bf, {g, h}) == 0);
  CHECK(store_info(bf, "i"));

  // A take stops at the first queued info, then hands over the infos it reached.
  const taken first = take(bf, 5);
  CHECK(first.evs == events{a, b, c});
  CHECK(first.reached == infos{"d", "e", "f"});
  const taken second = take(bf, 5);
  CHECK(second.evs == events{g, h});
  CHECK(second.reached == infos{"i"});
  CHECK(bf.empty());
  const taken nothing = take(bf, 5);
  CHECK(nothing.evs.empty());
  CHECK(nothing.reached.empty());
}

TEST_CASE("rule 60: a demand smaller than the events before an info releases it later") {
  buf bf(datamesh::infinity);
  CHECK(store(bf, {a, b, c}) == 0);
  CHECK(store_info(bf, "x"));
  CHECK(store(bf, {d}) == 0);
  const taken first = take(bf, 2);
  CHECK(first.evs == events{a, b});
  CHECK(first.reached.empty());
  const taken second = take(bf, 2);
  CHECK(second.evs == events{c});
  CHECK(second.reached == infos{"x"});
  const taken third = take(bf, 2);
  CHECK(third.evs == events{d});
  CHECK(third.reached.empty());
}

TEST_CASE("rule 62: keep-last overflow releases the infos queued behind dropped events") {
  buf bf(5, buffer_keep::last);
  CHECK(store(bf, {a, b, c}) == 0);
  CHECK(store_info(bf, "x"));
  CHECK(store(bf, {d, e}) == 0);
  CHECK(store_info(bf, "y"));

  events incoming{f, g, h};
  infos released;
  CHECK(bf.store(incoming, 0, released) == 3);
  // a, b, c were dropped: x waited only for them and is released. y still waits for d, e.
  CHECK(released == infos{"x"});
  CHECK(bf.size() == 5);

  const taken first = take(bf, 10);
  CHECK(first.evs == events{d, e});
  CHECK(first.reached == infos{"y"});
  CHECK(take(bf, 10).evs == events{f, g, h});
}

TEST_CASE("rule 62: an overflow that drops every buffered event releases every info") {
  buf bf(2, buffer_keep::last);
  CHECK(store(bf, {a}) == 0);
  CHECK(store_info(bf, "x"));
  CHECK(store(bf, {b}) == 0);
  CHECK(store_info(bf, "y"));

  events incoming{c, d, e};
  infos released;
  CHECK(bf.store(incoming, 0, released) == 3);
  CHECK(released == infos{"x", "y"});
  const taken t = take(bf, 10);
  CHECK(t.evs == events{d, e});
  CHECK(t.reached.empty());
}

TEST_CASE("rule 62: keep-first overflow releases no info") {
  buf bf(3, buffer_keep::first);
  CHECK(store(bf, {a, b}) == 0);
  CHECK(store_info(bf, "x"));

  events incoming{c, d, e};
  infos released;
  CHECK(bf.store(incoming, 0, released) == 2);
  CHECK(released.empty());
  const taken t = take(bf, 10);
  CHECK(t.evs == events{a, b});
  CHECK(t.reached == infos{"x"});
  CHECK(take(bf, 10).evs == events{c});
}
