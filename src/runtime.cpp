#include <datamesh/error.hpp>
#include <datamesh/runtime/detail/runtime_state.hpp>
#include <datamesh/runtime/detail/thread_pool.hpp>
#include <datamesh/runtime/runtime.hpp>
#include <datamesh/stage_ref.hpp>

#include <boost/asio/execution/blocking.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/require.hpp>

#include <chrono>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace datamesh {

struct runtime::pool {
  explicit pool(std::size_t threads) : threads(threads) {}
  detail::thread_pool threads;
};

namespace {

// A stage is scheduled from inside other stages' handlers: the executor must never run it inline
// there, or stages would recurse into each other.
boost::asio::any_io_executor never_blocking(boost::asio::any_io_executor ex) {
  return boost::asio::prefer(boost::asio::require(ex, boost::asio::execution::blocking.never),
                             boost::asio::execution::relationship.continuation);
}

std::size_t default_threads(std::size_t requested) {
  if (requested > 0) return requested;
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 2 : n;
}

}  // namespace

runtime::runtime(runtime_options opts)
    : state_(std::make_shared<detail::runtime_state>()),
      pool_(std::make_unique<pool>(default_threads(opts.threads))) {
  state_->executor = never_blocking(pool_->threads.get_executor());
  state_->pool = &pool_->threads;
  state_->log = std::move(opts.logger);
  state_->timers = detail::make_thread_timers();
}

runtime::runtime(boost::asio::any_io_executor executor, runtime_options opts)
    : state_(std::make_shared<detail::runtime_state>()) {
  // An io_context's executor is recognised, so that `stop` can tell when nobody runs it.
  if (const auto* e = executor.target<boost::asio::io_context::executor_type>()) {
    io_ = &e->context();
  }
  state_->executor = never_blocking(std::move(executor));
  state_->log = std::move(opts.logger);
  state_->timers = detail::make_thread_timers();
}

runtime::runtime(deterministic_executor& executor, runtime_options opts)
    : runtime(boost::asio::any_io_executor(executor.get_executor()), std::move(opts)) {
  deterministic_ = &executor;
  state_->drive_one = [&executor] { return executor.run_one(); };
  state_->timers = detail::make_deterministic_timers(executor);
}

runtime::~runtime() {
  try {
    stop();
  } catch (const error& e) {
    // Destroyed on one of its own threads: it cannot wait for its stages there.
    state_->write_log(log_level::error, std::string("~runtime: ") + e.what());
  }
  // A stage that ignored its stop (a deterministic runtime gives up waiting when nothing is left
  // to run) is still owned here, and owns the runtime's state back: let it go with the runtime.
  std::unordered_map<const detail::actor*, detail::actor_ptr> left;
  {
    std::lock_guard lock(state_->mutex);
    left.swap(state_->actors);
  }
}

void runtime::stop() {
  if (stopped_) return;
  if (detail::on_runtime_thread(state_.get()) ||
      (io_ != nullptr && io_->get_executor().running_in_this_thread())) {
    throw error(errc::would_deadlock,
                "runtime::stop from a stage callback or a thread of the same runtime would wait "
                "for that very thread; stop it from outside, or stop this stage with ctx.stop");
  }
  stopped_ = true;
  std::vector<detail::actor_ptr> live;
  {
    std::lock_guard lock(state_->mutex);
    state_->stopping = true;
    for (auto& [p, s] : state_->actors) live.push_back(s);
  }
  for (auto& s : live) s->post_stop(exit_reason::shutdown());
  live.clear();
  if (deterministic_) {
    // A supervisor may wait out a child's shutdown timeout: move the virtual clock when nothing
    // else is left to run.
    while (!deterministic_->run_until([this] { return stage_count() == 0; })) {
      if (!deterministic_->advance_to_next_timer()) break;
    }
  } else {
    std::unique_lock lock(state_->mutex);
    while (!state_->changed.wait_for(lock, std::chrono::milliseconds(10),
                                     [this] { return state_->actors.empty(); })) {
      if (io_ != nullptr && io_->stopped()) {
        // A borrowed io_context whose run() has returned (the usual end of a single-threaded
        // service) would never run the stops posted to it: run them here.
        lock.unlock();
        io_->restart();
        io_->poll();
        lock.lock();
      }
    }
  }
  state_->timers->shutdown();
  if (pool_) pool_->threads.join();
}

stage_ref runtime::whereis(const std::string& name) const {
  // Every actor a runtime starts is a stage.
  return stage_ref(std::static_pointer_cast<detail::stage_base>(state_->find(name)));
}

std::size_t runtime::stage_count() const {
  std::lock_guard lock(state_->mutex);
  return state_->actors.size();
}

}  // namespace datamesh
