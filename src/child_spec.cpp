// The children's side of supervision: exit reports, running worker jobs in batches on the
// runtime, and watching stage children.
#include <datamesh/supervisor/child_spec.hpp>

#include <algorithm>
#include <any>
#include <iterator>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace datamesh::detail {

void exit_queue::push(child_id id, std::uint32_t generation, exit_reason reason) {
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    wake = notes_.empty();
    notes_.push_back({id, generation, std::move(reason)});
  }
  if (wake) {
    if (auto owner = owner_.lock()) owner->post_message(std::any(exits_ready{}));
  }
}

void exit_queue::push_bulk(std::vector<exit_note>& notes) {
  if (notes.empty()) return;
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    wake = notes_.empty();
    if (wake) {
      notes_.swap(notes);
    } else {
      for (auto& n : notes) notes_.push_back(std::move(n));
    }
  }
  notes.clear();
  if (wake) {
    if (auto owner = owner_.lock()) owner->post_message(std::any(exits_ready{}));
  }
}

void exit_queue::take(std::vector<exit_note>& out) {
  out.clear();
  std::lock_guard lock(mutex_);
  out.swap(notes_);
}

void run_jobs(std::vector<std::shared_ptr<worker_job>>& jobs, exit_queue& exits) {
  std::vector<exit_note> notes;
  notes.reserve(jobs.size());
  for (auto& job : jobs) {
    if (!job->abandoned()) notes.push_back(job->run());  // a killed job never runs
    job.reset();
  }
  exits.push_bulk(notes);
}

void post_jobs(runtime_state& rt, const std::shared_ptr<exit_queue>& exits,
               std::vector<std::shared_ptr<worker_job>>& batch) {
  constexpr std::size_t min_chunk = 32;
  if (batch.empty()) return;
  const std::size_t threads = pool_threads(rt);
  const std::size_t chunks = threads > 0
                                 ? std::clamp<std::size_t>(batch.size() / min_chunk, 1, 2 * threads)
                                 : batch.size();
  const std::size_t per = (batch.size() + chunks - 1) / chunks;
  for (std::size_t first = 0; first < batch.size(); first += per) {
    const std::size_t last = std::min(batch.size(), first + per);
    std::vector<std::shared_ptr<worker_job>> chunk(std::make_move_iterator(batch.begin() + first),
                                                   std::make_move_iterator(batch.begin() + last));
    // One small chunk stays with this thread, which just made it: waking another costs more
    // than running it. Several chunks are worth spreading.
    post_task(
        rt, [chunk = std::move(chunk), exits]() mutable { run_jobs(chunk, *exits); },
        chunks > 1 ? task_placement::spread : task_placement::local);
  }
  batch.clear();
}

std::shared_ptr<running_child> watch_stage(const child_env& env, stage_ref s) {
  if (!s) throw error(errc::start_failed, "the child's start function returned no stage");
  s.on_exit([exits = *env.exits, id = env.id, gen = env.generation](const exit_reason& r) {
    exits->push(id, gen, r);
  });
  return std::make_shared<running_stage>(std::move(s));
}

}  // namespace datamesh::detail
