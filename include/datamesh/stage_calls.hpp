/// @file
/// Calls on running stages, through any handle: stop, drain, infos, calls and messages, the
/// producer's published estimates, and its demand mode. Stage-layer; implemented in
/// src/stage_calls.cpp.
#pragma once

#include <datamesh/demand.hpp>
#include <datamesh/exit_reason.hpp>
#include <datamesh/stage_ref.hpp>

#include <any>
#include <cstddef>
#include <cstdint>
#include <future>

namespace datamesh {

/// Stops `stage` with `reason`: it finishes the message it is handling, runs `terminate`, and its
/// peers follow their cancel modes. Thread-safe. Never blocks.
/// @throws datamesh::error `no_stage` if it has already exited.
void stop(const stage_ref& stage, exit_reason reason = exit_reason::normal());

/// Drains `stage` and, after it, the stages it feeds: the way to end a pipeline without loss.
/// Behind what is queued to it, the stage takes no more input (it cancels its own
/// subscriptions; what they had sent still arrives; a producer's `handle_demand` is no longer
/// called), passes on everything it holds as its consumers ask, then exits with
/// `exit_reason::drained()` (a normal exit). Each consumer of it whose producers have all
/// drained then does the same, whatever its cancel mode, down to the last stage: wait for that
/// one (`wait()`) to know the pipeline is empty. A stage whose held events nobody asks for (no
/// consumer) waits until one does, or until it is stopped. Thread-safe. Never blocks.
/// @throws datamesh::error `no_stage`.
void drain(const stage_ref& stage);

/// Queues `msg` for the stage's `handle_info` behind the events its buffer holds now (SPEC
/// rules 59-62). The future is ready once it is queued. Thread-safe. Never blocks.
/// @throws datamesh::error `no_stage`.
std::future<void> sync_info(const stage_ref& stage, std::any msg);
/// As `sync_info`, without the future. Ignored if the stage has exited. Thread-safe.
void async_info(const stage_ref& stage, std::any msg) noexcept;
/// Sends `request` to the stage's `handle_call` (SPEC rules 10, 11); the future holds its reply,
/// `errc::not_supported` if the stage has no `handle_call`, or what `handle_call` threw.
/// Thread-safe. Never blocks: wait on the future, never from the stage's own thread.
/// @throws datamesh::error `no_stage`.
std::future<std::any> call(const stage_ref& stage, std::any request);
/// Sends `msg` straight to the stage's `handle_info`. Thread-safe.
/// @throws datamesh::error `no_stage`.
void send(const stage_ref& stage, std::any msg);

/// Events in a producer's buffer, as last published by the stage (SPEC rule 57). On a consumer:
/// 0, and an error is logged. Thread-safe. Never blocks.
std::size_t estimate_buffered_count(const stage_ref& producer);
/// Events the stage has lost so far, as last published by it: its dispatcher's drops (an
/// unknown partition or route target, a full partition or target queue, a cancelled
/// consumer's queue, a mesh broadcast no link took), its buffer's overflow, batches a consumer
/// refused because it had exited, events on an unknown subscription, and what it held or had
/// queued when it exited. Every loss the library causes is counted here, and logged. Any stage.
/// Thread-safe. Never blocks.
/// @throws datamesh::error `no_stage` (an exited stage: its last count is in its exit log).
std::uint64_t estimate_dropped_count(const stage_ref& producer);
/// A producer's demand mode, as last published by the stage (rule 49). Thread-safe.
producer_demand demand(const stage_ref& producer);
/// Switches a producer's demand mode (rules 48-52). Asynchronous. Thread-safe.
/// @throws datamesh::error `no_stage`.
void demand(const stage_ref& producer, producer_demand mode);

}  // namespace datamesh
