/// @file
/// Deprecated: `subscribe_options` is in <datamesh/subscribe_options.hpp>, the file named after
/// it. This forwarding header goes with the next release.
#pragma once

#pragma message( \
    "<datamesh/subscription_options.hpp> is deprecated: include <datamesh/subscribe_options.hpp>")
#include <datamesh/subscribe_options.hpp>
