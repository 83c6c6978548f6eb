// node_id: the type-erased, normalized id of a mesh node. Plain values, no runtime: spellings of
// one value name one id, kinds never mix, and ids hash, sort, print and match as documented.
#include <datamesh/error.hpp>
#include <datamesh/mesh/node_id.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <ostream>
#include <sstream>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

using datamesh::node_id;

namespace test_ids {

enum class color { red, green, blue };  // no operator<<: prints its integer

enum class stage_kind : unsigned char { source = 3, sink = 9 };
std::ostream& operator<<(std::ostream& os, stage_kind k) {
  return os << (k == stage_kind::source ? "source" : "sink");
}

// A user's own id type: ==, std::hash and operator<<, but no <.
struct shard {
  std::string region;
  int index = 0;
  friend bool operator==(const shard&, const shard&) = default;
  friend std::ostream& operator<<(std::ostream& os, const shard& s) {
    return os << s.region << '#' << s.index;
  }
};

// Only == and std::hash: prints as <id>.
struct opaque {
  int v = 0;
  friend bool operator==(const opaque&, const opaque&) = default;
};

}  // namespace test_ids

template <>
struct std::hash<test_ids::shard> {
  std::size_t operator()(const test_ids::shard& s) const noexcept {
    return std::hash<std::string>{}(s.region) * 31 + static_cast<std::size_t>(s.index);
  }
};
template <>
struct std::hash<test_ids::opaque> {
  std::size_t operator()(const test_ids::opaque& o) const noexcept {
    return static_cast<std::size_t>(o.v);
  }
};

using test_ids::color;
using test_ids::stage_kind;

TEST_CASE("node id: every integer type but bool is stored as std::int64_t") {
  const node_id seven(7);
  const node_id spellings[] = {
      node_id(7L),
      node_id(7LL),
      node_id(7U),
      node_id(7UL),
      node_id(7ULL),
      node_id(static_cast<short>(7)),
      node_id(static_cast<unsigned short>(7)),
      node_id(static_cast<std::int8_t>(7)),
      node_id(static_cast<std::uint8_t>(7)),
      node_id(static_cast<char>(7)),
      node_id(static_cast<char32_t>(7)),
      node_id(std::size_t{7}),
  };
  for (const node_id& id : spellings) {
    CAPTURE(id);
    CHECK(id == seven);
    CHECK(id.hash() == seven.hash());
    CHECK(id.type() == typeid(std::int64_t));
  }
  CHECK(node_id(-1) == node_id(std::int64_t{-1}));
  CHECK(node_id(-1) != node_id(1));

  // bool keeps its type
  CHECK(node_id(true).type() == typeid(bool));
  CHECK(node_id(true) == node_id(true));
  CHECK(node_id(true) != node_id(false));

  // unsigned values above INT64_MAX keep their value, and never meet a negative number
  const std::uint64_t big = std::numeric_limits<std::uint64_t>::max();
  CHECK(node_id(big).type() == typeid(std::uint64_t));
  CHECK(node_id(big) == node_id(static_cast<unsigned long long>(big)));
  CHECK(node_id(big) != node_id(-1));
  CHECK(node_id(big).str() == "18446744073709551615");
  CHECK(node_id(std::uint64_t{5}) == node_id(5));  // small ones are ordinary integers
}

TEST_CASE("node id: a string literal, a const char*, std::string and std::string_view are one id") {
  const char* pointer = "source";
  char buffer[] = "source";
  const node_id spellings[] = {
      node_id(pointer),
      node_id(buffer),
      node_id(std::string("source")),
      node_id(std::string_view("source")),
      node_id(std::string_view("sources").substr(0, 6)),
  };
  const node_id literal("source");
  CHECK(literal.type() == typeid(std::string));
  for (const node_id& id : spellings) {
    CAPTURE(id);
    CHECK(id == literal);
    CHECK(id.hash() == literal.hash());
  }
  CHECK(node_id("source") != node_id("sink"));
  CHECK(node_id("") == node_id(std::string()));
  CHECK_FALSE(node_id("").empty());
}

TEST_CASE("node id: a null const char* is refused with bad_options") {
  const char* null = nullptr;
  CHECK_THROWS_AS(node_id{null}, datamesh::error);
  try {
    node_id id(null);
    FAIL("no exception");
  } catch (const datamesh::error& e) {
    CHECK(e.code() == datamesh::errc::bad_options);
  }
  CHECK_FALSE(node_id("x").matches(null));
}

TEST_CASE("node id: a tuple and a pair with mixed spellings are one id") {
  const node_id a(std::tuple{"complex", 7});
  const node_id b(std::pair{std::string("complex"), 7L});
  const node_id c(std::make_tuple(std::string_view("complex"), 7U));
  const std::string name = "complex";
  const int n = 7;
  const node_id d(std::tie(name, n));
  CHECK(a.type() == typeid(std::tuple<std::string, std::int64_t>));
  for (const node_id* id : {&b, &c, &d}) {
    CAPTURE(*id);
    CHECK(*id == a);
    CHECK(id->hash() == a.hash());
  }

  // nested: a pair inside a tuple is a tuple too
  CHECK(node_id(std::tuple{std::pair{"room", 1}, true}) ==
        node_id(std::tuple{std::tuple{std::string("room"), 1L}, true}));

  // order and arity matter
  CHECK(node_id(std::tuple{7, "complex"}) != a);
  CHECK(node_id(std::tuple{"complex", 7, 0}) != a);
  CHECK(node_id(std::tuple{1, 2}).hash() != node_id(std::tuple{2, 1}).hash());
}

TEST_CASE("node id: values of different kinds are different ids") {
  struct row {
    node_id a, b;
  };
  const row rows[] = {
      {node_id(1), node_id("1")},
      {node_id(1), node_id(true)},
      {node_id(0), node_id(false)},
      {node_id(color::green), node_id(1)},
      {node_id(stage_kind::source), node_id(3)},
      {node_id(color::red), node_id(stage_kind::source)},
      {node_id(std::tuple{1}), node_id(1)},
      {node_id(std::tuple{"a", 1}), node_id(std::tuple{1, "a"})},
      {node_id(), node_id(0)},
      {node_id(), node_id("")},
      {node_id(test_ids::opaque{1}), node_id(1)},
  };
  for (const row& r : rows) {
    CAPTURE(r.a);
    CAPTURE(r.b);
    CHECK(r.a != r.b);
    CHECK(r.b != r.a);
    CHECK((r.a < r.b) != (r.b < r.a));  // unequal ids are ordered one way
  }
  CHECK(node_id(color::green) == node_id(color::green));
  CHECK(node_id(color::green) != node_id(color::blue));
}

TEST_CASE("node id: equal ids hash equal and serve as unordered_map and unordered_set keys") {
  std::unordered_map<node_id, int> nodes;
  nodes[node_id("source")] = 1;
  nodes[node_id(7)] = 2;
  nodes[node_id(std::tuple{"complex", 7})] = 3;
  nodes[node_id(color::blue)] = 4;
  nodes[node_id(test_ids::shard{"eu", 2})] = 5;

  CHECK(nodes.size() == 5);
  CHECK(nodes.at(std::string("source")) == 1);
  CHECK(nodes.at(7ULL) == 2);
  CHECK(nodes.at(std::pair{std::string_view("complex"), std::int64_t{7}}) == 3);
  CHECK(nodes.at(color::blue) == 4);
  CHECK(nodes.at(test_ids::shard{"eu", 2}) == 5);
  CHECK(nodes.count(node_id(8)) == 0);
  CHECK(nodes.count(node_id(color::red)) == 0);

  std::unordered_set<node_id> seen;
  CHECK(seen.insert(node_id(1)).second);
  CHECK_FALSE(seen.insert(node_id(1U)).second);
  CHECK(seen.insert(node_id("1")).second);
  CHECK(seen.insert(node_id()).second);
  CHECK_FALSE(seen.insert(node_id()).second);
  CHECK(seen.size() == 3);

  CHECK(std::hash<node_id>{}(node_id(std::tuple{"a", 1})) == node_id(std::pair{"a", 1}).hash());
}

TEST_CASE("node id: sorting puts the empty id first, then numbers, strings, then other types") {
  const std::vector<node_id> sorted = {
      node_id(),     node_id(-5),  node_id(0),
      node_id(2),    node_id(10),  node_id(std::numeric_limits<std::uint64_t>::max()),
      node_id("a"),  node_id("b"), node_id("b1"),
      node_id("ba"),
  };
  CHECK(std::is_sorted(sorted.begin(), sorted.end()));

  // every permutation sorts back to the same sequence
  std::vector<node_id> shuffled = sorted;
  std::reverse(shuffled.begin(), shuffled.end());
  std::rotate(shuffled.begin(), shuffled.begin() + 3, shuffled.end());
  std::sort(shuffled.begin(), shuffled.end());
  CHECK(shuffled == sorted);

  // ids of other types: grouped by type, each group in its own order, the same every time
  std::vector<node_id> mixed = {
      node_id(color::blue),       node_id(std::tuple{"b", 1}), node_id(true),
      node_id(color::red),        node_id(std::tuple{"a", 2}), node_id(false),
      node_id(std::tuple{"a", 1})};
  std::vector<node_id> again(mixed.rbegin(), mixed.rend());
  std::sort(mixed.begin(), mixed.end());
  std::sort(again.begin(), again.end());
  CHECK(mixed == again);
  auto before = [&](const node_id& x, const node_id& y) {
    return std::find(mixed.begin(), mixed.end(), x) < std::find(mixed.begin(), mixed.end(), y);
  };
  CHECK(before(node_id(color::red), node_id(color::blue)));
  CHECK(before(node_id(false), node_id(true)));
  CHECK(before(node_id(std::tuple{"a", 1}), node_id(std::tuple{"a", 2})));
  CHECK(before(node_id(std::tuple{"a", 2}), node_id(std::tuple{"b", 1})));

  // a type without < sorts by its printed form; and the order is usable as a std::map key
  CHECK(node_id(test_ids::shard{"eu", 2}) < node_id(test_ids::shard{"us", 1}));
  std::map<node_id, int> by_order{{node_id(2), 0}, {node_id(1L), 0}, {node_id("z"), 0}};
  CHECK(by_order.begin()->first == node_id(1));
  CHECK((node_id(3) <=> node_id(3U)) == std::weak_ordering::equivalent);
  CHECK(node_id(3) <= node_id(4));
  CHECK(node_id("b") > node_id("a"));
}

TEST_CASE("node id: str() and operator<< print the value") {
  struct row {
    node_id id;
    std::string text;
  };
  const row rows[] = {
      {node_id(7), "7"},
      {node_id(-42L), "-42"},
      {node_id('A'), "65"},  // a char is a number
      {node_id("source"), "source"},
      {node_id(std::string("with space")), "with space"},
      {node_id(true), "true"},
      {node_id(false), "false"},
      {node_id(std::tuple{"complex", 7}), "(complex, 7)"},
      {node_id(std::tuple{std::pair{"room", 1}, true, 'x'}), "((room, 1), true, 120)"},
      {node_id(std::tuple{}), "()"},
      {node_id(color::blue), "2"},
      {node_id(stage_kind::sink), "sink"},
      {node_id(std::tuple{stage_kind::source, color::green}), "(source, 1)"},
      {node_id(test_ids::shard{"eu", 3}), "eu#3"},
      {node_id(test_ids::opaque{3}), "<id>"},
      {node_id(), "<none>"},
  };
  for (const row& r : rows) {
    CHECK(r.id.str() == r.text);
    std::ostringstream os;
    os << r.id;
    CHECK(os.str() == r.text);
  }
}

TEST_CASE("node id: a user type with ==, std::hash and operator<< is an id of its own type") {
  const node_id a(test_ids::shard{"eu", 1});
  const node_id b(test_ids::shard{"eu", 1});
  CHECK(a == b);
  CHECK(a.hash() == b.hash());
  CHECK(a != node_id(test_ids::shard{"eu", 2}));
  CHECK(a != node_id("eu#1"));  // prints the same, but is not the same id
  CHECK(a.type() == typeid(test_ids::shard));
  REQUIRE(a.get<test_ids::shard>() != nullptr);
  CHECK(a.get<test_ids::shard>()->index == 1);
  CHECK(node_id(std::tuple{test_ids::shard{"us", 4}, 1}).str() == "(us#4, 1)");

  // only == and std::hash: still an id, printed as <id>, ordered by hash
  CHECK(node_id(test_ids::opaque{1}) == node_id(test_ids::opaque{1}));
  CHECK(node_id(test_ids::opaque{1}) != node_id(test_ids::opaque{2}));
  CHECK(node_id(test_ids::opaque{1}) < node_id(test_ids::opaque{2}));
}

TEST_CASE("node id: get<T>() gives the value only for its normalized type") {
  const node_id n(7U);
  REQUIRE(n.get<std::int64_t>() != nullptr);
  CHECK(*n.get<std::int64_t>() == 7);
  CHECK(n.get<std::string>() == nullptr);
  CHECK(n.get<bool>() == nullptr);
  CHECK(n.get<std::uint64_t>() == nullptr);

  const node_id s("source");
  REQUIRE(s.get<std::string>() != nullptr);
  CHECK(*s.get<std::string>() == "source");
  CHECK(s.get<std::int64_t>() == nullptr);

  const node_id t(std::pair{"complex", 7});
  using pair_type = std::tuple<std::string, std::int64_t>;
  REQUIRE(t.get<pair_type>() != nullptr);
  CHECK(*t.get<pair_type>() == pair_type{"complex", 7});

  const node_id e(color::green);
  REQUIRE(e.get<color>() != nullptr);
  CHECK(*e.get<color>() == color::green);
  CHECK(e.get<stage_kind>() == nullptr);
  CHECK(e.get<std::int64_t>() == nullptr);

  const node_id big(std::numeric_limits<std::uint64_t>::max());
  REQUIRE(big.get<std::uint64_t>() != nullptr);
  CHECK(big.get<std::int64_t>() == nullptr);

  CHECK(node_id().get<std::int64_t>() == nullptr);
}

TEST_CASE("node id: matches(k) agrees with == node_id(k)") {
  const std::string source = "source";
  const char* source_ptr = "source";
  const std::vector<node_id> stored = {
      node_id(),
      node_id(7),
      node_id(-1),
      node_id(0),
      node_id(true),
      node_id("source"),
      node_id("7"),
      node_id(""),
      node_id(color::green),
      node_id(stage_kind::source),
      node_id(std::tuple{"complex", 7}),
      node_id(std::tuple{std::tuple{"a", 1}, color::red}),
      node_id(test_ids::shard{"eu", 1}),
      node_id(std::numeric_limits<std::uint64_t>::max()),
  };
  const auto probes = std::make_tuple(
      7, 7L, 7U, std::size_t{7}, static_cast<char>(7), -1, std::int64_t{-1}, 0, true, false,
      "source", source_ptr, source, std::string_view(source), "7", "", std::string(), color::green,
      color::red, stage_kind::source, std::tuple{"complex", 7}, std::pair{source, 7L},
      std::tuple{"complex", 8}, std::tuple{std::pair{"a", 1U}, color::red},
      std::tuple{std::pair{"a", 2U}, color::red}, test_ids::shard{"eu", 1},
      test_ids::shard{"eu", 2}, std::numeric_limits<std::uint64_t>::max(),
      std::numeric_limits<std::uint64_t>::max() - 1);

  int matched = 0;
  for (const node_id& id : stored) {
    std::apply(
        [&](const auto&... k) {
          auto check = [&](const auto& probe) {
            const node_id made(probe);
            CAPTURE(id);
            CAPTURE(made);
            CHECK(id.matches(probe) == (id == made));
            matched += id.matches(probe) ? 1 : 0;
          };
          (check(k), ...);
        },
        probes);
    CHECK(id.matches(id));
  }
  CHECK(matched > 15);  // the table is not all misses
}

TEST_CASE("node id: the empty id is empty, prints <none>, equals only itself and sorts first") {
  const node_id none;
  CHECK(none.empty());
  CHECK(none.str() == "<none>");
  CHECK(none.type() == typeid(void));
  CHECK(none == node_id());
  CHECK(none.hash() == node_id().hash());
  CHECK(none < node_id(std::numeric_limits<std::int64_t>::min()));
  CHECK_FALSE(none < node_id());
  CHECK_FALSE(none.matches(0));
  CHECK_FALSE(none.matches(""));

  node_id id("source");
  const node_id copy = id;
  CHECK_FALSE(id.empty());
  CHECK(copy == id);
  const node_id moved = std::move(id);
  CHECK(moved == copy);
  CHECK(id.empty());  // NOLINT(bugprone-use-after-move): a moved-from id is empty, as documented
  id = moved;
  CHECK(id == copy);
}
