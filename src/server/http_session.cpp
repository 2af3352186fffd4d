#include "server/http_session.hpp"

#include <chrono>

#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <nlohmann/json.hpp>

#include "server/dev_token.hpp"
#include "server/http_target.hpp"
#include "server/server.hpp"
#include "server/signaling_session.hpp"
#include "server/static_files.hpp"

namespace switchboard::server {

namespace beast = boost::beast;
namespace http = beast::http;

namespace {

using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

void plain(Response& response, http::status status, std::string body) {
  response.result(status);
  response.set(http::field::content_type, "text/plain; charset=utf-8");
  response.body() = std::move(body);
}

void json_reply(Response& response, http::status status, const nlohmann::json& body) {
  response.result(status);
  response.set(http::field::content_type, "application/json");
  response.body() = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void dev_token(std::string_view query, const ServerConfig& config, Response& response) {
  if (!config.dev) {
    plain(response, http::status::not_found,
          "not found: /v1/dev-token mints development tokens only on a server started with "
          "--dev\n");
    return;
  }
  // The token is a credential: never cached.
  response.set(http::field::cache_control, "no-store");
  auto token = dev_token_for_query(query, config.secret, unix_now());
  if (!token) {
    json_reply(response, http::status::bad_request,
               {{"code", to_string(token.error().code)}, {"message", token.error().message}});
    return;
  }
  json_reply(response, http::status::ok, {{"token", *token}});
}

void web_file(const Request& request, std::string_view path, const ServerConfig& config,
              Response& response) {
  const auto relative = web_file_path(path);
  if (!relative) {
    plain(response, http::status::not_found, "not found\n");
    return;
  }
  if (config.web_root.empty()) {
    plain(response, http::status::not_found,
          "not found: this server serves no web files (web_root is empty)\n");
    return;
  }
  auto lookup = read_web_file(config.web_root, *relative);
  if (lookup.status != WebFileStatus::Found) {
    plain(response, http::status::not_found, std::move(lookup.message));
    return;
  }
  // no-cache: the browser may keep a copy but asks (If-None-Match) before using it, so a
  // rebuilt bundle is picked up on the next load.
  response.set(http::field::cache_control, "no-cache");
  response.set(http::field::etag, lookup.file.etag);
  response.set("X-Content-Type-Options", "nosniff");
  response.set(http::field::content_type, std::string(lookup.file.content_type));
  if (request[http::field::if_none_match] == lookup.file.etag) {
    response.result(http::status::not_modified);
    return;
  }
  response.result(http::status::ok);
  response.body() = std::move(lookup.file.body);
}

}  // namespace

HttpSession::HttpSession(signaling::Stream stream, Server& server, std::weak_ptr<bool> server_alive)
    : stream_(std::move(stream)), server_(server), server_alive_(std::move(server_alive)) {}

void HttpSession::read() {
  parser_.emplace();
  parser_->header_limit(std::uint32_t{16} * 1024);
  parser_->body_limit(std::uint64_t{16} * 1024);
  stream_.expires_after(std::chrono::seconds(server_.config().http_request_timeout_s));
  http::async_read(
      stream_, buffer_, *parser_,
      [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
}

void HttpSession::on_read(beast::error_code ec) {
  if (ec || server_alive_.expired()) {
    // A connection that sent no whole request in time (an idle keep-alive connection
    // between requests is simply closed).
    if (ec == beast::error::timeout && !server_alive_.expired() &&
        (!served_ || parser_->got_some())) {
      server_.count_refusal(RefusalReason::RequestTimeout);
    }
    beast::error_code ignored;
    stream_.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
    return;
  }
  Request request = parser_->release();
  const auto [path, query] =
      split_target(std::string_view(request.target().data(), request.target().size()));

  if (beast::websocket::is_upgrade(request) && path == "/v1/signal" && !server_.shutting_down()) {
    auto session = std::make_shared<SignalingSession>(std::move(stream_), server_, server_alive_);
    session->source = std::move(source);
    session->start(std::move(request));
    return;
  }

  served_ = true;
  auto response = std::make_shared<Response>();
  response->version(request.version());
  response->keep_alive(request.keep_alive());
  response->set(http::field::server, "switchboard-server");
  const bool get = request.method() == http::verb::get || request.method() == http::verb::head;
  if (path == "/v1/signal") {
    plain(*response, http::status::not_found, "/v1/signal takes a WebSocket upgrade\n");
  } else if (!get) {
    response->set(http::field::allow, "GET, HEAD");
    plain(*response, http::status::method_not_allowed, "method not allowed\n");
  } else if (path == "/healthz") {
    response->result(http::status::ok);
    response->set(http::field::content_type, "text/plain");
    response->body() = "ok";
  } else if (path == "/metrics") {
    response->result(http::status::ok);
    response->set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    response->body() = server_.metrics_text();
  } else if (path == "/v1/dev-token") {
    dev_token(query, server_.config(), *response);
  } else {
    web_file(request, path, server_.config(), *response);
  }
  response->prepare_payload();
  if (request.method() == http::verb::head) response->body().clear();
  write(response);
}

void HttpSession::write(const std::shared_ptr<Response>& response) {
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
