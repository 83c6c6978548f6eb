/// @file
/// The producer buffer (SPEC sections D and E): events a producer made that no consumer has asked
/// for yet, bounded, keeping the first or the last on overflow, with infos queued behind the
/// events that were buffered when they arrived.
///
/// Pure policy: no threads. It allocates only when it grows.
#pragma once

#include <datamesh/detail/assert.hpp>
#include <datamesh/dispatch/detail/info_marks.hpp>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <limits>
#include <utility>
#include <vector>

namespace datamesh {

/// A size with no limit (GenStage's `:infinity`).
inline constexpr std::size_t infinity = std::numeric_limits<std::size_t>::max();

/// What a full buffer keeps: the oldest events (`first`: incoming excess is dropped) or the
/// newest (`last`, the default: the oldest are dropped). SPEC rule 54.
enum class buffer_keep { first, last };

const char* to_string(buffer_keep k) noexcept;

/// A bounded FIFO of events with infos interleaved at the position they were queued.
///
/// Thread safety: not thread-safe; owned by one producer.
template <class T, class Info>
class buffer {
 public:
  /// `capacity` may be `infinity`; it must be > 0 (checked by the stage options).
  explicit buffer(std::size_t capacity = 10'000, buffer_keep keep = buffer_keep::last)
      : capacity_(capacity), keep_(keep) {}

  /// Buffered events (infos are not counted, SPEC rule 57).
  std::size_t size() const noexcept { return events_.size(); }
  bool empty() const noexcept { return events_.empty(); }
  std::size_t capacity() const noexcept { return capacity_; }
  buffer_keep keep() const noexcept { return keep_; }

  /// Stores `events` (moved from, from `first` on). Returns how many events were discarded
  /// (rule 54). Infos whose events were all discarded are released into `released` (rule 62).
  std::size_t store(std::vector<T>& events, std::size_t first, std::vector<Info>& released) {
    DATAMESH_ASSERT(first <= events.size(), "a batch is stored from inside it");
    const std::size_t incoming = events.size() - first;
    if (incoming == 0) return 0;
    if (capacity_ == infinity || events_.size() + incoming <= capacity_) {
      append(events, first);
      return 0;
    }
    if (keep_ == buffer_keep::first) {
      const std::size_t room = capacity_ - events_.size();
      events.resize(first + room);
      append(events, first);
      DATAMESH_ASSERT(events_.size() == capacity_, "keeping the first fills the buffer");
      return incoming - room;
    }
    // keep last: drop the oldest; when the incoming alone overflow, keep only their tail.
    const std::size_t discarded = events_.size() + incoming - capacity_;
    if (incoming > capacity_) {
      drop_front(events_.size(), released);
      first += incoming - capacity_;
    } else {
      drop_front(discarded, released);
    }
    append(events, first);
    DATAMESH_ASSERT(events_.size() == capacity_, "keeping the last fills the buffer");
    return discarded;
  }

  /// Queues `info` behind the buffered events and returns true; returns false, leaving `info`
  /// untouched, when no event is buffered (it should then be delivered at once, rule 59).
  bool store_info(Info& info) {
    if (events_.empty()) return false;
    infos_.add(head_ + events_.size(), std::move(info));
    return true;
  }

  /// Puts `events` (moved from, then cleared) back at the front, in order: events just taken
  /// that could not go out after all.
  void restore_front(std::vector<T>& events) {
    events_.insert(events_.begin(), std::make_move_iterator(events.begin()),
                   std::make_move_iterator(events.end()));
    head_ -= events.size();
    events.clear();
  }

  /// Takes up to `n` events, stopping at the first queued info (GenStage's
  /// `take_count_or_until_permanent`): appends them to `out`, then the infos reached to
  /// `reached`. Returns how many events were taken.
  std::size_t take(std::size_t n, std::vector<T>& out, std::vector<Info>& reached) {
    const std::size_t k = infos_.limit(head_, n < events_.size() ? n : events_.size());
    out.insert(out.end(), std::make_move_iterator(events_.begin()),
               std::make_move_iterator(events_.begin() + static_cast<std::ptrdiff_t>(k)));
    events_.erase(events_.begin(), events_.begin() + static_cast<std::ptrdiff_t>(k));
    head_ += k;
    release_reached(reached);
    return k;
  }

 private:
  void append(std::vector<T>& events, std::size_t first) {
    events_.insert(events_.end(),
                   std::make_move_iterator(events.begin() + static_cast<std::ptrdiff_t>(first)),
                   std::make_move_iterator(events.end()));
  }

  void drop_front(std::size_t n, std::vector<Info>& released) {
    events_.erase(events_.begin(), events_.begin() + static_cast<std::ptrdiff_t>(n));
    head_ += n;
    release_reached(released);
  }

  void release_reached(std::vector<Info>& out) {
    infos_.pass(head_, [&out](Info&& i) { out.push_back(std::move(i)); });
  }

  std::size_t capacity_;
  buffer_keep keep_;
  std::deque<T> events_;
  // Sequence number of events_.front(): events ever taken or dropped.
  std::uint64_t head_ = 0;
  // Each info at the sequence number of the first event buffered after it.
  detail::info_marks<Info> infos_;
};

}  // namespace datamesh
