// A hiredis connection on an Asio executor, against a real redis-server of the test's own:
// commands and replies of every kind, binary-safe arguments, Redis errors that leave the
// connection usable, a refused connect, and a server lost with a reply pending.
#include <datamesh/redis/connection.hpp>

#include <boost/asio/io_context.hpp>
#include <doctest/doctest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "redis/redis_server.hpp"

using namespace datamesh::redis;

namespace {

/// Runs `io` until `done` holds; bounded, so that a lost reply fails the test, not hangs it.
template <class F>
bool run_until(boost::asio::io_context& io, F done) {
  const auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!done()) {
    if (std::chrono::steady_clock::now() > limit) return false;
    io.restart();
    io.run_one_for(std::chrono::milliseconds(100));
  }
  return true;
}

struct result {
  std::optional<std::error_code> ec;
  reply r;
};

result send(boost::asio::io_context& io, connection& c, std::vector<std::string> args) {
  result out;
  c.command(args, [&](std::error_code ec, reply r) {
    out.r = std::move(r);
    out.ec = ec;
  });
  REQUIRE(run_until(io, [&] { return out.ec.has_value(); }));
  return out;
}

/// Connects `c` to 127.0.0.1:`port` and runs `io` until the connect is answered; the answer.
std::error_code connect_to(boost::asio::io_context& io, connection& c, std::uint16_t port) {
  std::optional<std::error_code> answer;
  c.connect({.port = port}, [&](std::error_code ec) { answer = ec; });
  REQUIRE(run_until(io, [&] { return answer.has_value(); }));
  return *answer;
}

}  // namespace

TEST_CASE("redis connection: commands and replies of every kind, on the caller's executor") {
  dmtest::redis_server server;
  REQUIRE(server.running());
  boost::asio::io_context io;
  auto c = connection::make(io.get_executor());
  std::optional<std::error_code> connected;
  c->connect({.port = server.port()}, [&](std::error_code ec) { connected = ec; });
  CHECK(c->state() == connection_state::connecting);
  REQUIRE(run_until(io, [&] { return connected.has_value(); }));
  CHECK_FALSE(*connected);
  CHECK(c->state() == connection_state::connected);

  auto pong = send(io, *c, {"PING"});
  CHECK_FALSE(*pong.ec);
  CHECK(pong.r.type == reply::kind::status);
  CHECK(pong.r.str == "PONG");

  const std::string binary("a\0b\r\nc", 6);
  CHECK(send(io, *c, {"SET", "k", binary}).r.str == "OK");
  auto got = send(io, *c, {"GET", "k"});
  CHECK(got.r.type == reply::kind::string);
  CHECK(got.r.str == binary);
  CHECK(send(io, *c, {"GET", "missing"}).r.is_nil());

  auto id = send(io, *c, {"XADD", "s", "*", "v", "1"});
  CHECK(id.r.type == reply::kind::string);
  CHECK(send(io, *c, {"XLEN", "s"}).r.integer == 1);
  auto range = send(io, *c, {"XRANGE", "s", "-", "+"});
  REQUIRE(range.r.type == reply::kind::array);
  REQUIRE(range.r.elements.size() == 1);
  CHECK(range.r.elements[0].elements[0].str == id.r.str);

  // A Redis error answers that command only; the connection goes on.
  auto bad = send(io, *c, {"XADD", "s"});
  CHECK_FALSE(*bad.ec);
  CHECK(bad.r.is_error());
  CHECK(send(io, *c, {"PING"}).r.str == "PONG");
}

TEST_CASE("redis connection: commands sent while connecting go out once connected, in order") {
  dmtest::redis_server server;
  REQUIRE(server.running());
  boost::asio::io_context io;
  auto c = connection::make(io.get_executor());
  c->connect({.port = server.port()}, [](std::error_code) {});
  std::vector<long long> answers;
  for (int i = 0; i < 100; ++i) {
    c->command({"INCR", "n"}, [&](std::error_code ec, reply r) {
      CHECK_FALSE(ec);
      answers.push_back(r.integer);
    });
  }
  REQUIRE(run_until(io, [&] { return answers.size() == 100; }));
  for (int i = 0; i < 100; ++i) CHECK(answers[static_cast<std::size_t>(i)] == i + 1);
}

TEST_CASE("redis connection: nobody listening is a refused connect, not a hang") {
  boost::asio::io_context io;
  auto c = connection::make(io.get_executor());
  CHECK(connect_to(io, *c, dmtest::free_port()));
  CHECK(c->state() == connection_state::disconnected);
}

TEST_CASE("redis connection: a server lost with a reply pending fails that reply with an error") {
  dmtest::redis_server server;
  REQUIRE(server.running());
  boost::asio::io_context io;
  auto c = connection::make(io.get_executor());
  REQUIRE_FALSE(connect_to(io, *c, server.port()));

  std::optional<std::error_code> answered;
  // BLPOP blocks on the server; the server dies before it answers.
  c->command({"BLPOP", "nothing", "0"}, [&](std::error_code ec, reply) { answered = ec; });
  io.restart();
  io.poll();  // the command is written
  server.stop();
  REQUIRE(run_until(io, [&] { return answered.has_value(); }));
  CHECK(*answered);
  CHECK(c->state() == connection_state::disconnected);
}

TEST_CASE("redis connection: destroyed with replies pending, their handlers get an error") {
  dmtest::redis_server server;
  REQUIRE(server.running());
  boost::asio::io_context io;
  std::optional<std::error_code> answered;
  {
    auto c = connection::make(io.get_executor());
    c->connect({.port = server.port()}, [](std::error_code) {});
    c->command({"BLPOP", "nothing", "0"}, [&](std::error_code ec, reply) { answered = ec; });
  }
  REQUIRE(answered.has_value());
  CHECK(*answered);
}

TEST_CASE("redis connection: a second connect is refused at once, the first goes on") {
  dmtest::redis_server server;
  REQUIRE(server.running());
  boost::asio::io_context io;
  auto c = connection::make(io.get_executor());
  std::optional<std::error_code> first;
  std::optional<std::error_code> second;
  c->connect({.port = server.port()}, [&](std::error_code ec) { first = ec; });
  c->connect({.port = server.port()}, [&](std::error_code ec) { second = ec; });
  REQUIRE(second.has_value());
  CHECK(*second == std::errc::already_connected);
  REQUIRE(run_until(io, [&] { return first.has_value(); }));
  CHECK_FALSE(*first);
  CHECK(send(io, *c, {"PING"}).r.str == "PONG");

  // Once disconnected, it may connect again.
  server.stop();
  std::optional<std::error_code> lost;
  c->command({"BLPOP", "nothing", "0"}, [&](std::error_code ec, reply) { lost = ec; });
  REQUIRE(run_until(io, [&] { return lost.has_value(); }));
  CHECK(c->state() == connection_state::disconnected);
  dmtest::redis_server again;
  REQUIRE(again.running());
  CHECK_FALSE(connect_to(io, *c, again.port()));
  CHECK(send(io, *c, {"PING"}).r.str == "PONG");
}

TEST_CASE("redis connection: destroyed while connecting, its connect handler hears it") {
  dmtest::redis_server server;
  REQUIRE(server.running());
  boost::asio::io_context io;
  std::optional<std::error_code> connected;
  {
    auto c = connection::make(io.get_executor());
    c->connect({.port = server.port()}, [&](std::error_code ec) { connected = ec; });
  }
  REQUIRE(connected.has_value());
  CHECK(*connected == std::errc::operation_canceled);
}
