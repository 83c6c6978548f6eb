/// @file
/// The mesh: named nodes running user logic, wired and rewired at runtime.
///
///     datamesh::runtime rt;
///     datamesh::mesh mesh(rt);
///     mesh.start_node("source", passthrough{}, {});
///     mesh.start_node("filter", threshold_filter{}, {{"threshold", 10}});
///     mesh.start_node(std::tuple{"complex", 7}, printer{}, {});
///     mesh.connect("source", "filter");
///     mesh.connect("filter", std::tuple{"complex", 7});
///     mesh.trigger_data("source", reading{...});
///
/// Each node is a producer_consumer stage (mesh/node.hpp) with the mesh dispatcher
/// (mesh/mesh_dispatcher.hpp); a link is a subscription of the receiving node to the sending
/// one, with cancel mode `temporary`, so a node whose sender stops or disconnects keeps running.
/// Data enters a node from outside through its inlet, a bounded queue (`inlet_capacity`) that
/// the node's own stage takes from (mesh/detail/inlet.hpp): `trigger_data` waits for room,
/// `try_trigger_data` reports `full`, `async_trigger_data` completes a callback or an Asio
/// completion token once the datum is accepted.
///
/// Errors are typed (`datamesh::error`), raised by the call that made them, and leave the rest
/// of the mesh running: `unknown_node`, `duplicate_node`, `self_connection`,
/// `already_connected`, `not_connected`, `type_mismatch`, `bad_options`, `start_failed`.
#pragma once

#include <datamesh/detail/type_name.hpp>
#include <datamesh/error.hpp>
#include <datamesh/mesh/detail/inlet.hpp>
#include <datamesh/mesh/detail/registry.hpp>
#include <datamesh/mesh/mesh_dispatcher.hpp>
#include <datamesh/mesh/node.hpp>
#include <datamesh/mesh/node_id.hpp>
#include <datamesh/mesh/options.hpp>
#include <datamesh/mesh/snapshot.hpp>
#include <datamesh/runtime/detail/runtime_state.hpp>
#include <datamesh/runtime/runtime.hpp>
#include <datamesh/stage_calls.hpp>
#include <datamesh/start.hpp>
#include <datamesh/subscription.hpp>
#include <datamesh/supervisor/dynamic_supervisor.hpp>
#include <datamesh/supervisor/restart.hpp>

#include <boost/asio/async_result.hpp>

#include <any>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <ranges>
#include <string>
#include <system_error>
#include <typeindex>
#include <unordered_map>
#include <utility>
#include <vector>

namespace datamesh {

/// Thread safety: every member is thread-safe. `trigger_data` blocks; never call it from a node's
/// own `process` (that would wait on the thread that must make room).
class mesh {
 public:
  explicit mesh(runtime& rt)
      : rt_(&rt), state_(rt.internal_state()), reg_(std::make_shared<detail::mesh_registry>()) {}
  /// Stops every node still running.
  ~mesh();
  mesh(const mesh&) = delete;
  mesh& operator=(const mesh&) = delete;

  /// Starts node `id` running `logic` with no arguments and default options: a logic without
  /// `init` (a lambda, say), or one whose `init` takes `node_args`.
  /// @throws datamesh::error as the overload with arguments.
  template <node_logic L>
  requires std::is_same_v<typename node_traits<L>::args_type, node_args> stage_ref
  start_node(node_id id, L logic) {
    return start_node(std::move(id), std::move(logic), node_args{});
  }

  /// Starts node `id` running `logic` (node.hpp), its first state made by `logic.init(args)`
  /// (`State{}` without `init`); with a `permanent` or `transient` `opts.restart`, under a
  /// supervisor of its own.
  /// @throws datamesh::error `duplicate_node`, `start_failed` (init threw), `bad_options`.
  template <node_logic L>
  stage_ref start_node(node_id id, L logic, const typename node_traits<L>::args_type& args,
                       node_options opts = {}) {
    using traits = node_traits<L>;
    using in_t = typename traits::input_type;
    using event_t = detail::output_event_t<typename traits::output_type>;
    if (id.empty()) throw error(errc::bad_options, "a node id cannot be empty");
    if (opts.inlet_capacity == 0 || opts.batch() == 0) {
      throw error(errc::bad_options,
                  "node " + id.str() + ": inlet_capacity and inlet_batch must be at least 1");
    }
    check_restart_type(opts.restart);
    if (opts.restart != restart_type::temporary) {
      opts.intensity.validate();
      opts.shutdown.validate();
    }
    auto n = std::make_shared<detail::mesh_node>();
    n->id = id;
    n->input = typeid(in_t);
    n->output = typeid(event_t);
    n->counters = std::make_shared<detail::node_counters>();
    n->restart = opts.restart;
    n->discarded = [reg = std::weak_ptr(reg_), state = state_](const detail::mesh_node& node,
                                                               std::size_t count) {
      if (auto r = reg.lock()) r->discarded.fetch_add(count, std::memory_order_relaxed);
      state->write_log(log_level::warning, "node " + node.id.str() + " stopped with " +
                                               std::to_string(count) +
                                               " data in its inlet; they are discarded");
    };
    n->make_link = [](std::uint32_t key, const std::any& select, const node_id& from,
                      std::shared_ptr<link_gauge> gauge) {
      mesh_link<event_t> l{key, {}, std::move(gauge)};
      if (select.has_value()) {
        const auto* s = std::any_cast<selector<event_t>>(&select);
        if (s == nullptr) {
          throw error(errc::bad_options, "the selector of a link from node " + from.str() +
                                             " must be a selector of its output type");
        }
        l.select = *s;
      }
      return std::any(std::move(l));
    };
    {  // reserve the id: an entry without a stage is not live, but blocks a duplicate
      std::lock_guard lock(reg_->mutex);
      if (auto it = reg_->nodes.find(id); it != reg_->nodes.end()) {
        if (it->second->live() || !it->second->stage) {
          throw error(errc::duplicate_node, "a node " + id.str() + " is already running");
        }
        reg_->forget(id);  // it stopped: the id is free again
      }
      n->key = reg_->next_key++;
      reg_->nodes.emplace(id, n);
    }
    n->inlet = std::make_shared<detail::inlet_queue<in_t>>(opts.inlet_capacity);
    try {
      if (opts.restart != restart_type::temporary) {
        start_supervised(n, std::move(logic), args, opts);
      } else {
        stage_ref s = launch(*rt_, *n, logic, args, opts.batch());
        // Holds the node until its stage exits: the registry may have dropped it by then.
        s.on_exit([n](const exit_reason&) { n->finish(); });
        {
          std::lock_guard lock(reg_->mutex);
          n->stage = s;
        }
        n->inlet->attach(s);
      }
    } catch (const error& err) {
      n->inlet->close();
      std::lock_guard lock(reg_->mutex);
      reg_->nodes.erase(id);
      // What the node's own code threw (a datamesh::error from `init` included) is its
      // failure to start, not a mistake of this call; the runtime's state passes through.
      if (err.code() == errc::runtime_stopped || err.code() == errc::would_deadlock) throw;
      throw error(errc::start_failed, "node " + id.str() + " failed to start: " + err.what());
    }
    return n->stage;
  }

  /// Links `from` to `to`: `to` receives what `from` broadcasts or sends it from now on (once
  /// this returns, `from` has the link). Not from a node's `process`: it waits for `from`.
  /// @throws datamesh::error `unknown_node`, `self_connection`, `already_connected`,
  ///   `type_mismatch` (from's output is not to's input), `bad_options`, `no_stage` (an end
  ///   stopped, or is being restarted, before the link was made), `would_deadlock` (from a
  ///   stage of the runtime: nothing is changed).
  void connect(const node_id& from, const node_id& to, link_options opts = {});

  /// Removes the link from `from` to `to`: `to` receives nothing more on it; what it already
  /// received it still processes. Returns once `to` has dropped the link. Not from a node's
  /// `process`.
  /// @throws datamesh::error `not_connected`, `would_deadlock` (from a stage of the runtime:
  ///   nothing is changed).
  void disconnect(const node_id& from, const node_id& to);

  /// Stops node `id` (its links go with it; the nodes it was linked to go on). A supervised node
  /// is stopped by its supervisor, by its shutdown policy, and not restarted.
  /// @throws datamesh::error `unknown_node`.
  void stop_node(const node_id& id, exit_reason reason = exit_reason::normal());

  /// Hands `data` to node `id`, waiting while its inlet is full. On a deterministic runtime it
  /// runs the executor instead of waiting, and throws `would_deadlock` if that cannot free room.
  /// @throws datamesh::error `unknown_node`, `type_mismatch`, `no_stage` (the node stopped),
  ///   `would_deadlock` (the inlet is full and the caller is a stage of the runtime, a node's
  ///   `process`, which would wait for itself: use `try_trigger_data` there).
  template <class T>
  void trigger_data(const node_id& id, T data) {
    auto q = inlet_of<T>(id);
    std::unique_lock lock(q->mutex);
    wait_for_room(*q, lock, id);
    push_locked(*q, lock, std::move(data), id);
  }

  /// Hands every datum of `data` to node `id`, in order, as `trigger_data` does one by one, and
  /// returns once all are accepted: the way to feed a node in bulk. What fits in the inlet goes
  /// in at once; the node takes the rest straight from `data` as it asks for more, on its own
  /// thread, while this call waits (so `data` is read by the node's thread meanwhile). On a
  /// deterministic runtime it runs the executor instead of waiting, as `trigger_data` does.
  /// @throws datamesh::error as `trigger_data`, or what reading `data` threw; the data before
  ///   the failure were accepted.
  template <class T, std::ranges::input_range R>
  requires std::convertible_to<std::ranges::range_reference_t<R>, T>
  void trigger_all(const node_id& id, R&& data) {
    auto q = inlet_of<T>(id);
    auto it = std::ranges::begin(data);
    const auto end = std::ranges::end(data);
    std::unique_lock lock(q->mutex);
    if (q->closed) throw error(errc::no_stage, "node " + id.str() + " has stopped");
    detail::stage_ptr to_wake;
    auto wake_node = [&] {
      lock.unlock();
      detail::wake(std::exchange(to_wake, nullptr));
    };
    auto keep = [&](detail::stage_ptr s) {
      if (s) to_wake = std::move(s);
    };
    try {
      if (q->waiting.empty() && q->feeds.empty()) {  // else it would overtake them
        for (; it != end && q->items.size() < q->capacity; ++it) keep(q->accept(T(*it)));
      }
    } catch (...) {
      wake_node();  // for what was accepted
      throw;
    }
    if (it == end) return wake_node();
    if (detail::on_runtime_thread(state_.get())) {  // the rest would have to be waited for
      wake_node();
      refuse_on_runtime_thread("trigger_all");
    }
    using feed_t = detail::range_feed<T, decltype(it), decltype(end)>;
    feed_t feed(it, end);
    keep(q->add_feed(feed));
    wake_node();
    lock.lock();
    wait_until_fed(*q, feed, lock, id);
    if (feed.refused) throw error(errc::no_stage, "node " + id.str() + " has stopped");
    if (feed.failure) std::rethrow_exception(feed.failure);
  }

  /// Hands `data` to node `id` if its inlet has room; never waits. A node that has stopped, or
  /// is stopping while this call runs, answers `closed`.
  /// @throws datamesh::error `unknown_node` (no running node has this id: a stopped node's id is
  ///   forgotten), `type_mismatch`.
  template <class T>
  trigger_status try_trigger_data(const node_id& id, T data) {
    std::shared_ptr<detail::inlet_queue<T>> q;
    {
      std::lock_guard lock(reg_->mutex);
      auto it = reg_->nodes.find(id);
      if (it != reg_->nodes.end() && !it->second->live()) return trigger_status::closed;
      q = inlet_locked<T>(id);
    }
    std::unique_lock lock(q->mutex);
    if (q->closed) return trigger_status::closed;
    if (q->items.size() >= q->capacity || !q->waiting.empty()) return trigger_status::full;
    push_locked(*q, lock, std::move(data), id);
    return trigger_status::accepted;
  }

  /// Hands `data` to node `id` once its inlet has room, then completes `token` with
  /// `void(std::error_code)`: empty when accepted, `errc::no_stage` if the node stopped first,
  /// `errc::inlet_full` at once (the datum not taken) when the inlet is full and as many
  /// triggers as it holds already wait for room: waiting triggers are bounded by
  /// `inlet_capacity`, as the inlet is. Any Asio completion token works (a callback,
  /// `use_future`, `use_awaitable`, ...). A handler that throws is logged; the exception goes no
  /// further.
  /// @throws datamesh::error `unknown_node`, `type_mismatch` at the call.
  template <class T, class Token>
  auto async_trigger_data(const node_id& id, T data, Token&& token) {
    auto q = inlet_of<T>(id);
    auto fallback = rt_->executor();
    return boost::asio::async_initiate<Token, void(std::error_code)>(
        [q = q, fallback, id, state = state_](auto handler, T value) {
          detail::completion done(std::move(handler), fallback, state);
          std::unique_lock lock(q->mutex);
          if (q->closed) {
            lock.unlock();
            done(make_error_code(errc::no_stage));
            return;
          }
          if (q->items.size() >= q->capacity || !q->waiting.empty()) {
            if (q->waiting.size() >= q->capacity) {
              lock.unlock();
              done(make_error_code(errc::inlet_full));
              return;
            }
            q->waiting.emplace_back(std::move(value), std::move(done));
            return;
          }
          push_locked(*q, lock, std::move(value), id);
          done(std::error_code{});
        },
        token, std::move(data));
  }

  // -- registry ---

  /// Whether node `id` runs (or, supervised, waits to be restarted).
  bool contains(const node_id& id) const;
  /// The running nodes' ids, in order.
  std::vector<node_id> nodes() const;
  /// The links, as (from, to), in order.
  std::vector<std::pair<node_id, node_id>> links() const;
  /// The stage running node `id` now (a restart replaces it). @throws `unknown_node`.
  stage_ref stage_of(const node_id& id) const;

  /// Data node `id` has processed, and has broadcast or sent, so far.
  struct node_figures {
    std::uint64_t in = 0;
    std::uint64_t out = 0;
    std::uint64_t unlinked = 0;  // broadcasts made while no node was connected
    std::uint64_t restarts = 0;  // times its supervisor restarted it
    std::uint64_t dropped = 0;   // lost, over all its stages (node_snapshot::dropped)
  };
  /// @throws datamesh::error `unknown_node`.
  node_figures figures(const node_id& id) const;

  /// Every node's and link's figures now (see mesh/snapshot.hpp).
  mesh_snapshot snapshot() const;

  /// Returns once everything triggered so far has been processed by every node it reached:
  /// each datum handed in before the call, and each datum the nodes made from it, has been
  /// processed or counted as lost (`node_snapshot::dropped`, `mesh_snapshot::discarded`), and no
  /// node holds data for a link. Data other threads trigger meanwhile are waited for too, so
  /// under a steady stream of triggers it returns once the stream pauses. While data cannot
  /// move (a supervised node waiting to restart, a receiver that asks for nothing) it waits;
  /// `settle_for` bounds the wait. On a deterministic runtime it runs the executor instead.
  /// Not from a node's `process`.
  /// @throws datamesh::error `would_deadlock` (from a stage of the runtime; or the
  ///   deterministic executor has nothing left to run while data still wait).
  void settle() { settle_until(std::nullopt); }
  /// As `settle`, giving up after `limit`: whether the mesh settled. The limit includes a round
  /// trip to every node, so on a thread pool a zero limit tells only for an empty mesh.
  bool settle_for(std::chrono::milliseconds limit) {
    return settle_until(std::chrono::steady_clock::now() + limit);
  }

 private:
  using node_ptr = std::shared_ptr<detail::mesh_node>;

  /// What `settle` compares: a sum that moves whenever a datum does, and whether anything
  /// waits; `stages` are the running nodes' stages, to probe.
  struct settle_view {
    std::uint64_t moved = 0;
    bool idle = true;
    std::vector<stage_ref> stages;
  };
  settle_view look() const;
  bool settle_until(std::optional<std::chrono::steady_clock::time_point> deadline);

  // Call with the registry's mutex held (it guards `n.stage`).
  static node_figures figures_of(const detail::mesh_node& n);

  // Starts a stage running `logic` for node `n`; it takes from the inlet once attached to it.
  template <class L>
  static stage_ref launch(runtime& rt, const detail::mesh_node& n, const L& logic,
                          const typename node_traits<L>::args_type& args, std::size_t inlet_take,
                          std::vector<std::uint32_t> kept = {}) {
    using traits = node_traits<L>;
    using event_t = detail::output_event_t<typename traits::output_type>;
    // Where the node's stage notes its sends for its dispatcher.
    auto targets = std::make_shared<mesh_targets>();
    stage_options so;
    so.dispatcher_options =
        typename mesh_dispatcher<event_t>::options{.targets = targets, .away = std::move(kept)};
    return rt.start<detail::node_stage<L>>(so, n.id, logic, args, targets, n.counters,
                                           inlet_of(n.inlet, std::type_identity<L>{}), inlet_take);
  }

  template <class L>
  static auto inlet_of(const std::shared_ptr<detail::inlet_base>& inlet, std::type_identity<L>) {
    return std::static_pointer_cast<detail::inlet_queue<typename node_traits<L>::input_type>>(
        inlet);
  }

  // Starts node `n` as the one child of a supervisor of its own. Each start, the first and every
  // restart, launches a stage; a restart also makes the node's links again.
  template <class L>
  void start_supervised(const node_ptr& n, L logic, const typename node_traits<L>::args_type& args,
                        const node_options& opts) {
    using args_t = typename node_traits<L>::args_type;
    n->supervisor =
        dynamic_supervisor::start(*rt_, dynamic_supervisor_options{.intensity = opts.intensity});
    const restart_type type = opts.restart;
    auto start = [reg = std::weak_ptr(reg_), w = std::weak_ptr(n), rt = rt_,
                  logic = std::move(logic), args = args_t(args), demand = opts.batch(),
                  type]() -> stage_ref {
      auto r = reg.lock();
      auto n = w.lock();
      if (!r || !n) throw error(errc::no_stage, "the mesh is gone");
      // A restart starts with the places of its links kept, so it runs no further ahead of
      // them than they let it: its unlinked window does not apply.
      std::vector<std::uint32_t> kept;
      {
        std::lock_guard lock(r->mutex);
        if (n->stage) kept = r->link_keys_from(*n);
      }
      stage_ref s = launch(*rt, *n, logic, args, demand, kept);
      s.on_exit([n, type, w = std::weak_ptr(s.core_ptr())](const exit_reason& why) {
        // What this incarnation lost stays counted in the node's figures.
        if (auto core = w.lock()) {
          n->counters->dropped_before.fetch_add(core->dropped_estimate(),
                                                std::memory_order_relaxed);
        }
        if (!should_restart(type, why)) n->finish();  // else the supervisor restarts it
      });
      std::lock_guard lock(r->mutex);
      if (n->gone.load(std::memory_order_acquire)) return s;  // stopped: its supervisor follows
      if (!n->stage) {
        n->stage = s;
        n->inlet->attach(s);
        return s;
      }
      n->stage = s;
      n->counters->restarts.fetch_add(1, std::memory_order_relaxed);
      // Once its links are back: what waits in the inlet goes to them, not to none.
      // (The stage is held weakly: a note may wait in its own mailbox.)
      r->relink(*n, kept, [inlet = n->inlet, w = std::weak_ptr(s.core_ptr())] {
        if (auto p = w.lock()) inlet->attach(stage_ref(std::move(p)));
      });
      return s;
    };
    // Given up (too many restarts) or stopped: the node is gone, and its senders keep no place
    // for it any more.
    n->supervisor->on_exit([n, reg = std::weak_ptr(reg_)](const exit_reason&) {
      n->finish();
      if (auto r = reg.lock()) {
        std::lock_guard lock(r->mutex);
        if (auto it = r->nodes.find(n->id); it != r->nodes.end() && it->second == n) {
          r->withdraw_links_to(n->id);
        }
      }
    });
    auto child = n->supervisor->start_child(
        stage_spec(std::move(start)).restart(type).shutdown(opts.shutdown).name(n->id.str()));
    try {
      await(child, "start_node", *n->supervisor);
    } catch (...) {
      datamesh::stop(*n->supervisor, exit_reason::shutdown());
      throw;
    }
  }

  // Waits for `done`; on a deterministic runtime runs the executor until it is ready.
  template <class T>
  T await(std::future<T>& done, const char* what, const stage_ref& any_stage = {}) {
    if (done.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
      refuse_on_runtime_thread(what);
    }
    const detail::runtime_state& rt = any_stage ? *any_stage.core_ptr()->runtime() : *state_;
    detail::drive_until(
        rt, [&] { return done.wait_for(std::chrono::seconds(0)) == std::future_status::ready; },
        [&] { return std::string(what) + ": the call cannot complete"; });
    return done.get();
  }

  // A call that must wait for the mesh's stages cannot do so on one of their threads (a node's
  // `process`, any stage callback of the runtime): it would wait for itself.
  void refuse_on_runtime_thread(const char* what) const;

  // Call with the registry's mutex held.
  node_ptr find(const node_id& id) const;

  template <class T>
  std::shared_ptr<detail::inlet_queue<T>> inlet_of(const node_id& id) {
    std::lock_guard lock(reg_->mutex);
    return inlet_locked<T>(id);
  }

  // As inlet_of, with the registry's mutex held.
  template <class T>
  std::shared_ptr<detail::inlet_queue<T>> inlet_locked(const node_id& id) {
    auto n = find(id);
    if (n->input != typeid(T)) {
      throw error(errc::type_mismatch, "node " + id.str() + " takes " +
                                           detail::type_name(n->input) + ", not " +
                                           detail::type_name(typeid(T)));
    }
    return std::static_pointer_cast<detail::inlet_queue<T>>(n->inlet);
  }

  // Accepts `v` into `q` (locked by `lock`, released here) and wakes the node unless a wake is
  // already on its way.
  template <class T>
  static void push_locked(detail::inlet_queue<T>& q, std::unique_lock<std::mutex>& lock, T&& v,
                          const node_id& id) {
    if (q.closed) {
      throw error(errc::no_stage, "node " + id.str() + " has stopped");
    }
    detail::stage_ptr to_wake = q.accept(std::move(v));
    lock.unlock();
    detail::wake(to_wake);
  }

  // Waits, with `lock` held on `q`, until the node is done with `feed`; on a deterministic runtime
  // runs the executor instead, and withdraws `feed` if that cannot finish it.
  template <class T>
  void wait_until_fed(detail::inlet_queue<T>& q, detail::inlet_feed<T>& feed,
                      std::unique_lock<std::mutex>& lock, const node_id& id) {
    lock.unlock();
    bool driven = false;
    try {
      driven = detail::drive_until(
          *state_,
          [&] {
            std::lock_guard relock(*lock.mutex());
            return feed.done;
          },
          [&] { return "trigger_all: the inlet of node " + id.str() + " is full"; });
    } catch (...) {
      lock.lock();
      q.withdraw(feed);  // safe: the stage runs only inside drive_until, on this thread
      throw;
    }
    lock.lock();
    if (!driven) q.fed.wait(lock, [&] { return feed.done; });
  }

  // Waits, with `lock` held on `q`, until `q` has room or is closed; on a deterministic runtime
  // runs the executor instead (see trigger_data).
  template <class T>
  void wait_for_room(detail::inlet_queue<T>& q, std::unique_lock<std::mutex>& lock,
                     const node_id& id) {
    const auto has_room = [&] {
      return q.closed || (q.items.size() < q.capacity && q.waiting.empty());
    };
    while (!has_room()) {
      if (detail::on_runtime_thread(state_.get())) {
        lock.unlock();
        refuse_on_runtime_thread("trigger_data");
      }
      lock.unlock();
      const bool driven = detail::drive_until(
          *state_,
          [&] {
            std::lock_guard relock(*lock.mutex());
            return has_room();
          },
          [&] { return "trigger_data: the inlet of node " + id.str() + " is full"; });
      lock.lock();  // and check again: another thread may have filled it meanwhile
      if (!driven) q.room.wait(lock, has_room);
    }
  }

  runtime* rt_;
  // The runtime's state: for logging user code that fails, and for waiting (drive_until).
  std::shared_ptr<const detail::runtime_state> state_;
  std::shared_ptr<detail::mesh_registry> reg_;
};

}  // namespace datamesh
