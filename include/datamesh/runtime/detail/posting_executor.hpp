/// @file
/// `posting_executor<Context>`: the Asio executor of an execution context of DataMesh's own (the
/// runtime's thread pool, the tests' deterministic executor). Each call of `execute` posts the
/// function to the context, never runs it inline (`blocking.never`), so a stage's handler never
/// recurses into another.
#pragma once

#include <datamesh/runtime/detail/unique_function.hpp>

#include <boost/asio/execution.hpp>
#include <boost/asio/execution_context.hpp>

#include <utility>

namespace datamesh::detail {

/// `Context` is an Asio `execution_context` with `void post(unique_function)`, thread-safe.
/// Copies compare equal when they post to the same context.
template <class Context>
class posting_executor {
 public:
  explicit posting_executor(Context& ctx) noexcept : ctx_(&ctx) {}

  template <class F>
  void execute(F&& f) const {
    ctx_->post(unique_function(std::forward<F>(f)));
  }
  boost::asio::execution_context& query(boost::asio::execution::context_t) const noexcept {
    return *ctx_;
  }
  static constexpr boost::asio::execution::blocking_t query(
      boost::asio::execution::blocking_t) noexcept {
    return boost::asio::execution::blocking.never;
  }
  posting_executor require(boost::asio::execution::blocking_t::never_t) const noexcept {
    return *this;
  }
  friend bool operator==(const posting_executor& a, const posting_executor& b) noexcept {
    return a.ctx_ == b.ctx_;
  }
  friend bool operator!=(const posting_executor& a, const posting_executor& b) noexcept {
    return a.ctx_ != b.ctx_;
  }
  /// The context it posts to.
  Context& context() const noexcept { return *ctx_; }

 private:
  Context* ctx_;
};

}  // namespace datamesh::detail
