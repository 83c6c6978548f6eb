/// @file
/// Infos waiting behind positioned events: the one mechanism behind "an info goes out once
/// every event queued before it has gone" (SPEC rules 58-62 and 85). The producer's buffer,
/// the keyed dispatchers' per-subscriber queues and the mesh dispatcher's held events each keep
/// their infos in one of these.
///
/// Positions are absolute: a queue counts the events that ever left it (`passed`, taken or
/// dropped), and a mark added at position p is reached once p events have left, so a queue
/// never renumbers its marks when events leave.
///
/// Thread safety: not thread-safe; owned by its queue.
#pragma once

#include <datamesh/detail/assert.hpp>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <utility>

namespace datamesh::detail {

template <class Payload>
class info_marks {
 public:
  /// Marks `payload` behind the events queued so far: `position` is the number of events that
  /// will have left the queue when the last of them leaves. Positions never decrease.
  void add(std::uint64_t position, Payload payload) {
    DATAMESH_ASSERT(marks_.empty() || marks_.back().first <= position,
                    "an info is queued behind the infos before it");
    marks_.emplace_back(position, std::move(payload));
  }

  /// Of `n` events wanted from a queue that `passed` events have left, how many may leave
  /// before the next mark: events never overtake an info.
  std::size_t limit(std::uint64_t passed, std::size_t n) const noexcept {
    if (marks_.empty()) return n;
    DATAMESH_ASSERT(marks_.front().first >= passed, "a reached mark was not passed");
    const std::uint64_t room = marks_.front().first - passed;
    return room < n ? static_cast<std::size_t>(room) : n;
  }

  /// Hands `f` the payload of every mark reached once `passed` events have left, oldest first.
  /// Each is removed before `f` runs, so `f` may add marks.
  template <class F>
  void pass(std::uint64_t passed, F&& f) {
    while (!marks_.empty() && marks_.front().first <= passed) {
      Payload p = std::move(marks_.front().second);
      marks_.pop_front();
      f(std::move(p));
    }
  }

  bool empty() const noexcept { return marks_.empty(); }

 private:
  std::deque<std::pair<std::uint64_t, Payload>> marks_;  // (position, payload), in order
};

}  // namespace datamesh::detail
