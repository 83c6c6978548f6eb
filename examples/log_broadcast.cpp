// A GenEvent-style event manager: log lines are notified to one producer, which broadcasts each
// one to every handler subscribed to it, at the pace of the slowest. One handler selects only the
// errors (a broadcast selector), the others see everything.
//
//   example_log_broadcast [--quick]
#include <datamesh/datamesh.hpp>

#include <any>
#include <cstring>
#include <future>
#include <iostream>
#include <map>
#include <span>
#include <string>
#include <vector>

namespace {

struct line {
  std::string level;  // "INFO", "WARN", "ERROR"
  std::string text;
};

struct flush {};  // asks the manager to stop once everything before it is dispatched

/// The event manager: `notify` hands it a line through `call`; it broadcasts what handlers ask
/// for and keeps the rest in its buffer. Stops after a `flush`, behind every line notified.
struct log_manager {
  using dispatcher_type = datamesh::broadcast_dispatcher<line>;

  void handle_demand(std::size_t, datamesh::context<line>&) {}  // lines come from notify
  void handle_call(std::any& request, datamesh::call_reply& reply, datamesh::context<line>& ctx) {
    if (auto* l = std::any_cast<line>(&request)) {
      ctx.push(std::move(*l));
    } else if (std::any_cast<flush>(&request)) {
      ctx.async_info(flush{});
    }
    reply(std::any{});
  }
  void handle_info(std::any& msg, datamesh::context<line>& ctx) {
    if (std::any_cast<flush>(&msg)) ctx.stop();
  }
};

void notify(const datamesh::stage_ref& manager, line l) {
  datamesh::call(manager, std::move(l)).get();
}

/// Prints every line it receives.
struct console_handler {
  bool quiet;
  std::size_t* seen;
  void handle_events(std::span<const line> in) {
    for (const line& l : in) {
      ++*seen;
      if (!quiet) std::cout << "  [console] " << l.level << ": " << l.text << "\n";
    }
  }
};

/// Counts lines per level.
struct stats_handler {
  std::map<std::string, std::size_t>* by_level;
  void handle_events(std::span<const line> in) {
    for (const line& l : in) ++(*by_level)[l.level];
  }
};

/// Keeps the errors only: its subscription's selector filters the rest out in the producer.
struct error_handler {
  std::vector<std::string>* errors;
  void handle_events(std::span<const line> in) {
    for (const line& l : in) errors->push_back(l.text);
  }
};

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const int lines = quick ? 30 : 3000;

  datamesh::runtime rt(datamesh::runtime_options{.threads = 2});
  std::size_t console_seen = 0;
  std::map<std::string, std::size_t> by_level;
  std::vector<std::string> errors;

  auto manager = rt.start<log_manager>();
  auto console = rt.start<console_handler>(console_handler{!quick, &console_seen});
  auto stats = rt.start<stats_handler>(stats_handler{&by_level});
  auto errs = rt.start<error_handler>(error_handler{&errors});
  // A handler that joins after a line was broadcast does not see it (SPEC rule 74): wait until
  // the manager has accepted all three before notifying.
  std::vector<std::future<datamesh::subscription>> accepted;
  accepted.push_back(datamesh::sync_subscribe(console, manager, {.max_demand = 10}));
  accepted.push_back(datamesh::sync_subscribe(stats, manager, {.max_demand = 100}));
  accepted.push_back(datamesh::sync_subscribe(
      errs, manager, {.max_demand = 10, .dispatch = datamesh::selector<line>([](const line& l) {
                                          return l.level == "ERROR";
                                        })}));
  for (auto& a : accepted) a.get();
  std::cout << "notifying " << lines << " log lines to 3 handlers\n";
  const char* levels[] = {"INFO", "INFO", "WARN", "INFO", "ERROR"};
  for (int i = 0; i < lines; ++i) {
    notify(manager, line{levels[i % 5], "request " + std::to_string(i) + " handled"});
  }
  datamesh::call(manager, flush{}).get();
  // The handlers are permanent subscribers: they finish what they received, then follow the
  // manager out.
  console.wait();
  stats.wait();
  errs.wait();

  std::cout << "console handler saw " << console_seen << " lines\n";
  std::cout << "stats handler:";
  for (const auto& [level, n] : by_level) std::cout << " " << level << "=" << n;
  std::cout << "\nerror handler kept " << errors.size()
            << " errors (first: " << (errors.empty() ? "none" : errors.front()) << ")\n";

  const bool ok = console_seen == static_cast<std::size_t>(lines) &&
                  by_level["ERROR"] == static_cast<std::size_t>(lines / 5) &&
                  errors.size() == static_cast<std::size_t>(lines / 5);
  std::cout << (ok ? "every handler got every line it asked for\n" : "LINES WERE LOST\n");
  return ok ? 0 : 1;
}
