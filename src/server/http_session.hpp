#pragma once

// One TCP connection to the server's port before it becomes a WebSocket: GET /healthz,
// GET /metrics, the upgrade at /v1/signal, GET /v1/dev-token (--dev only), the Web SDK at
// /sdk/ and the demo app at / (static_files.hpp), 404 for anything else. Keep-alive is
// honoured. Routes: apps/switchboard-server/README.md ("HTTP").

#include <memory>
#include <optional>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "server/address_limits.hpp"
#include "signaling/stream.hpp"

namespace switchboard::server {

class Server;

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  // `stream`: plain TCP, or TLS with its handshake done (tls_handshake.hpp).
  HttpSession(signaling::Stream stream, Server& server, std::weak_ptr<bool> server_alive);
  void start() { read(); }

  // The connection's place in its address's count; passed on to the WebSocket session.
  std::unique_ptr<AddressLimits::Slot> source;

 private:
  void read();
  void on_read(boost::beast::error_code ec);
  void write(const std::shared_ptr<boost::beast::http::response<boost::beast::http::string_body>>&
                 response);

  signaling::Stream stream_;
  boost::beast::flat_buffer buffer_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  Server& server_;
  std::weak_ptr<bool> server_alive_;
  bool served_ = false;  // answered a request already (keep-alive)
};

}  // namespace switchboard::server
