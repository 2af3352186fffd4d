#pragma once

// A small WebSocket client for the signaling connection (RFC 6455 via Beast, over plain
// TCP or over TLS with the server's certificate verified, tls_client.hpp): connect and
// handshake to ws://host:port/path or wss://..., a queue of text messages to send, a read
// loop that hands over each text message, and a clean close.
//
// Runs on the io_context's thread; not thread-safe. Callbacks run from the loop, never
// from inside a call into this class; they may call into it but must not destroy it.
// After close() or destruction no callback runs.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>

#include "switchboard/result.hpp"

namespace switchboard::client {

struct WebSocketUrl {
  bool tls = false;          // wss://
  std::string host;          // a name or an address, without brackets
  std::uint16_t port = 80;   // 443 for wss:// without a port
  std::string target = "/";  // path and query
};

// "ws://host[:port][/path]" or "wss://..."; IPv6 hosts in brackets.
Result<WebSocketUrl> parse_websocket_url(std::string_view url);

struct TlsSettings {
  // PEM file of the authorities trusted for wss:// instead of the system's; empty = the
  // system's trust store.
  std::string ca_file;
};

class WebSocketClient {
 public:
  struct Callbacks {
    std::function<void()> opened;                   // the handshake completed
    std::function<void(std::string_view)> message;  // one whole text message
    // Connecting failed or timed out, the server closed, or the connection broke. Once.
    std::function<void(const Error&)> closed;
  };

  WebSocketClient(boost::asio::io_context& io, Callbacks callbacks, std::size_t max_message_size);
  // Without close(): the connection is dropped at once.
  ~WebSocketClient();
  WebSocketClient(const WebSocketClient&) = delete;
  WebSocketClient& operator=(const WebSocketClient&) = delete;

  // Resolves, connects and handshakes (TLS first for wss://); `closed` (NotConnected) if
  // that takes longer than `timeout`, TLS_VERIFICATION_FAILED if the server's certificate
  // does not verify, INVALID_ARGUMENT for an unreadable CA file. Call once.
  void connect(const WebSocketUrl& url,
               std::chrono::steady_clock::duration timeout = std::chrono::seconds(10),
               const TlsSettings& tls = {});

  // Queues one text message; sent in order once open. Ignored after close().
  void send(std::string text);

  // Sends what is queued, then closes with a close frame. No callback runs after it; the
  // close completes in the background, even if this object is destroyed.
  void close();

  bool is_open() const;
  // The server's address once connected.
  std::optional<boost::asio::ip::address> remote_address() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace switchboard::client
