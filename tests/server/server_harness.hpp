#pragma once

// An in-process server on its own io_context thread (port 0 on 127.0.0.1), and blocking
// WebSocket / HTTP clients with bounded waits for the tests to drive it.

#include <chrono>
#include <future>
#include <optional>
#include <string>
#include <thread>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "server/server.hpp"
#include "signaling/token.hpp"

namespace switchboard::server::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using nlohmann::json;

inline ServerConfig test_config() {
  ServerConfig config;
  config.port = 0;
  config.dev = true;
  auto ok = validate(config);
  EXPECT_TRUE(ok);
  return config;
}

// The server runs on its own thread; the test thread talks to it over sockets only.
class ServerThread {
 public:
  explicit ServerThread(ServerConfig config = test_config())
      : server_(std::make_unique<Server>(io_, std::move(config))) {
    spdlog::set_level(spdlog::level::warn);
    auto started = server_->start();
    EXPECT_TRUE(started) << (started ? "" : started.error().message);
    port_ = server_->port();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~ServerThread() {
    shutdown();
    server_.reset();
  }

  // Every participant gets `disconnect`, then the loop stops (bounded by the server).
  void shutdown() {
    if (!thread_.joinable()) return;
    std::promise<void> done;
    auto finished = done.get_future();
    asio::post(io_, [&] { server_->shutdown("server shutting down", [&] { done.set_value(); }); });
    finished.wait_for(std::chrono::seconds(10));
    io_.stop();
    thread_.join();
  }

  std::uint16_t port() const { return port_; }

 private:
  asio::io_context io_{1};
  std::unique_ptr<Server> server_;
  std::uint16_t port_ = 0;
  std::thread thread_;
};

inline std::string dev_token(const std::string& user, const std::string& call,
                             std::int64_t ttl_seconds = 3600,
                             std::string_view secret = signaling::kDevelopmentSecret) {
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  return signaling::mint_token(
      {.sub = user, .call = call, .name = "", .exp = now + ttl_seconds, .iat = now}, secret);
}

struct HttpReply {
  unsigned status = 0;
  std::string body;
};

inline HttpReply http_get(std::uint16_t port, const std::string& target) {
  asio::io_context io;
  beast::tcp_stream stream(io);
  stream.expires_after(std::chrono::seconds(10));
  stream.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  http::request<http::empty_body> request{http::verb::get, target, 11};
  request.set(http::field::host, "127.0.0.1");
  http::write(stream, request);
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  http::read(stream, buffer, response);
  return {response.result_int(), response.body()};
}

// A blocking signaling client. Reads give up after a few seconds.
class SignalClient {
 public:
  explicit SignalClient(std::uint16_t port) : ws_(io_) {
    ws_.next_layer().connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    timeval tv{5, 0};
    ::setsockopt(ws_.next_layer().native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ws_.handshake("127.0.0.1", "/v1/signal");
    ws_.read_message_max(8 * 1024 * 1024);
  }

  void send(const std::string& text) {
    ws_.text(true);
    ws_.write(asio::buffer(text));
  }
  void send(const json& message) { send(message.dump()); }

  // The next message; nullopt when the connection ended (closed() tells how).
  std::optional<json> receive() {
    beast::flat_buffer buffer;
    beast::error_code ec;
    ws_.read(buffer, ec);
    if (ec) {
      error_ = ec;
      return std::nullopt;
    }
    return json::parse(beast::buffers_to_string(buffer.data()), nullptr, false);
  }

  // The next message of this type, skipping others; nullopt if the connection ends first.
  std::optional<json> receive(const std::string& type) {
    for (int i = 0; i < 100; ++i) {
      auto m = receive();
      if (!m) return std::nullopt;
      if ((*m)["type"] == type) return m;
    }
    return std::nullopt;
  }

  // True when the server closed the WebSocket (with a close frame) and nothing else came.
  bool closed_by_server() {
    auto m = receive();
    return !m && error_ == websocket::error::closed;
  }

  // Sends `leave`; true when the server then closed the connection.
  bool leave() {
    send(json{{"type", "leave"}});
    return closed_by_server();
  }

  // `p2p`: the join's `p2p` field; absent when unset.
  json join(const std::string& user, const std::string& call, const std::string& req = "j",
            std::optional<bool> p2p = std::nullopt) {
    json message{{"type", "join"}, {"req", req}, {"token", dev_token(user, call)}, {"call", call}};
    if (p2p) message["p2p"] = *p2p;
    send(message);
    auto reply = receive();
    return reply ? *reply : json();
  }

  // The type of the next message other than `pong`, after a round trip: "" when nothing but
  // the pong came, so a test can tell that nothing was sent in between.
  std::string next_type_before_pong() {
    send(json{{"type", "ping"}, {"req", "next"}});
    auto m = receive();
    if (!m) return "(closed)";
    return (*m)["type"] == "pong" ? "" : (*m)["type"].get<std::string>();
  }

  beast::error_code error() const { return error_; }
  // The code of the server's close frame (after closed_by_server()).
  unsigned close_code() const { return static_cast<unsigned>(ws_.reason().code); }

 private:
  asio::io_context io_;
  websocket::stream<asio::ip::tcp::socket> ws_;
  beast::error_code error_;
};

// The next message is `type` (participant_joined, participant_left) naming `participant`.
inline void expect_next(SignalClient& client, const std::string& type, std::uint32_t participant) {
  auto m = client.receive();
  ASSERT_TRUE(m);
  ASSERT_EQ((*m)["type"], type) << m->dump();
  EXPECT_EQ((*m)["participantId"], participant);
}

}  // namespace switchboard::server::testing
