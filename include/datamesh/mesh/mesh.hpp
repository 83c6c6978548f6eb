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
/// Data enters a node from outside through its inlet, a bounded queue (`inlet_capacity`):
/// `trigger_data` waits for room, `try_trigger_data` reports `full`, `async_trigger_data`
/// completes a callback or an Asio completion token once the datum is accepted.
///
/// Errors are typed (`datamesh::error`), raised by the call that made them, and leave the rest
/// of the mesh running: `unknown_node`, `duplicate_node`, `self_connection`,
/// `already_connected`, `not_connected`, `type_mismatch`, `bad_options`, `start_failed`.
#pragma once

#include <datamesh/detail/inlet.hpp>
#include <datamesh/error.hpp>
#include <datamesh/mesh/mesh_dispatcher.hpp>
#include <datamesh/mesh/node.hpp>
#include <datamesh/mesh/node_id.hpp>
#include <datamesh/runtime/runtime.hpp>
#include <datamesh/subscription.hpp>

#include <boost/asio/async_result.hpp>
#include <boost/core/demangle.hpp>

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

/// Options of one node.
struct node_options {
  /// Data from `trigger_data` accepted and not yet taken by the node; at least 1.
  std::size_t inlet_capacity = 1000;
  /// The inlet link's demand.
  std::size_t max_demand = 1000;
};

/// Options of one link.
struct link_options {
  std::size_t max_demand = 1000;
  /// Default: `max_demand / 2`.
  std::optional<std::size_t> min_demand{};
  /// A `selector<Out>` of the sending node's output type: the broadcasts this link receives.
  std::any select{};
};

/// The answer of `try_trigger_data`.
enum class trigger_status { accepted, full };

/// Thread safety: every member is thread-safe. `trigger_data` blocks; never call it from a node's
/// own `process` (that would wait on the thread that must make room).
class mesh {
 public:
  explicit mesh(runtime& rt) : rt_(&rt) {}
  /// Stops every node still running.
  ~mesh() {
    for (const auto& id : nodes()) {
      try {
        stop_node(id, exit_reason::shutdown());
      } catch (const error&) {  // stopped meanwhile
      }
    }
  }
  mesh(const mesh&) = delete;
  mesh& operator=(const mesh&) = delete;

  /// Starts node `id` running `logic`, its state made by `logic.init(args)`.
  /// @throws datamesh::error `duplicate_node`, `start_failed` (init threw), `bad_options`.
  template <node_logic L>
  stage_ref start_node(node_id id, L logic, const typename node_traits<L>::args_type& args,
                       node_options opts = {}) {
    using traits = node_traits<L>;
    using in_t = typename traits::input_type;
    using wire = detail::wire_t<typename traits::output_type>;
    if (id.empty()) throw error(errc::bad_options, "a node id cannot be empty");
    if (opts.inlet_capacity == 0 || opts.max_demand == 0) {
      throw error(errc::bad_options, "node " + id.str() +
                                         ": inlet_capacity and max_demand must "
                                         "be at least 1");
    }
    std::unique_lock lock(mutex_);
    if (auto it = nodes_.find(id); it != nodes_.end()) {
      if (it->second->stage.alive()) {
        throw error(errc::duplicate_node, "a node " + id.str() + " is already running");
      }
      forget(id);  // it stopped: the id is free again
    }
    auto e = std::make_shared<entry>();
    e->id = id;
    e->key = next_key_++;
    e->input = typeid(in_t);
    e->output = typeid(wire);
    e->counters = std::make_shared<detail::node_counters>();
    auto seq = std::make_shared<mesh_sequence>();
    stage_options so;
    so.dispatcher_options = typename mesh_dispatcher<wire>::options{seq};
    try {
      e->stage =
          rt_->start<detail::node_stage<L>>(so, id, std::move(logic), args, seq, e->counters);
    } catch (const error& err) {
      if (err.code() != errc::start_failed) throw;
      throw error(errc::start_failed, "node " + id.str() + " failed to start: " + err.what());
    }
    auto q = std::make_shared<detail::inlet_queue<in_t>>(opts.inlet_capacity);
    e->inlet_queue = q;
    e->inlet = rt_->start<detail::inlet_stage<in_t, mesh_event<in_t>>>(
        q, std::function<mesh_event<in_t>(in_t &&)>([](in_t&& v) {
          return mesh_event<in_t>{std::move(v), 0, 0};
        }));
    detail::subscribe(e->stage, e->inlet,
                      {.max_demand = opts.max_demand, .cancel = cancel_mode::temporary});
    e->make_link = [](std::uint32_t key, const std::any& select, const node_id& from) {
      mesh_link<wire> l{key, {}};
      if (select.has_value()) {
        const auto* s = std::any_cast<selector<wire>>(&select);
        if (s == nullptr) {
          throw error(errc::bad_options, "the selector of a link from node " + from.str() +
                                             " must be a selector of its output type");
        }
        l.select = *s;
      }
      return std::any(std::move(l));
    };
    nodes_.emplace(id, e);
    lock.unlock();
    // The inlet goes with its node.
    e->stage.on_exit([inlet = e->inlet](const exit_reason&) {
      if (inlet.alive()) datamesh::stop(inlet, exit_reason::shutdown());
    });
    return e->stage;
  }

  /// Links `from` to `to`: `to` receives what `from` broadcasts or sends it from now on (once
  /// this returns, `from` has the link). Not from a node's `process`: it waits for `from`.
  /// @throws datamesh::error `unknown_node`, `self_connection`, `already_connected`,
  ///   `type_mismatch` (from's output is not to's input), `bad_options`.
  void connect(const node_id& from, const node_id& to, link_options opts = {}) {
    std::unique_lock lock(mutex_);
    auto f = find(from);
    auto t = find(to);
    if (from == to) {
      throw error(errc::self_connection, "node " + from.str() + " cannot be connected to itself");
    }
    if (links_.contains({from, to})) {
      throw error(errc::already_connected,
                  "node " + from.str() + " is already connected to node " + to.str());
    }
    if (f->output != t->input) {
      throw error(errc::type_mismatch,
                  "node " + from.str() + " emits " + boost::core::demangle(f->output.name()) +
                      " but node " + to.str() + " takes " + boost::core::demangle(t->input.name()));
    }
    auto linked = std::make_shared<std::promise<void>>();
    std::future<void> done = linked->get_future();
    subscribe_options so{.max_demand = opts.max_demand,
                         .min_demand = opts.min_demand,
                         .cancel = cancel_mode::temporary,
                         .dispatch = f->make_link(t->key, opts.select, from),
                         .extra = detail::link_note{to, std::move(linked)}};
    subscription sub = detail::subscribe(t->stage, f->stage, std::move(so));
    links_.emplace(std::pair{from, to}, sub);
    lock.unlock();
    try {
      await(done, f->stage, "connect");
    } catch (const std::future_error&) {  // a node stopped before the link was made
      std::lock_guard relock(mutex_);
      links_.erase({from, to});
      throw error(errc::no_stage, "node " + from.str() + " or node " + to.str() +
                                      " stopped before the link was made");
    }
  }

  /// Removes the link from `from` to `to`: `to` receives nothing more on it; what it already
  /// received it still processes. Returns once `to` has dropped the link. Not from a node's
  /// `process`.
  /// @throws datamesh::error `not_connected`.
  void disconnect(const node_id& from, const node_id& to) {
    std::unique_lock lock(mutex_);
    auto it = links_.find({from, to});
    if (it == links_.end()) {
      throw error(errc::not_connected,
                  "node " + from.str() + " is not connected to node " + to.str());
    }
    const subscription sub = it->second;
    const stage_ref receiver = find(to)->stage;
    links_.erase(it);
    lock.unlock();
    std::future<void> done = sync_cancel(sub, exit_reason::normal());
    await(done, receiver, "disconnect");
  }

  /// Stops node `id` (its links go with it; the nodes it was linked to go on).
  /// @throws datamesh::error `unknown_node`.
  void stop_node(const node_id& id, exit_reason reason = exit_reason::normal()) {
    std::shared_ptr<entry> e;
    {
      std::lock_guard lock(mutex_);
      e = find(id);
      forget(id);
    }
    if (e->stage.alive()) datamesh::stop(e->stage, std::move(reason));
  }

  /// Hands `data` to node `id`, waiting while its inlet is full. On a deterministic runtime it
  /// runs the executor instead of waiting, and throws `would_deadlock` if that cannot free room.
  /// @throws datamesh::error `unknown_node`, `type_mismatch`, `no_stage` (the node stopped).
  template <class T>
  void trigger_data(const node_id& id, T data) {
    auto [q, inlet] = inlet_of<T>(id);
    std::unique_lock lock(q->mutex);
    wait_for_room(*q, inlet, lock, id);
    push_locked(*q, inlet, lock, std::move(data), id);
  }

  /// Hands every datum of `data` to node `id`, in order, as `trigger_data` does one by one, but
  /// with one registry lookup and one lock per inletful: the way to feed a node in bulk.
  /// @throws datamesh::error as `trigger_data`; the data before the failure were accepted.
  template <class T, std::ranges::input_range R>
  requires std::convertible_to<std::ranges::range_reference_t<R>, T>
  void trigger_all(const node_id& id, R&& data) {
    auto [q, inlet] = inlet_of<T>(id);
    auto it = std::ranges::begin(data);
    const auto end = std::ranges::end(data);
    while (it != end) {
      std::unique_lock lock(q->mutex);
      wait_for_room(*q, inlet, lock, id);
      if (q->closed) throw error(errc::no_stage, "node " + id.str() + " has stopped");
      bool wake = false;
      for (; it != end && q->items.size() < q->capacity; ++it) wake |= q->accept(T(*it));
      lock.unlock();
      if (wake) async_info(inlet, detail::inlet_wake{});
    }
  }

  /// Hands `data` to node `id` if its inlet has room.
  /// @throws datamesh::error as `trigger_data`.
  template <class T>
  trigger_status try_trigger_data(const node_id& id, T data) {
    auto [q, inlet] = inlet_of<T>(id);
    std::unique_lock lock(q->mutex);
    if (!q->closed && (q->items.size() >= q->capacity || !q->waiting.empty())) {
      return trigger_status::full;
    }
    push_locked(*q, inlet, lock, std::move(data), id);
    return trigger_status::accepted;
  }

  /// Hands `data` to node `id` once its inlet has room, then completes `token` with
  /// `void(std::error_code)`: empty when accepted, `errc::no_stage` if the node stopped first.
  /// Any Asio completion token works (a callback, `use_future`, `use_awaitable`, ...).
  /// @throws datamesh::error `unknown_node`, `type_mismatch` at the call.
  template <class T, class Token>
  auto async_trigger_data(const node_id& id, T data, Token&& token) {
    auto [q, inlet] = inlet_of<T>(id);
    auto fallback = rt_->executor();
    return boost::asio::async_initiate<Token, void(std::error_code)>(
        [this, q = q, inlet = inlet, fallback, id](auto handler, T value) {
          detail::completion done(std::move(handler), fallback);
          std::unique_lock lock(q->mutex);
          if (q->closed) {
            lock.unlock();
            done(make_error_code(errc::no_stage));
            return;
          }
          if (q->items.size() >= q->capacity || !q->waiting.empty()) {
            q->waiting.emplace_back(std::move(value), std::move(done));
            return;
          }
          push_locked(*q, inlet, lock, std::move(value), id);
          done(std::error_code{});
        },
        token, std::move(data));
  }

  // -- registry ---

  /// Whether node `id` is running.
  bool contains(const node_id& id) const {
    std::lock_guard lock(mutex_);
    auto it = nodes_.find(id);
    return it != nodes_.end() && it->second->stage.alive();
  }
  /// The running nodes' ids, in order.
  std::vector<node_id> nodes() const {
    std::lock_guard lock(mutex_);
    std::vector<node_id> ids;
    for (const auto& [id, e] : nodes_) {
      if (e->stage.alive()) ids.push_back(id);
    }
    std::sort(ids.begin(), ids.end());
    return ids;
  }
  /// The links, as (from, to), in order.
  std::vector<std::pair<node_id, node_id>> links() const {
    std::lock_guard lock(mutex_);
    std::vector<std::pair<node_id, node_id>> out;
    for (const auto& [k, sub] : links_) out.push_back(k);
    std::sort(out.begin(), out.end());
    return out;
  }
  /// The stage running node `id`. @throws datamesh::error `unknown_node`.
  stage_ref stage_of(const node_id& id) const {
    std::lock_guard lock(mutex_);
    return find(id)->stage;
  }

  /// Data node `id` has processed, and has broadcast or sent, so far.
  struct node_figures {
    std::uint64_t in = 0;
    std::uint64_t out = 0;
    std::uint64_t unlinked = 0;  // broadcasts made while no node was connected
  };
  node_figures figures(const node_id& id) const {
    std::lock_guard lock(mutex_);
    const auto& c = *find(id)->counters;
    return {c.in.load(std::memory_order_relaxed), c.out.load(std::memory_order_relaxed),
            c.unlinked.load(std::memory_order_relaxed)};
  }

 private:
  struct entry {
    node_id id;
    std::uint32_t key = 0;
    std::type_index input = typeid(void);
    std::type_index output = typeid(void);
    stage_ref stage;
    stage_ref inlet;
    std::shared_ptr<void> inlet_queue;  // detail::inlet_queue<In>
    std::function<std::any(std::uint32_t, const std::any&, const node_id&)> make_link;
    std::shared_ptr<detail::node_counters> counters;
  };
  struct pair_hash {
    std::size_t operator()(const std::pair<node_id, node_id>& p) const noexcept {
      return p.first.hash() * 31 + p.second.hash();
    }
  };

  // Waits for `done`; on a deterministic runtime runs the executor until it is ready.
  static void await(std::future<void>& done, const stage_ref& any_node, const char* what) {
    const auto& drive = any_node.core_ptr()->runtime()->drive_one;
    if (drive) {
      while (done.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
        if (!drive()) {
          throw error(errc::would_deadlock, std::string(what) +
                                                ": the deterministic executor has nothing left "
                                                "to run and the link is not settled");
        }
      }
    }
    done.get();
  }

  // Call with mutex_ held: drops node `id` and its links from the registry.
  void forget(const node_id& id) {
    nodes_.erase(id);
    std::erase_if(links_,
                  [&](const auto& kv) { return kv.first.first == id || kv.first.second == id; });
  }

  // Call with mutex_ held.
  std::shared_ptr<entry> find(const node_id& id) const {
    auto it = nodes_.find(id);
    if (it == nodes_.end() || !it->second->stage.alive()) {
      throw error(errc::unknown_node, "there is no running node " + id.str());
    }
    return it->second;
  }

  template <class T>
  std::pair<std::shared_ptr<detail::inlet_queue<T>>, stage_ref> inlet_of(const node_id& id) {
    std::lock_guard lock(mutex_);
    auto e = find(id);
    if (e->input != typeid(T)) {
      throw error(errc::type_mismatch, "node " + id.str() + " takes " +
                                           boost::core::demangle(e->input.name()) + ", not " +
                                           boost::core::demangle(typeid(T).name()));
    }
    return {std::static_pointer_cast<detail::inlet_queue<T>>(e->inlet_queue), e->inlet};
  }

  // Accepts `v` into `q` (locked by `lock`, released here) and wakes the inlet unless a wake is
  // already on its way.
  template <class T>
  static void push_locked(detail::inlet_queue<T>& q, const stage_ref& inlet,
                          std::unique_lock<std::mutex>& lock, T&& v, const node_id& id) {
    if (q.closed) {
      throw error(errc::no_stage, "node " + id.str() + " has stopped");
    }
    const bool wake = q.accept(std::move(v));
    lock.unlock();
    if (wake) async_info(inlet, detail::inlet_wake{});
  }

  // Waits, with `lock` held on `q`, until `q` has room or is closed; on a deterministic runtime
  // runs the executor instead (see trigger_data).
  template <class T>
  static void wait_for_room(detail::inlet_queue<T>& q, const stage_ref& inlet,
                            std::unique_lock<std::mutex>& lock, const node_id& id) {
    const auto& drive = inlet.core_ptr()->runtime()->drive_one;
    while (!q.closed && (q.items.size() >= q.capacity || !q.waiting.empty())) {
      if (!drive) {
        q.room.wait(lock);
        continue;
      }
      lock.unlock();
      if (!drive()) {
        throw error(errc::would_deadlock, "trigger_data: the inlet of node " + id.str() +
                                              " is full and nothing is left to run");
      }
      lock.lock();
    }
  }

  runtime* rt_;
  mutable std::mutex mutex_;
  // Guarded by mutex_.
  std::unordered_map<node_id, std::shared_ptr<entry>> nodes_;
  std::unordered_map<std::pair<node_id, node_id>, subscription, pair_hash> links_;
  std::uint32_t next_key_ = 1;
};

}  // namespace datamesh
