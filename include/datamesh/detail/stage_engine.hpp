/// @file
/// The stage engine: GenStage's protocol for one role, event types and dispatcher, run as an
/// actor. The user's stage type is not a parameter: `stage_impl<S>` derives from the engine and
/// reaches the user's callbacks through the `user_*` hooks, one virtual call per callback. So
/// every stage with the same role, event types and dispatcher shares one compiled engine, which
/// keeps a program's build time and code size from growing with each stage type it defines.
///
/// The engine is composed by role. The state of each side (producer: dispatcher, buffer,
/// subscribers, held demand; consumer: the producers it subscribed to; producer_consumer: the
/// queue of upstream events waiting for downstream demand) exists only in engines whose role has
/// that side (`only_if`, no room taken otherwise), and the handlers of one side are constrained
/// to that role (`requires is_producer`), so code of a side a role lacks is never compiled for it.
///
/// Every handler below runs on the stage's executor, one at a time (the mailbox's scheduled
/// flag), so the engine's members need no lock: they belong to the stage. What crosses threads
/// is the mailbox and the atomics of `stage_base`.
#pragma once

#include <datamesh/buffer.hpp>
#include <datamesh/context.hpp>
#include <datamesh/demand.hpp>
#include <datamesh/detail/assert.hpp>
#include <datamesh/detail/stage_base.hpp>
#include <datamesh/detail/subscribe_reply.hpp>
#include <datamesh/error.hpp>
#include <datamesh/none.hpp>
#include <datamesh/runtime/detail/mailbox.hpp>
#include <datamesh/runtime/detail/runtime_state.hpp>
#include <datamesh/stage.hpp>

#include <algorithm>
#include <any>
#include <concepts>
#include <cstdint>
#include <deque>
#include <exception>
#include <future>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

namespace datamesh::detail {

/// The element type on the side a role does not have.
template <class T>
using event_or_none = std::conditional_t<std::is_void_v<T>, none, T>;

/// Checks that a dispatcher's options have the right type. Throws `bad_options`.
template <class D>
D make_dispatcher(const std::any& opts) {
  if (!opts.has_value()) {
    if constexpr (std::is_default_constructible_v<D>) {
      return D{};
    } else {
      throw error(errc::bad_options,
                  "this stage's dispatcher needs its options: stage_options::dispatcher_options");
    }
  }
  if constexpr (requires(const typename D::options& o) { D{o}; }) {
    if (const auto* o = std::any_cast<typename D::options>(&opts)) return D{*o};
  }
  throw error(errc::bad_options, "dispatcher_options does not hold this dispatcher's options type");
}

/// Stands in for a member of a side a role lacks: empty, and distinct per replaced type, so
/// several such members share no room (`[[no_unique_address]]`).
template <class T>
struct absent {};
template <bool Has, class T>
using only_if = std::conditional_t<Has, T, absent<T>>;

/// Which optional callbacks a user's stage defines; the engine calls only those.
struct optional_callbacks {
  bool init = false;
  bool handle_subscribe = false;
  bool handle_cancel = false;
  bool handle_info = false;
  bool handle_call = false;
  bool defer_stop = false;
  bool format_discarded = false;
  bool handle_spare_demand = false;  // producer_consumers only
};

/// `Input` and `Output` are the stage's event types, `void` for the side its role lacks.
template <stage_role Role, class Input, class Output, class Dispatcher>
class stage_engine : public stage_base, public event_sink<event_or_none<Input>>, stage_control {
 protected:
  using in_t = event_or_none<Input>;
  using out_t = event_or_none<Output>;
  using ctx_t = context<Output>;
  static constexpr stage_role role_v = Role;
  static constexpr bool is_producer = produces(role_v);
  static constexpr bool is_consumer = consumes(role_v);
  static constexpr bool is_producer_consumer = role_v == stage_role::producer_consumer;
  using dispatcher_t = Dispatcher;
  static_assert(!is_producer || dispatcher_for<dispatcher_t, out_t>,
                "the stage's dispatcher_type does not satisfy datamesh::dispatcher_for");
  static_assert(!is_producer || optional_members_checked<dispatcher_t>::value);

  stage_engine(std::shared_ptr<runtime_state> rt, const stage_options& opts,
               optional_callbacks callbacks)
      : stage_base(std::move(rt), role_v, typeid(Input), typeid(Output), opts.name),
        callbacks_(callbacks),
        dispatcher_(initial_dispatcher(opts)),
        buffer_(initial_buffer(opts)) {
    if (opts.demand == producer_demand::accumulate) set_accumulating(true);
    if constexpr (is_producer) {
      dispatcher_.set_logger([this](log_level l, const std::string& t) { ctl_log(l, t); });
      if constexpr (requires(dispatcher_t & d) {
                      d.set_queue_limit(std::size_t{}, buffer_keep{});
                    }) {
        dispatcher_.set_queue_limit(buffer_.capacity(), buffer_.keep());
      }
    }
  }

  static only_if<is_producer, dispatcher_t> initial_dispatcher(const stage_options& opts) {
    if constexpr (is_producer) {
      return make_dispatcher<dispatcher_t>(opts.dispatcher_options);
    } else {
      return {};
    }
  }
  static only_if<is_producer, buffer<out_t, std::any>> initial_buffer(const stage_options& opts) {
    if constexpr (is_producer) {
      return buffer<out_t, std::any>(
          opts.buffer_size.value_or(is_producer_consumer ? infinity : 10'000),
          opts.buffer_keep.value_or(buffer_keep::last));
    } else {
      return {};
    }
  }

  // -- the user's stage: what `stage_impl<S>` implements (on the stage's executor) ---

  /// Only those `optional_callbacks` names are called.
  virtual void user_init(ctx_t& c) = 0;
  virtual void user_handle_events(std::span<const in_t> batch, const subscription& from,
                                  ctx_t& c) = 0;
  /// A producer's `handle_demand`, or a producer_consumer's `handle_spare_demand`.
  virtual void user_handle_demand(std::size_t n, ctx_t& c) = 0;
  /// Leaves `mode` as it is unless `handle_subscribe` returns a `demand_mode`.
  virtual void user_handle_subscribe(peer_role peer, const subscription& sub,
                                     const subscribe_options& opts, demand_mode& mode,
                                     ctx_t& c) = 0;
  virtual void user_handle_cancel(const cancellation& why, const subscription& sub, ctx_t& c) = 0;
  virtual void user_handle_info(std::any& msg, ctx_t& c) = 0;
  /// True when `handle_call` returned a value, now in `value`, to reply with.
  virtual bool user_handle_call(std::any& request, call_reply& reply, ctx_t& c,
                                std::any& value) = 0;
  virtual bool user_defer_stop(const exit_reason& why, ctx_t& c) = 0;
  virtual bool user_format_discarded(std::size_t n) = 0;
  /// Calls `terminate` if the stage has one and still exists; may throw.
  virtual void user_terminate(const exit_reason& why) = 0;
  /// Destroys the user's stage.
  virtual void user_destroy() noexcept = 0;

 public:
  /// Lets the dispatcher refuse options it can never accept, at the caller's `subscribe`.
  /// Thread-safe: such checks read only configuration fixed at construction.
  void check_subscribe(const subscribe_options& opts) const override {
    if constexpr (is_producer && requires(const dispatcher_t& d) { d.check_subscribe(opts); }) {
      dispatcher_.check_subscribe(opts);
    } else {
      (void)opts;
    }
  }

  /// Registers, runs `init`, and queues the start-time subscriptions (rule 28). Throws
  /// `errc::start_failed` when `init` throws or stops the stage.
  void start(const stage_options& opts) {
    register_actor();
    if (callbacks_.init) {
      bool ok = guarded([&] { user_init(ctx()); });
      if (ok) after_callback();
      if (exiting_) {
        const std::string why = exit_.to_string();
        finish_exit();
        throw error(errc::start_failed, "stage '" + display_name() + "' failed to start: " + why);
      }
    }
    if constexpr (is_producer_consumer && requires { dispatcher_.initial_demand(); }) {
      // A dispatcher that lets its producer_consumer run before any consumer subscribes: the
      // stage processes what it receives and its dispatcher holds the output (dispatcher.hpp).
      downstream_demand_ = add_demand(downstream_demand_, dispatcher_.initial_demand());
    }
    for (const auto& [producer, sub_opts] : opts.subscribe_to) {
      subscription_id id = rt_->next_subscription.fetch_add(1, std::memory_order_relaxed);
      post_subscribe_to(producer.core_ptr(), id, sub_opts, nullptr);
    }
  }

  // -- messages (thread-safe) ---

  bool post_events(subscription_id id, std::vector<in_t>&& events, stage_base* from) override {
    return push(m_events{id, std::move(events), from});
  }
  bool post_subscribe_to(stage_ptr producer, subscription_id id, subscribe_options opts,
                         subscribe_reply_ptr reply) override {
    return push(m_subscribe_to{std::move(producer), id, std::move(opts), std::move(reply)});
  }
  bool post_subscribe(stage_ptr consumer, subscription_id id, subscribe_options opts,
                      subscribe_reply_ptr reply) override {
    return push(m_subscribe{std::move(consumer), id, std::move(opts), std::move(reply)});
  }
  bool post_ask(subscription_id id, std::size_t n, stage_base* from) override {
    return push(m_ask{id, n, from});
  }
  bool post_ask_request(subscription_id id, std::size_t n) override {
    return push(m_ask_request{id, n});
  }
  bool post_cancel(subscription_id id, exit_reason reason, bool down) override {
    return push(m_cancel{id, std::move(reason), down});
  }
  bool post_cancel_request(subscription_id id, exit_reason reason,
                           std::shared_ptr<std::promise<void>> done) override {
    return push(m_cancel_request{id, std::move(reason), std::move(done)});
  }
  bool post_cancelled(subscription_id id, exit_reason reason, bool down) override {
    return push(m_cancelled{id, std::move(reason), down});
  }
  bool post_info(std::any msg, std::shared_ptr<std::promise<void>> done) override {
    return push(m_info{std::move(msg), std::move(done)});
  }
  bool post_call(std::any request, reply_once<std::any> reply) override {
    return push(m_call{std::move(request), std::move(reply)});
  }
  bool post_message(std::any msg) override { return push(m_message{std::move(msg)}); }
  bool post_dispatcher_note(std::any note) override { return push(m_note{std::move(note)}); }
  bool post_demand_mode(producer_demand mode) override { return push(m_demand{mode}); }
  bool post_stop_queued(exit_reason reason) override { return push(m_stop{std::move(reason)}); }
  bool post_drain() override { return push(m_drain{}); }
  /// A stop overtakes the messages queued before it: the stage finishes the callback it runs,
  /// then exits, and what was queued is discarded (and counted), however much it was.
  bool post_stop(exit_reason reason) override {
    return accepted(mailbox_.push_urgent(message(m_stop{std::move(reason)})));
  }

 private:
  using cancel_waiters = std::vector<std::shared_ptr<std::promise<void>>>;
  static void release(cancel_waiters& w) {
    for (auto& p : w) p->set_value();
    w.clear();
  }

  // -- messages ---
  struct m_events {
    subscription_id id;
    std::vector<in_t> events;
    stage_base* from;
  };
  struct m_ask {
    subscription_id id;
    std::size_t n;
    stage_base* from;
  };
  struct m_subscribe_to {
    stage_ptr producer;
    subscription_id id;
    subscribe_options opts;
    subscribe_reply_ptr reply;  // null unless sync_subscribe waits
  };
  struct m_subscribe {
    stage_ptr consumer;
    subscription_id id;
    subscribe_options opts;
    subscribe_reply_ptr reply;
  };
  struct m_cancel {
    subscription_id id;
    exit_reason reason;
    bool down;
  };
  struct m_cancel_request {
    subscription_id id;
    exit_reason reason;
    std::shared_ptr<std::promise<void>> done;
  };
  struct m_cancelled {
    subscription_id id;
    exit_reason reason;
    bool down;
  };
  struct m_info {
    std::any msg;
    std::shared_ptr<std::promise<void>> done;
  };
  struct m_call {
    std::any request;
    reply_once<std::any> reply;
  };
  struct m_message {
    std::any msg;
  };
  struct m_note {
    std::any note;
  };
  struct m_demand {
    producer_demand mode;
  };
  struct m_stop {
    exit_reason reason;
  };
  struct m_drain {};
  struct m_serve {  // demand the dispatcher owes for events it dropped
    std::size_t n;
  };
  struct m_ask_request {  // datamesh::ask on a manual subscription, forwarded by the consumer
    subscription_id id;
    std::size_t n;
  };
  using message = std::variant<m_events, m_ask, m_subscribe_to, m_subscribe, m_cancel, m_cancelled,
                               m_cancel_request, m_info, m_call, m_message, m_demand, m_stop,
                               m_serve, m_ask_request, m_drain, m_note>;

  template <class M>
  bool push(M&& m) {
    return accepted(mailbox_.push(message(std::forward<M>(m))));
  }

  /// Whether the mailbox took a message; schedules the stage when the message was its first.
  bool accepted(typename mailbox<message>::push_result r) {
    switch (r) {
      case mailbox<message>::push_result::closed:
        return false;
      case mailbox<message>::push_result::schedule:
        schedule();
        return true;
      case mailbox<message>::push_result::queued:
        return true;
    }
    return true;
  }

  // -- the actor loop ---

  void run() override {
    // A bounded number of rounds, then yield the thread so other stages get their turn.
    for (int round = 0; round < 8; ++round) {
      if (!mailbox_.take(local_)) return;
      std::size_t i = 0;
      // The guard is around the loop, not each message: the loop stays as tight as it was
      // without one. A failure ends the stage, so the loop stops after that message anyway.
      try {
        for (; i < local_.size() && !exiting_; ++i) {
          if (mailbox_.has_urgent()) [[unlikely]] {
            handle_urgent();
            if (exiting_) break;
          }
          handle(local_[i]);
          if (draining_) [[unlikely]]
            finish_drain_if_done();
        }
      } catch (...) {
        engine_failed();
        ++i;  // the message that failed was handled, as far as it went
      }
      if (exiting_) {
        for (; i < local_.size(); ++i) handle_dead(local_[i]);
        local_.clear();
        finish_exit();
        return;
      }
      local_.clear();
    }
    schedule();
  }

  void handle(message& m) {
    std::visit([this](auto& msg) { this->on(msg); }, m);
  }

  /// The engine's own work failed (an allocation, most likely): that is this stage's exit
  /// reason, as a callback's exception is; the process and other stages go on. Call only in a
  /// catch block. Out of line: the message loop stays small.
  [[gnu::noinline, gnu::cold]] void engine_failed() {
    if constexpr (is_producer) out_.clear();
    begin_exit(exit_reason::from_exception(std::current_exception()));
  }

  /// Handles the urgent messages (stops) that arrived while this stage went through others.
  [[gnu::noinline]] void handle_urgent() {
    std::vector<message> urgent;
    mailbox_.take_urgent(urgent);
    for (auto& m : urgent) {
      if (exiting_) {
        handle_dead(m);
        continue;
      }
      try {
        handle(m);
      } catch (...) {
        begin_exit(exit_reason::from_exception(std::current_exception()));
      }
    }
  }

  // -- stage exit ---

  void begin_exit(exit_reason reason) {
    if (exiting_) return;
    exiting_ = true;
    exit_ = std::move(reason);
  }

  void finish_exit() {
    try {
      user_terminate(exit_);
    } catch (...) {
      ctl_log(log_level::error, "terminate threw; the stage exits with its first reason");
    }
    user_destroy();
    const std::size_t held = ctl_buffered();
    if (!exit_.is_clean()) {
      ctl_log(log_level::error, "stage exited: " + exit_.to_string());
    }
    // Peers learn of the exit as a monitor's DOWN: consumers by cancel mode, producers by
    // cancelling (SPEC rules 87-95).
    if constexpr (is_producer) {
      for (auto& [id, c] : consumers_) c.stage->post_cancelled(id, exit_, true);
      consumers_.clear();
    }
    if constexpr (is_consumer) {
      for (auto& [id, p] : producers_) {
        p.stage->post_cancel(id, exit_, true);
        release(p.waiters);  // the subscription ends with the stage
      }
      producers_.clear();
    }
    if constexpr (is_producer_consumer) {
      for (auto& item : upstream_queue_) {
        if (auto* c = std::get_if<upstream_cancel>(&item)) release(c->waiters);
        if (auto* e = std::get_if<upstream_events>(&item)) discarded_queued_ += e->events.size();
      }
      upstream_queue_.clear();
    }
    std::vector<message> rest;
    mailbox_.close(rest);
    for (auto& m : rest) handle_dead(m);
    // GenStage drops a stage's buffer and mailbox with it; DataMesh counts and logs them, so
    // the loss is observable (estimate_dropped_count, the log).
    lost_ += held + discarded_queued_;
    if (held > 0 || discarded_queued_ > 0) {
      ctl_log(log_level::warning, "exits with " + std::to_string(held) +
                                      " buffered events that no consumer asked for and " +
                                      std::to_string(discarded_queued_) +
                                      " events queued to it not yet handled; they are discarded");
    }
    if constexpr (is_producer) buffer_ = buffer<out_t, std::any>(1);
    buffered_.store(0, std::memory_order_relaxed);
    waiting_.store(0, std::memory_order_relaxed);
    publish_dropped();
    publish_exit(exit_);
  }

  /// A message that reached a stage that has exited.
  void handle_dead(message& m) {
    if (auto* e = std::get_if<m_events>(&m)) {
      discarded_queued_ += e->events.size();  // counted, published and logged by finish_exit
    } else if (auto* s = std::get_if<m_subscribe>(&m)) {
      s->consumer->post_cancelled(s->id, exit_, true);
    } else if (auto* r = std::get_if<m_cancel_request>(&m)) {
      if (r->done) r->done->set_value();  // the subscription ended with the stage
    } else if (auto* c = std::get_if<m_call>(&m)) {
      c->reply.fail(std::make_exception_ptr(
          error(errc::no_stage, "stage '" + display_name() + "' exited before the call")));
    } else if (auto* i = std::get_if<m_info>(&m)) {
      if (i->done) {
        i->done->set_exception(std::make_exception_ptr(
            error(errc::no_stage, "stage '" + display_name() + "' exited before the info")));
      }
    }
  }

  /// Runs user code; an escaping exception stops this stage with it as the reason (SPEC rule
  /// 95). Returns false when the stage is exiting.
  template <class F>
  bool guarded(F&& f) {
    try {
      f();
    } catch (...) {
      if constexpr (is_producer) out_.clear();
      begin_exit(exit_reason::from_exception(std::current_exception()));
      return false;
    }
    return !exiting_;
  }

  /// After a callback: dispatch what it pushed, then honour `ctx.stop`.
  void after_callback() {
    if constexpr (is_producer) {
      if (!out_.empty()) {
        std::vector<out_t> batch;
        batch.swap(out_);
        dispatch_events(batch);
      }
    }
    if (stop_requested_) {
      stop_requested_ = false;
      begin_exit(std::move(requested_));
    }
  }

  ctx_t& ctx() {
    if constexpr (is_producer) {
      if (!ctx_) ctx_.emplace(static_cast<stage_control*>(this), &out_);
    } else {
      if (!ctx_) ctx_.emplace(static_cast<stage_control*>(this));
    }
    return *ctx_;
  }

  stage_ptr self_ptr() { return self(); }

  // -- consumer side ---

  void on(m_subscribe_to& m) {
    if constexpr (!is_consumer) {
      ctl_log(log_level::error, "a producer cannot subscribe to another stage");
      if (m.reply) m.reply->refuse(error(errc::not_a_consumer, "a producer cannot subscribe"));
    } else {
      if (!m.producer || !m.producer->alive()) {
        ctl_log(log_level::error,
                "was not able to subscribe to a producer because it is not alive");
        if (m.reply) {
          m.reply->refuse(error(errc::no_stage, "cannot subscribe '" + display_name() +
                                                    "': the producer is not alive"));
        }
        if (m.opts.cancel != cancel_mode::temporary) request_exit(exit_reason::noproc());
        return;
      }
      DATAMESH_ASSERT(producers_.count(m.id) == 0, "the runtime never reuses a subscription id");
      subscription sub(m.id, self_ptr(), m.producer);
      // The subscribe goes out before handle_subscribe runs, so an ask made there (or by another
      // thread right after `subscribe`) can never reach the producer ahead of it (rule 41).
      auto producer = m.producer;
      const subscribe_options opts = m.opts;
      producers_.emplace(m.id, producer_entry{producer, sub, opts.cancel, std::nullopt});
      if (!producer->post_subscribe(self_ptr(), m.id, std::move(m.opts), std::move(m.reply))) {
        consumer_cancel(m.id, exit_reason::noproc(), true);
        return;
      }
      demand_mode mode = opts.demand;
      if (!call_handle_subscribe(peer_role::producer, sub, opts, mode)) return;
      if (mode == demand_mode::automatic) {
        auto it = producers_.find(m.id);
        if (it == producers_.end()) return;  // handle_subscribe cancelled it
        it->second.demand.emplace(opts.max_demand, opts.effective_min_demand());
        producer->post_ask(m.id, opts.max_demand, this);  // rule 36
      }
    }
  }

  void on(m_events& m) {
    if constexpr (is_consumer) {
      if (producers_.find(m.id) == producers_.end()) {
        // Rule 33: tell the sender its subscription is unknown here. Its events are lost.
        lose(m.events.size());
        ctl_log(log_level::warning, "received " + std::to_string(m.events.size()) +
                                        " events on an unknown subscription; they are dropped");
        // The registry holds actors; the sender of an event is a stage.
        if (auto p = rt_->find(m.from))
          static_cast<stage_base&>(*p).post_cancel(m.id, exit_reason::unknown_subscription(),
                                                   false);
        return;
      }
      if constexpr (is_producer_consumer) {
        upstream_queue_.push_back(upstream_events{m.id, std::move(m.events)});
        take_upstream();
      } else {
        consume(m.id, m.events);
      }
    }
  }

  /// Hands a received message to `handle_events` in batches (rules 37, 38, 40, 42).
  void consume(subscription_id id, std::vector<in_t>& events) {
    if constexpr (is_consumer) {
      auto it = producers_.find(id);
      if (it == producers_.end()) {
        // The producer was removed while the events waited in the queue: handle them, no asks.
        call_handle_events(std::span<const in_t>(events), subscription(id, self_ptr(), nullptr));
        return;
      }
      producer_entry& e = it->second;
      if (!e.demand) {  // manual: one batch, no asks (rule 42)
        call_handle_events(std::span<const in_t>(events), e.sub);
        return;
      }
      // References, not copies (no refcount traffic per batch): entries leave producers_ only
      // in message handlers, never while a callback of this stage runs.
      stage_base& producer = *e.stage;
      const subscription& sub = e.sub;
      const std::size_t excess = e.demand->split(
          events.size(), [&](std::size_t offset, std::size_t size, std::size_t ask) {
            // A stop that arrived meanwhile overtakes the rest of this message too (F8): one
            // message may hold many batches.
            if (mailbox_.has_urgent()) [[unlikely]]
              handle_urgent();
            if (exiting_) {
              discarded_queued_ += size;  // not handled: counted and logged at the exit
              return;
            }
            if (!call_handle_events(std::span<const in_t>(events.data() + offset, size), sub)) {
              return;
            }
            if (ask > 0) producer.post_ask(id, ask, this);  // after handle_events (rule 38)
          });
      if (excess > 0) {
        ctl_log(log_level::warning,
                "has received " + std::to_string(excess) + " events in excess from a producer");
      }
    }
  }

  bool call_handle_events(std::span<const in_t> batch, const subscription& from) {
    if constexpr (is_consumer) {
      bool ok = guarded([&] { user_handle_events(batch, from, ctx()); });
      if (ok) after_callback();
      return !exiting_;
    } else {
      (void)batch;
      (void)from;
      return true;
    }
  }

  void on(m_cancelled& m) { consumer_cancel(m.id, std::move(m.reason), m.down); }

  void on(m_cancel_request& m) {
    if constexpr (is_consumer) {
      auto it = producers_.find(m.id);
      if (it != producers_.end()) {
        if (m.done) it->second.waiters.push_back(std::move(m.done));
        it->second.stage->post_cancel(m.id, std::move(m.reason), false);
        return;
      }
    }
    if (m.done) m.done->set_value();  // already gone: nothing to wait for
  }

  void consumer_cancel(subscription_id id, exit_reason reason, bool down) {
    if constexpr (is_consumer) consumer_cancel_subscription(id, std::move(reason), down);
  }

  void consumer_cancel_subscription(subscription_id id, exit_reason reason,
                                    bool down) requires is_consumer {
    auto it = producers_.find(id);
    if (it == producers_.end()) return;
    producer_entry entry = std::move(it->second);
    producers_.erase(it);
    const auto kind = reason.get_kind();
    if (!down && (kind == exit_reason::kind::unknown_subscription ||
                  kind == exit_reason::kind::duplicated_subscription)) {
      // The producer refused a message of this subscription, not the subscription itself: it
      // may still hold it (an ask that overtook the subscribe). Let it go there too, as the
      // monitor's DOWN does in GenStage, so no stale subscriber is left behind.
      entry.stage->post_cancel(id, reason, true);
    }
    cancellation c{down ? cancel_kind::down : cancel_kind::cancel, std::move(reason)};
    if constexpr (is_producer_consumer) {
      if (!upstream_queue_.empty()) {  // behind the events still queued (rules 47, 94)
        upstream_queue_.push_back(
            upstream_cancel{entry.cancel, std::move(c), entry.sub, std::move(entry.waiters)});
        return;
      }
    }
    invoke_cancel(entry.cancel, c, entry.sub);
    release(entry.waiters);
  }

  void invoke_cancel(cancel_mode mode, const cancellation& c,
                     const subscription& sub) requires is_consumer {
    if (!call_handle_cancel(c, sub)) return;  // handle_cancel runs first (rule 91)
    const exit_reason& reason = c.reason;
    if (reason.is_drained()) {
      // A drain flows down: once every producer of this stage has drained, it drains too,
      // whatever its cancel mode (a permanent one would exit with its own buffer unsent).
      if (producers_.empty()) start_drain();
      return;
    }
    const bool exits =
        mode == cancel_mode::permanent || (mode == cancel_mode::transient && !reason.is_clean());
    // A refused subscription never makes the consumer exit (rule 92, and DataMesh's refusals).
    if (!exits || reason.get_kind() == exit_reason::kind::already_subscribed ||
        reason.get_kind() == exit_reason::kind::refused) {
      return;
    }
    ctl_log(log_level::info, "is stopping after receiving cancel from its producer with reason: " +
                                 reason.to_string());
    request_exit(reason);  // the raw reason (rule 90)
  }

  // -- producer side ---

  void on(m_subscribe& m) {
    if constexpr (!is_producer) {
      ctl_log(log_level::error, "a consumer received a subscription request; ignored (rule 34)");
      if (m.reply) m.reply->refuse(error(errc::not_a_producer, "a consumer takes no subscribers"));
    } else {
      if (consumers_.count(m.id) != 0) {  // rule 32
        ctl_log(log_level::error, "received a duplicated subscription");
        if (m.reply) {
          m.reply->refuse(error(errc::subscription_refused,
                                "'" + display_name() + "' refused a duplicated subscription"));
        }
        m.consumer->post_cancelled(m.id, exit_reason::duplicated_subscription(), false);
        return;
      }
      // Typed once per subscription; the consumer's type was checked at the subscribe call, so
      // only a consumer made outside the library could fail this.
      auto* sink = dynamic_cast<event_sink<out_t>*>(m.consumer.get());
      if (sink == nullptr) {
        const std::string why = "'" + display_name() +
                                "' refused a subscriber that does not take "
                                "its events";
        ctl_log(log_level::error, why);
        if (m.reply) m.reply->refuse(error(errc::type_mismatch, why));
        m.consumer->post_cancelled(m.id, exit_reason::refused(why), false);
        return;
      }
      subscription sub(m.id, m.consumer, self_ptr());
      consumers_.emplace(m.id, consumer_entry{m.consumer, sink, sub});
      demand_mode mode = demand_mode::automatic;
      // Leaving early drops the reply: the waiting future fails with no_stage (the producer
      // exits in each of these cases).
      if (!call_handle_subscribe(peer_role::consumer, sub, m.opts, mode)) return;
      if (mode == demand_mode::manual) {  // rule 12
        begin_exit(exit_reason::bad_return_value(
            "handle_subscribe returned manual for a consumer; producers only accept automatic"));
        return;
      }
      std::size_t demand = 0;
      try {
        if constexpr (requires { dispatcher_.subscribe(m.id, m.opts, m.consumer.get()); }) {
          demand = dispatcher_.subscribe(m.id, m.opts, static_cast<const void*>(m.consumer.get()));
        } else {
          demand = dispatcher_.subscribe(m.id, m.opts);
        }
      } catch (const error& e) {
        // The dispatcher refused (broadcast's already_subscribed, rule 35; a taken partition or
        // route target): cancel that subscription, keep the producer running.
        ctl_log(log_level::error, std::string("refused a subscription: ") + e.what());
        if (m.reply) m.reply->refuse(e);
        producer_cancel(m.id,
                        e.code() == errc::already_subscribed ? exit_reason::already_subscribed()
                                                             : exit_reason::refused(e.what()),
                        false);
        return;
      } catch (...) {
        begin_exit(exit_reason::from_exception(std::current_exception()));
        return;
      }
      if (m.reply) m.reply->accept();
      dispatcher_result(demand);
      drain_dispatcher();
    }
  }

  void on(m_ask& m) {
    if constexpr (is_producer) {
      if (consumers_.find(m.id) == consumers_.end()) {  // rule 33
        if (auto c = rt_->find(m.from)) {
          static_cast<stage_base&>(*c).post_cancelled(m.id, exit_reason::unknown_subscription(),
                                                      false);
        }
        return;
      }
      if (m.n == 0) return;
      if constexpr (role_v == stage_role::producer) {
        // Accumulating: hold the ask itself, not the dispatcher's answer, so a dispatcher that
        // shares demand (broadcast) counts every subscriber that joined before `forward`.
        if (accumulating()) {
          held_.push_back({m.id, m.n});
          return;
        }
      }
      dispatcher_result(ask_dispatcher(m.id, m.n));
      drain_dispatcher();
    }
  }

  std::size_t ask_dispatcher(subscription_id id, std::size_t n) requires is_producer {
    if constexpr (requires { dispatcher_.ask(id, n, send_fn()); }) {
      return dispatcher_.ask(id, n, send_fn());
    } else {
      return dispatcher_.ask(id, n);
    }
  }

  void on(m_cancel& m) {
    if constexpr (is_producer) producer_cancel(m.id, std::move(m.reason), m.down);
  }

  void producer_cancel(subscription_id id, exit_reason reason, bool down) requires is_producer {
    auto it = consumers_.find(id);
    if (it == consumers_.end()) return;
    consumer_entry entry = std::move(it->second);
    consumers_.erase(it);
    if (!down) entry.stage->post_cancelled(id, reason, false);  // confirm (rule 86)
    cancellation c{down ? cancel_kind::down : cancel_kind::cancel, std::move(reason)};
    if (!call_handle_cancel(c, entry.sub)) return;
    // The dispatcher after, since it may create demand (rules 66, 73).
    dispatcher_result(cancel_dispatcher(id));
    drain_dispatcher();
  }

  /// A dispatcher that holds events for its slowest subscriber sends them on at a cancel.
  std::size_t cancel_dispatcher(subscription_id id) requires is_producer {
    if constexpr (requires { dispatcher_.cancel(id, send_fn()); }) {
      return dispatcher_.cancel(id, send_fn());
    } else {
      return dispatcher_.cancel(id);
    }
  }

  /// Whether the dispatcher keeps places for consumers that are away and will subscribe again
  /// (`dispatcher_.away()`, optional): it then takes events even while no consumer is
  /// subscribed, and holds them for those places, instead of the buffer.
  bool keeps_places() const noexcept requires is_producer {
    if constexpr (requires(const dispatcher_t& d) { d.away(); }) {
      return dispatcher_.away() > 0;
    } else {
      return false;
    }
  }

  /// Sends a batch to a subscriber, if it is still subscribed.
  auto send_fn() requires is_producer {
    return [this](subscription_id id, std::vector<out_t>&& batch) {
      auto it = consumers_.find(id);
      const std::size_t n = batch.size();
      // A consumer that exited meanwhile refuses the batch: it is lost, and counted.
      if (it == consumers_.end() || !it->second.sink->post_events(id, std::move(batch), this)) {
        lose(n);
      }
    };
  }

  /// After a dispatcher call: the asks it makes on a consumer's behalf and the demand it owes
  /// for dropped events go through the mailbox (never recursively), due infos are delivered,
  /// and the buffered figure is published.
  void drain_dispatcher() {
    if constexpr (is_producer) {
      if constexpr (requires {
                      dispatcher_.drain([](subscription_id, std::size_t) {}, [](std::any&&) {},
                                        [](std::size_t) {});
                    }) {
        dispatcher_.drain([this](subscription_id id, std::size_t n) { post_ask(id, n, this); },
                          [this](std::any&& msg) { deliver_info(msg); },
                          [this](std::size_t n) { push(m_serve{n}); });
      }
      if constexpr (is_producer_consumer && requires { dispatcher_.take_back(); }) {
        // Demand the dispatcher gave (its initial demand) and withdraws once a consumer has
        // come: the stage emits no more than its consumers now allow.
        const std::size_t back = dispatcher_.take_back();
        downstream_demand_ -= back < downstream_demand_ ? back : downstream_demand_;
      }
      publish_buffered();
    }
  }

  void publish_buffered() requires is_producer {
    std::size_t n = buffer_.size();
    if constexpr (requires(const dispatcher_t& d) { d.queued(); }) n += dispatcher_.queued();
    buffered_.store(n, std::memory_order_relaxed);
    publish_dropped();
  }

  /// Publishes every event this stage has lost: what its dispatcher dropped, and `lost_`.
  void publish_dropped() {
    std::uint64_t n = lost_;
    if constexpr (is_producer && requires(const dispatcher_t& d) { d.dropped(); }) {
      n += dispatcher_.dropped();
    }
    dropped_.store(n, std::memory_order_relaxed);
  }

  /// Counts `n` events this stage lost (see `lost_`).
  void lose(std::size_t n) {
    if (n == 0) return;
    lost_ += n;
    publish_dropped();
  }

  void on(m_serve& m) { dispatcher_result(m.n); }

  void on(m_ask_request& m) {
    if constexpr (is_consumer) {
      auto it = producers_.find(m.id);
      if (it != producers_.end()) it->second.stage->post_ask(m.id, m.n, this);
    }
  }

  /// Serves demand the dispatcher passed on: buffer first, then `handle_demand` (rule 43); a
  /// producer_consumer adds it to its downstream counter (rule 44).
  void dispatcher_result(std::size_t counter) {
    if constexpr (is_producer_consumer) {
      downstream_demand_ = add_demand(downstream_demand_, counter);
      take_from_buffer(downstream_demand_);
      take_upstream();
      if (callbacks_.handle_spare_demand && counter > 0 && !exiting_ && !draining_) {
        if (const std::size_t spare = ctl_spare_demand(); spare > 0) {
          if (guarded([&] { user_handle_demand(spare, ctx()); })) after_callback();
        }
      }
    } else if constexpr (is_producer) {
      if (counter == 0 || exiting_) return;
      if (accumulating()) {
        held_.push_back({0, counter});  // held one by one (rule 51)
        return;
      }
      serve(counter);
    }
  }

  void serve(std::size_t counter) requires is_producer {
    const std::size_t rest = take_from_buffer(counter);
    if (rest > 0 && !exiting_ && !draining_) call_handle_demand(rest);
  }

  void call_handle_demand(std::size_t n) {
    if constexpr (role_v == stage_role::producer) {
      // Room for what is likely pushed, never for the whole demand: a demand is a bound, and a
      // producer asked for 2^40 may push 8 (the vector grows past this as needed).
      constexpr std::size_t reserve_cap = std::max<std::size_t>(1, 16384 / sizeof(out_t));
      if (guarded([&] {
            out_.reserve(std::min(n, reserve_cap));
            user_handle_demand(n, ctx());
          })) {
        after_callback();
      }
    }
  }

  /// Takes up to `counter` events from the buffer, stopping at each queued info to deliver it
  /// (rules 58-60). Returns the demand left.
  ///
  /// The buffer stays FIFO (rule 58) while infos run: what their `handle_info` pushes goes
  /// behind the events still buffered (see `dispatch_events`), and whatever demand their events
  /// took when nothing was left ahead of them is no longer the buffer's to take.
  std::size_t take_from_buffer(std::size_t counter) requires is_producer {
    while (counter > 0 && !buffer_.empty() && !exiting_) {
      std::vector<out_t> taken;
      std::vector<std::any> infos;
      counter -= buffer_.take(counter, taken, infos);
      publish_buffered();
      dispatch_events(taken, true);
      if (infos.empty()) continue;
      const std::uint64_t before = dispatched_;
      for (auto& i : infos) dispatch_info(std::move(i));
      const std::uint64_t used = dispatched_ - before;
      counter -= used < counter ? static_cast<std::size_t>(used) : counter;
    }
    return counter;
  }

  /// Dispatches what a callback pushed, or (`from_buffer`) what was just taken from the buffer.
  /// Events never overtake buffered ones: while the buffer holds events, new ones queue behind
  /// them; events taken from the buffer that the dispatcher cannot take go back to its front.
  void dispatch_events(std::vector<out_t>& events, bool from_buffer = false) {
    if constexpr (is_producer) {
      if (events.empty()) return;
      const bool nobody = consumers_.empty() && !keeps_places();
      if (from_buffer && (accumulating() || nobody)) {
        buffer_.restore_front(events);
        publish_buffered();
        return;
      }
      if (accumulating() || nobody || (!from_buffer && !buffer_.empty())) {
        buffer_events(events);
        return;
      }
      const std::size_t length = events.size();
      try {
        dispatcher_.dispatch(events, send_fn());
      } catch (...) {
        // A user function of the dispatcher (selector, hash, key) threw: the producer stops
        // with it, as any callback would (rules 76, 95).
        events.clear();
        begin_exit(exit_reason::from_exception(std::current_exception()));
        return;
      }
      drain_dispatcher();
      const std::size_t sent = length - events.size();
      dispatched_ += sent;
      if constexpr (is_producer_consumer)
        downstream_demand_ -= sent < downstream_demand_ ? sent : downstream_demand_;
      if (from_buffer && !events.empty()) {
        buffer_.restore_front(events);
        publish_buffered();
        return;
      }
      buffer_events(events);
    } else {
      (void)events;
      (void)from_buffer;
    }
  }

  void buffer_events(std::vector<out_t>& events) requires is_producer {
    if (events.empty()) return;
    std::vector<std::any> released;
    const std::size_t discarded = buffer_.store(events, 0, released);
    lost_ += discarded;
    publish_buffered();
    if (discarded > 0) {
      bool report = true;
      if (callbacks_.format_discarded) {
        guarded([&] { report = user_format_discarded(discarded); });
      }
      if (report) {
        ctl_log(log_level::warning,
                "has discarded " + std::to_string(discarded) + " events from buffer");
      }
    }
    for (auto& i : released) dispatch_info(std::move(i));  // never lost (rule 62)
  }

  // -- infos (SPEC section E) ---

  void on(m_info& m) {
    producer_info(std::move(m.msg));
    if (m.done) m.done->set_value();
  }

  void producer_info(std::any msg) {
    if constexpr (!is_producer) {
      deliver_info(msg);  // a consumer gets it at once (rule 59)
    } else {
      if constexpr (is_producer_consumer) {
        if (!upstream_queue_.empty()) {  // behind queued upstream events (rule 61)
          upstream_queue_.push_back(upstream_info{std::move(msg)});
          return;
        }
      }
      buffer_or_dispatch_info(std::move(msg));
    }
  }

  void buffer_or_dispatch_info(std::any msg) requires is_producer {
    if (!buffer_.store_info(msg)) dispatch_info(std::move(msg));
  }

  void dispatch_info(std::any msg) {
    if constexpr (is_producer) {
      dispatcher_.info(std::move(msg), [this](std::any&& m) { deliver_info(m); });
      drain_dispatcher();
    } else {
      deliver_info(msg);
    }
  }

  void on(m_message& m) { deliver_info(m.msg); }

  /// A note for the dispatcher (`dispatcher_.note(note, send)`, optional): what it releases is
  /// sent and the demand it frees served, as after a cancel.
  void on(m_note& m) {
    if constexpr (is_producer) {
      if constexpr (requires { dispatcher_.note(m.note, send_fn()); }) {
        if (exiting_) return;
        dispatcher_result(dispatcher_.note(m.note, send_fn()));
        drain_dispatcher();
      }
    }
  }

  // -- calls (rules 10, 11) ---

  void on(m_call& m) {
    call_reply reply(std::move(m.reply));
    if (callbacks_.handle_call) {
      std::any value;
      bool answered = false;
      const bool ok = guarded([&] { answered = user_handle_call(m.request, reply, ctx(), value); });
      if (!ok) {
        reply.fail(exit_.exception() ? exit_.exception()
                                     : std::make_exception_ptr(error(
                                           errc::no_stage, "the stage stopped in handle_call")));
        return;
      }
      after_callback();  // the events go out before the reply (rule 10)
      if (answered) reply(std::move(value));
    } else {
      reply.fail(std::make_exception_ptr(
          error(errc::not_supported, "stage '" + display_name() + "' has no handle_call")));
    }
  }

  void deliver_info(std::any& msg) {
    if (exiting_) return;
    if (callbacks_.handle_info) {
      if (guarded([&] { user_handle_info(msg, ctx()); })) after_callback();
    } else {
      ctl_log(log_level::warning, "has no handle_info; an info message was dropped (rule 15)");
    }
  }

  // -- demand mode (rules 48-52) ---

  void on(m_demand& m) { ctl_set_demand(m.mode); }

  bool accumulating() const noexcept { return accumulating_.load(std::memory_order_relaxed); }
  void set_accumulating(bool on) { accumulating_.store(on, std::memory_order_relaxed); }

  void on(m_stop& m) { request_exit(std::move(m.reason)); }

  // -- drain (datamesh::drain) ---

  void on(m_drain&) { start_drain(); }

  /// Takes no more input and exits, `drained`, once everything it holds has gone on: it cancels
  /// its own subscriptions (what they had sent still arrives first), a producer stops calling
  /// `handle_demand`, and what its buffer and dispatcher hold goes out as demand comes.
  void start_drain() {
    if (draining_ || exiting_) return;
    draining_ = true;
    if constexpr (is_consumer) {
      for (auto& [id, p] : producers_) p.stage->post_cancel(id, exit_reason::drained(), false);
    }
  }

  [[gnu::noinline]] void finish_drain_if_done() {
    if (exiting_) return;
    if constexpr (is_consumer) {
      if (!producers_.empty()) return;
    }
    if constexpr (is_producer_consumer) {
      if (!upstream_queue_.empty()) return;
    }
    if (ctl_buffered() > 0) return;
    begin_exit(exit_reason::drained());
  }

  /// An exit asked from outside: a stop request, or a producer's exit by cancel mode. A
  /// supervisor first stops its children, then exits by `ctx.stop` (stage.hpp, defer_stop).
  void request_exit(exit_reason reason) {
    if (callbacks_.defer_stop) {
      bool deferred = false;
      if (!guarded([&] { deferred = user_defer_stop(reason, ctx()); })) return;
      after_callback();
      if (deferred || exiting_) return;
    }
    begin_exit(std::move(reason));
  }

  // -- producer_consumer queue (rules 44-47, 61, 94) ---

  struct upstream_events {
    subscription_id id;
    std::vector<in_t> events;
  };
  struct upstream_info {
    std::any msg;
  };
  struct upstream_cancel {
    cancel_mode mode;
    cancellation c;
    subscription sub;
    cancel_waiters waiters{};
  };
  using upstream_item = std::variant<upstream_events, upstream_info, upstream_cancel>;

  /// Handles queued upstream messages, whole, while downstream demand is positive (rule 45).
  void take_upstream() {
    if constexpr (is_producer_consumer) {
      while (downstream_demand_ > 0 && !upstream_queue_.empty() && !exiting_) {
        upstream_item item = std::move(upstream_queue_.front());
        upstream_queue_.pop_front();
        if (auto* e = std::get_if<upstream_events>(&item)) {
          consume(e->id, e->events);
        } else if (auto* i = std::get_if<upstream_info>(&item)) {
          buffer_or_dispatch_info(std::move(i->msg));
        } else {
          auto& c = std::get<upstream_cancel>(item);
          invoke_cancel(c.mode, c.c, c.sub);
          release(c.waiters);
        }
      }
      waiting_.store(upstream_queue_.size(), std::memory_order_relaxed);
    }
  }

  // -- optional callbacks ---

  /// Calls `handle_subscribe` if defined; `mode` takes its answer. False if the stage exits.
  bool call_handle_subscribe(peer_role peer, const subscription& sub, const subscribe_options& opts,
                             demand_mode& mode) {
    if (callbacks_.handle_subscribe) {
      bool ok = guarded([&] { user_handle_subscribe(peer, sub, opts, mode, ctx()); });
      if (ok) after_callback();
    }
    return !exiting_;
  }

  bool call_handle_cancel(const cancellation& c, const subscription& sub) {
    if (callbacks_.handle_cancel) {
      if (guarded([&] { user_handle_cancel(c, sub, ctx()); })) after_callback();
    }
    return !exiting_;
  }

  // -- stage_control: what the context offers ---

  void ctl_ask(const subscription& s, std::size_t n) override {
    if (n == 0) return;
    if constexpr (is_consumer) {
      if (auto it = producers_.find(s.id()); it != producers_.end()) {
        it->second.stage->post_ask(s.id(), n, this);
        return;
      }
    }
    if (auto p = s.producer().core_ptr()) p->post_ask(s.id(), n, this);
  }
  void ctl_cancel(const subscription& s, exit_reason r) override {
    if constexpr (is_consumer) {
      if (auto it = producers_.find(s.id()); it != producers_.end()) {
        it->second.stage->post_cancel(s.id(), std::move(r), false);
        return;
      }
    }
    if (auto p = s.producer().core_ptr()) p->post_cancel(s.id(), std::move(r), false);
  }
  void ctl_stop(exit_reason r) override {
    stop_requested_ = true;
    requested_ = std::move(r);
  }
  void ctl_async_info(std::any msg) override { post_info(std::move(msg), nullptr); }
  std::size_t ctl_spare_demand() const override {
    if constexpr (is_producer_consumer) {
      // Demand left while upstream events wait is theirs: they take it once handled.
      return upstream_queue_.empty() && buffer_.empty() ? downstream_demand_ : 0;
    } else {
      return 0;
    }
  }
  void ctl_set_demand(producer_demand m) override {
    if constexpr (role_v == stage_role::producer) {
      if (m == producer_demand::accumulate) {
        set_accumulating(true);
        return;
      }
      if (!accumulating()) return;
      set_accumulating(false);
      std::vector<held_demand> held;
      held.swap(held_);
      for (const held_demand& h : held) {  // replayed one by one, in order (rule 51)
        if (exiting_ || accumulating()) {
          held_.push_back(h);
          continue;
        }
        if (h.ask_from == 0) {
          serve(h.n);
        } else if (consumers_.count(h.ask_from) != 0) {
          dispatcher_result(ask_dispatcher(h.ask_from, h.n));
          drain_dispatcher();
        }
      }
    } else if constexpr (is_producer_consumer) {
      if (m == producer_demand::accumulate) {
        ctl_log(log_level::error, "demand mode can only be set for producers (rule 52)");
      }
    } else {
      ctl_log(log_level::error, "demand mode can only be set for producers (rule 52)");
    }
  }
  producer_demand ctl_demand() const override {
    return accumulating() ? producer_demand::accumulate : producer_demand::forward;
  }
  std::size_t ctl_buffered() const override {
    if constexpr (!is_producer) {
      return 0;
    } else if constexpr (requires(const dispatcher_t& d) { d.queued(); }) {
      return buffer_.size() + dispatcher_.queued();
    } else {
      return buffer_.size();
    }
  }
  stage_ref ctl_self() override { return stage_ref(self()); }
  void ctl_count_dropped(std::size_t n) override { lose(n); }
  void ctl_log(log_level level, const std::string& text) override {
    rt_->write_log(level, display_name() + " " + text);
  }

  // -- state ---

  struct consumer_entry {
    stage_ptr stage;
    event_sink<out_t>* sink;
    subscription sub;
  };
  struct producer_entry {
    stage_ptr stage;
    subscription sub;
    cancel_mode cancel;
    std::optional<consumer_demand> demand;  // empty: manual
    cancel_waiters waiters{};               // sync_cancel calls waiting for handle_cancel
  };

  // Thread-safe: the only member other threads touch.
  mailbox<message> mailbox_;

  // Everything below belongs to the stage's handlers.
  std::vector<message> local_;
  const optional_callbacks callbacks_;
  std::optional<ctx_t> ctx_;
  bool exiting_ = false;
  bool draining_ = false;  // takes no more input; exits once it holds nothing (start_drain)
  exit_reason exit_;
  bool stop_requested_ = false;
  exit_reason requested_;

  // The state of the sides a role has. A side the role lacks is `absent` and takes no room: a
  // consumer carries no dispatcher, buffer or subscriber table, a producer no producer table.

  // producer side
  [[no_unique_address]] only_if<is_producer, dispatcher_t> dispatcher_;
  [[no_unique_address]] only_if<is_producer, buffer<out_t, std::any>> buffer_;
  [[no_unique_address]] only_if<is_producer, std::vector<out_t>> out_;  // what callbacks push
  [[no_unique_address]] only_if<is_producer, std::unordered_map<subscription_id, consumer_entry>>
      consumers_;
  struct held_demand {
    subscription_id ask_from;  // an ask still to give the dispatcher; 0: demand to serve
    std::size_t n;
  };
  // Demand held while accumulating (rule 51); a producer_consumer never accumulates.
  [[no_unique_address]] only_if<role_v == stage_role::producer, std::vector<held_demand>> held_;
  [[no_unique_address]] only_if<is_producer, std::uint64_t> dispatched_{};  // dispatcher took, ever
  // Events this stage lost besides what its dispatcher dropped: buffer overflow, batches a
  // consumer refused (it had exited), events on an unknown subscription, and what it held or
  // had queued when it exited. Published in `dropped_` (estimate_dropped_count).
  std::uint64_t lost_ = 0;
  std::uint64_t discarded_queued_ = 0;  // events queued to it when it exited, not handled

  // consumer side
  [[no_unique_address]] only_if<is_consumer, std::unordered_map<subscription_id, producer_entry>>
      producers_;

  // producer_consumer: upstream messages waiting for downstream demand
  [[no_unique_address]] only_if<is_producer_consumer, std::deque<upstream_item>> upstream_queue_;
  [[no_unique_address]] only_if<is_producer_consumer, std::size_t> downstream_demand_{};
};

}  // namespace datamesh::detail
