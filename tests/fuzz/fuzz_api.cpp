// A libFuzzer target driving the public API with what the fuzzer's bytes say: start stages with
// random options (invalid ones included), subscribe (also through `subscribe_to`, and with huge
// demands), cancel, ask, stop, drop handles; start mesh nodes, connect, disconnect, trigger
// (also asynchronously), stop them; step the deterministic executor in between.
//
// Every call must either succeed or throw `datamesh::error` with a code its documentation names.
// Checked all along: a manual subscription never delivers more than was asked. Checked at the
// end, after `runtime::stop`: every stage that started ran `terminate` exactly once, nothing
// is left running, and every asynchronous trigger completed exactly once. A broken rule aborts,
// which libFuzzer (and the corpus replay) reports.
//
// Built two ways: with clang and -fsanitize=fuzzer,address,undefined (the `fuzz` preset), and
// with tests/fuzz/replay_main.cpp, which runs the seed corpus in tests/fuzz/corpus/ as a test in
// the GCC presets that set DATAMESH_FUZZ_REPLAY (ci, default).
#include <datamesh/datamesh.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

using namespace datamesh;

/// The fuzzer's bytes as small choices; zeros once they run out.
class byte_reader {
 public:
  byte_reader(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
  bool done() const { return at_ >= size_; }
  std::uint8_t byte() { return at_ < size_ ? data_[at_++] : 0; }
  /// One of 0..n-1.
  std::size_t below(std::size_t n) { return n == 0 ? 0 : byte() % n; }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t at_ = 0;
};

[[noreturn]] void violated(const std::string& what) {
  std::fprintf(stderr, "fuzz_api: %s\n", what.c_str());
  std::abort();
}

/// Runs `call`, which may succeed or throw `datamesh::error` with one of `allowed`. Any other
/// code aborts; any other exception escapes, which libFuzzer reports as a crash too.
template <class F>
bool documented(const char* name, std::initializer_list<errc> allowed, F&& call) {
  try {
    call();
    return true;
  } catch (const error& e) {
    for (errc c : allowed)
      if (e.code() == make_error_code(c)) return false;
    violated(std::string(name) + " threw an undocumented error: " + e.what());
  }
}

/// What the stages report, all on the one thread of the deterministic executor.
struct ledger {
  std::vector<int> terminates;  // per stage constructed, in order
  std::vector<bool> started;    // whose start returned
  struct manual_sub {
    std::size_t asked = 0;  // saturates: huge asks add up to "no bound", never wrap to a small one
    std::size_t received = 0;
    void ask(std::size_t n) {
      asked = n > std::numeric_limits<std::size_t>::max() - asked
                  ? std::numeric_limits<std::size_t>::max()
                  : asked + n;
    }
  };
  std::unordered_map<subscription_id, manual_sub> manual;

  std::size_t enrol() {
    terminates.push_back(0);
    started.push_back(false);
    return terminates.size() - 1;
  }
  void received(const subscription& s, std::size_t n) {
    auto it = manual.find(s.id());
    if (it == manual.end()) return;  // automatic: the stage asks by itself
    it->second.received += n;
    if (it->second.received > it->second.asked)
      violated("a manual subscription received " + std::to_string(it->second.received) +
               " events but asked for " + std::to_string(it->second.asked));
  }
};

/// What every stage here shares: its slot in the ledger, and `terminate` counted.
struct tracked {
  ledger* l;
  std::size_t slot;
  explicit tracked(ledger* lg) : l(lg), slot(lg->enrol()) {}
  void terminate(const exit_reason&) { ++l->terminates[slot]; }
};

/// Counts up, as much as asked up to 128 at a time (a demand is a bound: huge ones are fuzzed).
template <class Dispatcher>
struct source : tracked {
  using dispatcher_type = Dispatcher;
  int next = 0;
  explicit source(ledger* lg) : tracked(lg) {}
  void handle_demand(std::size_t n, context<int>& ctx) {
    for (std::size_t i = 0; i < n && i < 128; ++i) ctx.push(next++);
  }
};
using demand_source = source<demand_dispatcher<int>>;
using broadcast_source = source<broadcast_dispatcher<int>>;
using partition_source = source<partition_dispatcher<int>>;

/// Passes on every other event.
struct relay : tracked {
  explicit relay(ledger* lg) : tracked(lg) {}
  void handle_events(std::span<const int> in, const subscription& s, context<int>& ctx) {
    l->received(s, in.size());
    for (int x : in)
      if (x % 2 == 0) ctx.push(x);
  }
};

struct sink : tracked {
  explicit sink(ledger* lg) : tracked(lg) {}
  void handle_events(std::span<const int> in, const subscription& s, context<void>&) {
    l->received(s, in.size());
  }
};

/// Of the wrong event type for every producer here.
struct text_sink : tracked {
  explicit text_sink(ledger* lg) : tracked(lg) {}
  void handle_events(std::span<const std::string>, const subscription&, context<void>&) {}
};

// -- mesh logic ---

/// Broadcasts what it receives, plus one.
struct mesh_relay {
  none init(const node_args&) { return {}; }
  none process(const int& x, none s, node_context<int>& ctx) {
    ctx.broadcast(x + 1);
    return s;
  }
};

/// Sends what it receives to node `x % 4`, which may not be linked: the node then stops.
struct mesh_router {
  none init(const node_args&) { return {}; }
  none process(const int& x, none s, node_context<int>& ctx) {
    ctx.send(x % 4, x + 1);
    return s;
  }
};

struct mesh_sink {
  none init(const node_args&) { return {}; }
  none process(const int&, none s, node_context<void>&) { return s; }
};

exit_reason any_reason(byte_reader& in) {
  switch (in.below(5)) {
    case 0:
      return exit_reason::normal();
    case 1:
      return exit_reason::shutdown();
    case 2:
      return exit_reason::error("fuzz");
    case 3:
      return exit_reason::noproc();
    default:
      return exit_reason::killed();
  }
}

/// Demand from 0 (invalid) up, and sometimes a min_demand at or above it (invalid too).
std::size_t any_demand(byte_reader& in) {
  static constexpr std::size_t choices[] = {0, 1, 2, 3, 5, 10, 100};
  return choices[in.below(std::size(choices))];
}

class session {
 public:
  explicit session(byte_reader& in) : in_(in) {}

  void run() {
    for (int step = 0; step < 200 && !in_.done(); ++step) {
      switch (in_.below(16)) {
        case 0:
          start_stage();
          break;
        case 1:
          subscribe_one();
          break;
        case 2:
          cancel_one();
          break;
        case 3:
          ask_one();
          break;
        case 4:
          stop_one();
          break;
        case 5:
          start_node();
          break;
        case 6:
          connect_nodes();
          break;
        case 7:
          disconnect_nodes();
          break;
        case 8:
          trigger();
          break;
        case 9:
          stop_node();
          break;
        case 10:
          start_subscribed();
          break;
        case 11:
          huge_demand();
          break;
        case 12:
          drop_handle();
          break;
        case 13:
          async_trigger();
          break;
        default:
          ex_.run(1 + in_.below(64));
          break;
      }
    }
    ex_.run(10'000);
    finish();
  }

 private:
  stage_ref pick_stage() {
    if (stages_.empty()) return {};
    return stages_[in_.below(stages_.size() + 1) % stages_.size()];
  }

  template <class S>
  void start_as(const stage_options& opts) {
    const std::size_t before = ledger_.terminates.size();
    documented("runtime::start",  // runtime.hpp
               {errc::bad_options, errc::start_failed, errc::not_a_producer, errc::type_mismatch},
               [&] {
                 stage_handle<S> h = rt_.start<S>(opts, &ledger_);
                 stages_.push_back(h);
                 ledger_.started.at(before) = true;
               });
  }

  void start_stage() {
    stage_options opts;
    switch (in_.below(4)) {
      case 0:
        break;
      case 1:
        opts.buffer_size = 0;
        break;  // invalid (rule 4)
      case 2:
        opts.buffer_size = 1 + in_.below(8);
        break;
      default:
        opts.buffer_keep = buffer_keep::first;
        opts.buffer_size = 3;
        break;
    }
    if (in_.below(4) == 0) opts.demand = producer_demand::accumulate;  // invalid on a consumer
    switch (in_.below(6)) {
      case 0:
        start_as<demand_source>(opts);
        break;
      case 1:
        start_as<broadcast_source>(opts);
        break;
      case 2:
        if (in_.below(4) != 0) {
          opts.dispatcher_options = partition_options<int>{.partitions = in_.below(4)};
        } else if (in_.below(2) == 0) {
          opts.dispatcher_options = std::string("not partition options");
        }
        start_as<partition_source>(opts);
        break;
      case 3:
        start_as<relay>(opts);
        break;
      case 4:
        start_as<sink>(opts);
        break;
      default:
        start_as<text_sink>(opts);
        break;
    }
  }

  /// A consumer started with `subscribe_to` naming any stage: checked as `subscribe` is.
  void start_subscribed() {
    stage_ref producer = pick_stage();
    if (!producer) return;
    subscribe_options opts;
    opts.max_demand = any_demand(in_);
    opts.cancel = static_cast<cancel_mode>(in_.below(4));  // 3 is not a cancel_mode
    stage_options so;
    so.subscribe_to.emplace_back(producer, std::move(opts));
    switch (in_.below(3)) {
      case 0:
        start_as<relay>(so);
        break;
      case 1:
        start_as<sink>(so);
        break;
      default:
        start_as<text_sink>(so);  // a type mismatch with every producer here
        break;
    }
  }

  /// Demands far beyond what any stage emits: a bound, never an allocation.
  void huge_demand() {
    static constexpr std::size_t huge[] = {std::size_t{1} << 32, std::size_t{1} << 40,
                                           std::numeric_limits<std::size_t>::max() - 2};
    const std::size_t n = huge[in_.below(std::size(huge))];
    if (in_.below(2) == 0) {
      subscription s = pick_sub();
      if (!s) return;
      if (auto it = ledger_.manual.find(s.id()); it != ledger_.manual.end()) it->second.ask(n);
      datamesh::ask(s, n);
      return;
    }
    stage_ref consumer = pick_stage();
    stage_ref producer = pick_stage();
    if (!consumer || !producer) return;
    documented(
        "subscribe",
        {errc::bad_options, errc::no_stage, errc::not_a_consumer, errc::not_a_producer,
         errc::type_mismatch, errc::self_connection},
        [&] { subs_.push_back(datamesh::subscribe(consumer, producer, {.max_demand = n})); });
  }

  /// Drops the test's handle to a stage: the runtime still owns it, and stops it at the end.
  void drop_handle() {
    if (stages_.empty()) return;
    stages_.erase(stages_.begin() + static_cast<std::ptrdiff_t>(in_.below(stages_.size())));
  }

  void async_trigger() {
    node_id id = any_node();
    const int value = static_cast<int>(in_.byte());
    documented("mesh::async_trigger_data", {errc::unknown_node, errc::type_mismatch}, [&] {
      mesh_.async_trigger_data(id, value, [this](std::error_code ec) {
        ++completions_;
        if (ec && ec != errc::inlet_full && ec != errc::no_stage)
          violated("async_trigger_data completed with " + ec.message());
      });
      ++async_calls_;
    });
  }

  void subscribe_one() {
    stage_ref consumer = pick_stage();
    stage_ref producer = pick_stage();
    if (!consumer || !producer) return;
    subscribe_options opts;
    opts.max_demand = any_demand(in_);
    if (in_.below(3) == 0) opts.min_demand = any_demand(in_);
    opts.cancel = static_cast<cancel_mode>(in_.below(3));
    const bool manual = in_.below(3) == 0;
    if (manual) opts.demand = demand_mode::manual;
    switch (in_.below(5)) {
      case 0:
        opts.dispatch = std::size_t{in_.below(4)};
        break;  // a partition, maybe none such
      case 1:
        opts.dispatch = selector<int>([](const int& x) { return x % 3 != 0; });
        break;
      case 2:
        opts.dispatch = 3.5;
        break;  // fits no dispatcher
      default:
        break;
    }
    documented("subscribe",
               {errc::bad_options, errc::no_stage, errc::not_a_consumer, errc::not_a_producer,
                errc::type_mismatch, errc::already_subscribed, errc::subscription_refused,
                errc::self_connection},
               [&] {
                 subscription s = datamesh::subscribe(consumer, producer, std::move(opts));
                 if (manual) ledger_.manual.emplace(s.id(), ledger::manual_sub{});
                 subs_.push_back(s);
               });
  }

  subscription pick_sub() {
    if (subs_.empty()) return {};
    return subs_[in_.below(subs_.size())];
  }

  void cancel_one() {
    if (subscription s = pick_sub()) datamesh::cancel(s, any_reason(in_));
  }

  void ask_one() {
    subscription s = pick_sub();
    if (!s) return;
    const std::size_t n = in_.below(12);
    // Counted before it is sent: an ask to a subscription that is not manual is logged and
    // ignored, and the stage's own asks are not counted (only manual ones are checked).
    if (auto it = ledger_.manual.find(s.id()); it != ledger_.manual.end()) it->second.ask(n);
    datamesh::ask(s, n);
  }

  void stop_one() {
    stage_ref s = pick_stage();
    if (!s) return;
    documented("stop", {errc::no_stage}, [&] { datamesh::stop(s, any_reason(in_)); });
  }

  node_id any_node() {
    // Integer and string ids; 4 names of each, so calls often find a node.
    const std::size_t k = in_.below(8);
    if (k < 4) return node_id(static_cast<int>(k));
    return node_id("n" + std::to_string(k - 4));
  }

  void start_node() {
    node_id id = any_node();
    node_options opts;
    if (in_.below(4) == 0) opts.restart = static_cast<restart_type>(in_.below(3));
    if (in_.below(4) == 0) opts.inlet_capacity = in_.below(3);  // 0 is invalid
    if (in_.below(4) == 0) opts.inlet_batch = any_demand(in_);
    documented("mesh::start_node", {errc::duplicate_node, errc::bad_options, errc::start_failed},
               [&] {
                 switch (in_.below(3)) {
                   case 0:
                     mesh_.start_node(id, mesh_relay{}, {}, opts);
                     break;
                   case 1:
                     mesh_.start_node(id, mesh_router{}, {}, opts);
                     break;
                   default:
                     mesh_.start_node(id, mesh_sink{}, {}, opts);
                     break;
                 }
               });
  }

  void connect_nodes() {
    node_id from = any_node(), to = any_node();
    link_options opts;
    opts.max_demand = any_demand(in_);
    if (in_.below(3) == 0) opts.min_demand = any_demand(in_);
    if (in_.below(4) == 0) opts.select = selector<int>([](const int& x) { return x % 2 == 0; });
    if (in_.below(8) == 0) opts.select = std::string("not a selector");
    documented("mesh::connect",
               {errc::unknown_node, errc::self_connection, errc::already_connected,
                errc::type_mismatch, errc::bad_options, errc::no_stage},
               [&] { mesh_.connect(from, to, std::move(opts)); });
  }

  void disconnect_nodes() {
    node_id from = any_node(), to = any_node();
    documented("mesh::disconnect", {errc::not_connected}, [&] { mesh_.disconnect(from, to); });
  }

  void trigger() {
    node_id id = any_node();
    const int value = static_cast<int>(in_.byte());
    documented("mesh::try_trigger_data", {errc::unknown_node, errc::type_mismatch, errc::no_stage},
               [&] { (void)mesh_.try_trigger_data(id, value); });
  }

  void stop_node() {
    node_id id = any_node();
    documented("mesh::stop_node", {errc::unknown_node},
               [&] { mesh_.stop_node(id, any_reason(in_)); });
  }

  void finish() {
    rt_.stop();
    if (rt_.stage_count() != 0)
      violated(std::to_string(rt_.stage_count()) + " stages still run after runtime::stop");
    ex_.run();  // the completions the stop posted
    if (completions_ != async_calls_)
      violated(std::to_string(async_calls_) + " async triggers, " + std::to_string(completions_) +
               " completions: each must complete exactly once");
    for (std::size_t i = 0; i < ledger_.terminates.size(); ++i) {
      const int expected = ledger_.started[i] ? 1 : 0;
      if (ledger_.terminates[i] != expected)
        violated("stage " + std::to_string(i) + " ran terminate " +
                 std::to_string(ledger_.terminates[i]) + " times, expected " +
                 std::to_string(expected));
    }
  }

  byte_reader& in_;
  ledger ledger_;  // before the runtime: stages write to it until they stop
  deterministic_executor ex_;
  runtime rt_{ex_, runtime_options{.threads = 0, .logger = [](log_level, const std::string&) {}}};
  mesh mesh_{rt_};
  std::vector<stage_ref> stages_;
  std::vector<subscription> subs_;
  std::size_t async_calls_ = 0;
  std::size_t completions_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  byte_reader in(data, size);
  session(in).run();
  return 0;
}
