/// @file
/// Starting stages: the definitions of `runtime::start` and of its function-stage shortcuts
/// (`start_producer`, `start_map`, `start_filter`, `start_consumer`), which the runtime declares
/// (runtime/runtime.hpp). They live here, in the stage layer, because they build the stage
/// engine; the runtime below knows nothing of stages. Include this header, or the umbrella
/// `<datamesh/datamesh.hpp>`, where you start a stage: without it a call to `start` fails to
/// compile ("used before its return type is deduced").
#pragma once

#include <datamesh/detail/stage_impl.hpp>
#include <datamesh/error.hpp>
#include <datamesh/function_stage.hpp>
#include <datamesh/runtime/runtime.hpp>
#include <datamesh/stage.hpp>

#include <exception>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

namespace datamesh {

template <class S, class... Args>
auto runtime::start(const stage_options& opts, Args&&... args) {
  static_assert(stage_logic<S>, "runtime::start<S>: S must be a stage (see stage.hpp)");
  opts.validate(stage_traits<S>::role, typeid(typename stage_traits<S>::input_type));
  std::shared_ptr<detail::stage_impl<S>> impl;
  try {
    impl = std::make_shared<detail::stage_impl<S>>(state_, opts, std::forward<Args>(args)...);
  } catch (const error&) {
    throw;
  } catch (const std::exception& e) {
    throw error(errc::start_failed, std::string("stage constructor threw: ") + e.what());
  } catch (...) {
    throw error(errc::start_failed, "stage constructor threw a non-standard exception");
  }
  impl->start(opts);
  return stage_handle<S>(std::move(impl));
}

template <class S, class... Args>
requires(sizeof...(Args) == 0 ||
         !std::is_same_v<std::remove_cvref_t<std::tuple_element_t<0, std::tuple<Args...>>>,
                         stage_options>) auto runtime::start(Args&&... args) {
  return start<S>(stage_options{}, std::forward<Args>(args)...);
}

template <class Out, class F>
auto runtime::start_producer(F&& f) {
  return start_producer<Out>(std::forward<F>(f), stage_options{});
}

template <class Out, class F>
auto runtime::start_producer(F&& f, const stage_options& opts) {
  return start<function_producer<Out, std::decay_t<F>>>(opts, std::forward<F>(f));
}

template <class In, class F>
auto runtime::start_map(F&& f) {
  return start_map<In>(std::forward<F>(f), stage_options{});
}

template <class In, class F>
auto runtime::start_map(F&& f, const stage_options& opts) {
  return start<function_map<In, std::decay_t<F>>>(opts, std::forward<F>(f));
}

template <class In, class F>
auto runtime::start_filter(F&& f) {
  return start_filter<In>(std::forward<F>(f), stage_options{});
}

template <class In, class F>
auto runtime::start_filter(F&& f, const stage_options& opts) {
  return start<function_filter<In, std::decay_t<F>>>(opts, std::forward<F>(f));
}

template <class In, class F>
auto runtime::start_consumer(F&& f) {
  return start_consumer<In>(std::forward<F>(f), stage_options{});
}

template <class In, class F>
auto runtime::start_consumer(F&& f, const stage_options& opts) {
  return start<function_consumer<In, std::decay_t<F>>>(opts, std::forward<F>(f));
}

}  // namespace datamesh
