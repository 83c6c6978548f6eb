/// @file
/// Deprecated: `exit_reason` is in <datamesh/exit_reason.hpp>, the file named after it. This
/// forwarding header goes with the next release.
#pragma once

#pragma message("<datamesh/reason.hpp> is deprecated: include <datamesh/exit_reason.hpp>")
#include <datamesh/exit_reason.hpp>
