// The mesh's registry: making, withdrawing and remaking links as nodes come and go.
#include <datamesh/mesh/detail/registry.hpp>

#include <algorithm>
#include <string>

namespace datamesh::detail {

void stop_if_running(const stage_ref& s, exit_reason reason) {
  if (const auto& core = s.core_ptr()) core->post_stop(std::move(reason));
}

void mesh_node::finish() {
  if (gone.exchange(true)) return;
  const std::size_t n = inlet->close();
  if (n > 0 && discarded) discarded(*this, n);
}

subscription mesh_registry::link(const mesh_node& from, const mesh_node& to,
                                 const mesh_link_entry& le,
                                 std::shared_ptr<std::promise<void>> linked,
                                 std::shared_ptr<link_gate> gate) {
  subscribe_options so{.max_demand = le.opts.max_demand,
                       .min_demand = le.opts.min_demand,
                       .cancel = cancel_mode::temporary,
                       .dispatch = from.make_link(to.key, le.opts.select, from.id, le.gauge),
                       .extra = link_note{to.id, std::move(linked), std::move(gate), to.restart}};
  return detail::subscribe(to.stage, from.stage, std::move(so));
}

void mesh_registry::withdraw(const std::pair<node_id, node_id>& k, const mesh_link_entry& le) {
  le.gauge->withdrawn.store(true, std::memory_order_seq_cst);
  auto f = nodes.find(k.first);
  auto t = nodes.find(k.second);
  if (f == nodes.end() || t == nodes.end() || !f->second->stage) return;
  f->second->stage.core_ptr()->post_dispatcher_note(std::any(link_withdrawn{t->second->key}));
}

void mesh_registry::withdraw_links_to(const node_id& to) {
  for (const auto& [k, le] : links) {
    if (k.second == to) withdraw(k, le);
  }
}

void mesh_registry::forget(const node_id& id) {
  withdraw_links_to(id);
  nodes.erase(id);
  std::erase_if(links,
                [&](const auto& kv) { return kv.first.first == id || kv.first.second == id; });
}

std::vector<std::uint32_t> mesh_registry::link_keys_from(const mesh_node& n) const {
  std::vector<std::uint32_t> keys;
  for (const auto& [k, le] : links) {
    if (k.first != n.id) continue;
    if (auto t = nodes.find(k.second); t != nodes.end()) keys.push_back(t->second->key);
  }
  return keys;
}

void mesh_registry::relink(const mesh_node& n, const std::vector<std::uint32_t>& kept,
                           std::function<void()> linked) {
  auto gate = std::make_shared<link_gate>(std::move(linked));
  std::vector<std::uint32_t> waited;  // kept places whose receivers are back or will be
  for (auto& [k, le] : links) {
    if (k.first != n.id && k.second != n.id) continue;
    auto f = nodes.find(k.first);
    auto t = nodes.find(k.second);
    if (f == nodes.end() || t == nodes.end()) continue;
    const bool outgoing = k.first == n.id;
    const mesh_node& to = *t->second;
    if (outgoing && !to.gone.load(std::memory_order_acquire) &&
        !le.gauge->withdrawn.load(std::memory_order_seq_cst)) {
      waited.push_back(to.key);  // back now, or when its own restart relinks
    }
    if (!f->second->stage.alive() || !to.stage.alive()) continue;
    if (outgoing) gate->expect();
    try {
      le.sub = link(*f->second, to, le, nullptr, outgoing ? gate : nullptr);
    } catch (const error&) {  // an end stopped meanwhile: its own exit settles the link
      if (outgoing) gate->arrive();
      std::erase(waited, to.key);
    }
  }
  for (const std::uint32_t key : kept) {
    if (std::find(waited.begin(), waited.end(), key) == waited.end()) {
      n.stage.core_ptr()->post_dispatcher_note(std::any(link_withdrawn{key}));
    }
  }
  gate->arrive();
}

}  // namespace datamesh::detail
