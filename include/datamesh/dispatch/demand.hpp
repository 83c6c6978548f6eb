/// @file
/// The DemandDispatcher, the default (SPEC section F): work-sharing. Each batch goes to the
/// subscriber with the largest outstanding demand, then the next, so events spread over
/// consumers by how much each asked for.
#pragma once

#include <datamesh/demand.hpp>
#include <datamesh/dispatch/detail/splitmix64.hpp>
#include <datamesh/dispatch/dispatcher.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace datamesh {

/// Options of the DemandDispatcher.
struct demand_dispatcher_options {
  /// The maximum demand expected from one ask; unset means "the first ask" (SPEC rule 67).
  std::optional<std::size_t> max_demand{};
  /// Shuffle the subscribers once, on the first dispatch, so the first one is not always
  /// served first (SPEC rule 68).
  bool shuffle_demands_on_first_dispatch = false;
  /// Seed of that shuffle, for reproducible tests.
  std::uint64_t shuffle_seed = 0x9e3779b97f4a7c15ULL;
};

/// Sends each batch to the subscriber with the largest demand (SPEC rules 64-70).
///
/// Thread safety: not thread-safe; owned by one producer.
template <class Event>
class demand_dispatcher {
 public:
  using options = demand_dispatcher_options;

  demand_dispatcher() = default;
  explicit demand_dispatcher(options opts)
      : max_(opts.max_demand),
        shuffle_(opts.shuffle_demands_on_first_dispatch),
        rng_(opts.shuffle_seed) {}

  void set_logger(log_function log) { log_ = std::move(log); }

  /// A new subscriber starts with no demand. Never passes demand upstream.
  std::size_t subscribe(subscription_id id, const subscribe_options& /*opts*/) {
    demands_.push_back({id, 0});
    return 0;
  }

  /// The subscriber's unfilled demand becomes pending: later asks are taken out of it before
  /// anything goes upstream (rule 66).
  std::size_t cancel(subscription_id id) {
    auto it = find(id);
    if (it == demands_.end()) return 0;
    pending_ = add_demand(pending_, it->demand);
    demands_.erase(it);
    return 0;
  }

  /// Adds `n` to the subscriber's demand and returns what the producer must now serve: `n`
  /// less what is already pending (rules 65, 66). Warns once an ask exceeds the expected
  /// maximum (rule 67).
  std::size_t ask(subscription_id id, std::size_t n) {
    if (!max_) max_ = n;
    if (n > *max_ && log_) {
      log_(log_level::warning, "DemandDispatcher expects a maximum demand of " +
                                   std::to_string(*max_) + ", got demand for " + std::to_string(n) +
                                   " events; different maximum demands overload greedy consumers");
    }
    auto it = find(id);
    if (it == demands_.end()) return 0;
    const std::size_t current = it->demand;
    demands_.erase(it);
    insert(id, add_demand(current, n));
    const std::size_t already_sent = std::min(pending_, n);
    pending_ -= already_sent;
    return n - already_sent;
  }

  /// Hands `events` out by largest demand first (rule 64) and leaves the leftovers in `events`
  /// (rule 69). A batch that fits whole in one subscriber's demand is moved, not copied.
  template <class Send>
  void dispatch(std::vector<Event>& events, Send&& send) {
    if (shuffle_) {
      std::shuffle(demands_.begin(), demands_.end(), rng_);
      shuffle_ = false;
    }
    std::size_t offset = 0;
    const std::size_t length = events.size();
    while (offset < length && !demands_.empty() && demands_.front().demand > 0) {
      const entry top = demands_.front();
      const std::size_t take = std::min(top.demand, length - offset);
      demands_.erase(demands_.begin());
      if (offset == 0 && take == length) {
        send(top.id, std::move(events));
        events.clear();
        insert(top.id, top.demand - take);
        return;
      }
      const auto first = events.begin() + static_cast<std::ptrdiff_t>(offset);
      send(top.id,
           std::vector<Event>(std::make_move_iterator(first),
                              std::make_move_iterator(first + static_cast<std::ptrdiff_t>(take))));
      offset += take;
      insert(top.id, top.demand - take);
    }
    if (offset > 0)
      events.erase(events.begin(), events.begin() + static_cast<std::ptrdiff_t>(offset));
  }

  /// Infos are delivered at once: nothing waits behind consumers here (rule 70).
  template <class Info, class Deliver>
  void info(Info&& msg, Deliver&& deliver) {
    deliver(std::forward<Info>(msg));
  }

  // -- introspection, for tests and status ---

  /// The outstanding demand of one subscriber, or 0 if unknown.
  std::size_t demand_of(subscription_id id) const {
    for (const auto& e : demands_)
      if (e.id == id) return e.demand;
    return 0;
  }
  std::size_t pending() const noexcept { return pending_; }
  std::size_t subscriber_count() const noexcept { return demands_.size(); }

 private:
  struct entry {
    subscription_id id;
    std::size_t demand;
  };

  typename std::vector<entry>::iterator find(subscription_id id) {
    return std::find_if(demands_.begin(), demands_.end(),
                        [id](const entry& e) { return e.id == id; });
  }

  // Keeps demands_ sorted by demand, largest first; a new entry goes after those with equal
  // demand, so earlier subscriptions and asks are served first among equals (rule 64).
  void insert(subscription_id id, std::size_t demand) {
    auto pos = std::find_if(demands_.begin(), demands_.end(),
                            [demand](const entry& e) { return demand > e.demand; });
    demands_.insert(pos, entry{id, demand});
  }

  std::vector<entry> demands_;
  std::size_t pending_ = 0;
  std::optional<std::size_t> max_;
  bool shuffle_ = false;
  detail::splitmix64 rng_{0x9e3779b97f4a7c15ULL};
  log_function log_;
};

static_assert(dispatcher_for<demand_dispatcher<int>, int>);

}  // namespace datamesh
