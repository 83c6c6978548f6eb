// GenStage's DynamicSupervisor example in DataMesh: a counter producer whose every event starts
// a printer worker under a dynamic supervisor. Every fifth printer fails once and is restarted
// (transient), so the supervision is visible; at the end the supervisor is stopped, and it stops
// any child still running before it exits.
//
//   example_dynamic_supervisor [--quick]
#include <datamesh/datamesh.hpp>

#include <atomic>
#include <cstring>
#include <iostream>
#include <latch>
#include <memory>
#include <mutex>
#include <span>
#include <stdexcept>

namespace {

/// Emits 0, 1, 2, ... up to `limit`, then stops.
struct counter {
  int next = 0;
  int limit;
  explicit counter(int l) : limit(l) {}
  void handle_demand(std::size_t n, datamesh::context<int>& ctx) {
    for (; n > 0 && next < limit; --n) ctx.push(next++);
    if (next == limit) ctx.stop();
  }
};

std::mutex out_mutex;  // printers run on both threads of the pool
std::atomic<int> printed{0};
std::atomic<int> failures{0};
std::latch* all_printed = nullptr;  // counted down by each printer that completes

/// The worker of one event. Every fifth one fails on its first run.
void print_event(std::shared_ptr<std::atomic<bool>> failed_once, int e) {
  if (e % 5 == 4 && !failed_once->exchange(true)) {
    ++failures;
    throw std::runtime_error("printer " + std::to_string(e) + " tripped");
  }
  std::lock_guard lock(out_mutex);
  std::cout << "printer: event " << e << '\n';
  ++printed;
  all_printed->count_down();
}

/// Starts one printer per event under the supervisor.
struct starter {
  datamesh::dynamic_supervisor sup;
  explicit starter(datamesh::dynamic_supervisor s) : sup(std::move(s)) {}
  void handle_events(std::span<const int> events) {
    for (int e : events) {
      sup.start_child(datamesh::worker_spec(print_event, std::make_shared<std::atomic<bool>>(), e)
                          .restart(datamesh::restart_type::transient));
    }
  }
};

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const int events = quick ? 20 : 100;
  std::latch done(events);
  all_printed = &done;

  datamesh::runtime rt(datamesh::runtime_options{
      .threads = 2, .logger = [](datamesh::log_level level, const std::string& text) {
        if (level >= datamesh::log_level::warning) {
          std::lock_guard lock(out_mutex);
          std::cout << "[" << datamesh::to_string(level) << "] " << text << '\n';
        }
      }});
  auto sup = datamesh::dynamic_supervisor::start(
      rt, {.name = "printers", .intensity = {.max_restarts = 1000}});
  auto source = rt.start<counter>(events);
  auto consumer = rt.start<starter>(sup);
  datamesh::subscribe(consumer, source, {.max_demand = 10, .min_demand = 5});
  consumer.wait();  // the counter stopped after its last event; the consumer followed

  // Every printer has been started; wait until they have all printed, then stop the supervisor.
  done.wait();
  datamesh::stop(sup, datamesh::exit_reason::shutdown());
  const auto reason = sup.wait();
  std::cout << "printed " << printed.load() << " events; " << failures.load()
            << " printers failed once and were restarted; supervisor exited: " << reason.to_string()
            << '\n';
  return printed.load() == events && failures.load() == events / 5 ? 0 : 1;
}
