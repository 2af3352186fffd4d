#include "server/http_session.hpp"

#include <chrono>

#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include "server/server.hpp"
#include "server/signaling_session.hpp"

namespace switchboard::server {

namespace beast = boost::beast;
namespace http = beast::http;

HttpSession::HttpSession(boost::asio::ip::tcp::socket socket, Server& server,
                         std::weak_ptr<bool> server_alive)
    : stream_(std::move(socket)), server_(server), server_alive_(std::move(server_alive)) {}

void HttpSession::read() {
  parser_.emplace();
  parser_->header_limit(std::uint32_t{16} * 1024);
  parser_->body_limit(std::uint64_t{16} * 1024);
  stream_.expires_after(std::chrono::seconds(30));
  http::async_read(
      stream_, buffer_, *parser_,
      [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
}

void HttpSession::on_read(beast::error_code ec) {
  if (ec || server_alive_.expired()) {
    beast::error_code ignored;
    stream_.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
    return;
  }
  http::request<http::string_body> request = parser_->release();
  const std::string_view target(request.target().data(), request.target().size());
  const std::string_view path = target.substr(0, target.find('?'));

  if (beast::websocket::is_upgrade(request) && path == "/v1/signal" && !server_.shutting_down()) {
    auto session =
        std::make_shared<SignalingSession>(stream_.release_socket(), server_, server_alive_);
    session->start(std::move(request));
    return;
  }

  auto response = std::make_shared<http::response<http::string_body>>();
  response->version(request.version());
  response->keep_alive(request.keep_alive());
  response->set(http::field::server, "switchboard-server");
  const bool get = request.method() == http::verb::get || request.method() == http::verb::head;
  if (path == "/healthz" && get) {
    response->result(http::status::ok);
    response->set(http::field::content_type, "text/plain");
    response->body() = "ok";
  } else if (path == "/metrics" && get) {
    response->result(http::status::ok);
    response->set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    response->body() = server_.metrics_text();
  } else if ((path == "/healthz" || path == "/metrics") && !get) {
    response->result(http::status::method_not_allowed);
    response->set(http::field::allow, "GET, HEAD");
    response->set(http::field::content_type, "text/plain");
    response->body() = "method not allowed\n";
  } else {
    response->result(http::status::not_found);
    response->set(http::field::content_type, "text/plain");
    response->body() =
        path == "/v1/signal" ? "/v1/signal takes a WebSocket upgrade\n" : "not found\n";
  }
  response->prepare_payload();
  if (request.method() == http::verb::head) response->body().clear();
  http::async_write(stream_, *response,
                    [self = shared_from_this(), response](beast::error_code write_ec, std::size_t) {
                      if (write_ec || !response->keep_alive()) {
                        beast::error_code ignored;
                        self->stream_.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_send,
                                                        ignored);
                        return;
                      }
                      self->read();
                    });
}

}  // namespace switchboard::server
