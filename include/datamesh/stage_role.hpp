/// @file
/// `stage_role`: producer, consumer or producer_consumer.
#pragma once

namespace datamesh {

/// The role of a stage, which follows from the callbacks it defines.
enum class stage_role { producer, consumer, producer_consumer };

const char* to_string(stage_role r) noexcept;

/// Whether a stage of this role emits events.
constexpr bool produces(stage_role r) noexcept { return r != stage_role::consumer; }
/// Whether a stage of this role subscribes to producers.
constexpr bool consumes(stage_role r) noexcept { return r != stage_role::producer; }

}  // namespace datamesh
