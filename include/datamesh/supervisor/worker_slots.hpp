/// @file
/// The demand of a consumer supervisor on one producer, as pure policy: each event takes a worker
/// slot, and the supervisor asks again only as workers finish (SPEC rule 110).
///
/// This is the inverse of a plain consumer's re-ask (rule 38): with max 10 / min 8 a consumer
/// asks after handling 2 events, but a consumer supervisor asks for 8 once 8 of its workers have
/// finished, so its live workers drop to `max - min` = 2 before more events come. With
/// `min_demand` 0 it asks for 1 on every exit.
#pragma once

#include <cstddef>

namespace datamesh {

/// Worker slots of one subscription of a consumer supervisor.
///
/// Thread safety: not thread-safe; owned by one consumer supervisor.
class worker_slots {
 public:
  /// `min_demand < max_demand`, both checked by the subscription's options.
  worker_slots(std::size_t max_demand, std::size_t min_demand) noexcept
      : max_(max_demand), min_(min_demand) {}

  /// What the supervisor asks when it subscribes: every slot.
  std::size_t first_ask() const noexcept { return max_; }

  /// An event arrived: its worker takes a slot. A restarting worker keeps its slot (rule 112).
  void take() noexcept { ++live_; }

  /// A worker's slot is free again: it finished and is not restarted, failed to start (rule
  /// 111), or was terminated (rule 116). Returns the demand to ask now, 0 for none.
  std::size_t release() noexcept {
    if (live_ > 0) --live_;
    ++freed_;
    if (freed_ < min_) return 0;
    const std::size_t ask = freed_;
    freed_ = 0;
    return ask;
  }

  /// Workers holding a slot: running, starting or restarting.
  std::size_t live() const noexcept { return live_; }
  /// Slots freed since the last ask.
  std::size_t freed() const noexcept { return freed_; }

 private:
  std::size_t max_;
  std::size_t min_;
  std::size_t live_ = 0;
  std::size_t freed_ = 0;
};

}  // namespace datamesh
