#pragma once

// One participant's signaling WebSocket (/v1/signal): reads JSON messages of at most
// 64 KiB and hands them to the Server; writes the Server's replies in order. Every failure
// ends in a clean close of this connection only.

#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/websocket/stream.hpp>

#include "server/address_limits.hpp"
#include "signaling/messages.hpp"
#include "signaling/stream.hpp"

namespace switchboard::server {

class Server;
struct Participant;

class SignalingSession : public std::enable_shared_from_this<SignalingSession> {
 public:
  using Request = boost::beast::http::request<boost::beast::http::string_body>;

  SignalingSession(signaling::Stream stream, Server& server, std::weak_ptr<bool> server_alive);

  // Completes the WebSocket handshake for `request` (an upgrade to /v1/signal).
  void start(Request request);

  // Queues a message; ignored once the session is closing.
  void send(const signaling::Message& message);
  // Closes once everything queued is written, with `code` (1000 normal, 1009 too big, ...).
  // Nothing read after this is handled.
  void close(
      boost::beast::websocket::close_code code = boost::beast::websocket::close_code::normal);
  // `error` (with the request's `req`), then close.
  void fail(ErrorCode code, std::string message, std::optional<std::string> req = std::nullopt);
  bool closing() const { return close_requested_ || finished_; }
  // When the client last sent anything (a resumable client pings every second).
  std::chrono::steady_clock::time_point last_heard() const { return last_heard_; }

  // Set once the join succeeded; cleared when the participant leaves.
  std::shared_ptr<Participant> participant;
  // This connection's place in its source address's count (AddressLimits), handed over
  // from the HTTP connection; its address is the one join attempts are charged to.
  std::unique_ptr<AddressLimits::Slot> source;

 private:
  void read();
  void on_read(boost::system::error_code ec);
  void refuse_unparsed(std::string_view text, const std::string& why);
  // Closes the connection unless it joined within the server's join_timeout_s.
  void start_join_timer();
  void write();
  void start_close();
  void finish();

  boost::beast::websocket::stream<signaling::Stream> ws_;
  Request request_;  // the upgrade request, kept until the handshake completes
  boost::beast::flat_buffer buffer_;
  boost::asio::steady_timer join_timer_;
  boost::beast::websocket::close_code close_code_ = boost::beast::websocket::close_code::normal;
  std::deque<std::string> outbox_;
  std::size_t outbox_bytes_ = 0;
  Server& server_;
  std::weak_ptr<bool> server_alive_;
  bool writing_ = false;
  bool close_requested_ = false;
  bool close_started_ = false;
  bool discarding_ = false;  // the current message is over the limit: skip its rest
  bool finished_ = false;
  std::chrono::steady_clock::time_point last_heard_ = std::chrono::steady_clock::now();
};

}  // namespace switchboard::server
