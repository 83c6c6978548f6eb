// consumer_demand: the consumer side of one automatic subscription (SPEC section C, rules 36-40).
// Pure policy, so a producer that answers asks is simulated with plain loops.
#include <datamesh/demand.hpp>

#include <doctest/doctest.h>

#include <cstddef>
#include <deque>
#include <limits>
#include <vector>

namespace {

using datamesh::consumer_demand;

struct batch {
  std::size_t offset;
  std::size_t size;
  std::size_t ask_after;
};

// Splits one incoming message of `count` events and records every batch.
std::vector<batch> split_all(consumer_demand& d, std::size_t count, std::size_t* excess = nullptr) {
  std::vector<batch> out;
  const std::size_t e = d.split(count, [&](std::size_t offset, std::size_t size, std::size_t ask) {
    out.push_back({offset, size, ask});
  });
  if (excess) *excess = e;
  return out;
}

std::vector<std::size_t> sizes_of(const std::vector<batch>& batches) {
  std::vector<std::size_t> sizes;
  for (const auto& b : batches) sizes.push_back(b.size);
  return sizes;
}

// What a consumer sees when its producer answers every ask with exactly one events message of
// the size asked, in the order asked.
struct conversation {
  std::vector<std::size_t> asks;     // every ask the consumer sent, the initial one first
  std::vector<std::size_t> batches;  // the size of every batch handed to handle_events
};

conversation converse(std::size_t max, std::size_t min, std::size_t messages) {
  consumer_demand d(max, min);
  conversation c;
  std::deque<std::size_t> unanswered;
  c.asks.push_back(d.initial_ask());
  unanswered.push_back(d.initial_ask());
  for (std::size_t i = 0; i < messages && !unanswered.empty(); ++i) {
    const std::size_t n = unanswered.front();
    unanswered.pop_front();
    std::size_t excess = 1;
    for (const auto& b : split_all(d, n, &excess)) {
      c.batches.push_back(b.size);
      if (b.ask_after > 0) {
        c.asks.push_back(b.ask_after);
        unanswered.push_back(b.ask_after);
      }
    }
    CHECK(excess == 0);  // an exact producer never sends more than asked
  }
  return c;
}

}  // namespace

TEST_CASE("add_demand adds demands and saturates at SIZE_MAX instead of wrapping") {
  constexpr std::size_t top = std::numeric_limits<std::size_t>::max();
  static_assert(datamesh::add_demand(2, 3) == 5);
  CHECK(datamesh::add_demand(0, 0) == 0);
  CHECK(datamesh::add_demand(top - 5, 5) == top);
  CHECK(datamesh::add_demand(3, top - 2) == top);
  CHECK(datamesh::add_demand(top, 1) == top);
  CHECK(datamesh::add_demand(std::size_t{1} << 63, std::size_t{1} << 63) == top);
  CHECK(datamesh::add_demand(std::size_t{1} << 62, std::size_t{1} << 62) == std::size_t{1} << 63);
}

TEST_CASE("rule 36: an automatic subscription first asks for max_demand") {
  struct row {
    std::size_t max, min;
  };
  for (const row r : {row{1000, 500}, row{100, 80}, row{100, 20}, row{7, 3}, row{1, 0}}) {
    CAPTURE(r.max);
    CAPTURE(r.min);
    const consumer_demand d(r.max, r.min);
    CHECK(d.initial_ask() == r.max);
    CHECK(d.outstanding() == r.max);
    CHECK(d.max_demand() == r.max);
    CHECK(d.min_demand() == r.min);
  }
}

TEST_CASE("rule 37: an incoming message is cut into batches of at most max minus min events") {
  struct row {
    std::size_t max, min;
    std::vector<std::size_t> sizes;
  };
  const std::vector<row> rows{
      {1000, 500, {500, 500}},
      {100, 80, {20, 20, 20, 20, 20}},
      {100, 20, {80, 20}},
  };
  for (const auto& r : rows) {
    CAPTURE(r.max);
    CAPTURE(r.min);
    consumer_demand d(r.max, r.min);
    const auto batches = split_all(d, r.max);
    CHECK(sizes_of(batches) == r.sizes);
    std::size_t expected_offset = 0;
    for (const auto& b : batches) {
      CHECK(b.offset == expected_offset);
      expected_offset += b.size;
    }
    CHECK(expected_offset == r.max);
  }
}

TEST_CASE("rule 37: a message shorter than one batch is handed over whole") {
  consumer_demand d(1000, 500);
  const auto batches = split_all(d, 42);
  REQUIRE(batches.size() == 1);
  CHECK(batches[0].offset == 0);
  CHECK(batches[0].size == 42);
  CHECK(batches[0].ask_after == 0);
  CHECK(d.outstanding() == 958);
}

TEST_CASE("rule 37: an empty message makes no batch and no ask") {
  consumer_demand d(10, 5);
  std::size_t excess = 1;
  CHECK(split_all(d, 0, &excess).empty());
  CHECK(excess == 0);
  CHECK(d.outstanding() == 10);
}

TEST_CASE("rule 38: the ask goes out after the batch that brings outstanding down to min") {
  consumer_demand d(1000, 500);
  const auto batches = split_all(d, 1000);
  REQUIRE(batches.size() == 2);
  // After the first 500, 500 are awaited: at min, so top back up to 1000.
  CHECK(batches[0].ask_after == 500);
  CHECK(batches[1].ask_after == 500);
  CHECK(d.outstanding() == 1000);
}

TEST_CASE("rule 38: with 7/3 the asks go 7, 4, 7, 4 and the batches 4, 3, 4, 4, 3") {
  const conversation c = converse(7, 3, 8);
  CHECK(c.asks == std::vector<std::size_t>{7, 4, 7, 4, 7, 4, 7, 4, 7});
  CHECK(c.batches == std::vector<std::size_t>{4, 3, 4, 4, 3, 4, 4, 3, 4, 4, 3, 4});
}

TEST_CASE("rule 38: with 10/5 and 1000/500 the asks go max, then half, half") {
  struct row {
    std::size_t max, min;
  };
  for (const row r : {row{10, 5}, row{1000, 500}}) {
    CAPTURE(r.max);
    const conversation c = converse(r.max, r.min, 6);
    std::vector<std::size_t> expected_asks{r.max};
    // Each message answers one ask, and every batch of max-min events triggers one more ask.
    // The first message holds two batches, each later one a single batch.
    for (int i = 0; i < 7; ++i) expected_asks.push_back(r.max - r.min);
    CHECK(c.asks == expected_asks);
    CHECK(c.batches == std::vector<std::size_t>(7, r.max - r.min));
  }
}

TEST_CASE("rule 38: outstanding never exceeds max_demand while an exact producer answers") {
  for (std::size_t max = 1; max <= 12; ++max) {
    for (std::size_t min = 0; min < max; ++min) {
      CAPTURE(max);
      CAPTURE(min);
      consumer_demand d(max, min);
      std::deque<std::size_t> unanswered{d.initial_ask()};
      std::size_t in_flight = d.initial_ask();  // asked and not yet delivered
      for (int i = 0; i < 20; ++i) {
        const std::size_t n = unanswered.front();
        unanswered.pop_front();
        in_flight -= n;
        std::size_t handled = 0;
        d.split(n, [&](std::size_t, std::size_t size, std::size_t ask) {
          handled += size;
          CHECK(size <= max - min);
          if (ask > 0) {
            unanswered.push_back(ask);
            in_flight += ask;
          }
        });
        CHECK(handled == n);
        CHECK(d.outstanding() == in_flight);
        CHECK(d.outstanding() <= max);
        CHECK(d.outstanding() > min);
      }
    }
  }
}

TEST_CASE("rule 39: with max 1 and min 0 events arrive and are asked for one at a time") {
  const conversation c = converse(1, 0, 10);
  CHECK(c.asks == std::vector<std::size_t>(11, 1));
  CHECK(c.batches == std::vector<std::size_t>(10, 1));

  SUBCASE("a message of several events is still handed over one by one") {
    consumer_demand d(1, 0);
    std::size_t excess = 0;
    const auto batches = split_all(d, 3, &excess);
    CHECK(sizes_of(batches) == std::vector<std::size_t>{1, 1, 1});
    CHECK(batches[0].ask_after == 1);
    CHECK(batches[1].offset == 1);
    CHECK(batches[2].offset == 2);
    CHECK(excess == 2);
  }
}

TEST_CASE("rule 40: events in excess are counted and still handed over in batches") {
  consumer_demand d(10, 5);
  std::size_t excess = 0;
  const auto batches = split_all(d, 15, &excess);
  CHECK(excess == 5);
  REQUIRE(batches.size() == 3);
  CHECK(batches[0].offset == 0);
  CHECK(batches[1].offset == 5);
  CHECK(batches[2].offset == 10);
  CHECK(sizes_of(batches) == std::vector<std::size_t>{5, 5, 5});
  // The first two batches are what was asked: each brings outstanding to min and asks again.
  CHECK(batches[0].ask_after == 5);
  CHECK(batches[1].ask_after == 5);
  // The excess batch is not counted against the asks made while splitting this message.
  CHECK(batches[2].ask_after == 0);
  CHECK(d.outstanding() == 10);
}

TEST_CASE("rule 40: excess inside a batch counts only the events beyond the demand") {
  consumer_demand d(7, 3);
  std::size_t excess = 0;
  const auto batches = split_all(d, 10, &excess);
  CHECK(excess == 3);
  CHECK(sizes_of(batches) == std::vector<std::size_t>{4, 4, 2});
  CHECK(batches[0].ask_after == 4);
  CHECK(batches[1].ask_after == 0);
  CHECK(batches[2].ask_after == 0);
  // 7 asked, 4 more after the first batch, 7 counted: 4 still awaited.
  CHECK(d.outstanding() == 4);
}
