/// @file
/// Demand accounting: how demands add up, and the consumer side of one subscription (SPEC
/// section C).
///
/// A consumer asks `max_demand` when it subscribes (rule 36), cuts every incoming events message
/// into batches of at most `max_demand - min_demand` (rule 37), and after each batch, once what it
/// still awaits is at or below `min_demand`, asks for enough to be back at `max_demand` (rule 38).
/// Pure policy: no threads, no allocation.
#pragma once

#include <cstddef>
#include <limits>

namespace datamesh {

/// `a + b`, saturating at SIZE_MAX: a consumer may ask any n (rule 41), so asks that add up past
/// SIZE_MAX mean "no bound", never a small demand that wrapped around.
constexpr std::size_t add_demand(std::size_t a, std::size_t b) noexcept {
  return b > std::numeric_limits<std::size_t>::max() - a ? std::numeric_limits<std::size_t>::max()
                                                         : a + b;
}

/// Who sends demand on a subscription: the library (`automatic`, the default) or the consumer's
/// own code through `ask` (`manual`, SPEC rule 41).
enum class demand_mode { automatic, manual };

/// Whether a producer passes demand to `handle_demand` as it arrives (`forward`, the default) or
/// holds it, and every dispatch, until switched back (`accumulate`, SPEC rules 48-52).
enum class producer_demand { forward, accumulate };

const char* to_string(demand_mode m) noexcept;
const char* to_string(producer_demand m) noexcept;

/// Consumer-side demand of one automatic subscription.
///
/// Thread safety: not thread-safe; owned by one stage.
class consumer_demand {
 public:
  /// Requires `min_demand < max_demand` (checked by `subscribe_options::validate`).
  consumer_demand(std::size_t max_demand, std::size_t min_demand) noexcept
      : max_(max_demand), min_(min_demand), outstanding_(max_demand) {}

  /// What to ask when the subscription is made (rule 36). Never allocates.
  std::size_t initial_ask() const noexcept { return max_; }

  /// Events asked for and not yet received.
  std::size_t outstanding() const noexcept { return outstanding_; }

  std::size_t max_demand() const noexcept { return max_; }
  std::size_t min_demand() const noexcept { return min_; }

  /// Cuts `count` incoming events into batches (rule 37) and calls
  /// `on_batch(offset, size, ask_after)` for each in order, where `ask_after` is the demand to
  /// send once the batch has been handled (0 for none, rule 38). Returns how many of the events
  /// were in excess of the demand (rule 40: they are still handed over). Never allocates.
  template <class OnBatch>
  std::size_t split(std::size_t count, OnBatch&& on_batch) {
    const std::size_t step = max_ - min_;
    // Only what was asked before this message can be in it: asks made while splitting it are
    // not counted against it (GenStage's `old_demand`).
    std::size_t asked_before = outstanding_;
    std::size_t excess = 0;
    std::size_t offset = 0;
    while (offset < count) {
      const std::size_t size = count - offset < step ? count - offset : step;
      const std::size_t counted = size < asked_before ? size : asked_before;
      excess += size - counted;
      asked_before -= counted;
      outstanding_ -= counted;
      std::size_t ask = 0;
      if (outstanding_ <= min_) {
        ask = max_ - outstanding_;
        outstanding_ = max_;
      }
      on_batch(offset, size, ask);
      offset += size;
    }
    return excess;
  }

 private:
  std::size_t max_;
  std::size_t min_;
  std::size_t outstanding_;
};

}  // namespace datamesh
