/// @file
/// The logging hook: where the library reports what GenStage logs (discarded events, excess
/// events, unhandled infos, stages stopping on a cancel). The library never prints to stdout.
#pragma once

#include <functional>
#include <string>

namespace datamesh {

enum class log_level { debug, info, warning, error };

const char* to_string(log_level l) noexcept;

/// Receives one log line. Called from the thread running the stage that logs: it must be
/// thread-safe when several stages log.
using log_function = std::function<void(log_level, const std::string&)>;

}  // namespace datamesh
