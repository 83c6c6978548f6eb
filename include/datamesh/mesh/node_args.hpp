/// @file
/// `node_args`: a node's start arguments as named values, for logic that takes them untyped:
///
///     mesh.start_node("filter", threshold_filter{}, {{"threshold", 10}, {"unit", "C"}});
///     // in threshold_filter::init(const datamesh::node_args& a):
///     //   a.get<double>("threshold"), a.get_or<std::string>("unit", "K")
///
/// Logic whose `init` takes its own struct gets that struct instead (see mesh/node.hpp).
#pragma once

#include <datamesh/error.hpp>

#include <cstdint>
#include <initializer_list>
#include <map>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

namespace datamesh {

/// Named start arguments: integers, floating-point numbers, booleans and strings.
///
/// Thread safety: a value; const members may be used from several threads.
class node_args {
 public:
  using value = std::variant<std::int64_t, double, bool, std::string>;

  /// One argument, from any integer, floating-point, bool or string spelling.
  struct entry {
    template <class V>
    entry(std::string name, V&& v)  // NOLINT: {{"threshold", 10}} is the intended spelling
        : key(std::move(name)), val(to_value(std::forward<V>(v))) {}
    std::string key;
    value val;
  };

  node_args() = default;
  node_args(std::initializer_list<entry> entries) {
    for (const auto& e : entries) values_.insert_or_assign(e.key, e.val);
  }

  bool contains(const std::string& name) const { return values_.contains(name); }
  std::size_t size() const noexcept { return values_.size(); }

  /// Sets argument `name` (e.g. while reading a description), replacing any before.
  void set(std::string name, value v) { values_.insert_or_assign(std::move(name), std::move(v)); }
  /// The arguments as (name, value) pairs, ordered by name.
  auto begin() const noexcept { return values_.begin(); }
  auto end() const noexcept { return values_.end(); }

  /// The argument `name` as a `T`: an integer converts to a floating-point `T`, nothing else
  /// converts.
  /// @throws datamesh::error `bad_options` naming the argument when it is missing or of another
  ///   kind.
  template <class T>
  T get(const std::string& name) const {
    auto it = values_.find(name);
    if (it == values_.end()) {
      throw error(errc::bad_options, "the node argument '" + name + "' is missing");
    }
    return convert<T>(name, it->second);
  }
  /// As `get`, or `fallback` when the argument is missing.
  template <class T>
  T get_or(const std::string& name, T fallback) const {
    auto it = values_.find(name);
    return it == values_.end() ? std::move(fallback) : convert<T>(name, it->second);
  }

 private:
  template <class V>
  static value to_value(V&& v) {
    using D = std::decay_t<V>;
    if constexpr (std::is_same_v<D, bool>) {
      return v;
    } else if constexpr (std::is_integral_v<D>) {
      return static_cast<std::int64_t>(v);
    } else if constexpr (std::is_floating_point_v<D>) {
      return static_cast<double>(v);
    } else {
      static_assert(std::is_convertible_v<V, std::string>,
                    "a node argument is an integer, a floating-point number, a bool or a string");
      return std::string(std::forward<V>(v));
    }
  }

  template <class T>
  static T convert(const std::string& name, const value& v) {
    if constexpr (std::is_same_v<T, bool>) {
      if (const auto* b = std::get_if<bool>(&v)) return *b;
    } else if constexpr (std::is_integral_v<T>) {
      if (const auto* i = std::get_if<std::int64_t>(&v)) return static_cast<T>(*i);
    } else if constexpr (std::is_floating_point_v<T>) {
      if (const auto* d = std::get_if<double>(&v)) return static_cast<T>(*d);
      if (const auto* i = std::get_if<std::int64_t>(&v)) return static_cast<T>(*i);
    } else {
      if (const auto* s = std::get_if<std::string>(&v)) return T(*s);
    }
    throw error(errc::bad_options, "the node argument '" + name + "' is not of the kind asked for");
  }

  std::map<std::string, value> values_;
};

}  // namespace datamesh
