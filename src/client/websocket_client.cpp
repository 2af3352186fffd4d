#include "client/websocket_client.hpp"

#include <charconv>
#include <deque>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream_base.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include "client/tls_client.hpp"
#include "signaling/stream.hpp"

namespace switchboard::client {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

// How long a close handshake may take before the socket is simply closed.
constexpr auto kCloseTimeout = std::chrono::seconds(3);

}  // namespace

Result<WebSocketUrl> parse_websocket_url(std::string_view url) {
  WebSocketUrl out;
  std::string_view rest;
  if (url.starts_with("ws://")) {
    rest = url.substr(5);
  } else if (url.starts_with("wss://")) {
    rest = url.substr(6);
    out.tls = true;
    out.port = 443;
  } else {
    return Error{ErrorCode::InvalidArgument,
                 "the server URL must start with ws:// or wss:// (got '" + std::string(url) + "')"};
  }
  const std::size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  out.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return Error{ErrorCode::InvalidArgument,
                   "unterminated IPv6 address in '" + std::string(url) + "'"};
    }
    out.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        return Error{ErrorCode::InvalidArgument, "bad port in '" + std::string(url) + "'"};
      }
      port_text = after.substr(1);
    }
  } else {
    const std::size_t colon = authority.rfind(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (out.host.empty()) {
    return Error{ErrorCode::InvalidArgument, "no host in '" + std::string(url) + "'"};
  }
  if (!port_text.empty() || authority.find(':') != std::string_view::npos) {
    unsigned port = 0;
    const auto [end, ec] =
        std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc{} || end != port_text.data() + port_text.size() || port == 0 ||
        port > 65535) {
      return Error{ErrorCode::InvalidArgument, "bad port in '" + std::string(url) + "'"};
    }
    out.port = static_cast<std::uint16_t>(port);
  }
  return out;
}

struct WebSocketClient::State : std::enable_shared_from_this<State> {
  State(asio::io_context& io, Callbacks cb, std::size_t max_message_size)
      : io(io),
        resolver(io),
        timer(io),
        callbacks(std::move(cb)),
        max_message_size(max_message_size) {}

  asio::io_context& io;
  tcp::resolver resolver;
  std::unique_ptr<asio::ssl::context> tls_context;         // wss://; outlives `ws`
  std::optional<websocket::stream<signaling::Stream>> ws;  // from connect() on
  asio::steady_timer timer;
  beast::flat_buffer buffer;
  std::deque<std::string> queue;
  Callbacks callbacks;
  std::size_t max_message_size;
  std::string host_header;
  std::string target;
  std::optional<asio::ip::address> remote;
  bool open = false;
  bool writing = false;
  bool closing = false;        // close() was called: close once the queue is sent
  bool close_started = false;  // the close frame is on its way
  bool silenced = false;       // no more callbacks
  bool finished = false;       // the connection is over

  void connect(const WebSocketUrl& url, std::chrono::steady_clock::duration timeout,
               const TlsSettings& tls) {
    const bool v6_literal = url.host.find(':') != std::string::npos;
    host_header = (v6_literal ? "[" + url.host + "]" : url.host) + ":" + std::to_string(url.port);
    target = url.target;
    if (auto made = make_stream(url, tls); !made) {
      // Reported from the loop, as every other failure is.
      asio::post(io, [s = shared_from_this(), error = std::move(made).error()] { s->fail(error); });
      return;
    }
    timer.expires_after(timeout);
    timer.async_wait([s = shared_from_this()](boost::system::error_code ec) {
      if (ec || s->open || s->finished) return;
      s->fail({ErrorCode::NotConnected,
               "timed out connecting to the signaling server at " + s->host_header});
    });
    resolver.async_resolve(url.host, std::to_string(url.port),
                           [s = shared_from_this()](boost::system::error_code ec,
                                                    const tcp::resolver::results_type& found) {
                             if (s->finished) return;
                             if (ec) {
                               s->fail({ErrorCode::NotConnected,
                                        "cannot resolve " + s->host_header + ": " + ec.message()});
                               return;
                             }
                             s->connect_to(found);
                           });
  }

  Result<void> make_stream(const WebSocketUrl& url, const TlsSettings& tls) {
    if (!url.tls) {
      ws.emplace(signaling::Stream(beast::tcp_stream(io)));
    } else {
      auto context = client_tls_context(tls.ca_file);
      if (!context) return context.error();
      tls_context = std::move(*context);
      ws.emplace(signaling::Stream(signaling::Stream::Tls(beast::tcp_stream(io), *tls_context)));
      auto named = expect_server_name(*ws->next_layer().tls(), url.host);
      if (!named) return named;
    }
    ws->read_message_max(max_message_size);
    return {};
  }

  void connect_to(const tcp::resolver::results_type& found) {
    ws->next_layer().tcp().async_connect(
        found, [s = shared_from_this()](boost::system::error_code ec, const tcp::endpoint& at) {
          if (s->finished) return;
          if (ec) {
            s->fail({ErrorCode::NotConnected,
                     "cannot connect to " + s->host_header + ": " + ec.message()});
            return;
          }
          s->remote = at.address();
          boost::system::error_code ignored;
          s->ws->next_layer().socket().set_option(tcp::no_delay(true), ignored);
          websocket::stream_base::timeout timeouts{};
          timeouts.handshake_timeout = std::chrono::seconds(10);
          timeouts.idle_timeout = websocket::stream_base::none();
          timeouts.keep_alive_pings = false;
          s->ws->set_option(timeouts);
          if (s->ws->next_layer().tls() != nullptr) {
            s->tls_handshake();
          } else {
            s->handshake();
          }
        });
  }

  // Bounded by the connect timer.
  void tls_handshake() {
    ws->next_layer().tls()->async_handshake(
        asio::ssl::stream_base::client, [s = shared_from_this()](boost::system::error_code ec) {
          if (s->finished) return;
          if (ec) {
            s->fail(tls_failure(*s->ws->next_layer().tls(), s->host_header, ec));
            return;
          }
          s->handshake();
        });
  }

  void handshake() {
    ws->async_handshake(
        host_header, target, [s = shared_from_this()](boost::system::error_code ec) {
          if (s->finished) return;
          if (ec) {
            s->fail({ErrorCode::NotConnected, "WebSocket handshake with " + s->host_header +
                                                  s->target + " failed: " + ec.message()});
            return;
          }
          s->open = true;
          s->timer.cancel();
          s->ws->text(true);
          s->read();
          if (!s->writing) s->write_next();
          if (!s->silenced && s->callbacks.opened) s->callbacks.opened();
        });
  }

  void read() {
    ws->async_read(buffer, [s = shared_from_this()](boost::system::error_code ec, std::size_t) {
      if (s->finished) return;
      if (ec) {
        std::string why;
        if (ec == websocket::error::closed) {
          why = "the server closed the signaling connection";
          const auto& reason = s->ws->reason().reason;
          if (!reason.empty()) why += ": " + std::string(reason.data(), reason.size());
        } else {
          why = "the signaling connection broke: " + ec.message();
        }
        s->fail({ErrorCode::NotConnected, why});
        return;
      }
      const std::string text = beast::buffers_to_string(s->buffer.data());
      s->buffer.consume(s->buffer.size());
      if (!s->silenced && s->callbacks.message) s->callbacks.message(text);
      if (!s->finished) s->read();
    });
  }

  void write_next() {
    if (finished || !open) return;
    if (queue.empty()) {
      writing = false;
      if (closing) start_close();
      return;
    }
    writing = true;
    ws->async_write(asio::buffer(queue.front()), [s = shared_from_this()](
                                                     boost::system::error_code ec, std::size_t) {
      if (s->finished) return;
      if (ec) {
        s->fail({ErrorCode::NotConnected, "the signaling connection broke: " + ec.message()});
        return;
      }
      s->queue.pop_front();
      s->write_next();
    });
  }

  void start_close() {
    if (close_started || finished) return;
    close_started = true;
    timer.expires_after(kCloseTimeout);
    timer.async_wait([s = shared_from_this()](boost::system::error_code ec) {
      if (!ec) s->shut();
    });
    ws->async_close(websocket::close_code::normal,
                    [s = shared_from_this()](boost::system::error_code) { s->shut(); });
  }

  // Ends the connection without a word.
  void shut() noexcept {
    finished = true;
    open = false;
    try {
      resolver.cancel();
      timer.cancel();
    } catch (const boost::system::system_error&) {  // nothing was waiting
    }
    boost::system::error_code ignored;
    if (ws) ws->next_layer().socket().close(ignored);
  }

  void fail(const Error& error) {
    if (finished) return;
    shut();
    if (!silenced && callbacks.closed) {
      silenced = true;
      auto closed = std::move(callbacks.closed);
      closed(error);
    }
  }
};

WebSocketClient::WebSocketClient(asio::io_context& io, Callbacks callbacks,
                                 std::size_t max_message_size)
    : state_(std::make_shared<State>(io, std::move(callbacks), max_message_size)) {}

WebSocketClient::~WebSocketClient() {
  state_->silenced = true;
  // A close handshake under way finishes on its own (its handlers hold the state).
  if (!state_->close_started && !(state_->closing && state_->writing)) state_->shut();
  // Callbacks may point into our owner: drop them now.
  state_->callbacks = {};
}

void WebSocketClient::connect(const WebSocketUrl& url, std::chrono::steady_clock::duration timeout,
                              const TlsSettings& tls) {
  state_->connect(url, timeout, tls);
}

void WebSocketClient::send(std::string text) {
  if (state_->closing || state_->finished) return;
  state_->queue.push_back(std::move(text));
  if (state_->open && !state_->writing) state_->write_next();
}

void WebSocketClient::close() {
  state_->silenced = true;
  if (state_->closing || state_->finished) return;
  state_->closing = true;
  if (!state_->open) {
    state_->shut();
    return;
  }
  if (!state_->writing) state_->start_close();
}

bool WebSocketClient::is_open() const {
  return state_->open && !state_->finished;
}

std::optional<asio::ip::address> WebSocketClient::remote_address() const {
  return state_->remote;
}

}  // namespace switchboard::client
