#pragma once

// The byte stream signaling runs on: plain TCP (ws://, http://) or TLS over TCP (wss://,
// https://), chosen per connection at run time. It is an Asio AsyncStream with Beast's
// WebSocket teardown, so the server's HTTP and WebSocket sessions and the SDK's WebSocket
// client run on either without being templates; `tcp()` is the TCP layer underneath
// (timeouts, closing) whichever it is.

#include <chrono>
#include <cstddef>
#include <utility>
#include <variant>

#include <boost/asio/async_result.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/role.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/websocket/teardown.hpp>

namespace switchboard::signaling {

class Stream {
 public:
  using Plain = boost::beast::tcp_stream;
  using Tls = boost::beast::ssl_stream<boost::beast::tcp_stream>;
  using executor_type = Plain::executor_type;

  explicit Stream(Plain plain) : stream_(std::move(plain)) {}
  explicit Stream(Tls tls) : stream_(std::move(tls)) {}

  executor_type get_executor() { return tcp().get_executor(); }
  Plain& tcp() {
    return std::visit([](auto& s) -> Plain& { return boost::beast::get_lowest_layer(s); }, stream_);
  }
  boost::asio::ip::tcp::socket& socket() { return tcp().socket(); }
  void expires_after(std::chrono::steady_clock::duration timeout) { tcp().expires_after(timeout); }
  void expires_never() { tcp().expires_never(); }
  // The TLS layer; nullptr on plain TCP.
  Tls* tls() { return std::get_if<Tls>(&stream_); }

  template <class MutableBuffers, class Handler>
  auto async_read_some(const MutableBuffers& buffers, Handler&& handler) {
    return boost::asio::async_initiate<Handler, void(boost::beast::error_code, std::size_t)>(
        [this](auto h, const MutableBuffers& b) {
          std::visit([&](auto& s) { s.async_read_some(b, std::move(h)); }, stream_);
        },
        handler, buffers);
  }

  template <class ConstBuffers, class Handler>
  auto async_write_some(const ConstBuffers& buffers, Handler&& handler) {
    return boost::asio::async_initiate<Handler, void(boost::beast::error_code, std::size_t)>(
        [this](auto h, const ConstBuffers& b) {
          std::visit([&](auto& s) { s.async_write_some(b, std::move(h)); }, stream_);
        },
        handler, buffers);
  }

  // A WebSocket timeout ends the connection at once.
  friend void beast_close_socket(Stream& stream) {
    boost::system::error_code ignored;
    stream.socket().close(ignored);
  }

  // The end of a WebSocket: the TLS close_notify first when there is TLS, then TCP.
  friend void teardown(boost::beast::role_type role, Stream& stream, boost::beast::error_code& ec) {
    std::visit(
        [&](auto& s) {
          using boost::beast::websocket::teardown;
          teardown(role, s, ec);
        },
        stream.stream_);
  }
  template <class Handler>
  friend void async_teardown(boost::beast::role_type role, Stream& stream, Handler&& handler) {
    std::visit(
        [&](auto& s) {
          using boost::beast::websocket::async_teardown;
          async_teardown(role, s, std::forward<Handler>(handler));
        },
        stream.stream_);
  }

 private:
  std::variant<Plain, Tls> stream_;
};

}  // namespace switchboard::signaling
