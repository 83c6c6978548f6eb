/// @file
/// `redis::connection`: one hiredis asynchronous connection driven by an Asio executor. The
/// socket hiredis opens is watched through a `posix::stream_descriptor` on that executor, so a
/// connection costs no thread of its own, and every callback runs on the executor.
///
/// Threading: every member must be called on the connection's executor (a strand, or a
/// single-threaded context); handlers run there too.
#pragma once

#include <datamesh/redis/reply.hpp>

#include <boost/asio/any_io_executor.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

namespace datamesh::redis {

/// Where a Redis server listens.
struct endpoint {
  std::string host = "127.0.0.1";
  std::uint16_t port = 6379;
};

/// The state of a connection, as its snapshot shows it.
enum class connection_state : std::uint8_t { connecting, connected, disconnected };
const char* to_string(connection_state s) noexcept;

class connection : public std::enable_shared_from_this<connection> {
 public:
  using connect_handler = std::function<void(std::error_code)>;
  /// `ec` empty and `r` the answer (which may itself be a Redis error), or `ec` set and `r` nil
  /// when the connection failed or closed before the answer came.
  using reply_handler = std::function<void(std::error_code ec, reply r)>;

  static std::shared_ptr<connection> make(boost::asio::any_io_executor executor);
  ~connection();
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  /// Connects to `at`; `done` gets an empty code once connected, or why not:
  /// `already_connected` at once while this connection is connected or connecting (connect
  /// again once it is `disconnected`), `operation_canceled` if it is destroyed first.
  void connect(const endpoint& at, connect_handler done);
  /// Sends one command (its arguments, binary-safe); `done` gets the answer. Commands sent
  /// before the connection is up are queued by hiredis and go out once it is.
  void command(const std::vector<std::string>& args, reply_handler done);
  /// Closes after the replies already pending (hiredis's orderly disconnect). Idempotent.
  void close();

  connection_state state() const noexcept { return state_; }
  const boost::asio::any_io_executor& executor() const noexcept { return executor_; }

 private:
  explicit connection(boost::asio::any_io_executor executor);
  struct watcher;
  friend struct watcher;

  boost::asio::any_io_executor executor_;
  std::shared_ptr<watcher> watcher_;  // the socket watch, alive while hiredis's context is
  connection_state state_ = connection_state::disconnected;
  connect_handler on_connect_;
};

}  // namespace datamesh::redis
