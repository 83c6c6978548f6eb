// The text form of a mesh description: its lexer and parser, its writer, and `start_mesh`
// (see mesh/description.hpp). Out of line: every user of the umbrella header used to compile it.
#include <datamesh/mesh/description.hpp>
#include <datamesh/supervisor/restart.hpp>

#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <ranges>
#include <string>
#include <string_view>
#include <system_error>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

namespace datamesh::detail {

// -- words ---

bool is_word_start(char c) noexcept {
  // ASCII by hand: <cctype> answers by the global locale, and a description must not.
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

bool is_word_char(char c) noexcept {
  return is_word_start(c) || (c >= '0' && c <= '9') || c == '.' || c == ':' || c == '-';
}

/// Whether `s[i]` continues a word or a number: a `-` that starts `->` does not, so that
/// `a->b` reads as a link.
bool continues_word(std::string_view s, std::size_t i) noexcept {
  return i < s.size() && is_word_char(s[i]) &&
         !(s[i] == '-' && i + 1 < s.size() && s[i + 1] == '>');
}

/// Whether `s` is a word as the text form reads one, so may be written bare.
bool is_word(std::string_view s) noexcept {
  if (s.empty() || !is_word_start(s[0])) return false;
  std::size_t i = 1;
  while (continues_word(s, i)) ++i;
  return i == s.size();
}

// -- writing ---

void write_string(std::string& out, std::string_view s) {
  out += '"';
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";  // a raw newline would end the statement
    } else {
      out += c;
    }
  }
  out += '"';
}

/// A word bare, anything else quoted.
void write_name(std::string& out, std::string_view s) {
  if (is_word(s)) {
    out += s;
  } else {
    write_string(out, s);
  }
}

void write_id_part(std::string& out, std::int64_t v) { out += std::to_string(v); }
void write_id_part(std::string& out, const std::string& v) { write_name(out, v); }

/// The largest tuple id the text form reads and writes: node_id cannot build a tuple from a
/// runtime list of parts, so each mix of integer and string parts is a type of its own.
constexpr std::size_t max_tuple_parts = 3;

/// Writes `id` if it holds a `std::tuple` of `Parts...` followed by up to max_tuple_parts
/// integers and strings in all; false if it holds none of these.
template <class... Parts>
bool write_tuple_id(std::string& out, const node_id& id) {
  if constexpr (sizeof...(Parts) > 0) {
    if (const auto* t = id.get<std::tuple<Parts...>>()) {
      out += '(';
      std::apply(
          [&out](const auto&... p) {
            const char* sep = "";
            ((out += std::exchange(sep, ", "), write_id_part(out, p)), ...);
          },
          *t);
      out += ')';
      return true;
    }
  }
  if constexpr (sizeof...(Parts) < max_tuple_parts) {
    return write_tuple_id<Parts..., std::int64_t>(out, id) ||
           write_tuple_id<Parts..., std::string>(out, id);
  } else {
    return false;
  }
}

/// @throws datamesh::error `bad_description` for an id of a kind text cannot spell.
void write_id(std::string& out, const node_id& id) {
  if (const auto* i = id.get<std::int64_t>()) {
    write_id_part(out, *i);
  } else if (const auto* s = id.get<std::string>()) {
    write_id_part(out, *s);
  } else if (!write_tuple_id<>(out, id)) {
    throw error(errc::bad_description,
                "node id " + id.str() +
                    " cannot be written as text: a text id is an integer, a string, or a tuple "
                    "of 1 to 3 of these");
  }
}

/// @throws datamesh::error `bad_description` for a number that is not finite.
void write_value(std::string& out, const node_args::value& v, const std::string& where) {
  if (const auto* i = std::get_if<std::int64_t>(&v)) {
    out += std::to_string(*i);
  } else if (const auto* d = std::get_if<double>(&v)) {
    if (!std::isfinite(*d)) {
      throw error(errc::bad_description, where + " is not a finite number, which text cannot say");
    }
    char buf[32];
    const auto r = std::to_chars(buf, buf + sizeof buf, *d);  // shortest form that reads back
    std::string s(buf, r.ptr);
    if (s.find_first_of(".e") == std::string::npos) s += ".0";  // else it reads as an integer
    out += s;
  } else if (const auto* b = std::get_if<bool>(&v)) {
    out += *b ? "true" : "false";
  } else {
    write_string(out, std::get<std::string>(v));
  }
}

/// Writes `(name = value, ...)` for a range of (name, value) pairs; nothing for an empty one.
/// @throws datamesh::error `bad_description` (see write_value).
template <class Args>
void write_args(std::string& out, const Args& args, const node_id& id) {
  const char* sep = "(";
  for (const auto& [name, value] : args) {
    out += std::exchange(sep, ", ");
    write_name(out, name);
    out += " = ";
    write_value(out, value, "node " + id.str() + ": argument '" + std::string(name) + "'");
  }
  if (*sep == ',') out += ')';
}

/// Writes ` [a = 1, b = 2]`, or nothing when `opts` is empty.
void write_options(std::string& out, const std::vector<std::string>& opts) {
  const char* sep = " [";
  for (const auto& o : opts) out.append(std::exchange(sep, ", ")).append(o);
  if (!opts.empty()) out += ']';
}

// -- reading ---

enum class token_kind { word, string, integer, floating, symbol, end };

struct token {
  token_kind kind = token_kind::end;
  /// As written, for error messages.
  std::string spelling;
  /// A string's value, unescaped.
  std::string text;
};

/// Reads the text form one line at a time.
class description_reader {
 public:
  mesh_description read(std::string_view text) {
    std::size_t start = 0;
    while (start <= text.size()) {
      std::size_t stop = text.find('\n', start);
      if (stop == std::string_view::npos) stop = text.size();
      std::string_view line = text.substr(start, stop - start);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);  // CRLF files
      ++line_;
      tokenize(line);
      read_statement();
      start = stop + 1;
    }
    return std::move(desc_);
  }

 private:
  using id_part = std::variant<std::int64_t, std::string>;

  // -- errors ---

  [[noreturn]] void fail(const std::string& what) const {
    throw error(errc::bad_description, "line " + std::to_string(line_) + ": " + what);
  }

  static std::string quote(const token& t) {
    return t.kind == token_kind::end ? "the end of the line" : "'" + t.spelling + "'";
  }

  // -- tokens ---

  void tokenize(std::string_view s) {
    tokens_.clear();
    pos_ = 0;
    std::size_t i = 0;
    while (i < s.size()) {
      const char c = s[i];
      if (c == ' ' || c == '\t' || c == '\f' || c == '\v' || c == '\r') {
        ++i;
      } else if (c == '#') {
        break;
      } else if (c == '"') {
        i = read_string(s, i);
      } else if ((c >= '0' && c <= '9') ||
                 (c == '-' && i + 1 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '9')) {
        i = read_number(s, i);
      } else if (is_word_start(c)) {
        const std::size_t from = i++;
        while (continues_word(s, i)) ++i;
        push(token_kind::word, s.substr(from, i - from));
      } else if (c == '-' && i + 1 < s.size() && s[i + 1] == '>') {
        push(token_kind::symbol, "->");
        i += 2;
      } else if (c == '=' || c == ',' || c == '(' || c == ')' || c == '[' || c == ']') {
        push(token_kind::symbol, s.substr(i, 1));
        ++i;
      } else {
        fail("unexpected character '" + std::string(1, c) + "'");
      }
    }
  }

  void push(token_kind k, std::string_view spelling, std::string text = {}) {
    tokens_.push_back({k, std::string(spelling), std::move(text)});
  }

  // Reads the string that starts at s[i]; returns the index after it.
  std::size_t read_string(std::string_view s, std::size_t i) {
    const std::size_t from = i++;
    std::string text;
    while (i < s.size() && s[i] != '"') {
      if (s[i] != '\\') {
        text += s[i++];
        continue;
      }
      if (i + 1 >= s.size()) break;  // unterminated
      const char e = s[i + 1];
      if (e == '"' || e == '\\') {
        text += e;
      } else if (e == 'n') {
        text += '\n';
      } else {
        fail("unknown escape '\\" + std::string(1, e) + "' in a string (known: \\\" \\\\ \\n)");
      }
      i += 2;
    }
    if (i >= s.size()) fail("unterminated string " + std::string(s.substr(from)));
    ++i;  // the closing quote
    push(token_kind::string, s.substr(from, i - from), std::move(text));
    return i;
  }

  // Reads the number that starts at s[i]; returns the index after it.
  std::size_t read_number(std::string_view s, std::size_t i) {
    const std::size_t from = i;
    const auto digits = [&] {
      const std::size_t d = i;
      while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
      return i > d;
    };
    if (s[i] == '-') ++i;
    bool ok = digits();
    bool floating = false;
    if (ok && i < s.size() && s[i] == '.') {
      floating = true;
      ++i;
      ok = digits();
    }
    if (ok && i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
      floating = true;
      ++i;
      if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
      ok = digits();
    }
    if (!ok || continues_word(s, i)) {
      while (continues_word(s, i)) ++i;
      fail("bad number '" + std::string(s.substr(from, i - from)) + "'");
    }
    push(floating ? token_kind::floating : token_kind::integer, s.substr(from, i - from));
    return i;
  }

  const token& peek() const {
    static const token end{};
    return pos_ < tokens_.size() ? tokens_[pos_] : end;
  }
  token next() {
    token t = peek();
    if (pos_ < tokens_.size()) ++pos_;
    return t;
  }
  bool at(std::string_view symbol) const {
    return peek().kind == token_kind::symbol && peek().spelling == symbol;
  }

  // -- values ---

  std::int64_t integer(const token& t) const {
    std::int64_t v = 0;
    const char* last = t.spelling.data() + t.spelling.size();
    const auto r = std::from_chars(t.spelling.data(), last, v);
    if (r.ec != std::errc{} || r.ptr != last) fail("integer " + quote(t) + " is out of range");
    return v;
  }

  double floating(const token& t) const {
    double v = 0;
    const char* last = t.spelling.data() + t.spelling.size();
    const auto r = std::from_chars(t.spelling.data(), last, v);
    if (r.ec != std::errc{} || r.ptr != last) fail("number " + quote(t) + " is out of range");
    return v;
  }

  /// An option's value that must be an integer of at least `least`.
  std::size_t count(const token& key, const token& v, std::int64_t least) const {
    const char* rule = least > 0 ? "a positive integer" : "an integer from 0";
    if (v.kind != token_kind::integer || v.spelling[0] == '-') {
      fail("option '" + key.spelling + "' takes " + rule + ", not " + quote(v));
    }
    const std::int64_t n = integer(v);
    if (n < least) fail("option '" + key.spelling + "' takes " + rule + ", not " + quote(v));
    return static_cast<std::size_t>(n);
  }

  // -- statements ---

  void read_statement() {
    if (tokens_.empty()) return;
    const token keyword = next();
    if (keyword.kind == token_kind::word && keyword.spelling == "node") {
      read_node();
    } else if (keyword.kind == token_kind::word && keyword.spelling == "link") {
      read_link();
    } else {
      fail("unknown keyword " + quote(keyword) + ": a statement starts with 'node' or 'link'");
    }
    if (peek().kind != token_kind::end) {
      fail("unexpected " + quote(peek()) + " after the end of the " + keyword.spelling +
           " statement");
    }
  }

  void read_node() {
    node_description n;
    n.id = read_id();
    if (!at("=")) fail("expected '=' after node " + n.id.str() + ", found " + quote(peek()));
    next();
    const token logic = next();
    if (logic.kind != token_kind::word) {
      fail("expected a logic name (a word) after '=', found " + quote(logic));
    }
    n.logic = logic.spelling;
    if (at("(")) n.args = read_args();
    if (at("[")) read_node_options(n.options);
    if (const auto [it, fresh] = first_line_.try_emplace(n.id, line_); !fresh) {
      fail("node " + n.id.str() + " is described twice (first on line " +
           std::to_string(it->second) + ")");
    }
    n.line = line_;
    desc_.nodes.push_back(std::move(n));
  }

  void read_link() {
    link_description l;
    l.from = read_id();
    if (!at("->")) fail("expected '->' after node " + l.from.str() + ", found " + quote(peek()));
    next();
    l.to = read_id();
    if (at("[")) read_link_options(l.options);
    l.line = line_;
    desc_.links.push_back(std::move(l));
  }

  node_id read_id() {
    const token t = next();
    if (t.kind == token_kind::symbol && t.spelling == "(") {
      std::vector<id_part> parts;
      while (true) {
        const token p = next();
        if (p.kind == token_kind::symbol && p.spelling == "(") {
          fail("bad node id: tuple ids do not nest");
        }
        parts.push_back(id_part_of(p));
        if (parts.size() > max_tuple_parts) {
          fail("bad node id: a tuple id has at most " + std::to_string(max_tuple_parts) + " parts");
        }
        if (!at(",")) break;
        next();
      }
      if (!at(")")) fail("bad node id: expected ',' or ')' in a tuple, found " + quote(peek()));
      next();
      return tuple_id(parts);
    }
    return std::visit([](auto&& v) { return node_id(std::move(v)); }, id_part_of(t));
  }

  id_part id_part_of(const token& t) const {
    switch (t.kind) {
      case token_kind::integer:
        return integer(t);
      case token_kind::word:
        return t.spelling;
      case token_kind::string:
        return t.text;
      default:
        fail("bad node id " + quote(t) +
             ": an id is an integer, a word, a quoted string, or a tuple of these");
    }
  }

  /// A tuple id of `parts`, built up one element type at a time (see max_tuple_parts).
  template <class... Done>
  static node_id tuple_id(const std::vector<id_part>& parts, Done... done) {
    constexpr std::size_t i = sizeof...(Done);
    if constexpr (i < max_tuple_parts) {
      if (i < parts.size()) {
        if (const auto* n = std::get_if<std::int64_t>(&parts[i])) {
          return tuple_id(parts, std::move(done)..., *n);
        }
        return tuple_id(parts, std::move(done)..., std::get<std::string>(parts[i]));
      }
    }
    return node_id(std::tuple<Done...>(std::move(done)...));
  }

  /// Reads `open key = value, ... close` (open already seen), calling `each(key, value)`.
  template <class Each>
  void read_list(const char* close, const std::string& what, Each each) {
    next();  // the opening bracket
    std::unordered_set<std::string> seen;
    if (at(close)) {
      next();
      return;
    }
    while (true) {
      const token key = next();
      if (key.kind != token_kind::word && key.kind != token_kind::string) {
        fail("expected the name of an " + what + ", found " + quote(key));
      }
      const std::string name = key.kind == token_kind::string ? key.text : key.spelling;
      if (!seen.insert(name).second) fail(what + " '" + name + "' is given twice");
      if (!at("=")) fail("expected '=' after '" + key.spelling + "', found " + quote(peek()));
      next();
      each(key, next());
      if (at(close)) break;
      if (!at(",")) fail(std::string("expected ',' or '") + close + "', found " + quote(peek()));
      next();
    }
    next();
  }

  node_args read_args() {
    node_args args;
    read_list(")", "argument", [&](const token& key, const token& v) {
      const std::string name = key.kind == token_kind::string ? key.text : key.spelling;
      if (v.kind == token_kind::integer) {
        args.set(name, integer(v));
      } else if (v.kind == token_kind::floating) {
        args.set(name, floating(v));
      } else if (v.kind == token_kind::word && (v.spelling == "true" || v.spelling == "false")) {
        args.set(name, v.spelling == "true");
      } else if (v.kind == token_kind::string) {
        args.set(name, v.text);
      } else {
        fail("argument '" + name + "' takes a number, true, false or a quoted string, not " +
             quote(v));
      }
    });
    return args;
  }

  void read_node_options(node_options& o) {
    bool batch_given = false;
    read_list("]", "option", [&](const token& key, const token& v) {
      if (key.spelling == "restart" && key.kind == token_kind::word) {
        std::optional<restart_type> type;
        for (auto r : {restart_type::permanent, restart_type::transient, restart_type::temporary}) {
          if (v.kind == token_kind::word && v.spelling == to_string(r)) type = r;
        }
        if (!type)
          fail("option 'restart' takes permanent, transient or temporary, not " + quote(v));
        o.restart = *type;
      } else if (key.spelling == "inlet_capacity" && key.kind == token_kind::word) {
        o.inlet_capacity = count(key, v, 1);
      } else if ((key.spelling == "inlet_batch" || key.spelling == "max_demand") &&
                 key.kind == token_kind::word) {
        // max_demand: inlet_batch's old name, still read for one release.
        if (batch_given) fail("option 'inlet_batch' is given twice (once as 'max_demand')");
        batch_given = true;
        o.inlet_batch = count(key, v, 1);
      } else {
        fail("unknown node option " + quote(key) +
             " (known: restart, inlet_capacity, inlet_batch)");
      }
    });
  }

  void read_link_options(link_options& o) {
    read_list("]", "option", [&](const token& key, const token& v) {
      if (key.spelling == "max_demand" && key.kind == token_kind::word) {
        o.max_demand = count(key, v, 1);
      } else if (key.spelling == "min_demand" && key.kind == token_kind::word) {
        o.min_demand = count(key, v, 0);
      } else {
        fail("unknown link option " + quote(key) + " (known: max_demand, min_demand)");
      }
    });
  }

  std::size_t line_ = 0;
  std::vector<token> tokens_;
  std::size_t pos_ = 0;
  mesh_description desc_;
  std::unordered_map<node_id, std::size_t> first_line_;  // where each node was described
};

}  // namespace datamesh::detail

namespace datamesh {

std::vector<std::string> logic_catalog::names() const {
  std::vector<std::string> out;
  for (const auto& [name, s] : starters_) out.push_back(name);
  return out;
}

void logic_catalog::start(mesh& m, const node_description& d) const {
  auto it = starters_.find(d.logic);
  if (it == starters_.end()) {
    throw error(errc::bad_description,
                "node " + d.id.str() + ": the catalog has no logic '" + d.logic + "'");
  }
  it->second(m, d);
}

/// Reads the text form (see the file comment).
/// @throws datamesh::error `bad_description`, "line N: ..." naming the first mistake.
mesh_description parse_mesh_description(std::string_view text) {
  return detail::description_reader().read(text);
}

/// Writes `d` in the text form, which `parse_mesh_description` reads back to the same ids,
/// logic names, arguments and text-form options. Options at their defaults are left out.
/// @throws datamesh::error `bad_description` for what text cannot say: an id that is not an
///   integer, a string or a tuple of 1 to 3 of these; a logic name that is not a word; a
///   number argument that is not finite.
std::string to_text(const mesh_description& d) {
  std::string out;
  for (const auto& n : d.nodes) {
    out += "node ";
    detail::write_id(out, n.id);
    if (!detail::is_word(n.logic)) {
      throw error(errc::bad_description,
                  "node " + n.id.str() + ": logic name '" + n.logic + "' is not a word");
    }
    out += " = " + n.logic;
    detail::write_args(out, n.args, n.id);
    std::vector<std::string> opts;
    const node_options defaults{};
    if (n.options.restart != defaults.restart)
      opts.push_back(std::string("restart = ") + to_string(n.options.restart));
    if (n.options.inlet_capacity != defaults.inlet_capacity) {
      opts.push_back("inlet_capacity = " + std::to_string(n.options.inlet_capacity));
    }
    if (n.options.batch() != defaults.inlet_batch) {
      opts.push_back("inlet_batch = " + std::to_string(n.options.batch()));
    }
    detail::write_options(out, opts);
    out += '\n';
  }
  for (const auto& l : d.links) {
    out += "link ";
    detail::write_id(out, l.from);
    out += " -> ";
    detail::write_id(out, l.to);
    std::vector<std::string> opts;
    if (l.options.max_demand != link_options{}.max_demand) {
      opts.push_back("max_demand = " + std::to_string(l.options.max_demand));
    }
    if (l.options.min_demand)
      opts.push_back("min_demand = " + std::to_string(*l.options.min_demand));
    detail::write_options(out, opts);
    out += '\n';
  }
  return out;
}

namespace detail {

/// The sentence `e` was made with, without the code's name `what()` appends to it.
std::string what_arg(const error& e) {
  std::string w = e.what();
  const std::string suffix = ": " + e.code().message();
  if (w.size() >= suffix.size() &&
      w.compare(w.size() - suffix.size(), suffix.size(), suffix) == 0) {
    w.resize(w.size() - suffix.size());
  }
  return w;
}

/// Undoes a `start_mesh` that failed: removes the links it made, then stops the nodes it
/// started, latest first. What is already gone needs no undoing, so errors are dropped.
void undo_start(mesh& m, const std::vector<node_id>& started,
                const std::vector<const link_description*>& linked) noexcept {
  for (auto it = linked.rbegin(); it != linked.rend(); ++it) {
    try {
      m.disconnect((*it)->from, (*it)->to);
    } catch (...) {  // an end stopped meanwhile: the link went with it
    }
  }
  for (auto it = started.rbegin(); it != started.rend(); ++it) {
    try {
      m.stop_node(*it, exit_reason::shutdown());
    } catch (...) {  // it stopped meanwhile
    }
  }
}

}  // namespace detail

/// Starts `d` in `m`: every node in order, then every link in order. A link's ends are nodes
/// of `d` or nodes already running in `m`. All or nothing: `d` is checked first, and if a start
/// or connect still fails, what this call made is undone, so `m` is left as it was. Not from a
/// node's `process` (connect waits for the sending node).
/// @throws datamesh::error `bad_description` (a logic `c` does not have, a node id described
///   twice), `duplicate_node` (a described node already runs), `unknown_node` (a link end that
///   is neither described nor running); then what `mesh::start_node` and `mesh::connect`
///   throw, after the undo.
void start_mesh(mesh& m, const mesh_description& d, const logic_catalog& c) {
  auto where = [](std::size_t line) {
    return line == 0 ? std::string() : "line " + std::to_string(line) + ": ";
  };
  std::unordered_set<node_id> described;
  for (const auto& n : d.nodes) {
    if (!c.contains(n.logic)) {
      throw error(errc::bad_description, where(n.line) + "node " + n.id.str() +
                                             ": the catalog has no logic '" + n.logic + "'");
    }
    if (!described.insert(n.id).second) {
      throw error(errc::bad_description,
                  where(n.line) + "node " + n.id.str() + " is described twice");
    }
    if (m.contains(n.id)) {
      throw error(errc::duplicate_node,
                  where(n.line) + "a node " + n.id.str() + " is already running");
    }
  }
  for (const auto& l : d.links) {
    for (const node_id* end : {&l.from, &l.to}) {
      if (!described.contains(*end) && !m.contains(*end)) {
        throw error(errc::unknown_node, where(l.line) + "link " + l.from.str() + " -> " +
                                            l.to.str() + ": node " + end->str() +
                                            " is neither described nor running");
      }
    }
  }
  std::vector<node_id> started;
  std::vector<const link_description*> linked;
  // A failure names the line of the text the node or link came from, when it came from one.
  auto at = [](std::size_t line, const error& e) {
    return line == 0 ? e
                     : error(static_cast<errc>(e.code().value()),
                             "line " + std::to_string(line) + ": " + detail::what_arg(e));
  };
  std::size_t line = 0;
  try {
    for (const auto& n : d.nodes) {
      line = n.line;
      c.start(m, n);
      started.push_back(n.id);
    }
    for (const auto& l : d.links) {
      line = l.line;
      m.connect(l.from, l.to, l.options);
      linked.push_back(&l);
    }
  } catch (const error& e) {
    detail::undo_start(m, started, linked);
    throw at(line, e);
  } catch (...) {
    detail::undo_start(m, started, linked);
    throw;
  }
}

/// Parses `text` (see `parse_mesh_description`) and starts it (see the overload above). Every
/// mistake in the text is a `bad_description` naming its line, those found only when the mesh
/// starts too (a link from a node to itself, the same link twice, a link across types, link
/// options out of range). What depends on the mesh it starts in is passed on, naming the line
/// too: `unknown_node` (a link end neither described nor running), `duplicate_node` (a described
/// node already runs), `start_failed` (a node's `init` failed), `no_stage`, `runtime_stopped`,
/// `would_deadlock`.
/// @throws datamesh::error as said.
void start_mesh(mesh& m, std::string_view text, const logic_catalog& c) {
  try {
    start_mesh(m, parse_mesh_description(text), c);
  } catch (const error& e) {
    switch (static_cast<errc>(e.code().value())) {
      case errc::self_connection:
      case errc::already_connected:
      case errc::type_mismatch:
      case errc::bad_options:
        throw error(errc::bad_description, detail::what_arg(e));
      default:
        throw;
    }
  }
}

}  // namespace datamesh
