// Test support for dispatchers as pure policy: a dispatcher driven by plain calls, recording the
// batches it sends, the infos it delivers and the demand it owes, with plain ints as events.
#pragma once

#include <datamesh/error.hpp>
#include <datamesh/subscription_id.hpp>

#include <any>
#include <cstddef>
#include <numeric>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace dmtest {

using events = std::vector<int>;

/// One batch a dispatcher sent.
struct sent {
  datamesh::subscription_id id;
  events evs;
  friend bool operator==(const sent&, const sent&) = default;
};

/// first, first + 1, ..., count of them.
inline events range(int first, int count) {
  events evs(static_cast<std::size_t>(count));
  std::iota(evs.begin(), evs.end(), first);
  return evs;
}

/// The `errc` `f` throws, or `errc{}` when it throws nothing.
template <class F>
datamesh::errc error_of(F&& f) {
  try {
    f();
  } catch (const datamesh::error& e) {
    return static_cast<datamesh::errc>(e.code().value());
  }
  return datamesh::errc{};
}

/// Drives dispatcher `D` as its producer would, draining it after every call: `out` gets what
/// it sends, `infos` the (string) infos it delivers, `reasks` the asks it makes on subscribers'
/// behalf, `owed` the demand it asks the producer for in place of dropped events.
template <class D>
struct driver {
  D d;
  std::vector<sent> out;
  std::vector<std::string> infos;
  std::vector<std::pair<datamesh::subscription_id, std::size_t>> reasks;
  std::size_t owed = 0;

  driver() requires std::is_default_constructible_v<D>
  = default;
  explicit driver(typename D::options o) : d(std::move(o)) {}

  auto send() {
    return [this](datamesh::subscription_id id, events&& evs) {
      out.push_back({id, std::move(evs)});
    };
  }
  auto deliver() {
    return [this](std::any&& m) { infos.push_back(std::any_cast<std::string>(m)); };
  }
  void drain() {
    d.drain([this](datamesh::subscription_id id, std::size_t n) { reasks.emplace_back(id, n); },
            deliver(), [this](std::size_t n) { owed += n; });
  }
  std::size_t ask(datamesh::subscription_id id, std::size_t n) {
    std::size_t up = 0;
    if constexpr (requires { d.ask(id, n, send()); }) {
      up = d.ask(id, n, send());
    } else {
      up = d.ask(id, n);
    }
    drain();
    return up;
  }
  /// Dispatches `evs` and returns the leftovers.
  events dispatch(events evs) {
    d.dispatch(evs, send());
    drain();
    return evs;
  }
  std::size_t cancel(datamesh::subscription_id id) {
    const std::size_t up = d.cancel(id);
    drain();
    return up;
  }
  void info(std::string msg) {
    d.info(std::move(msg), deliver());
    drain();
  }
  /// What was sent since the last `take`.
  std::vector<sent> take() { return std::exchange(out, {}); }
};

}  // namespace dmtest
