// A word count partitioned by word: one producer reads the words of a text, the partition
// dispatcher sends every occurrence of one word to the same counter, so each counter owns its
// words outright and needs no lock and no merge step.
//
//   example_word_count [--quick]
#include <datamesh/datamesh.hpp>

#include <algorithm>
#include <any>
#include <cstring>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <sstream>
#include <string>
#include <vector>

namespace {

constexpr std::size_t partitions = 4;

const char* const text =
    "the quick brown fox jumps over the lazy dog and the dog sleeps while the fox runs "
    "a stage asks for events and a producer never sends more than it was asked so the "
    "slow stage sets the pace and memory stays bounded";

struct done {};

/// Emits the words of `text`, `repeat` times over, exactly as many as asked; stops once every
/// word has been dispatched (an info queued behind the partition queues comes back).
struct words {
  using dispatcher_type = datamesh::partition_dispatcher<std::string>;
  std::vector<std::string> all;
  std::size_t next = 0;
  explicit words(int repeat) {
    for (int r = 0; r < repeat; ++r) {
      std::istringstream in(text);
      for (std::string w; in >> w;) all.push_back(w);
    }
  }
  void handle_demand(std::size_t n, datamesh::context<std::string>& ctx) {
    if (next == all.size()) return;
    for (; n > 0 && next < all.size(); --n) ctx.push(all[next++]);
    if (next == all.size()) ctx.async_info(done{});
  }
  void handle_info(std::any& msg, datamesh::context<std::string>& ctx) {
    if (std::any_cast<done>(&msg)) ctx.stop();
  }
};

/// Counts the words of one partition.
struct counter {
  std::map<std::string, std::size_t>* counts;
  void handle_events(std::span<const std::string> in) {
    for (const auto& w : in) ++(*counts)[w];
  }
};

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const int repeat = quick ? 50 : 20'000;

  datamesh::runtime rt(datamesh::runtime_options{.threads = 2});
  std::vector<std::map<std::string, std::size_t>> counts(partitions);

  // A word for a partition whose counter has not subscribed yet waits in that partition's
  // queue (bounded by the buffer_size) and is delivered once it has (SPEC rule 83).
  auto source = rt.start<words>(
      {.dispatcher_options = words::dispatcher_type::options{.partitions = partitions}}, repeat);
  std::vector<datamesh::stage_handle<counter>> counters;
  for (std::size_t p = 0; p < partitions; ++p) {
    counters.push_back(rt.start<counter>(counter{&counts[p]}));
    datamesh::subscribe(counters.back(), source, {.max_demand = 500, .dispatch = p});
  }
  for (auto& c : counters) c.wait();  // permanent subscribers follow the source out

  std::size_t total = 0;
  std::set<std::string> seen;
  bool shared = false;
  for (std::size_t p = 0; p < partitions; ++p) {
    std::size_t here = 0;
    for (const auto& [w, n] : counts[p]) {
      here += n;
      if (!seen.insert(w).second) shared = true;  // a word counted in two partitions
    }
    total += here;
    std::vector<std::pair<std::size_t, std::string>> top;
    for (const auto& [w, n] : counts[p]) top.emplace_back(n, w);
    std::sort(top.rbegin(), top.rend());
    std::cout << "partition " << p << ": " << counts[p].size() << " distinct words, " << here
              << " in all; top:";
    for (std::size_t i = 0; i < std::min<std::size_t>(3, top.size()); ++i) {
      std::cout << " " << top[i].second << "=" << top[i].first;
    }
    std::cout << "\n";
  }
  std::istringstream in(text);
  std::size_t per_text = 0;
  for (std::string w; in >> w;) ++per_text;
  const std::size_t expected = per_text * static_cast<std::size_t>(repeat);
  std::cout << total << " words counted of " << expected
            << "; each word in exactly one partition: " << (shared ? "no" : "yes") << "\n";
  return total == expected && !shared ? 0 : 1;
}
