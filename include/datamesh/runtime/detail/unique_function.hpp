/// @file
/// A move-only `void()` callable (C++23's `std::move_only_function` is not in C++20).
#pragma once

#include <memory>
#include <type_traits>
#include <utility>

namespace datamesh::detail {

class unique_function {
 public:
  unique_function() = default;
  template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, unique_function>>>
  unique_function(F&& f)  // NOLINT: implicit, like std::function
      : impl_(std::make_unique<model<std::decay_t<F>>>(std::forward<F>(f))) {}

  void operator()() { impl_->call(); }
  explicit operator bool() const noexcept { return impl_ != nullptr; }

 private:
  struct concept_t {
    virtual ~concept_t() = default;
    virtual void call() = 0;
  };
  template <class F>
  struct model final : concept_t {
    explicit model(F&& f) : f_(std::move(f)) {}
    explicit model(const F& f) : f_(f) {}
    void call() override { f_(); }
    F f_;
  };
  std::unique_ptr<concept_t> impl_;
};

}  // namespace datamesh::detail
