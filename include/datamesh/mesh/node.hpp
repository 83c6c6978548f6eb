/// @file
/// Node logic: what a user writes for a mesh node, and the stage that runs it.
///
/// A node logic is a plain struct with a `process` member, or a lambda:
///
///     struct threshold_filter {
///       struct state { double threshold; std::uint64_t passed = 0; };
///       state init(const datamesh::node_args& a) { return {a.get<double>("threshold")}; }
///       state process(const reading& r, state s, datamesh::node_context<reading>& ctx) {
///         if (r.value >= s.threshold) { ctx.broadcast(r); ++s.passed; }
///         return s;
///       }
///     };
///     mesh.start_node("doubler", [](const int& x, datamesh::node_context<int>& ctx) {
///       ctx.broadcast(2 * x);
///     });
///
///   - `R process(const In&, State, node_context<Out>&)`: handles one datum and returns the next
///     state. `R` is `State`, or `node_result<State>` to stop the node with a reason instead.
///     `Out` is what the node emits (`void` for a sink). An exception stops the node with it
///     as the reason; the rest of the mesh goes on.
///   - `void process(const In&, node_context<Out>&)`: the same for a node that keeps no state
///     (its state is `none`).
///   - `State init(const Args&)`, optional with a state: turns the node's start arguments into
///     its first state. `Args` is `node_args` (named values) or any type of the logic's own.
///     Without `init` the first state is `State{}` and the node's arguments are `node_args`,
///     which such a logic does not read.
///   - A lambda (any class with one non-template call operator and no `process`) is a logic
///     whose call operator is its `process`. The datum may also be taken by value.
///
/// A logic object is copied into the node's stage (and again for each restart): data members
/// are a stateless logic's configuration. The context broadcasts to every connected node or
/// sends to one by id; the logic knows nothing of threads, demand or the registry. The state is
/// private to its node: only its node's stage touches it, one datum at a time.
#pragma once

#include <datamesh/context.hpp>
#include <datamesh/error.hpp>
#include <datamesh/exit_reason.hpp>
#include <datamesh/mesh/detail/inlet.hpp>
#include <datamesh/mesh/mesh_dispatcher.hpp>
#include <datamesh/mesh/node_args.hpp>
#include <datamesh/mesh/node_id.hpp>
#include <datamesh/none.hpp>
#include <datamesh/stage.hpp>
#include <datamesh/supervisor/restart.hpp>

#include <algorithm>
#include <any>
#include <atomic>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <span>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace datamesh {

/// What `process` may return to stop its node: the next state, or the reason to stop with.
template <class State>
using node_result = std::variant<State, exit_reason>;

/// The event type of a node that emits nothing: `none`, the name kept for one release.
using no_output [[deprecated("use datamesh::none")]] = none;

template <class Out>
class node_context;

namespace detail {

/// A node's figures, written by its stage, read by anyone (relaxed: a snapshot).
struct node_counters {
  std::atomic<std::uint64_t> in{0};        // data processed
  std::atomic<std::uint64_t> out{0};       // data broadcast or sent
  std::atomic<std::uint64_t> unlinked{0};  // broadcasts made while no node was connected
  std::atomic<std::uint64_t> restarts{0};  // written by the node's supervisor
  /// Events lost by the node's stages that have exited (a restarted node's earlier ones): what
  /// each counted (estimate_dropped_count), added as it exits.
  std::atomic<std::uint64_t> dropped_before{0};
};

/// Runs its action once every link it was given has reached its sending node, or once none of
/// them can any more (the last note holding it is gone). A restarted node takes from its inlet
/// only then, so the data waiting there go to its links rather than to none.
///
/// Thread safety: `arrive` and `expect` from any thread; the action runs once.
class link_gate {
 public:
  explicit link_gate(std::function<void()> action) : action_(std::move(action)) {}
  link_gate(const link_gate&) = delete;
  link_gate& operator=(const link_gate&) = delete;
  ~link_gate() { open(); }
  /// One more link to wait for.
  void expect() { left_.fetch_add(1, std::memory_order_relaxed); }
  /// One link has arrived, or will not.
  void arrive() {
    if (left_.fetch_sub(1, std::memory_order_acq_rel) == 1) open();
  }

 private:
  void open() {
    if (!opened_.exchange(true, std::memory_order_acq_rel) && action_) action_();
  }
  std::atomic<std::size_t> left_{1};  // its maker's own, given up by its last `arrive`
  std::atomic<bool> opened_{false};
  std::function<void()> action_;
};

/// What a link's subscription tells its sending node: the receiving node's id, a promise kept
/// once the sender has the link (so `mesh::connect` returns only then), the gate a
/// restarted sender waits at, and how the receiver is restarted (whether its link's place is
/// kept when it exits).
struct link_note {
  node_id target;
  std::shared_ptr<std::promise<void>> linked;
  std::shared_ptr<link_gate> gate;
  restart_type restart = restart_type::temporary;
};

/// The node's side of its links: which node each outgoing link reaches. Stage-owned.
struct node_link {
  subscription_id sub;
  std::uint32_t key;
  node_id target;
  restart_type restart = restart_type::temporary;  // the receiver's
  std::shared_ptr<link_gauge> gauge;
  bool away = false;  // its receiver restarts: the place is kept (mesh_dispatcher.hpp)

  /// Whether a cancel for `why` leaves this link's receiver to come back: it exited and its
  /// supervisor restarts it, and the link was not withdrawn.
  bool comes_back(const cancellation& why) const {
    return why.kind == cancel_kind::down && restart != restart_type::temporary &&
           should_restart(restart, why.reason) &&
           !(gauge && gauge->withdrawn.load(std::memory_order_seq_cst));
  }
};

template <class Out>
using output_event_t = std::conditional_t<std::is_void_v<Out>, none, Out>;

/// What a node's contexts share with its stage: its id, its links, the stage's context while
/// the logic runs. Stage-owned.
template <class Out>
struct node_outbox {
  node_id self;
  std::vector<node_link> links;
  std::shared_ptr<mesh_targets> targets;        // shared with the node's dispatcher
  context<output_event_t<Out>>* ctx = nullptr;  // set for each callback that runs the logic
  std::uint64_t unlinked = 0;                   // broadcasts to no link in this callback
};

}  // namespace detail

namespace detail {
/// What every node context offers, whatever it emits.
template <class Out>
class node_context_common {
 public:
  /// This node's id.
  const node_id& self() const { return box_->self; }
  /// The nodes this one is connected to, now.
  std::size_t link_count() const { return box_->links.size(); }
  /// Stops this node once the current datum is handled.
  void stop(exit_reason r = exit_reason::normal()) { box_->ctx->stop(std::move(r)); }
  /// Logs through the runtime's hook, prefixed with the node's stage name.
  void log(log_level level, const std::string& text) { box_->ctx->log(level, text); }

 protected:
  explicit node_context_common(node_outbox<Out>* box) noexcept : box_(box) {}
  node_outbox<Out>* box_;
};
}  // namespace detail

/// What `process` receives: broadcast, send to one node, stop, log. Stage context only: use it
/// only inside the `process` call that received it.
template <class Out>
class node_context : public detail::node_context_common<Out> {
  using base = detail::node_context_common<Out>;
  using base::box_;

 public:
  /// To every connected node (each link's selector permitting), at the pace of the slowest.
  /// With no link connected, the datum goes nowhere and is counted as unlinked.
  void broadcast(Out v) {
    if (!linked_) {
      ++box_->unlinked;
      return;
    }
    out_->push_back(std::move(v));
  }
  /// To the connected node `to`, at its pace. `to` is a `node_id` or anything one is made from;
  /// it is compared without building one.
  /// @throws datamesh::error `not_connected` when this node has no link to `to` (the node keeps
  ///   running if the logic catches it).
  template <class K>
  void send(const K& to, Out v) {
    if (!try_send(to, std::move(v))) {
      throw error(errc::not_connected,
                  "node " + box_->self.str() + " is not connected to node " + node_id(to).str());
    }
  }
  /// As `send`; false instead of throwing when `to` is not connected.
  template <class K>
  bool try_send(const K& to, Out v) {
    for (const auto& l : box_->links) {
      if (l.target.matches(to)) {
        box_->targets->sends.emplace_back(out_->size(), l.key);
        out_->push_back(std::move(v));
        return true;
      }
    }
    return false;
  }

  /// Internal: made by the node stage for one callback.
  explicit node_context(detail::node_outbox<Out>* box) noexcept
      : base(box), out_(&box->ctx->batch()), linked_(!box->links.empty()) {}

 private:
  // The stage's batch and whether any link is there, copied for the callback: a logic's
  // broadcast, once per datum, is then a test and a push_back, without reaching through the
  // stage's context each time.
  std::vector<Out>* out_;
  bool linked_;
};

/// The context of a sink node: nothing to broadcast or send.
template <>
class node_context<void> : public detail::node_context_common<void> {
 public:
  /// Internal: made by the node stage for one callback.
  explicit node_context(detail::node_outbox<void>* box) noexcept : node_context_common(box) {}
};

namespace detail {

template <class C>
struct context_out {
  static constexpr bool is_context = false;
};
template <class Out>
struct context_out<node_context<Out>&> {
  static constexpr bool is_context = true;
  using type = Out;
};

// Whether a parameter can take a datum: `const In&` or `In` by value.
template <class P>
inline constexpr bool datum_param =
    !std::is_rvalue_reference_v<P> &&
    (!std::is_lvalue_reference_v<P> || std::is_const_v<std::remove_reference_t<P>>);

template <class L>
concept has_process = requires {
  &L::process;
};
template <class L>
concept has_call = requires {
  &L::operator();
};
template <class L>
concept has_init = requires {
  &L::init;
};

// What a logic's `process` (or a lambda's call operator) takes and returns.
template <class Args, class R>
struct process_shape {
  static constexpr bool valid = false;
  static constexpr bool stateful = false;
  using input = none;
  using state = none;
  using context = node_context<void>&;
  using result = void;
};
template <class In, class Ctx, class R>  // stateless
requires datum_param<In> &&
    context_out<Ctx>::is_context struct process_shape<type_list<In, Ctx>, R> {
  static constexpr bool valid = true;
  static constexpr bool stateful = false;
  using input = std::remove_cvref_t<In>;
  using state = none;
  using context = Ctx;
  using result = R;
};
template <class In, class State, class Ctx, class R>
requires datum_param<In> &&
    context_out<Ctx>::is_context struct process_shape<type_list<In, State, Ctx>, R> {
  static constexpr bool valid = true;
  static constexpr bool stateful = true;
  using input = std::remove_cvref_t<In>;
  using state = std::remove_cvref_t<State>;
  using context = Ctx;
  using result = R;
};

template <class L>
struct process_of {
  using type = void;
};
template <has_process L>
struct process_of<L> {
  using type = decltype(&L::process);
};
template <class L>
requires(!has_process<L> && has_call<L>) struct process_of<L> {
  using type = decltype(&L::operator());
};

template <class F>
struct process_members {
  using shape = process_shape<void, void>;
};
template <class F>
requires std::is_member_function_pointer_v<F>
struct process_members<F> {
  using shape = process_shape<typename member_args<F>::type, typename member_args<F>::result>;
};

template <class L, bool = has_init<L>>
struct init_of {
  using args = node_args;
  using result = void;
};
template <class List>
struct single_arg {
  static constexpr bool one = false;
  using type = node_args;
};
template <class A>
struct single_arg<type_list<A>> {
  static constexpr bool one = true;
  using type = A;
};
template <class L>
struct init_of<L, true> {
  using list = typename member_args<decltype(&L::init)>::type;
  static_assert(single_arg<list>::one,
                "a node logic's init must take one parameter: `State init(const Args&)`");
  using args = std::remove_cvref_t<typename single_arg<list>::type>;
  using result = typename member_args<decltype(&L::init)>::result;
};

// A node logic's shape, checked: each mistake is a sentence (tests/compile_fail/node_*.cpp).
template <class L>
struct node_shape {
  static_assert(std::is_class_v<L>, "a node logic is a struct with `process`, or a lambda");
  using process = typename process_members<typename process_of<L>::type>::shape;
  static_assert(process::valid,
                "a node logic's process (or a lambda's call operator) must be `State "
                "process(const In&, State, node_context<Out>&)` or `void process(const In&, "
                "node_context<Out>&)`; an overloaded or template one cannot be inspected");
  static constexpr bool stateful = process::stateful;
  static_assert(!process::valid || stateful || std::is_void_v<typename process::result>,
                "a stateless node logic's process returns void: `void process(const In&, "
                "node_context<Out>&)`");
  static_assert(!process::valid || !stateful ||
                    std::is_same_v<typename process::result, typename process::state> ||
                    std::is_same_v<typename process::result, node_result<typename process::state>>,
                "process must return the next state, or node_result<State>");
  static_assert(stateful || !has_init<L>,
                "a node logic whose process keeps no state has no init: give process a `State` "
                "parameter to start from init's result");
  using init = init_of<L, stateful && has_init<L>>;
  static_assert(
      !stateful || !has_init<L> ||
          std::is_same_v<std::remove_cvref_t<typename init::result>, typename process::state>,
      "a node logic's init must return the state its process takes");
  static_assert(!stateful || has_init<L> ||
                    std::is_default_constructible_v<typename process::state>,
                "a node logic without init starts from `State{}`: its state must be "
                "default-constructible, or the logic needs `State init(const Args&)`");
  static constexpr bool valid = process::valid;
};

}  // namespace detail

/// What a node logic is: see the file comment. Asking of a type that is no node logic fails
/// to compile, with a sentence saying what is wrong.
template <class L>
concept node_logic = detail::node_shape<L>::valid;

/// The types of a node logic.
template <node_logic L>
struct node_traits {
  using process = typename detail::node_shape<L>::process;
  using input_type = typename process::input;
  using state_type = typename process::state;
  using output_type = typename detail::context_out<typename process::context>::type;
  /// What `start_node` takes: `init`'s parameter, or `node_args` for a logic without `init`.
  using args_type = typename detail::node_shape<L>::init::args;
  /// Whether `process` takes and returns a state.
  static constexpr bool stateful = detail::node_shape<L>::stateful;
};

namespace detail {

/// The stage that runs a node logic: a producer_consumer of `In` into `Out` (`none` for a
/// sink), with the mesh dispatcher; the sends among its events are noted in the targets it
/// shares with that dispatcher. It runs its logic over what its links bring and what it takes
/// from its inlet, as its downstream demand allows (mesh/detail/inlet.hpp).
template <class L>
class node_stage final {
  using traits = node_traits<L>;
  using in_t = typename traits::input_type;
  using out_t = typename traits::output_type;
  using event_t = output_event_t<out_t>;
  using state_t = typename traits::state_type;

 public:
  using dispatcher_type = mesh_dispatcher<event_t>;

  /// `inlet_take`: the most data one callback takes from the inlet, so that a long feed leaves
  /// room between its batches for the stage's other messages.
  node_stage(node_id self, L logic, const typename traits::args_type& args,
             std::shared_ptr<mesh_targets> targets, std::shared_ptr<node_counters> counters,
             std::shared_ptr<inlet_queue<in_t>> inlet, std::size_t inlet_take)
      : logic_(std::move(logic)),
        state_(first_state(logic_, args)),
        counters_(std::move(counters)),
        inlet_(std::move(inlet)),
        inlet_take_(inlet_take) {
    box_.self = std::move(self);
    box_.targets = std::move(targets);
  }

  void handle_events(std::span<const in_t> in, context<event_t>& ctx) { run(in, ctx); }

  /// Downstream demand with nothing from the links to meet it: the inlet's turn.
  void handle_spare_demand(std::size_t n, context<event_t>& ctx) {
    if (attached_) take_inlet(n, ctx);
  }

  void handle_info(std::any& msg, context<event_t>& ctx) {
    if (msg.type() != typeid(inlet_wake)) return;
    attached_ = true;  // the first wake is the attach's (inlet_queue::attach)
    take_inlet(ctx.spare_demand(), ctx);
  }

  void handle_subscribe(peer_role peer, const subscription& sub, const subscribe_options& opts,
                        context<event_t>&) {
    if (peer != peer_role::consumer) return;
    const auto* l = std::any_cast<mesh_link<event_t>>(&opts.dispatch);
    const auto* note = std::any_cast<link_note>(&opts.extra);
    if (l == nullptr) return;
    node_link link{sub.id(), l->key, note ? note->target : node_id(),
                   note ? note->restart : restart_type::temporary, l->gauge};
    auto kept = std::find_if(box_.links.begin(), box_.links.end(),
                             [&](const node_link& k) { return k.away && k.key == l->key; });
    if (kept != box_.links.end()) {
      *kept = std::move(link);  // back from a restart, in the place kept for it
    } else {
      box_.links.push_back(std::move(link));
    }
    if (note && note->linked) note->linked->set_value();
    if (note && note->gate) note->gate->arrive();
  }

  /// A link whose receiver comes back keeps its place (marked away, for the dispatcher, which
  /// sees the cancel next); any other is forgotten.
  void handle_cancel(const cancellation& why, const subscription& sub, context<event_t>&) {
    auto it = std::find_if(box_.links.begin(), box_.links.end(),
                           [&](const node_link& l) { return l.sub == sub.id(); });
    if (it == box_.links.end()) return;
    if (it->comes_back(why)) {
      it->away = true;
      it->sub = 0;
      box_.targets->away.push_back(it->key);
    } else {
      box_.links.erase(it);
    }
  }

 private:
  static state_t first_state(L& logic, [[maybe_unused]] const typename traits::args_type& args) {
    if constexpr (traits::stateful && has_init<L>) {
      return logic.init(args);
    } else {
      return state_t{};
    }
  }

  // The logic's process: its member, or a lambda's call operator.
  template <class... A>
  decltype(auto) call(A&&... a) {
    if constexpr (has_process<L>) {
      return logic_.process(std::forward<A>(a)...);
    } else {
      return logic_(std::forward<A>(a)...);
    }
  }

  // Takes from the inlet what `spare` demand and `inlet_take_` allow, and runs the logic over it.
  void take_inlet(std::size_t spare, context<event_t>& ctx) {
    if (spare == 0) {
      // Nothing to take now: the next demand comes through handle_spare_demand, and a later
      // trigger may wake the stage again.
      std::lock_guard lock(inlet_->mutex);
      inlet_->wake_pending = false;
      return;
    }
    const std::size_t n = std::min(spare, inlet_take_);
    const bool more = inlet_->take(n, scratch_);
    const std::size_t before = ctx.pushed();
    run(std::span<const in_t>(scratch_), ctx);
    scratch_.clear();
    // Demand is left that the data taken did not use (a cap, a sink, broadcasts to no link):
    // come back for more after what else waits. Else the next demand brings the stage back.
    if (more && ctx.pushed() - before < spare) {
      std::unique_lock lock(inlet_->mutex);
      if (!std::exchange(inlet_->wake_pending, true)) {
        lock.unlock();
        wake(ctx.self().core_ptr());
      }
    }
  }

  void run(std::span<const in_t> in, context<event_t>& ctx) {
    box_.ctx = &ctx;
    if (box_.targets->withdrawn) forget_withdrawn();
    const std::size_t before = ctx.pushed();
    // Room for one datum out per datum in, the usual shape (a relay, a map), grown as needed.
    if constexpr (!std::is_void_v<out_t>) {
      if (!box_.links.empty()) ctx.reserve(in.size());
    }
    std::size_t done = 0;
    node_context<out_t> nc(&box_);
    // The state stays in a local through the batch, where the compiler can keep it in
    // registers.
    state_t state = std::move(state_);
    // One datum at a time: what earlier data made still goes out when a later one stops the
    // node (by its result or by an exception).
    for (const in_t& datum : in) {
      ++done;
      try {
        if constexpr (!traits::stateful) {
          call(datum, nc);
        } else if constexpr (std::is_same_v<typename traits::process::result, state_t>) {
          state = call(datum, std::move(state), nc);
        } else {
          auto r = call(datum, std::move(state), nc);
          if (auto* why = std::get_if<exit_reason>(&r)) {
            ctx.stop(std::move(*why));
            break;
          }
          state = std::move(std::get<state_t>(r));
        }
      } catch (...) {
        ctx.stop(exit_reason::from_exception(std::current_exception()));
        break;
      }
    }
    state_ = std::move(state);
    // Data after the one that stopped the node are never processed: lost, and counted.
    if (done < in.size()) ctx.count_dropped(in.size() - done);
    counters_->in.fetch_add(done, std::memory_order_relaxed);
    counters_->out.fetch_add(ctx.pushed() - before, std::memory_order_relaxed);
    if (box_.unlinked > 0) {
      // A broadcast to no link is a loss the library causes: counted in the stage as well.
      ctx.count_dropped(box_.unlinked);
      counters_->unlinked.fetch_add(std::exchange(box_.unlinked, 0), std::memory_order_relaxed);
    }
  }

  // Forgets the links whose places the dispatcher withdrew.
  void forget_withdrawn() {
    box_.targets->withdrawn = false;
    std::erase_if(box_.links,
                  [&](const node_link& l) { return l.away && !box_.targets->is_away(l.key); });
  }

  L logic_;
  state_t state_;
  std::shared_ptr<node_counters> counters_;
  node_outbox<out_t> box_;
  std::shared_ptr<inlet_queue<in_t>> inlet_;  // shared with callers and later restarts
  const std::size_t inlet_take_;
  std::vector<in_t> scratch_;  // what the inlet gave the running callback
  // Whether the inlet is this stage's yet: a restarted node's is once its links are back, and
  // the demand of the first link back must not take from it before the others are.
  bool attached_ = false;
};

}  // namespace detail

}  // namespace datamesh
