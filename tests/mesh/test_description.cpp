// Mesh descriptions: the text form read and written back, mistakes reported by line, and
// start_mesh building a mesh from a catalog all or nothing, on a deterministic executor.
#include <datamesh/mesh/description.hpp>

#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "support/harness.hpp"
#include "support/mesh.hpp"

using namespace datamesh;
using dmtest::fixture;
using namespace dmtest::mesh_logic;

namespace {

/// A sink recording into the vector its prototype points at: a logic without state or init.
struct catalog_recorder {
  std::vector<int>* out = nullptr;
  void process(const int& x, node_context<void>&) { out->push_back(x); }
};

struct caught {
  errc code{};
  std::string what;
};

caught catch_error(auto&& f) {
  try {
    f();
  } catch (const error& e) {
    return {static_cast<errc>(e.code().value()), e.what()};
  }
  return {};
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

/// Whether two descriptions agree on what the text form says.
bool same_text_form(const mesh_description& a, const mesh_description& b) {
  if (a.nodes.size() != b.nodes.size() || a.links.size() != b.links.size()) return false;
  for (std::size_t i = 0; i < a.nodes.size(); ++i) {
    const auto& x = a.nodes[i];
    const auto& y = b.nodes[i];
    if (x.id != y.id || x.logic != y.logic || x.args.size() != y.args.size() ||
        x.options.restart != y.options.restart ||
        x.options.inlet_capacity != y.options.inlet_capacity ||
        x.options.inlet_batch != y.options.inlet_batch) {
      return false;
    }
  }
  for (std::size_t i = 0; i < a.links.size(); ++i) {
    const auto& x = a.links[i];
    const auto& y = b.links[i];
    if (x.from != y.from || x.to != y.to || x.options.max_demand != y.options.max_demand ||
        x.options.min_demand != y.options.min_demand) {
      return false;
    }
  }
  return true;
}

using links_t = std::vector<std::pair<node_id, node_id>>;

}  // namespace

TEST_CASE("description: ids of every kind") {
  const auto d = parse_mesh_description(R"(
node 7 = a
node -3 = a
node sensor-1.x:y = a
node "two words \"quoted\" \\ back" = a
node "7" = a
node ("sink", 7) = a
node (1, -2, c) = a
node (solo) = a
)");
  REQUIRE(d.nodes.size() == 8);
  CHECK(d.nodes[0].id == node_id(7));
  CHECK(d.nodes[1].id == node_id(-3));
  CHECK(d.nodes[2].id == node_id("sensor-1.x:y"));
  CHECK(d.nodes[3].id == node_id("two words \"quoted\" \\ back"));
  CHECK(d.nodes[4].id == node_id("7"));
  CHECK(d.nodes[4].id != node_id(7));
  CHECK(d.nodes[5].id == node_id(std::tuple{"sink", 7}));
  CHECK(d.nodes[6].id == node_id(std::tuple{1, -2, "c"}));
  CHECK(d.nodes[7].id == node_id(std::tuple{"solo"}));
  for (const auto& n : d.nodes) CHECK(n.logic == "a");
}

TEST_CASE("description: a link written without spaces around '->'") {
  const auto d = parse_mesh_description("link a->b\nlink 1->(x, 2)\n");
  REQUIRE(d.links.size() == 2);
  CHECK(d.links[0].from == node_id("a"));
  CHECK(d.links[0].to == node_id("b"));
  CHECK(d.links[1].from == node_id(1));
  CHECK(d.links[1].to == node_id(std::tuple{"x", 2}));
}

TEST_CASE("description: arguments of every kind") {
  const auto d = parse_mesh_description(
      R"(node f = threshold(threshold = 10.5, unit = "C", strict = true, window = 20, )"
      R"(low = -4, big = 1e3, off = false, "odd name" = "a\nb"))");
  REQUIRE(d.nodes.size() == 1);
  const node_args& a = d.nodes[0].args;
  CHECK(a.size() == 8);
  CHECK(a.get<double>("threshold") == 10.5);
  CHECK(a.get<std::string>("unit") == "C");
  CHECK(a.get<bool>("strict"));
  CHECK(a.get<std::int64_t>("window") == 20);
  CHECK(a.get<std::int64_t>("low") == -4);
  CHECK(a.get<double>("big") == 1000.0);
  CHECK_THROWS_AS(a.get<std::int64_t>("big"), error);  // 1e3 is a floating number
  CHECK_FALSE(a.get<bool>("off"));
  CHECK(a.get<std::string>("odd name") == "a\nb");
  CHECK(parse_mesh_description("node f = g()").nodes[0].args.size() == 0);
}

TEST_CASE("description: node and link options, defaults for the rest") {
  const auto d = parse_mesh_description(R"(
node a = x [restart = transient, inlet_capacity = 500, inlet_batch = 200]
node b = x [restart = permanent]
node c = x [restart = temporary]
node d = x
link a -> b [max_demand = 100, min_demand = 0]
link b -> c
)");
  REQUIRE(d.nodes.size() == 4);
  CHECK(d.nodes[0].options.restart == restart_type::transient);
  CHECK(d.nodes[0].options.inlet_capacity == 500);
  CHECK(d.nodes[0].options.inlet_batch == 200);
  CHECK(d.nodes[1].options.restart == restart_type::permanent);
  CHECK(d.nodes[1].options.inlet_capacity == node_options{}.inlet_capacity);
  CHECK(d.nodes[2].options.restart == restart_type::temporary);
  CHECK(d.nodes[3].options.restart == restart_type::temporary);  // the default
  CHECK(d.nodes[3].options.inlet_batch == node_options{}.inlet_batch);
  REQUIRE(d.links.size() == 2);
  CHECK(d.links[0].options.max_demand == 100);
  CHECK(d.links[0].options.min_demand == std::optional<std::size_t>(0));
  CHECK(d.links[1].options.max_demand == link_options{}.max_demand);
  CHECK_FALSE(d.links[1].options.min_demand.has_value());
}

TEST_CASE("description: max_demand, inlet_batch's old name, is read and written as inlet_batch") {
  const auto d = parse_mesh_description("node a = x [max_demand = 7]\n");
  REQUIRE(d.nodes.size() == 1);
  CHECK(d.nodes[0].options.inlet_batch == 7);
  CHECK(to_text(d) == "node a = x [inlet_batch = 7]\n");
}

TEST_CASE("description: comments, blank lines and CRLF line ends are ignored") {
  const auto d = parse_mesh_description(
      "# a sensor network\r\n\r\n   \t\nnode a = x # the source\r\nnode \"#b\" = y\nlink a -> "
      "\"#b\"  # done");
  REQUIRE(d.nodes.size() == 2);
  CHECK(d.nodes[1].id == node_id("#b"));
  REQUIRE(d.links.size() == 1);
  CHECK(d.links[0].to == node_id("#b"));
  CHECK(parse_mesh_description("").nodes.empty());
}

TEST_CASE("description: to_text reads back to the same description") {
  mesh_description d;
  d.nodes.push_back({7, "source", {}, {}});
  d.nodes.push_back({"sensor-1", "source", {}, {.inlet_capacity = 3, .inlet_batch = 2}});
  d.nodes.push_back(
      {"needs \"quotes\"\nand a newline", "relay", {}, {.restart = restart_type::transient}});
  d.nodes.push_back({"a->b", "relay", {}, {}});
  d.nodes.push_back({std::tuple{"sink", 7}, "recorder", {}, {}});
  d.nodes.push_back({std::tuple{-1, 2, "x y"}, "recorder", {}, {}});
  d.nodes.push_back({"12", "recorder", {}, {}});
  d.links.push_back({7, "sensor-1", {.max_demand = 100, .min_demand = 50}});
  d.links.push_back({"sensor-1", std::tuple{"sink", 7}, {}});
  d.links.push_back({"a->b", "12", {.min_demand = 0}});

  const std::string text = to_text(d);
  const mesh_description back = parse_mesh_description(text);
  CHECK(same_text_form(d, back));
  CHECK(to_text(back) == text);
  CHECK(contains(text, "node sensor-1 = source [inlet_capacity = 3, inlet_batch = 2]\n"));
  CHECK(contains(text, "link 7 -> sensor-1 [max_demand = 100, min_demand = 50]\n"));
  CHECK(contains(text, "node \"12\" = recorder\n"));
}

TEST_CASE("description: text parsed and written again is unchanged") {
  const std::string text =
      "node sensor-1 = source\n"
      "node (\"sink\", 7) = recorder [restart = permanent]\n"
      "link sensor-1 -> (sink, 7) [min_demand = 5]\n";
  const std::string once = to_text(parse_mesh_description(text));
  CHECK(once ==
        "node sensor-1 = source\n"
        "node (sink, 7) = recorder [restart = permanent]\n"
        "link sensor-1 -> (sink, 7) [min_demand = 5]\n");
  CHECK(to_text(parse_mesh_description(once)) == once);
}

TEST_CASE("description: argument values are written so that they read back") {
  const node_args args{{"threshold", 10.5},
                       {"whole", 10.0},
                       {"tiny", 1e-300},
                       {"count", std::int64_t{-20}},
                       {"strict", true},
                       {"off", false},
                       {"unit", std::string("\"C\"\n")},
                       {"odd name", std::string("x")}};
  const std::string text = to_text({{{"f", "g", args, {}}}, {}});
  const auto d = parse_mesh_description(text);
  REQUIRE(d.nodes.size() == 1);
  const node_args& a = d.nodes[0].args;
  CHECK(a.size() == args.size());
  CHECK(a.get<double>("threshold") == 10.5);
  CHECK(a.get<double>("whole") == 10.0);
  CHECK_THROWS_AS(a.get<std::int64_t>("whole"), error);  // written as 10.0, not 10
  CHECK(a.get<double>("tiny") == 1e-300);
  CHECK(a.get<std::int64_t>("count") == -20);
  CHECK(a.get<bool>("strict"));
  CHECK_FALSE(a.get<bool>("off"));
  CHECK(a.get<std::string>("unit") == "\"C\"\n");
  CHECK(a.get<std::string>("odd name") == "x");

  const node_args infinite{{"x", std::numeric_limits<double>::infinity()}};
  CHECK(catch_error([&] {
          to_text({{{"f", "g", infinite, {}}}, {}});
        }).code == errc::bad_description);
}

TEST_CASE("description: to_text refuses what text cannot say") {
  enum class colour { red };
  SUBCASE("an id of another kind") {
    for (const node_id& id :
         {node_id(true), node_id(colour::red), node_id(), node_id(std::tuple{1, 2, 3, 4})}) {
      const auto e = catch_error([&] { to_text({{{id, "x", {}, {}}}, {}}); });
      CHECK(e.code == errc::bad_description);
      CHECK(contains(e.what, "cannot be written"));
    }
  }
  SUBCASE("a logic name that is not a word") {
    const auto e = catch_error([&] { to_text({{{"a", "two words", {}, {}}}, {}}); });
    CHECK(e.code == errc::bad_description);
    CHECK(contains(e.what, "'two words' is not a word"));
  }
  SUBCASE("arguments") {
    const mesh_description d{{{"f", "threshold", {{"threshold", 1.5}}, {}}}, {}};
    CHECK(parse_mesh_description(to_text(d)).nodes[0].args.get<double>("threshold") == 1.5);
  }
}

TEST_CASE("description: a mistake is reported with its line and the bad token") {
  struct mistake {
    const char* text;
    const char* message;  // a part of what(), after "line N: "
    int line;
  };
  const mistake mistakes[] = {
      // unknown keyword
      {"# ok\n\nnod a = x", "unknown keyword 'nod'", 3},
      {"node a = x\n= b", "unknown keyword '='", 2},
      // missing '=' or '->'
      {"node a x", "expected '=' after node a, found 'x'", 1},
      {"node a", "expected '=' after node a, found the end of the line", 1},
      {"node a =", "expected a logic name (a word) after '=', found the end of the line", 1},
      {"node a = 7", "expected a logic name (a word) after '=', found '7'", 1},
      {"node a = x\nlink a b", "expected '->' after node a, found 'b'", 2},
      {"link a = b", "expected '->' after node a, found '='", 1},
      {"node a = x(k 1)", "expected '=' after 'k', found '1'", 1},
      // bad id
      {"node 1.5 = x", "bad node id '1.5'", 1},
      {"\nlink a -> [max_demand = 1]", "bad node id '['", 2},
      {"node = x", "bad node id '='", 1},
      {"node (a, (b, c)) = x", "tuple ids do not nest", 1},
      {"node (1, 2, 3, 4) = x", "a tuple id has at most 3 parts", 1},
      {"node (a b) = x", "expected ',' or ')' in a tuple, found 'b'", 1},
      {"node 99999999999999999999 = x", "integer '99999999999999999999' is out of range", 1},
      {"node 12abc = x", "bad number '12abc'", 1},
      // duplicate node id
      {"node a = x\n\nnode \"a\" = y", "node a is described twice (first on line 1)", 3},
      {"node (s, 1) = x\nnode (\"s\", 1) = x", "node (s, 1) is described twice", 2},
      // unterminated string
      {"node a = x\nnode \"abc = x", "unterminated string \"abc = x", 2},
      {"node a = x(unit = \"C)", "unterminated string \"C)", 1},
      {"node \"a\\q\" = x", "unknown escape '\\q'", 1},
      // unknown option
      {"node a = x [colour = 1]", "unknown node option 'colour'", 1},
      {"link a -> b [restart = permanent]", "unknown link option 'restart'", 1},
      // option or argument value of the wrong kind
      {"node a = x [inlet_batch = \"many\"]",
       "option 'inlet_batch' takes a positive integer, not '\"many\"'", 1},
      {"node a = x [inlet_capacity = 0]",
       "option 'inlet_capacity' takes a positive integer, not '0'", 1},
      {"node a = x [inlet_batch = 2.5]", "option 'inlet_batch' takes a positive integer, not '2.5'",
       1},
      {"link a -> b [min_demand = -1]", "option 'min_demand' takes an integer from 0, not '-1'", 1},
      {"node a = x [restart = sometimes]",
       "option 'restart' takes permanent, transient or temporary, not 'sometimes'", 1},
      {"node a = x [restart =]",
       "option 'restart' takes permanent, transient or temporary, not ']'", 1},
      {"node a = x(unit = C)",
       "argument 'unit' takes a number, true, false or a quoted string, "
       "not 'C'",
       1},
      {"node a = x(k = 1, k = 2)", "argument 'k' is given twice", 1},
      {"node a = x [inlet_batch = 1, inlet_batch = 2]", "option 'inlet_batch' is given twice", 1},
      {"node a = x [max_demand = 1, inlet_batch = 2]",
       "option 'inlet_batch' is given twice (once as 'max_demand')", 1},
      // trailing garbage
      {"node a = x y", "unexpected 'y' after the end of the node statement", 1},
      {"link a -> b c", "unexpected 'c' after the end of the link statement", 1},
      {"node a = x [inlet_batch = 1] (k = 1)", "unexpected '('", 1},
      {"node a = x(k = 1", "expected ',' or ')', found the end of the line", 1},
      {"node a = x;", "unexpected character ';'", 1},
  };
  for (const mistake& m : mistakes) {
    CAPTURE(m.text);
    const auto e = catch_error([&] { parse_mesh_description(m.text); });
    CHECK(e.code == errc::bad_description);
    CHECK(e.what.starts_with("line " + std::to_string(m.line) + ": "));
    CHECK(contains(e.what, m.message));
  }
}

TEST_CASE("description: a node takes any number of arguments") {
  std::string args;
  for (int i = 0; i < 40; ++i)
    args += (i ? ", a" : "a") + std::to_string(i) + " = " + std::to_string(i);
  const auto d = parse_mesh_description("node a = x(" + args + ")");
  CHECK(d.nodes[0].args.size() == 40);
  CHECK(d.nodes[0].args.get<int>("a39") == 39);
}

TEST_CASE("description: the catalog names logic once, each name a word") {
  std::vector<int> got;
  logic_catalog c;
  c.add<relay>("source").add("recorder", catalog_recorder{&got});
  CHECK(c.contains("source"));
  CHECK_FALSE(c.contains("sink"));
  CHECK(c.names() == std::vector<std::string>{"recorder", "source"});
  const auto dup = catch_error([&] { c.add<relay>("source"); });
  CHECK(dup.code == errc::bad_description);
  CHECK(contains(dup.what, "already has a logic named 'source'"));
  const auto bad = catch_error([&] { c.add<relay>("two words"); });
  CHECK(bad.code == errc::bad_description);
  CHECK(contains(bad.what, "'two words'"));
  CHECK(c.names().size() == 2);
}

TEST_CASE("description: start_mesh from text builds a working pipeline") {
  std::vector<int> got;
  fixture f;
  mesh m(f.rt);
  logic_catalog c;
  c.add<relay>("source").add<threshold_filter>("threshold").add("recorder", catalog_recorder{&got});
  start_mesh(m, R"(
# a sensor network
node sensor-1 = source [inlet_capacity = 2]
node "filter" = threshold(threshold = 10.5, unit = "C")
node ("sink", 7) = recorder
link sensor-1 -> filter [max_demand = 100, min_demand = 50]
link filter -> ("sink", 7)
)",
             c);
  CHECK(m.nodes() == std::vector<node_id>{"filter", "sensor-1", std::tuple{"sink", 7}});
  CHECK(m.links() == links_t{{"filter", std::tuple{"sink", 7}}, {"sensor-1", "filter"}});
  f.run();
  for (int x : {5, 11, 10, 20}) m.trigger_data("sensor-1", x);
  f.run();
  CHECK(got == std::vector<int>{11, 20});
  // The node's options were applied: its inlet holds 2.
  CHECK(m.try_trigger_data("sensor-1", 1) == trigger_status::accepted);
  CHECK(m.try_trigger_data("sensor-1", 2) == trigger_status::accepted);
  CHECK(m.try_trigger_data("sensor-1", 30) == trigger_status::full);
  f.run();
  CHECK(got == std::vector<int>{11, 20});
}

TEST_CASE("description: a catalog names lambdas and logic without init, stateful or not") {
  std::vector<int> got;
  fixture f;
  mesh m(f.rt);
  logic_catalog c;
  c.add("double", [](int x, node_context<int>& ctx) { ctx.broadcast(2 * x); })
      .add("total",
           [](const int& x, int sum, node_context<int>& ctx) {
             ctx.broadcast(sum + x);
             return sum + x;
           })
      .add("recorder", catalog_recorder{&got});
  // A logic without init reads no arguments; a description may still give some.
  start_mesh(m,
             "node a = double\nnode b = total(unused = 1)\nnode c = recorder\n"
             "link a -> b\nlink b -> c",
             c);
  f.run();
  for (int x : {1, 2, 3}) m.trigger_data("a", x);
  f.run();
  CHECK(got == std::vector<int>{2, 6, 12});
}

TEST_CASE("description: a logic not in the catalog starts nothing") {
  std::vector<int> got;
  fixture f;
  mesh m(f.rt);
  logic_catalog c;
  c.add<relay>("source").add("recorder", catalog_recorder{&got});
  mesh_description d;
  d.nodes.push_back({"a", "source", {}, {}});
  d.nodes.push_back({"b", "printer", {}, {}});
  d.nodes.push_back({"c", "recorder", {}, {}});
  d.links.push_back({"a", "c", {}});
  const auto e = catch_error([&] { start_mesh(m, d, c); });
  CHECK(e.code == errc::bad_description);
  CHECK(contains(e.what, "node b: the catalog has no logic 'printer'"));
  CHECK(m.nodes().empty());
  CHECK(m.links().empty());
}

TEST_CASE("description: a described mistake the text cannot catch starts nothing") {
  std::vector<int> got;
  fixture f;
  mesh m(f.rt);
  m.start_node("running", relay{}, {});
  logic_catalog c;
  c.add<relay>("source").add("recorder", catalog_recorder{&got});
  SUBCASE("a link to a node neither described nor running") {
    const auto e = catch_error(
        [&] { start_mesh(m, "node a = source\nlink a -> running\nlink a -> nowhere", c); });
    CHECK(e.code == errc::unknown_node);
    CHECK(contains(e.what, "line 3: "));
    CHECK(contains(e.what, "node nowhere is neither described nor running"));
  }
  SUBCASE("a node that already runs") {
    const auto e = catch_error([&] { start_mesh(m, "node a = source\nnode running = source", c); });
    CHECK(e.code == errc::duplicate_node);
    CHECK(contains(e.what, "a node running is already running"));
  }
  SUBCASE("a node described twice in a struct") {
    const mesh_description d{{{"a", "source", {}, {}}, {"a", "recorder", {}, {}}}, {}};
    const auto e = catch_error([&] { start_mesh(m, d, c); });
    CHECK(e.code == errc::bad_description);
    CHECK(contains(e.what, "node a is described twice"));
  }
  CHECK(m.nodes() == std::vector<node_id>{"running"});
}

TEST_CASE("description: a failing connect undoes the call and leaves the rest running") {
  std::vector<int> kept, got;
  fixture f;
  mesh m(f.rt);
  m.start_node("keeper", relay{}, {});
  m.start_node("keeper-sink", catalog_recorder{&kept}, {});
  m.connect("keeper", "keeper-sink");
  logic_catalog c;
  c.add<relay>("source").add<stringify>("stringify").add("recorder", catalog_recorder{&got});
  // The links to and from "keeper" are made before the mismatched one fails.
  const char* text = R"(
node a = source
node b = stringify
node c = recorder
link keeper -> a
link a -> keeper-sink
link a -> b
link b -> c
)";
  const auto e = catch_error([&] { start_mesh(m, text, c); });
  CHECK(e.code == errc::bad_description);  // a mistake of the text, found as it starts (F17)
  CHECK(contains(e.what, "line 8: "));
  CHECK(contains(e.what, "node b emits"));
  CHECK(m.nodes() == std::vector<node_id>{"keeper", "keeper-sink"});
  CHECK(m.links() == links_t{{"keeper", "keeper-sink"}});
  f.run();
  m.trigger_data("keeper", 1);
  f.run();
  CHECK(kept == std::vector<int>{1});

  // The ids are free again: a corrected description starts.
  start_mesh(m, "node a = source\nnode c = recorder\nlink keeper -> a\nlink a -> c", c);
  CHECK(m.links() == links_t{{"a", "c"}, {"keeper", "a"}, {"keeper", "keeper-sink"}});
  f.run();
  m.trigger_data("keeper", 2);
  f.run();
  CHECK(kept == std::vector<int>{1, 2});
  CHECK(got == std::vector<int>{2});
}

TEST_CASE("F17: mistakes found only as the text starts are bad_description naming their line") {
  std::vector<int> got;
  fixture f;
  mesh m(f.rt);
  logic_catalog c;
  c.add<relay>("source").add("recorder", catalog_recorder{&got});
  struct bad_text {
    const char* text;
    const char* line;
  };
  const bad_text cases[] = {
      {"node a = source\nlink a -> a", "line 2: "},                                  // itself
      {"node a = source\nnode b = recorder\nlink a -> b\nlink a -> b", "line 4: "},  // twice
      {"node a = source\nnode b = recorder\n\nlink a -> b [max_demand = 5, min_demand = 9]",
       "line 4: "},  // options out of range
  };
  for (const bad_text& bad : cases) {
    CAPTURE(bad.text);
    const auto e = catch_error([&] { start_mesh(m, bad.text, c); });
    CHECK(e.code == errc::bad_description);
    CHECK(contains(e.what, bad.line));
    CHECK(m.nodes().empty());  // all or nothing
  }
}

TEST_CASE("F17: a node whose init throws a datamesh::error fails with start_failed") {
  struct picky {
    none init(const node_args&) { throw error(errc::duplicate_node, "a user's own error"); }
    none process(const int&, none s, node_context<int>&) { return s; }
  };
  fixture f;
  mesh m(f.rt);
  const auto e = catch_error([&] { m.start_node("p", picky{}, {}); });
  CHECK(e.code == errc::start_failed);
  CHECK(contains(e.what, "a user's own error"));
  CHECK_FALSE(m.contains("p"));
}
