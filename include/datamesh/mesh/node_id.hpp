/// @file
/// `node_id`: the id of a node in a mesh. It holds a value of whatever kind a user names nodes
/// with (an integer, a string, an enum, a tuple of these, or a type of their own) behind one
/// type, so that the mesh can keep nodes in hash maps, sort them, and print them in errors, logs
/// and Graphviz graphs.
///
///     mesh.start_node("source", ...);
///     mesh.start_node(7, ...);
///     mesh.start_node(std::tuple{"complex", 7}, ...);
///     mesh.connect("filter", std::tuple{"complex", 7});
///
/// The value is normalized first, so that spellings of one value name one node:
///
/// | written as                                      | stored as                         |
/// |-------------------------------------------------|-----------------------------------|
/// | any integer type but `bool` (`char` types too)  | `std::int64_t`                    |
/// | `bool`                                          | `bool`                            |
/// | `const char*`, string literal, `string_view`    | `std::string`                     |
/// | an enum                                         | itself                            |
/// | `std::pair<A, B>`, `std::tuple<E...>`           | `std::tuple` of the normalized Es |
/// | any other type with `==` and `std::hash`        | itself                            |
///
/// So `node_id(7) == node_id(7u)` and `node_id(std::tuple{"complex", 7}) ==
/// node_id(std::pair{std::string("complex"), 7L})`, but `node_id(1) != node_id("1")` and an
/// enum value is not its integer. Floating-point values are refused at compile time. One
/// exception keeps printing honest: an unsigned value above `INT64_MAX`, at the top level, is
/// stored as `std::uint64_t` (inside a tuple it wraps to its `std::int64_t` bit pattern, which
/// still compares exactly).
///
/// An id prints as its value: `7`, `source`, `(complex, 7)`, an enum through its `operator<<`
/// (else its integer), a user type through its `operator<<` (else `<id>`), and an empty id as
/// `<none>`.
///
/// Thread safety: an id is immutable once made; copies share one value through a
/// `std::shared_ptr<const ...>`, so they are cheap and may be used from any thread. As for
/// `std::shared_ptr`, assigning to one `node_id` object while another thread reads that same
/// object is a data race.
#pragma once

#include <datamesh/error.hpp>

#include <compare>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <locale>
#include <memory>
#include <ostream>
#include <sstream>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <typeindex>
#include <typeinfo>
#include <utility>

namespace datamesh::detail {

// -- normalization ---

/// `T` is not `U` (after removing references and const): keeps a converting constructor away
/// from copies and moves.
template <class T, class U>
concept different_from = !std::same_as<std::remove_cvref_t<T>, U>;

template <class T>
struct id_tuple : std::false_type {};
template <class... E>
struct id_tuple<std::tuple<E...>> : std::true_type {};
template <class A, class B>
struct id_tuple<std::pair<A, B>> : std::true_type {};

/// The spellings of a string id, after `std::decay` (a literal decays to `const char*`).
template <class T>
inline constexpr bool is_id_string_v =
    std::is_same_v<T, const char*> || std::is_same_v<T, char*> ||
    std::is_same_v<T, std::string_view> || std::is_same_v<T, std::string>;

/// The type a `node_id` stores for a value of (decayed) type `T`.
template <class T>
struct id_normal {
  using type =
      std::conditional_t<std::is_same_v<T, bool>, bool,
                         std::conditional_t<std::is_integral_v<T>, std::int64_t,
                                            std::conditional_t<is_id_string_v<T>, std::string, T>>>;
};
template <class... E>
struct id_normal<std::tuple<E...>> {
  using type = std::tuple<typename id_normal<std::decay_t<E>>::type...>;
};
template <class A, class B>
struct id_normal<std::pair<A, B>> {
  using type = std::tuple<typename id_normal<std::decay_t<A>>::type,
                          typename id_normal<std::decay_t<B>>::type>;
};
template <class T>
using id_normal_t = typename id_normal<std::decay_t<T>>::type;

/// Refuses, with a sentence, a (decayed) type `T` that cannot be an id; tuples element-wise.
template <class T>
struct id_check {
  using normal = typename id_normal<T>::type;
  static_assert(!std::is_floating_point_v<T>,
                "datamesh::node_id: a floating-point value cannot be a node id, because float "
                "equality makes a poor id (0.1 + 0.2 != 0.3, NaN != NaN); use an integer, a "
                "string or an enum");
  static_assert(!std::is_same_v<T, std::nullptr_t>,
                "datamesh::node_id: nullptr is not a node id; node_id{} is the empty id");
  static_assert(std::equality_comparable<normal>,
                "datamesh::node_id: a node id type needs operator==, because nodes are found by "
                "comparing ids");
  static_assert(
      requires(const normal& v) {
        { std::hash<normal>{}(v) } -> std::convertible_to<std::size_t>;
      },
      "datamesh::node_id: a node id type needs a std::hash specialization, because the mesh "
      "keeps nodes in hash maps");
  static constexpr bool ok = true;
};
template <class... E>
struct id_check<std::tuple<E...>> {
  static constexpr bool ok = (id_check<std::decay_t<E>>::ok && ...);
};
template <class A, class B>
struct id_check<std::pair<A, B>> {
  static constexpr bool ok = id_check<std::decay_t<A>>::ok && id_check<std::decay_t<B>>::ok;
};

/// Converts `v` to its normalized type.
/// @throws datamesh::error `bad_options` for a null `const char*`.
template <class T>
id_normal_t<T> id_normalize(T&& v) {
  using normal = id_normal_t<T>;
  if constexpr (id_tuple<std::decay_t<T>>::value) {
    return std::apply(
        [](auto&&... e) { return normal(id_normalize(std::forward<decltype(e)>(e))...); },
        std::forward<T>(v));
  } else if constexpr (std::is_same_v<normal, std::int64_t>) {
    return static_cast<std::int64_t>(v);  // modular for unsigned values above INT64_MAX
  } else if constexpr (std::is_same_v<normal, std::string> &&
                       std::is_pointer_v<std::remove_cvref_t<T>>) {
    if (v == nullptr) throw error(errc::bad_options, "a node id cannot be a null const char*");
    return std::string(v);
  } else {
    return normal(std::forward<T>(v));
  }
}

// -- the operations on a stored value ---

/// What a `node_id` stores, as far as its fast paths care. The order is the order of ids of
/// different kinds: numbers (in numeric order), then strings, then everything else.
enum class id_kind : unsigned char { integer, big_unsigned, string, other };

template <class V>
constexpr id_kind id_kind_of() noexcept {
  if constexpr (std::is_same_v<V, std::int64_t>) return id_kind::integer;
  if constexpr (std::is_same_v<V, std::uint64_t>) return id_kind::big_unsigned;
  if constexpr (std::is_same_v<V, std::string>) return id_kind::string;
  return id_kind::other;
}

template <class V>
std::size_t id_hash(const V& v) {
  if constexpr (id_tuple<V>::value) {
    std::size_t seed = std::tuple_size_v<V>;
    std::apply(
        [&seed](const auto&... e) {
          // boost::hash_combine's mixing step, so that (1, 2) and (2, 1) differ
          ((seed ^= id_hash(e) + 0x9e3779b9U + (seed << 6) + (seed >> 2)), ...);
        },
        v);
    return seed;
  } else if constexpr (std::is_enum_v<V>) {
    using raw = std::underlying_type_t<V>;
    return std::hash<raw>{}(static_cast<raw>(v));
  } else {
    return std::hash<V>{}(v);
  }
}

template <class V>
void id_print(std::ostream& os, const V& v) {
  if constexpr (std::is_same_v<V, bool>) {
    os << (v ? "true" : "false");
  } else if constexpr (id_tuple<V>::value) {
    os << '(';
    std::apply(
        [&os](const auto&... e) {
          [[maybe_unused]] const char* sep = "";  // unused for the empty tuple
          ((os << std::exchange(sep, ", "), id_print(os, e)), ...);
        },
        v);
    os << ')';
  } else if constexpr (requires { os << v; }) {
    os << v;  // numbers, strings, and types (enums too) with an operator<<
  } else if constexpr (std::is_enum_v<V>) {
    // widened, so that an enum over a char type prints a number, not a character
    if constexpr (std::is_signed_v<std::underlying_type_t<V>>) {
      os << static_cast<long long>(v);
    } else {
      os << static_cast<unsigned long long>(v);
    }
  } else {
    os << "<id>";
  }
}

template <class V>
std::string id_text(const V& v) {
  std::ostringstream os;
  os.imbue(std::locale::classic());  // no digit grouping from the global locale
  id_print(os, v);
  return std::move(os).str();
}

/// -1, 0 or 1. By `<` when the type has it (tuples element by element); else by the printed
/// form, then by hash, so that the order stays total for types that only have `==`.
template <class V>
int id_compare(const V& a, const V& b) {
  if constexpr (id_tuple<V>::value) {
    int r = 0;
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      (void)((r = id_compare(std::get<I>(a), std::get<I>(b)), r == 0) && ...);
    }
    (std::make_index_sequence<std::tuple_size_v<V>>{});
    return r;
  } else if constexpr (std::is_same_v<V, std::string>) {
    const int c = a.compare(b);
    return (c > 0) - (c < 0);
  } else if constexpr (requires {
                         { a < b } -> std::convertible_to<bool>;
                       }) {
    const std::less<V> less;
    return less(b, a) - less(a, b);
  } else {
    const int c = id_text(a).compare(id_text(b));
    if (c != 0) return (c > 0) - (c < 0);
    const std::size_t ha = id_hash(a);
    const std::size_t hb = id_hash(b);
    return (ha > hb) - (ha < hb);
  }
}

/// Whether the stored `v` equals the raw `k` once normalized, without normalizing `k` (which
/// would allocate for strings).
template <class V, class K>
bool id_value_equal(const V& v, const K& k) {
  if constexpr (id_tuple<V>::value) {
    return [&]<std::size_t... I>(std::index_sequence<I...>) {
      return (id_value_equal(std::get<I>(v), std::get<I>(k)) && ...);
    }
    (std::make_index_sequence<std::tuple_size_v<V>>{});
  } else if constexpr (std::is_same_v<V, std::int64_t>) {
    return v == static_cast<std::int64_t>(k);
  } else if constexpr (std::is_same_v<V, std::string>) {
    if constexpr (std::is_pointer_v<K>) {
      if (k == nullptr) return false;
    }
    return std::string_view(v) == std::string_view(k);
  } else {
    return v == k;  // the same type: bool, an enum, a user's type
  }
}

// -- the type-erased value ---

/// A stored id value. The kind, type and hash are plain data, so that the fast paths of
/// `node_id` (hash, a failed comparison, `matches` on numbers and strings) make no virtual call.
struct id_model_base {
  id_model_base(id_kind k, const std::type_info& t, std::size_t h) noexcept
      : kind(k), type(t), hash(h) {}
  id_model_base(const id_model_base&) = delete;
  id_model_base& operator=(const id_model_base&) = delete;
  virtual ~id_model_base() = default;

  /// `other` has the same type.
  virtual bool equals(const id_model_base& other) const = 0;
  /// `other` has the same type; -1, 0 or 1.
  virtual int compare(const id_model_base& other) const = 0;
  virtual void print(std::ostream& os) const = 0;

  const id_kind kind;
  const std::type_info& type;
  const std::size_t hash;  // computed once: the value never changes
};

template <class V>
struct id_model final : id_model_base {
  explicit id_model(V v)
      : id_model_base(id_kind_of<V>(), typeid(V), id_hash(v)), value(std::move(v)) {}

  bool equals(const id_model_base& other) const override {
    return static_cast<bool>(value == static_cast<const id_model&>(other).value);
  }
  int compare(const id_model_base& other) const override {
    return id_compare(value, static_cast<const id_model&>(other).value);
  }
  void print(std::ostream& os) const override { id_print(os, value); }

  const V value;
};

template <class T>
std::shared_ptr<const id_model_base> make_id_model(T&& v) {
  using raw = std::decay_t<T>;
  static_assert(id_check<raw>::ok);
  if constexpr (std::is_unsigned_v<raw> && !std::is_same_v<raw, bool> &&
                sizeof(raw) >= sizeof(std::int64_t)) {
    if (v > static_cast<raw>(std::numeric_limits<std::int64_t>::max())) {
      return std::make_shared<id_model<std::uint64_t>>(static_cast<std::uint64_t>(v));
    }
  }
  return std::make_shared<id_model<id_normal_t<T>>>(id_normalize(std::forward<T>(v)));
}

}  // namespace datamesh::detail

namespace datamesh {

/// The id of a node in a mesh: a normalized, type-erased value (see the file comment).
///
/// Thread safety: immutable; copies share the value. Distinct objects: safe. Shared objects:
/// the const members are safe; assigning while another thread reads the same object is not.
class node_id {
 public:
  /// The empty id: `empty()`, prints as `<none>`, equal only to other empty ids, sorts first.
  /// Never allocates.
  node_id() noexcept = default;

  /// The id of `v`, normalized (see the file comment). Allocates once.
  /// @throws datamesh::error `bad_options` when `v` is a null `const char*`.
  template <detail::different_from<node_id> T>  // copies and moves stay the defaulted ones
  node_id(T&& v)  // NOLINT: implicit, so that `start_node("source", ...)` reads naturally
      : impl_(detail::make_id_model(std::forward<T>(v))) {}

  // -- observers ---

  /// Whether this is the empty id. A moved-from id is empty. Never allocates.
  bool empty() const noexcept { return impl_ == nullptr; }

  /// Equal ids hash equal. Cached: never allocates.
  std::size_t hash() const noexcept { return impl_ ? impl_->hash : empty_hash; }

  /// The normalized type of the value; `typeid(void)` when empty. Never allocates.
  std::type_index type() const noexcept { return impl_ ? impl_->type : typeid(void); }

  /// The value if its normalized type is exactly `T` (`std::int64_t` for every integer type,
  /// `std::string` for strings, `std::tuple` for pairs), else nullptr. An unsigned value above
  /// `INT64_MAX` is a `std::uint64_t`. Never allocates.
  template <class T>
  const T* get() const noexcept {
    static_assert(std::is_same_v<T, std::uint64_t> || std::is_same_v<T, detail::id_normal_t<T>>,
                  "node_id::get<T>: an id never stores a T; ids store integers as std::int64_t, "
                  "strings as std::string and pairs as std::tuple");
    return find<T>();
  }

  /// The printed form: `7`, `source`, `true`, `(complex, 7)`, `<none>` when empty.
  /// Allocates, except for short strings and numbers (small-string optimization).
  std::string str() const {
    if (!impl_) return "<none>";
    switch (impl_->kind) {
      case detail::id_kind::integer:
        return std::to_string(value_of<std::int64_t>());
      case detail::id_kind::big_unsigned:
        return std::to_string(value_of<std::uint64_t>());
      case detail::id_kind::string:
        return value_of<std::string>();
      case detail::id_kind::other:
        break;
    }
    std::ostringstream os;
    os.imbue(std::locale::classic());  // no digit grouping from the global locale
    impl_->print(os);
    return std::move(os).str();
  }

  /// `*this == node_id(k)`, without making `k` an id: never allocates for an integer, a string
  /// (of any spelling), an enum, or a pair or tuple of these, so it suits a per-event path
  /// (`ctx.send(id, data)`). A null `const char*` matches nothing (where `node_id(k)` throws).
  template <class K>
  bool matches(const K& k) const {
    if constexpr (std::is_same_v<K, node_id>) {
      return *this == k;
    } else {
      using raw = std::decay_t<K>;
      static_assert(detail::id_check<raw>::ok);
      if constexpr (std::is_unsigned_v<raw> && !std::is_same_v<raw, bool> &&
                    sizeof(raw) >= sizeof(std::int64_t)) {
        if (k > static_cast<raw>(std::numeric_limits<std::int64_t>::max())) {
          const std::uint64_t* v = find<std::uint64_t>();
          return v != nullptr && *v == k;
        }
      }
      const auto* v = find<detail::id_normal_t<K>>();
      return v != nullptr && detail::id_value_equal(*v, k);
    }
  }

  // -- comparison ---

  /// Same normalized type and equal values; empty ids are equal. Never allocates.
  friend bool operator==(const node_id& a, const node_id& b) {
    if (a.impl_ == b.impl_) return true;  // copies of one id, or both empty
    if (!a.impl_ || !b.impl_) return false;
    const detail::id_model_base& x = *a.impl_;
    const detail::id_model_base& y = *b.impl_;
    if (x.hash != y.hash || x.kind != y.kind) return false;
    if (x.kind == detail::id_kind::other && x.type != y.type) return false;
    return x.equals(y);
  }

  /// A total order: the empty id first; then numbers in numeric order, strings in
  /// lexicographic order, then other types grouped by type (in an order fixed within one run of
  /// the program). Values of one type compare by their `<`, or, lacking one, by printed form.
  friend std::weak_ordering operator<=>(const node_id& a, const node_id& b) {
    const int c = compare(a, b);
    return c < 0 ? std::weak_ordering::less
                 : (c > 0 ? std::weak_ordering::greater : std::weak_ordering::equivalent);
  }
  friend bool operator<(const node_id& a, const node_id& b) { return compare(a, b) < 0; }

  /// Prints `str()`. A template, so that it takes a `node_id` only: with the implicit
  /// constructor, a plain `const node_id&` would make `os << x` look valid for every `x` found
  /// through `node_id` (a `std::vector<node_id>`), and detection by `requires { os << x; }` (as
  /// test frameworks and loggers do) would then fail inside the constructor.
  template <std::same_as<node_id> Id>
  friend std::ostream& operator<<(std::ostream& os, const Id& id) {
    return os << id.str();
  }

 private:
  static constexpr std::size_t empty_hash = 0x5f3759df;

  template <class V>
  const V* find() const noexcept {
    constexpr detail::id_kind kind = detail::id_kind_of<V>();
    if (!impl_ || impl_->kind != kind) return nullptr;
    if constexpr (kind == detail::id_kind::other) {
      if (impl_->type != typeid(V)) return nullptr;
    }
    return &value_of<V>();
  }

  // The stored value; its type must be V.
  template <class V>
  const V& value_of() const noexcept {
    return static_cast<const detail::id_model<V>&>(*impl_).value;
  }

  static int compare(const node_id& a, const node_id& b) {
    if (a.impl_ == b.impl_) return 0;
    if (!a.impl_) return -1;
    if (!b.impl_) return 1;
    const detail::id_model_base& x = *a.impl_;
    const detail::id_model_base& y = *b.impl_;
    if (x.kind != y.kind) return x.kind < y.kind ? -1 : 1;
    if (x.type != y.type) return std::type_index(x.type) < std::type_index(y.type) ? -1 : 1;
    return x.compare(y);
  }

  std::shared_ptr<const detail::id_model_base> impl_;
};

}  // namespace datamesh

/// Hashes a `node_id` by `node_id::hash()`, for unordered containers.
template <>
struct std::hash<datamesh::node_id> {
  std::size_t operator()(const datamesh::node_id& id) const noexcept { return id.hash(); }
};
