/// @file
/// `subscription_id`: the identity of one subscription, unique within a process.
#pragma once

#include <cstdint>

namespace datamesh {

/// Identifies one subscription (GenStage's subscription reference). Unique within a process; a
/// consumer subscribed twice to one producer holds two ids (SPEC rule 35).
using subscription_id = std::uint64_t;

}  // namespace datamesh
