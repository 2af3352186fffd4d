#include "server/tls_handshake.hpp"

#include <optional>
#include <string_view>

#include <boost/asio/write.hpp>
#include <boost/beast/core/detect_ssl.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <spdlog/spdlog.h>

namespace switchboard::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
using asio::ip::tcp;

namespace {

constexpr std::string_view kPlainTextRefusal =
    "HTTP/1.1 400 Bad Request\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Connection: close\r\n"
    "Content-Length: 55\r\n"
    "\r\n"
    "this port speaks TLS only: use https:// or wss:// here\n";

class TlsHandshake : public std::enable_shared_from_this<TlsHandshake> {
 public:
  TlsHandshake(tcp::socket socket, std::shared_ptr<asio::ssl::context> context,
               std::function<void(signaling::Stream)> ready)
      : tcp_(std::move(socket)), context_(std::move(context)), ready_(std::move(ready)) {}

  void start() {
    boost::system::error_code ec;
    const auto peer = tcp_.socket().remote_endpoint(ec);
    if (!ec) peer_ = peer.address().to_string();
    deadline_ = std::chrono::steady_clock::now() + kTlsHandshakeTimeout;
    tcp_.expires_at(deadline_);
    beast::async_detect_ssl(tcp_, buffer_,
                            [self = shared_from_this()](beast::error_code e, bool is_tls) {
                              if (e) return self->give_up("no TLS hello: " + e.message());
                              if (is_tls) return self->handshake();
                              self->refuse_plain_text();
                            });
  }

 private:
  void handshake() {
    tls_.emplace(std::move(tcp_), *context_);
    beast::get_lowest_layer(*tls_).expires_at(deadline_);
    tls_->async_handshake(asio::ssl::stream_base::server, buffer_.data(),
                          [self = shared_from_this()](beast::error_code e, std::size_t used) {
                            if (e) return self->give_up("TLS handshake failed: " + e.message());
                            self->buffer_.consume(used);
                            beast::get_lowest_layer(*self->tls_).expires_never();
                            self->ready_(signaling::Stream(std::move(*self->tls_)));
                          });
  }

  void refuse_plain_text() {
    spdlog::debug("{}: plain text on the TLS port; answered 400", peer_);
    asio::async_write(tcp_, asio::buffer(kPlainTextRefusal.data(), kPlainTextRefusal.size()),
                      [self = shared_from_this()](beast::error_code, std::size_t) {
                        boost::system::error_code ignored;
                        self->tcp_.socket().shutdown(tcp::socket::shutdown_both, ignored);
                        self->tcp_.socket().close(ignored);
                      });
  }

  void give_up(const std::string& why) {
    spdlog::debug("{}: {}", peer_, why);
    boost::system::error_code ignored;
    auto& socket = tls_ ? beast::get_lowest_layer(*tls_).socket() : tcp_.socket();
    socket.close(ignored);
  }

  beast::tcp_stream tcp_;
  std::optional<signaling::Stream::Tls> tls_;
  beast::flat_buffer buffer_;
  std::shared_ptr<asio::ssl::context> context_;
  std::function<void(signaling::Stream)> ready_;
  std::chrono::steady_clock::time_point deadline_;
  std::string peer_ = "?";
};

}  // namespace

void accept_tls(tcp::socket socket, std::shared_ptr<asio::ssl::context> context,
                std::function<void(signaling::Stream)> ready) {
  std::make_shared<TlsHandshake>(std::move(socket), std::move(context), std::move(ready))->start();
}

}  // namespace switchboard::server
