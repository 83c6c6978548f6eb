#include <datamesh/redis/connection.hpp>

#include <boost/asio/posix/stream_descriptor.hpp>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <utility>

#include "../enum_names.hpp"

namespace datamesh::redis {

// clang-format off
#define DATAMESH_REPLY_KIND(X) X(string) X(status) X(error) X(integer) X(nil) X(array)
#define DATAMESH_CONNECTION_STATE(X) X(connecting) X(connected) X(disconnected)
// clang-format on
DATAMESH_NAMES(reply::kind, DATAMESH_REPLY_KIND)
DATAMESH_NAMES(connection_state, DATAMESH_CONNECTION_STATE)

namespace {

reply convert(const redisReply& r) {
  reply out;
  switch (r.type) {
    case REDIS_REPLY_STRING:
      out.type = reply::kind::string;
      break;
    case REDIS_REPLY_STATUS:
      out.type = reply::kind::status;
      break;
    case REDIS_REPLY_ERROR:
      out.type = reply::kind::error;
      break;
    case REDIS_REPLY_INTEGER:
      out.type = reply::kind::integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = reply::kind::array;
      break;
    default:
      out.type = reply::kind::nil;
      break;
  }
  if (r.str != nullptr) out.str.assign(r.str, r.len);
  out.integer = r.integer;
  if (r.type == REDIS_REPLY_ARRAY) {
    out.elements.reserve(r.elements);
    for (std::size_t i = 0; i < r.elements; ++i) out.elements.push_back(convert(*r.element[i]));
  }
  return out;
}

}  // namespace

/// Watches hiredis's socket on the executor as hiredis asks (its ev hooks), and hands the
/// readiness back to hiredis. Shared by the waits in flight, so that a wait completing after
/// the context is gone finds `ac` null and does nothing.
struct connection::watcher : std::enable_shared_from_this<watcher> {
  watcher(boost::asio::any_io_executor ex, redisAsyncContext* c) : ac(c), socket(std::move(ex)) {
    socket.assign(c->c.fd);
  }

  void add_read() {
    want_read = true;
    if (!read_waiting) wait(true);
  }
  void add_write() {
    want_write = true;
    if (!write_waiting) wait(false);
  }

  void wait(bool read) {
    (read ? read_waiting : write_waiting) = true;
    using sd = boost::asio::posix::stream_descriptor;
    socket.async_wait(read ? sd::wait_read : sd::wait_write,
                      [self = shared_from_this(), read](const boost::system::error_code& ec) {
                        (read ? self->read_waiting : self->write_waiting) = false;
                        if (ec || self->ac == nullptr) return;
                        if (!(read ? self->want_read : self->want_write)) return;
                        if (read) {
                          redisAsyncHandleRead(self->ac);
                        } else {
                          redisAsyncHandleWrite(self->ac);
                        }
                        // The handling may have freed the context (cleanup then cleared ac).
                        if (self->ac == nullptr) return;
                        if (read && self->want_read && !self->read_waiting) self->wait(true);
                        if (!read && self->want_write && !self->write_waiting) self->wait(false);
                      });
  }

  /// hiredis frees the context: stop watching, and leave the descriptor to hiredis, which
  /// closes it.
  void cleanup() {
    want_read = want_write = false;
    ac = nullptr;
    boost::system::error_code ignored;
    socket.cancel(ignored);
    socket.release();
  }

  redisAsyncContext* ac;
  boost::asio::posix::stream_descriptor socket;
  bool want_read = false;
  bool want_write = false;
  bool read_waiting = false;
  bool write_waiting = false;
};

connection::connection(boost::asio::any_io_executor executor) : executor_(std::move(executor)) {}

std::shared_ptr<connection> connection::make(boost::asio::any_io_executor executor) {
  return std::shared_ptr<connection>(new connection(std::move(executor)));
}

connection::~connection() {
  if (auto h = std::exchange(on_connect_, nullptr)) {
    h(std::make_error_code(std::errc::operation_canceled));  // destroyed while connecting
  }
  if (watcher_ && watcher_->ac != nullptr) {
    redisAsyncContext* ac = watcher_->ac;
    ac->data = nullptr;  // the callbacks below find no connection
    redisAsyncFree(ac);  // pending replies get their handlers called with an error
  }
}

void connection::connect(const endpoint& at, connect_handler done) {
  if (watcher_ && watcher_->ac != nullptr) {  // one context at a time: hiredis holds our watcher
    done(std::make_error_code(std::errc::already_connected));
    return;
  }
  redisAsyncContext* ac = redisAsyncConnect(at.host.c_str(), at.port);
  if (ac == nullptr) {
    done(std::make_error_code(std::errc::not_enough_memory));
    return;
  }
  if (ac->err != 0) {
    redisAsyncFree(ac);
    done(std::make_error_code(std::errc::connection_refused));
    return;
  }
  ac->data = this;
  watcher_ = std::make_shared<watcher>(executor_, ac);
  ac->ev.data = watcher_.get();
  ac->ev.addRead = [](void* w) { static_cast<watcher*>(w)->add_read(); };
  ac->ev.delRead = [](void* w) { static_cast<watcher*>(w)->want_read = false; };
  ac->ev.addWrite = [](void* w) { static_cast<watcher*>(w)->add_write(); };
  ac->ev.delWrite = [](void* w) { static_cast<watcher*>(w)->want_write = false; };
  ac->ev.cleanup = [](void* w) { static_cast<watcher*>(w)->cleanup(); };
  state_ = connection_state::connecting;
  on_connect_ = std::move(done);
  redisAsyncSetConnectCallback(ac, [](const redisAsyncContext* c, int status) {
    auto* self = static_cast<connection*>(c->data);
    if (self == nullptr) return;
    self->state_ =
        status == REDIS_OK ? connection_state::connected : connection_state::disconnected;
    if (auto h = std::exchange(self->on_connect_, nullptr)) {
      h(status == REDIS_OK ? std::error_code{}
                           : std::make_error_code(std::errc::connection_refused));
    }
  });
  redisAsyncSetDisconnectCallback(ac, [](const redisAsyncContext* c, int) {
    auto* self = static_cast<connection*>(c->data);
    if (self != nullptr) self->state_ = connection_state::disconnected;
  });
  // The connect completes when the socket becomes writable; hiredis reports it from its write
  // handling, so watch for that before any command asks to write.
  watcher_->add_write();
}

void connection::command(const std::vector<std::string>& args, reply_handler done) {
  if (!watcher_ || watcher_->ac == nullptr) {
    done(std::make_error_code(std::errc::not_connected), reply{});
    return;
  }
  std::vector<const char*> argv;
  std::vector<std::size_t> lens;
  argv.reserve(args.size());
  lens.reserve(args.size());
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  auto* h = new reply_handler(std::move(done));
  const int rc = redisAsyncCommandArgv(
      watcher_->ac,
      [](redisAsyncContext*, void* r, void* privdata) {
        std::unique_ptr<reply_handler> handler(static_cast<reply_handler*>(privdata));
        if (r == nullptr) {
          (*handler)(std::make_error_code(std::errc::connection_reset), reply{});
        } else {
          (*handler)(std::error_code{}, convert(*static_cast<redisReply*>(r)));
        }
      },
      h, static_cast<int>(argv.size()), argv.data(), lens.data());
  if (rc != REDIS_OK) {
    std::unique_ptr<reply_handler> handler(h);
    (*handler)(std::make_error_code(std::errc::not_connected), reply{});
  }
}

void connection::close() {
  if (watcher_ && watcher_->ac != nullptr) redisAsyncDisconnect(watcher_->ac);
}

}  // namespace datamesh::redis
