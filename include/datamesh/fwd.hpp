/// @file
/// Forward declarations of DataMesh's public types.
#pragma once

namespace datamesh {

class exit_reason;
class stage_ref;
template <class T>
class producer_ref;
template <class T>
class consumer_ref;
template <class S>
class stage_handle;
class subscription;
template <class Out>
class context;
class runtime;
class deterministic_executor;
struct subscribe_options;
struct stage_options;

}  // namespace datamesh
