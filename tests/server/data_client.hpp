#pragma once

// A raw participant for data-path tests, on the same io_context (and thread) as the server
// (usrsctp is process-wide and single-threaded): an async signaling WebSocket, and a
// WebRtcConnection over its own UDP socket that plays the controlling ICE agent with bare
// STUN checks, as a browser's first checks look. Negotiated channels on streams 0..3.

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/frame.hpp"
#include "signaling/token.hpp"
#include "webrtc/certificate.hpp"
#include "webrtc/sdp.hpp"
#include "webrtc/stun.hpp"
#include "webrtc/webrtc_connection.hpp"
#include "webrtc/webrtc_server.hpp"

namespace switchboard::server::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using nlohmann::json;

inline bool run_until(asio::io_context& io, const std::function<bool()>& done,
                      std::chrono::milliseconds limit = std::chrono::seconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    io.run_for(std::chrono::milliseconds(2));
  }
  return true;
}

class AsyncSignal {
 public:
  AsyncSignal(asio::io_context& io, std::uint16_t port) : ws_(io) {
    ws_.next_layer().connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    ws_.read_message_max(8 * 1024 * 1024);
    ws_.async_handshake("127.0.0.1", "/v1/signal", [this](beast::error_code ec) {
      if (ec) {
        closed = true;
        return;
      }
      open = true;
      read();
      if (!outbox_.empty()) write();
    });
  }

  void send(const json& message) {
    outbox_.push_back(message.dump());
    if (open && !writing_) write();
  }

  // Removes and returns the first queued message of `type`.
  std::optional<json> take(const std::string& type) {
    for (auto it = inbox.begin(); it != inbox.end(); ++it) {
      if ((*it)["type"] == type) {
        json m = std::move(*it);
        inbox.erase(it);
        return m;
      }
    }
    return std::nullopt;
  }

  std::deque<json> inbox;
  bool open = false;
  bool closed = false;

 private:
  void read() {
    ws_.async_read(buffer_, [this](beast::error_code ec, std::size_t) {
      if (ec) {
        closed = true;
        return;
      }
      inbox.push_back(json::parse(beast::buffers_to_string(buffer_.data()), nullptr, false));
      buffer_.clear();
      read();
    });
  }
  void write() {
    writing_ = true;
    ws_.text(true);
    ws_.async_write(asio::buffer(outbox_.front()), [this](beast::error_code ec, std::size_t) {
      writing_ = false;
      if (ec) return;
      outbox_.pop_front();
      if (!outbox_.empty()) write();
    });
  }

  websocket::stream<asio::ip::tcp::socket> ws_;
  beast::flat_buffer buffer_;
  std::deque<std::string> outbox_;
  bool writing_ = false;
};

struct ReceivedMessage {
  std::uint16_t stream = 0;
  Bytes data;
};

class DataClient {
 public:
  DataClient(asio::io_context& io, std::uint16_t port, const std::string& user,
             const std::string& call, std::string_view secret)
      : signal(io, port), io_(io), socket_(io) {
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    signal.send(json{
        {"type", "join"},
        {"req", "j"},
        {"call", call},
        {"token",
         signaling::mint_token(
             {.sub = user, .call = call, .name = "", .exp = now + 3600, .iat = now}, secret)}});
  }

  ~DataClient() {
    connection.reset();
    boost::system::error_code ignored;
    socket_.close(ignored);
  }

  // Joined, offered, answered, ICE checked, DTLS and SCTP up, channels 0..3 open.
  bool connect() {
    if (!run_until(io_, [&] { return signal.closed || signal.take("joined").has_value(); })) {
      return false;
    }
    if (signal.closed) return false;
    auto certificate = webrtc::Certificate::generate();
    if (!certificate) return false;
    ice_ = webrtc::random_ice_credentials();
    webrtc::SessionDescription offer;
    offer.ice_ufrag = ice_.ufrag;
    offer.ice_pwd = ice_.pwd;
    offer.fingerprint = (*certificate)->fingerprint();
    offer.setup = webrtc::DtlsSetup::ActPass;
    offer.max_message_size = 262144 + 65536;
    offer.session_id = 1;
    offer.session_version = 1;
    signal.send(json{{"type", "offer"}, {"req", "o"}, {"sdp", webrtc::write_sdp(offer)}});
    std::optional<json> answer_message;
    if (!run_until(io_,
                   [&] {
                     answer_message = signal.take("answer");
                     return answer_message.has_value() || signal.closed;
                   }) ||
        !answer_message) {
      return false;
    }
    auto answer = webrtc::parse_sdp((*answer_message)["sdp"].get<std::string>());
    if (!answer || answer->candidates.empty()) return false;
    server_ice_ = {answer->ice_ufrag, answer->ice_pwd};
    server_endpoint_ = {asio::ip::make_address(answer->candidates[0].address),
                        answer->candidates[0].port};
    socket_.open(asio::ip::udp::v4());
    socket_.bind({asio::ip::make_address("127.0.0.1"), 0});
    receive();

    connection = std::make_unique<webrtc::WebRtcConnection>(
        io_,
        webrtc::WebRtcConnection::Config{.certificate = *certificate,
                                         .dtls_role = webrtc::DtlsRole::Client,
                                         .remote_fingerprint = answer->fingerprint,
                                         .local_sctp_port = 5000,
                                         .remote_sctp_port = answer->sctp_port,
                                         .remote_max_message_size = answer->max_message_size,
                                         .local_max_message_size = offer.max_message_size},
        webrtc::WebRtcConnection::Callbacks{
            .send_datagram =
                [this](ByteView d) {
                  boost::system::error_code ec;
                  socket_.send_to(asio::buffer(d.data(), d.size()), server_endpoint_, 0, ec);
                },
            .connected = [this] { connected = true; },
            .channel_opened = {},
            .message =
                [this](std::uint16_t stream, ByteView data, bool) {
                  if (on_frame) {
                    ByteView rest = data;
                    while (!rest.empty()) {
                      auto frame = core::decode_frame(rest);
                      if (!frame) break;
                      on_frame(*frame);
                    }
                    return;
                  }
                  if (store_messages) {
                    received.push_back({stream, Bytes(data.begin(), data.end())});
                    return;
                  }
                  ByteView rest = data;
                  while (!rest.empty() && core::decode_frame(rest)) ++frames_counted;
                },
            .channel_closed = {},
            .buffered_amount_low = {},
            .failed = [this](const Error&) { failed = true; },
        });
    send_check();
    connection->start();
    auto last_check = std::chrono::steady_clock::now();
    if (!run_until(io_,
                   [&] {
                     if (std::chrono::steady_clock::now() - last_check >
                         std::chrono::milliseconds(100)) {
                       send_check();
                       last_check = std::chrono::steady_clock::now();
                     }
                     return connected || failed;
                   }) ||
        !connected) {
      return false;
    }
    static constexpr const char* kLabels[] = {"switchboard-durable", "switchboard-durable-high",
                                              "switchboard-lossy", "switchboard-lossy-high"};
    for (std::uint16_t s = 0; s < 4; ++s) {
      webrtc::ChannelParams params;
      params.label = kLabels[s];
      params.ordered = s < 2;
      params.reliability =
          s < 2 ? webrtc::SctpReliability::Reliable : webrtc::SctpReliability::MaxRetransmits;
      params.priority = (s & 1) != 0 ? 512 : 256;
      params.negotiated = true;
      params.stream = s;
      if (!connection->open_channel(params)) return false;
    }
    return true;
  }

  Result<void> send(std::uint16_t stream, const Bytes& transport_message) {
    return connection->send(stream, transport_message);
  }

  AsyncSignal signal;
  std::unique_ptr<webrtc::WebRtcConnection> connection;
  std::vector<ReceivedMessage> received;
  bool store_messages = true;  // false: only count frames (load tests)
  // When set, every frame received goes here instead (neither stored nor counted).
  std::function<void(const core::DecodedFrame&)> on_frame;
  std::size_t frames_counted = 0;  // when not storing
  bool connected = false;
  bool failed = false;

 private:
  void send_check() {
    webrtc::StunTransactionId txid{};
    for (auto& b : txid) b = static_cast<std::uint8_t>(rng_());
    Bytes request = webrtc::StunWriter(webrtc::kStunBindingMethod, webrtc::StunClass::Request, txid)
                        .add_username(server_ice_.ufrag + ":" + ice_.ufrag)
                        .add_priority(0x6e7f1eff)
                        .add_ice_controlling(0x1234567890abcdefULL)
                        .add_use_candidate()
                        .finish(server_ice_.pwd, true);
    boost::system::error_code ec;
    socket_.send_to(asio::buffer(request), server_endpoint_, 0, ec);
  }

  void receive() {
    socket_.async_receive_from(asio::buffer(buffer_), from_,
                               [this](boost::system::error_code ec, std::size_t n) {
                                 if (ec) return;
                                 ByteView d(buffer_.data(), n);
                                 if (!webrtc::looks_like_stun(d) && connection) {
                                   connection->handle_datagram(d);
                                 }
                                 receive();
                               });
  }

  asio::io_context& io_;
  asio::ip::udp::socket socket_;
  asio::ip::udp::endpoint server_endpoint_;
  asio::ip::udp::endpoint from_;
  webrtc::IceCredentials ice_;
  webrtc::IceCredentials server_ice_;
  std::array<std::uint8_t, 65536> buffer_{};
  std::mt19937 rng_{42};
};

// One DATA frame as a client sends it (no FROM unless `from` is given).
inline Bytes client_frame(std::uint16_t channel, std::uint32_t sequence, std::string_view payload,
                          std::vector<core::ParticipantId> to = {},
                          Reliability reliability = Reliability::Durable,
                          Priority priority = Priority::Normal,
                          std::optional<core::ParticipantId> from = std::nullopt) {
  core::FrameHeader h;
  h.type = core::FrameType::Data;
  h.reliability = reliability;
  h.priority = priority;
  h.channel_id = channel;
  h.sequence = sequence;
  h.from = from;
  Bytes out;
  core::encode_frame(h, to, as_bytes(payload), out);
  return out;
}

// Every frame of every transport message received.
inline std::vector<core::DecodedFrame> frames_of(const std::vector<ReceivedMessage>& messages,
                                                 std::vector<std::uint16_t>* streams = nullptr) {
  std::vector<core::DecodedFrame> frames;
  for (const auto& m : messages) {
    ByteView rest = m.data;
    while (!rest.empty()) {
      auto f = core::decode_frame(rest);
      if (!f) break;
      frames.push_back(*f);
      if (streams) streams->push_back(m.stream);
    }
  }
  return frames;
}

}  // namespace switchboard::server::testing
