/// @file
/// The umbrella header: everything a user of DataMesh needs.
#pragma once

#include <datamesh/buffer.hpp>
#include <datamesh/context.hpp>
#include <datamesh/demand.hpp>
#include <datamesh/dispatch/broadcast.hpp>
#include <datamesh/dispatch/demand.hpp>
#include <datamesh/dispatch/dispatcher.hpp>
#include <datamesh/dispatch/partition.hpp>
#include <datamesh/dispatch/route.hpp>
#include <datamesh/error.hpp>
#include <datamesh/flow/from_range.hpp>
#include <datamesh/flow/stream.hpp>
#include <datamesh/function_stage.hpp>
#include <datamesh/fwd.hpp>
#include <datamesh/log.hpp>
#include <datamesh/reason.hpp>
#include <datamesh/runtime/deterministic_executor.hpp>
#include <datamesh/runtime/runtime.hpp>
#include <datamesh/stage.hpp>
#include <datamesh/stage_ref.hpp>
#include <datamesh/subscription.hpp>
#include <datamesh/subscription_options.hpp>
#include <datamesh/supervisor/restart.hpp>
#include <datamesh/supervisor/worker_slots.hpp>
