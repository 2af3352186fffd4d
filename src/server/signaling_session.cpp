#include "server/signaling_session.hpp"

#include <chrono>

#include <boost/asio/post.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>

#include "server/server.hpp"

namespace switchboard::server {

namespace beast = boost::beast;
namespace websocket = beast::websocket;

namespace {
// Read in pieces so a message over the limit is noticed (and answered) before it is whole.
constexpr std::size_t kReadChunk = std::size_t{16} * 1024;
// Unsent signaling per connection; a `joined` for the largest call is about 1 MiB.
constexpr std::size_t kMaxOutboxBytes = std::size_t{16} * 1024 * 1024;
}  // namespace

SignalingSession::SignalingSession(signaling::Stream stream, Server& server,
                                   std::weak_ptr<bool> server_alive)
    : ws_(std::move(stream)),
      join_timer_(ws_.get_executor()),
      server_(server),
      server_alive_(std::move(server_alive)) {}

void SignalingSession::start(Request request) {
  request_ = std::move(request);
  beast::get_lowest_layer(ws_).expires_never();
  websocket::stream_base::timeout timeout{};
  const ServerConfig& config = server_.config();
  // Opening and closing handshakes.
  timeout.handshake_timeout = std::chrono::seconds(config.http_request_timeout_s);
  // Clients ping every 15 s; validate() keeps this at 20 s or more.
  timeout.idle_timeout = std::chrono::seconds(config.signaling_idle_timeout_s);
  timeout.keep_alive_pings = false;
  ws_.set_option(timeout);
  // The limit we answer with an `error` is 64 KiB (checked while reading); this one only
  // stops a single absurd frame.
  ws_.read_message_max(std::size_t{16} * 1024 * 1024);
  ws_.auto_fragment(false);
  ws_.set_option(websocket::stream_base::decorator([](websocket::response_type& response) {
    response.set(beast::http::field::server, "switchboard-server");
  }));
  ws_.async_accept(request_, [self = shared_from_this()](beast::error_code ec) {
    if (ec) {
      self->finished_ = true;  // never opened: the server never saw it
      return;
    }
    if (self->server_alive_.expired()) return;
    self->server_.session_opened(self);
    self->start_join_timer();
    self->read();
  });
}

void SignalingSession::start_join_timer() {
  join_timer_.expires_after(std::chrono::seconds(server_.config().join_timeout_s));
  join_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (ec || self->server_alive_.expired() || self->participant || self->closing()) return;
    if (self->server_.placing(*self)) {
      self->start_join_timer();  // the cluster answers or the connection closes first
      return;
    }
    self->server_.count_refusal(RefusalReason::JoinTimeout);
    self->fail(ErrorCode::InvalidArgument,
               "no successful join within " +
                   std::to_string(self->server_.config().join_timeout_s) +
                   " s of opening the connection; closing");
  });
}

void SignalingSession::read() {
  ws_.async_read_some(
      buffer_, kReadChunk,
      [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
}

void SignalingSession::on_read(boost::system::error_code ec) {
  if (ec || server_alive_.expired()) {
    // beast's idle timer: nothing (not even a ping) arrived for signaling_idle_timeout_s.
    if (ec == beast::error::timeout && !server_alive_.expired() && !closing()) {
      server_.count_refusal(RefusalReason::IdleTimeout);
    }
    finish();
    return;
  }
  last_heard_ = std::chrono::steady_clock::now();
  const bool message_done = ws_.is_message_done();
  if (discarding_ || close_requested_) {
    buffer_.clear();
    if (message_done) discarding_ = false;
    read();
    return;
  }
  if (buffer_.size() > signaling::kMaxSignalingMessageSize) {
    buffer_.clear();
    discarding_ = !message_done;
    server_.count_refusal(RefusalReason::MessageTooLarge);
    send(signaling::ErrorReply{.req = {},
                               .code = ErrorCode::InvalidArgument,
                               .message = "signaling message larger than " +
                                          std::to_string(signaling::kMaxSignalingMessageSize) +
                                          " bytes; closing"});
    close(websocket::close_code::too_big);
    read();
    return;
  }
  if (!message_done) {
    read();
    return;
  }
  std::string text = beast::buffers_to_string(buffer_.data());
  buffer_.clear();
  auto message = signaling::parse_message(text);
  if (!message) {
    refuse_unparsed(text, message.error().message);
  } else {
    server_.handle_message(shared_from_this(), std::move(*message));
  }
  read();
}

void SignalingSession::refuse_unparsed(std::string_view text, const std::string& why) {
  // Echo the request id when there is one, and call a join without a token what it is.
  std::optional<std::string> req;
  ErrorCode code = ErrorCode::InvalidArgument;
  std::string message = why;
  auto json = nlohmann::json::parse(text, nullptr, false);
  if (json.is_object()) {
    auto r = json.find("req");
    if (r != json.end() && r->is_string() && r->get_ref<const std::string&>().size() <= 128) {
      req = r->get<std::string>();
    }
    auto type = json.find("type");
    auto token = json.find("token");
    if (type != json.end() && *type == "join" &&
        (token == json.end() ||
         (token->is_string() && token->get_ref<const std::string&>().empty()))) {
      code = ErrorCode::Unauthorized;
      message = "join without an access token; ask your application for one";
    }
  }
  server_.count_refusal(code == ErrorCode::Unauthorized ? RefusalReason::Unauthorized
                                                        : RefusalReason::BadMessage);
  fail(code, message + "; closing", std::move(req));
}

void SignalingSession::send(const signaling::Message& message) {
  if (closing()) return;
  outbox_.push_back(signaling::serialize(message));
  outbox_bytes_ += outbox_.back().size();
  if (outbox_bytes_ > kMaxOutboxBytes) {
    // The client does not read its signaling: drop it rather than buffer without bound.
    // Later, from the loop: the caller may be iterating the call this participant is in.
    close_requested_ = true;
    boost::asio::post(ws_.get_executor(), [self = shared_from_this()] { self->finish(); });
    return;
  }
  if (!writing_) write();
}

void SignalingSession::write() {
  writing_ = true;
  ws_.text(true);
  ws_.async_write(boost::asio::buffer(outbox_.front()),
                  [self = shared_from_this()](beast::error_code ec, std::size_t) {
                    self->writing_ = false;
                    if (ec) {
                      self->outbox_.clear();
                      self->outbox_bytes_ = 0;
                      beast::error_code ignored;
                      beast::get_lowest_layer(self->ws_).socket().close(ignored);
                      return;
                    }
                    self->outbox_bytes_ -= self->outbox_.front().size();
                    self->outbox_.pop_front();
                    if (!self->outbox_.empty()) {
                      self->write();
                    } else if (self->close_requested_) {
                      self->start_close();
                    }
                  });
}

void SignalingSession::close(websocket::close_code code) {
  if (close_requested_ || finished_) return;
  close_requested_ = true;
  close_code_ = code;
  if (!writing_) start_close();
}

void SignalingSession::fail(ErrorCode code, std::string message, std::optional<std::string> req) {
  send(signaling::ErrorReply{.req = std::move(req), .code = code, .message = std::move(message)});
  close();
}

void SignalingSession::start_close() {
  if (close_started_ || finished_) return;
  close_started_ = true;
  ws_.async_close(close_code_, [self = shared_from_this()](beast::error_code ec) {
    if (ec) {
      beast::error_code ignored;
      beast::get_lowest_layer(self->ws_).socket().close(ignored);
    }
  });
}

void SignalingSession::finish() {
  if (finished_) return;
  finished_ = true;
  join_timer_.cancel();
  outbox_.clear();
  outbox_bytes_ = 0;
  beast::error_code ignored;
  beast::get_lowest_layer(ws_).socket().close(ignored);
  if (!server_alive_.expired()) server_.session_closed(*this);
}

}  // namespace switchboard::server
