/// @file
/// A consumer as a range: GenStage's `stream` (SPEC section J). Iterate the events of one or
/// more producers from ordinary code, under back-pressure:
///
///     for (int x : datamesh::stream<int>(rt, {numbers})) { ... }
///     for (int x : datamesh::stream<int>(rt, {{numbers, {.max_demand = 100}}, "sensors"})
///                      | std::views::take(300)) { ... }
///
/// `stream<T>(rt, producers, options)` checks its arguments and starts a hidden consumer stage;
/// it subscribes only when `begin()` runs. The iterating thread asks each producer for
/// `max_demand` events and asks again, like a consumer, each time it has consumed
/// `max_demand - min_demand` of them (rules 96, 97): at most `max_demand` events per producer are
/// ever in flight or queued for the iterating thread. Stopping early (destroying the stream, or
/// `stop()`) cancels every subscription with reason `normal` and stops the hidden stage; the
/// producers keep running (rule 101). The range ends when every producer has ended.
///
/// How the end of a producer ends the range is `stream_options::cancel` (rules 99, 100):
///   - `transient` (the default here): a `normal` or `shutdown` end is a clean end of that
///     producer's part; any other end throws from the iterator. GenStage's default is
///     `permanent`, whose normal end *exits the enumerating process*; in C++ that would turn the
///     end of every finite producer into an exception, so DataMesh defaults to the mode that
///     halts cleanly and still reports failures.
///   - `permanent`: any end throws, a normal one included (`datamesh::error`, `errc::no_stage`,
///     whose message says the producer ended), as GenStage's default does.
///   - `temporary`: never throws because of a producer; its part just ends.
/// A producer that ended with an exception rethrows that exception; any other failure throws
/// `datamesh::error` (`errc::no_stage`) naming the producer and its reason. Events that arrived
/// before the end are iterated first. An unknown or exited producer throws at `begin()` under
/// `permanent` and `transient`, and is an empty part under `temporary` (rule 99).
///
/// Never iterate a stream from inside a stage callback running on the same runtime: the
/// iterating thread waits for events that other stages must produce, and a callback waiting
/// blocks a pool thread (or, on a borrowed single-threaded executor, the very thread those
/// stages need). On a runtime built on a `deterministic_executor` the iterator does not block:
/// it runs the executor one handler at a time until an event or the end arrives, and throws
/// `errc::would_deadlock` if nothing is left to run, so tests stay deterministic.
///
/// GenStage's rule 98 (unrelated messages in the caller's mailbox are left alone) has no
/// counterpart: the iterating thread has no mailbox; the hidden stage receives only its own
/// subscriptions' messages.
#pragma once

#include <datamesh/context.hpp>
#include <datamesh/detail/type_name.hpp>
#include <datamesh/error.hpp>
#include <datamesh/exit_reason.hpp>
#include <datamesh/runtime/detail/runtime_state.hpp>
#include <datamesh/runtime/runtime.hpp>
#include <datamesh/stage.hpp>
#include <datamesh/stage_calls.hpp>
#include <datamesh/start.hpp>
#include <datamesh/subscription.hpp>

#include <any>
#include <atomic>
#include <concepts>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <typeindex>
#include <typeinfo>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace datamesh {

/// Options of a stream (SPEC section J). Per-producer options (`max_demand`, `min_demand`,
/// `extra`) travel with each producer, as `{producer, subscribe_options{...}}`.
struct stream_options {
  /// What the end of a producer does to the range (rules 99, 100); see the file comment for why
  /// the default is `transient`, not GenStage's `permanent`.
  cancel_mode cancel = cancel_mode::transient;
  /// The demand mode set on the producers when iteration starts: `forward` by default, as in
  /// GenStage, so a producer started accumulating (rule 48) waits for the stream. Empty leaves
  /// the producers as they are.
  std::optional<producer_demand> demand = producer_demand::forward;
  /// The stages whose demand mode is set; empty means the stream's producers (GenStage's
  /// `:producers`).
  std::vector<stage_ref> producers{};
};

/// One producer of a stream: a handle or a registered name, with its subscription options.
/// Written as `p`, `"name"`, or `{p, subscribe_options{.max_demand = 10}}`.
///
/// `subscribe_options::cancel` and `demand` are not used by a stream: the cancel mode is
/// `stream_options::cancel` (a `subscribe_options` cannot tell an unset mode from `permanent`),
/// and the stream sends its own demand. Values other than their defaults are refused with
/// `errc::bad_options` when the stream is made.
///
/// Thread safety: a value type.
template <class T>
class stream_producer {
 public:
  /// A producer handle: typed handles are checked against `T` at compile time, a `stage_ref`
  /// when the stream is made. An empty handle is an unknown producer (rule 99).
  template <std::derived_from<stage_ref> P>
  stream_producer(const P& producer, subscribe_options opts = {})  // NOLINT: implicit
      : producer_(producer), options_(std::move(opts)) {
    if constexpr (requires { typename P::output_type; }) {
      static_assert(std::is_same_v<typename P::output_type, T>,
                    "stream<T>: the producer's event type differs from T (or it is not a "
                    "producer)");
    }
  }
  /// A producer registered under `name`, looked up when iteration starts (rule 99).
  stream_producer(std::string name, subscribe_options opts = {})  // NOLINT: implicit
      : name_(std::move(name)), options_(std::move(opts)) {}
  stream_producer(const char* name, subscribe_options opts = {})  // NOLINT: implicit
      : name_(name), options_(std::move(opts)) {}

  const stage_ref& producer() const noexcept { return producer_; }
  const std::string& name() const noexcept { return name_; }
  const subscribe_options& options() const noexcept { return options_; }

 private:
  stage_ref producer_;
  std::string name_;
  subscribe_options options_;
};

namespace detail {

/// What the hidden consumer tells the iterating thread, in the order it happened.
template <class T>
struct stream_note {
  enum class kind {
    ready,   ///< the subscription is known to the producer: demand may be sent
    events,  ///< a batch of events
    ended,   ///< the subscription ended
    closed,  ///< the hidden stage exited
  };
  kind what;
  subscription_id id = 0;
  std::vector<T> events{};
  exit_reason reason{};
  cancel_kind how = cancel_kind::down;
};

/// The part of a stream that the hidden consumer stage and the iterating thread share.
///
/// Thread safety: thread-safe. The hidden stage posts notes from the runtime's threads; the
/// iterating thread takes them; `close` may come from any thread.
template <class T>
class stream_shared {
 public:
  using note = stream_note<T>;

  /// Queues a note for the iterating thread; dropped once the stream is closed. Never blocks
  /// for long (one lock).
  void post(note&& n) {
    bool wake = false;
    {
      std::lock_guard lock(mutex_);
      if (closed_.load(std::memory_order_relaxed)) return;
      queue_.push_back(std::move(n));
      wake = waiting_;
    }
    if (wake) changed_.notify_one();
  }

  /// Moves every queued note into `out`, without waiting. False when none was queued.
  bool try_take(std::deque<note>& out) {
    std::lock_guard lock(mutex_);
    if (queue_.empty()) return false;
    take(out);
    return true;
  }

  /// Waits until a note is queued or the stream is closed, then moves the notes into `out`.
  void wait_take(std::deque<note>& out) {
    std::unique_lock lock(mutex_);
    waiting_ = true;
    changed_.wait(lock, [&] { return !queue_.empty() || closed_.load(std::memory_order_relaxed); });
    waiting_ = false;
    take(out);
  }

  /// Records a live subscription, for `close`. False (and nothing recorded) once closed.
  bool add(const subscription& s) {
    std::lock_guard lock(mutex_);
    if (closed_.load(std::memory_order_relaxed)) return false;
    live_.push_back(s);
    return true;
  }
  /// Forgets a subscription that has ended.
  void forget(subscription_id id) {
    std::lock_guard lock(mutex_);
    std::erase_if(live_, [id](const subscription& s) { return s.id() == id; });
  }

  /// Closes the stream once: drops the queued notes and wakes the iterating thread. Returns the
  /// subscriptions still live, or nothing if it was already closed.
  std::optional<std::vector<subscription>> close() {
    std::vector<subscription> live;
    {
      std::lock_guard lock(mutex_);
      if (closed_.load(std::memory_order_relaxed)) return std::nullopt;
      closed_.store(true, std::memory_order_release);
      queue_.clear();
      live.swap(live_);
    }
    changed_.notify_all();
    return live;
  }

  /// Whether `close` has run. Never blocks.
  bool closed() const noexcept { return closed_.load(std::memory_order_acquire); }

 private:
  void take(std::deque<note>& out) {
    if (out.empty()) {
      out.swap(queue_);
    } else {
      for (auto& n : queue_) out.push_back(std::move(n));
      queue_.clear();
    }
  }

  std::mutex mutex_;
  std::condition_variable changed_;
  // Guarded by mutex_.
  std::deque<note> queue_;
  // Guarded by mutex_: subscriptions made and not yet seen to end.
  std::vector<subscription> live_;
  // Guarded by mutex_: the iterating thread waits on changed_.
  bool waiting_ = false;
  // Written under mutex_ (release), read without it by the iterating thread (acquire).
  std::atomic<bool> closed_{false};
};

/// Sent by the stream to its hidden stage behind each subscribe request: when it arrives, the
/// subscribe has been handled, so the stage knows whether the producer took it.
struct stream_settle {
  subscription_id id;
};

/// The hidden consumer of a stream. Manual demand: the iterating thread asks (rule 41), so the
/// stage forwards what it receives and decides nothing.
template <class T>
struct stream_consumer {
  std::shared_ptr<stream_shared<T>> shared;
  // The subscriptions handle_subscribe has seen (stage-owned).
  std::unordered_set<subscription_id> seen{};

  explicit stream_consumer(std::shared_ptr<stream_shared<T>> s) : shared(std::move(s)) {}

  demand_mode handle_subscribe(peer_role, const subscription& sub, const subscribe_options&,
                               context<void>&) {
    seen.insert(sub.id());
    return demand_mode::manual;
  }
  void handle_events(std::span<const T> in, const subscription& from, context<void>&) {
    shared->post({stream_note<T>::kind::events, from.id(), std::vector<T>(in.begin(), in.end())});
  }
  void handle_cancel(const cancellation& c, const subscription& sub, context<void>&) {
    shared->post({stream_note<T>::kind::ended, sub.id(), {}, c.reason, c.kind});
  }
  void handle_info(std::any& msg, context<void>&) {
    const auto* s = std::any_cast<stream_settle>(&msg);
    if (s == nullptr) return;
    // Seen: the subscribe has gone out to the producer, so an ask sent from now on reaches it
    // after the subscribe. Not seen: the producer was not alive when the stage subscribed and
    // the engine refused it without a callback (rule 26).
    if (seen.count(s->id) != 0) {
      shared->post({stream_note<T>::kind::ready, s->id});
    } else {
      shared->post({stream_note<T>::kind::ended, s->id, {}, exit_reason::noproc()});
    }
  }
  void terminate(const exit_reason& r) { shared->post({stream_note<T>::kind::closed, 0, {}, r}); }
};

/// The iterating side of a stream.
///
/// Thread safety: one thread at a time (the iterating thread), except `stop`, which is
/// thread-safe.
template <class T>
class stream_core {
  using note = stream_note<T>;

 public:
  stream_core(runtime& rt, std::vector<stream_producer<T>> producers, stream_options opts)
      : producers_(std::move(producers)), opts_(std::move(opts)) {
    check_options();
    hidden_ = rt.start<stream_consumer<T>>(stage_options{}, shared_);
    rt_ = hidden_.core_ptr()->runtime();
  }
  stream_core(const stream_core&) = delete;
  stream_core& operator=(const stream_core&) = delete;
  ~stream_core() { stop(); }

  // -- iteration (the iterating thread) ---

  /// Subscribes to every producer, once. Throws for an unknown producer (rule 99).
  void start() {
    if (started_) return;
    started_ = true;
    std::vector<stage_ref> resolved;
    for (const auto& p : producers_) resolved.push_back(resolve(p));
    for (std::size_t i = 0; i < resolved.size(); ++i) {
      if (!resolved[i].alive() && opts_.cancel != cancel_mode::temporary) {
        stop();
        throw error(errc::no_stage, "stream: producer " + describe(producers_[i]) +
                                        " is not alive, so the stream cannot subscribe to it "
                                        "(SPEC rule 99)");
      }
    }
    for (std::size_t i = 0; i < resolved.size(); ++i) {
      part p;
      p.name = resolved[i] ? resolved[i].name() : describe(producers_[i]);
      p.max = producers_[i].options().max_demand;
      p.min = producers_[i].options().effective_min_demand();
      p.ended = !resolved[i].alive();  // temporary: an empty part (rule 99)
      if (!p.ended) ++open_;
      parts_.push_back(std::move(p));
    }
    for (std::size_t i = 0; i < resolved.size(); ++i) {
      if (parts_[i].ended) continue;
      subscribe_options engine = producers_[i].options();
      // The stream applies its own cancel mode when a note says the subscription ended; the
      // hidden stage itself never exits because of a producer.
      engine.cancel = cancel_mode::temporary;
      engine.demand = demand_mode::manual;
      subscription sub;
      try {
        sub = datamesh::subscribe(hidden_, resolved[i], std::move(engine));
      } catch (const error& e) {
        if (shared_->closed()) return;  // stopped from another thread meanwhile
        // no_stage names the hidden stage: the runtime stopped it. Its `closed` note, queued
        // before its mailbox closed, ends the range by the cancel mode.
        if (e.code() == errc::no_stage) return;
        stop();
        throw;
      }
      parts_[i].sub = sub;
      index_.emplace(sub.id(), i);
      if (!shared_->add(sub)) datamesh::cancel(sub);
      // Behind the subscribe in the hidden stage's mailbox: tells whether it was taken.
      datamesh::async_info(hidden_, stream_settle{sub.id()});
    }
    if (opts_.demand) {  // after subscribing, as GenStage does (rule 96)
      const auto& targets = opts_.producers.empty() ? resolved : opts_.producers;
      for (const auto& t : targets) {
        if (t.alive() && produces(t.role())) t.core_ptr()->post_demand_mode(*opts_.demand);
      }
    }
    if (open_ == 0) finish();
  }

  /// Makes an event current, waiting for one if needed. False at the end of the range.
  bool fill() {
    for (;;) {
      if (shared_->closed()) {
        finished_ = true;
        pos_ = batch_.size();  // the items stay alive until the next batch; there is none
        return false;
      }
      if (pos_ < batch_.size()) return true;
      if (finished_) return false;
      if (inbox_.empty()) {
        receive();
        continue;
      }
      note n = std::move(inbox_.front());
      inbox_.pop_front();
      handle(n);
    }
  }

  /// The current event. Precondition: `fill()` returned true.
  T& current() {
    if (!fill()) throw error(errc::no_stage, "stream: dereferenced at the end of the range");
    return batch_[pos_];
  }

  /// Consumes the current event (reading one first if none is current) and sends demand once
  /// `max_demand - min_demand` events of its producer have been consumed (rule 97).
  void consume() {
    if (!fill()) return;
    ++pos_;
    part& p = parts_[batch_part_];
    if (p.ended) return;
    if (p.unconsumed > 0) --p.unconsumed;
    if (p.unconsumed <= p.min) {
      const std::size_t n = p.max - p.unconsumed;
      p.unconsumed = p.max;
      datamesh::ask(p.sub, n);
    }
  }

  /// Cancels the live subscriptions with `normal` and stops the hidden stage (rule 101).
  /// Thread-safe. Never blocks.
  void stop() noexcept {
    auto live = shared_->close();
    if (!live) return;
    for (const auto& s : *live) datamesh::cancel(s, exit_reason::normal());
    if (hidden_) hidden_.core_ptr()->post_stop_queued(exit_reason::normal());  // after the cancels
  }

 private:
  /// One producer's part of the stream; demand accounting owned by the iterating thread.
  struct part {
    std::string name;
    subscription sub{};
    std::size_t max = 0;
    std::size_t min = 0;
    // Asked for and not yet consumed by the iterating thread: in flight or queued.
    std::size_t unconsumed = 0;
    bool ended = false;
  };

  void check_options() const {
    if (producers_.empty()) {
      throw error(errc::bad_options, "stream: expected at least one producer (SPEC rule 102)");
    }
    for (const auto& p : producers_) {
      const subscribe_options& o = p.options();
      try {
        o.validate();
      } catch (const error& e) {
        throw error(errc::bad_options, "stream: invalid options for producer " + describe(p) +
                                           " (SPEC rule 102): " + e.what());
      }
      if (o.cancel != cancel_mode::permanent) {
        throw error(errc::bad_options,
                    "stream: invalid options for producer " + describe(p) +
                        ": set the cancel mode with stream_options::cancel; a stream does not "
                        "use subscribe_options::cancel (SPEC rule 102)");
      }
      if (o.demand != demand_mode::automatic) {
        throw error(errc::bad_options, "stream: invalid options for producer " + describe(p) +
                                           ": a stream sends its own demand, so "
                                           "subscribe_options::demand must stay automatic "
                                           "(SPEC rule 102)");
      }
      const stage_ref& r = p.producer();
      if (!r) continue;  // an unknown producer, reported by begin() (rule 99)
      if (!produces(r.role())) {
        throw error(errc::not_a_producer,
                    "stream: " + r.name() + " is a consumer, not a producer (SPEC rule 102)");
      }
      if (r.output_type() != std::type_index(typeid(T))) {
        throw error(errc::type_mismatch, "stream<" + detail::type_name(typeid(T)) +
                                             ">: " + r.name() + " produces " +
                                             detail::type_name(r.output_type()));
      }
    }
    for (const auto& t : opts_.producers) {
      if (!t) {
        throw error(errc::bad_options, "stream: stream_options::producers holds an empty handle");
      }
    }
  }

  static std::string describe(const stream_producer<T>& p) {
    if (p.producer()) return "'" + p.producer().name() + "'";
    if (!p.name().empty()) return "'" + p.name() + "'";
    return "(an empty handle)";
  }

  /// The producer a stream_producer names, or an empty handle for an unknown name.
  stage_ref resolve(const stream_producer<T>& p) const {
    if (p.producer() || p.name().empty()) return p.producer();
    // Every actor a runtime starts is a stage.
    return stage_ref(
        std::static_pointer_cast<stage_base>(hidden_.core_ptr()->runtime()->find(p.name())));
  }

  /// Fills the inbox: drives a deterministic executor, or waits on the shared state.
  void receive() {
    // The hidden stage has not exited (its exit posts a `closed` note), so neither has the
    // runtime, and its executor is alive.
    const bool driven = detail::drive_until(
        *rt_, [&] { return shared_->try_take(inbox_) || shared_->closed(); },
        [] { return std::string("stream: no event and no end has arrived"); });
    if (!driven) shared_->wait_take(inbox_);
  }

  void handle(note& n) {
    switch (n.what) {
      case note::kind::ready: {
        part* p = find(n.id);
        if (p == nullptr || p->ended) return;
        p->unconsumed = p->max;
        datamesh::ask(p->sub, p->max);  // rule 96
        return;
      }
      case note::kind::events: {
        auto it = index_.find(n.id);
        if (it == index_.end()) return;
        batch_ = std::move(n.events);
        pos_ = 0;
        batch_part_ = it->second;
        return;
      }
      case note::kind::ended: {
        part* p = find(n.id);
        if (p == nullptr || p->ended) return;
        p->ended = true;
        --open_;
        shared_->forget(n.id);
        if (fails(n.reason)) fail(*p, n.reason, n.how);
        if (open_ == 0) finish();
        return;
      }
      case note::kind::closed:
        // The hidden stage exited without being stopped by the stream: the runtime is stopping
        // (reason shutdown), or it failed. It ends every part still open.
        if (open_ > 0 && fails(n.reason)) fail_closed(n.reason);
        finish();
        return;
    }
  }

  part* find(subscription_id id) {
    auto it = index_.find(id);
    return it == index_.end() ? nullptr : &parts_[it->second];
  }

  /// Whether `reason` ends the range with an exception under the stream's cancel mode.
  bool fails(const exit_reason& reason) const {
    if (reason.get_kind() == exit_reason::kind::already_subscribed) return false;  // rule 92
    switch (opts_.cancel) {
      case cancel_mode::permanent:
        return true;
      case cancel_mode::transient:
        return !reason.is_clean();
      case cancel_mode::temporary:
        return false;
    }
    return true;
  }

  /// Every part has ended cleanly: the range ends.
  void finish() {
    finished_ = true;
    stop();
  }

  /// Ends the range and throws for a producer's end. The hidden stage stops with the same
  /// reason, so the other producers see it in their cancel, as GenStage's exiting caller does.
  [[noreturn]] void fail(const part& p, const exit_reason& reason, cancel_kind how) {
    abort_with(reason);
    if (reason.exception()) std::rethrow_exception(reason.exception());
    std::string what = "stream: producer '" + p.name + "' ";
    what += how == cancel_kind::down ? "ended" : "cancelled the subscription";
    what += " with reason " + reason.to_string();
    if (reason.is_clean()) {
      what += ", and the stream's cancel mode is permanent (SPEC rule 100)";
    } else {
      what += " (SPEC rule 99)";
    }
    throw error(errc::no_stage, what);
  }

  [[noreturn]] void fail_closed(const exit_reason& reason) {
    abort_with(reason);
    if (reason.exception()) std::rethrow_exception(reason.exception());
    throw error(errc::no_stage,
                "stream: its consumer stage exited with reason " + reason.to_string());
  }

  void abort_with(const exit_reason& reason) {
    finished_ = true;
    pos_ = batch_.size();
    inbox_.clear();
    if (shared_->close()) hidden_.core_ptr()->post_stop(reason);
  }

  std::vector<stream_producer<T>> producers_;
  stream_options opts_;
  std::shared_ptr<stream_shared<T>> shared_ = std::make_shared<stream_shared<T>>();
  stage_ref hidden_;
  // Runs one handler of a deterministic executor; empty on other runtimes.
  std::shared_ptr<const detail::runtime_state> rt_;  // the hidden stage's

  // Everything below belongs to the iterating thread.
  bool started_ = false;
  bool finished_ = false;
  std::vector<part> parts_;
  std::unordered_map<subscription_id, std::size_t> index_;
  std::size_t open_ = 0;  // parts not yet ended
  std::deque<note> inbox_;
  std::vector<T> batch_;  // the batch being iterated
  std::size_t pos_ = 0;
  std::size_t batch_part_ = 0;
};

}  // namespace detail

/// The events of one or more producers as an input range (SPEC section J); see the file comment.
/// `T` must be copyable: the hidden stage copies each batch out of the engine's message.
///
/// Thread safety: a stream and its iterators are used by one thread at a time (the iterating
/// thread); `stop()` is thread-safe, and ends an iteration blocked in another thread. Distinct
/// streams are independent.
template <class T>
class stream {
 public:
  using value_type = T;

  /// The iterator: an input iterator whose reference is `T&` (an item may be moved from). It
  /// reads lazily: `++` only consumes the current event, and the next is waited for by `*` or
  /// the comparison with `end()`, so `std::views::take(n)` never waits for the (n+1)th.
  class iterator {
   public:
    using iterator_concept = std::input_iterator_tag;
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    using reference = T&;

    iterator() = default;

    /// The current event, waited for if needed. Throws what the stream throws (see the file
    /// comment); at the end of the range, `errc::no_stage`.
    T& operator*() const { return core_->current(); }
    T* operator->() const { return &core_->current(); }
    /// Consumes the current event; may send demand. Never waits unless no event is current.
    iterator& operator++() {
      core_->consume();
      return *this;
    }
    void operator++(int) { ++*this; }
    /// Whether the range has ended; waits for the next event or the end.
    friend bool operator==(const iterator& it, std::default_sentinel_t) {
      return it.core_ == nullptr || !it.core_->fill();
    }

   private:
    friend class stream;
    explicit iterator(detail::stream_core<T>* core) noexcept : core_(core) {}
    detail::stream_core<T>* core_ = nullptr;
  };

  /// Checks the arguments and starts the hidden consumer stage; subscribes at `begin()`.
  /// @throws datamesh::error `bad_options` for an empty producer list or bad per-producer options
  ///   (rule 102), `not_a_producer` or `type_mismatch` for a handle that cannot feed a
  ///   `stream<T>`, `runtime_stopped`. An unknown producer is reported by `begin()` (rule 99).
  /// Thread-safe (as `runtime::start`).
  stream(runtime& rt, std::vector<stream_producer<T>> producers, stream_options opts = {})
      : core_(std::make_unique<detail::stream_core<T>>(rt, std::move(producers), std::move(opts))) {
  }

  stream(stream&&) noexcept = default;
  /// Stops this stream, then takes `other`'s.
  stream& operator=(stream&& other) noexcept {
    if (this != &other) {
      if (core_) core_->stop();
      core_ = std::move(other.core_);
    }
    return *this;
  }
  /// Stops the stream: cancels the live subscriptions with `normal` (rule 101). Never blocks.
  ~stream() = default;

  /// Subscribes to the producers the first time (later calls continue where the last iterator
  /// stopped: this is a single-pass range). Does not wait for events.
  /// @throws datamesh::error `no_stage` for an unknown or exited producer under `permanent` or
  ///   `transient` (rule 99), `not_a_producer` or `type_mismatch` for a name that names a stage
  ///   unfit for `stream<T>`.
  /// The iterating thread only.
  iterator begin() {
    if (!core_) return iterator();
    core_->start();
    return iterator(core_.get());
  }
  std::default_sentinel_t end() const noexcept { return {}; }

  /// Ends the range now: cancels the live subscriptions with `normal` and stops the hidden stage;
  /// the producers keep running (rule 101). Idempotent. Thread-safe. Never blocks.
  void stop() noexcept {
    if (core_) core_->stop();
  }

 private:
  std::unique_ptr<detail::stream_core<T>> core_;
};

}  // namespace datamesh
