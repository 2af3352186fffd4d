#pragma once

// A WebRtcServer-side connection and a client connection on one io_context, over real
// UDP on 127.0.0.1. The client runs full ICE with libnice (IceAgent), as the SDK does; or,
// with `raw_ice`, plays the controlling agent with bare STUN checks (USE-CANDIDATE), the
// way a browser's first check looks, then runs DTLS and SCTP over the same socket.

#include <functional>
#include <memory>
#include <random>

#include <boost/asio.hpp>
#include <gtest/gtest.h>

#include "webrtc/ice_agent.hpp"
#include "webrtc/stun.hpp"
#include "webrtc/webrtc_connection.hpp"
#include "webrtc/webrtc_server.hpp"

namespace switchboard::webrtc::testing {

namespace asio = boost::asio;

struct PeerEvents {
  std::function<void(std::uint16_t, const ChannelParams&)> channel_opened;
  std::function<void(std::uint16_t, ByteView)> message;
  std::function<void()> buffered_amount_low;
  std::optional<Error> failure;
  bool connected = false;
};

struct LoopbackOptions {
  bool tamper_server_fingerprint = false;  // the client expects another certificate
  bool tamper_client_fingerprint = false;  // the server expects another certificate
  std::string address = "127.0.0.1";
  bool raw_ice = false;
};

class LoopbackPair {
 public:
  explicit LoopbackPair(LoopbackOptions options = {}) : server_(io), client_socket_(io) {
    auto server_cert = Certificate::generate();
    auto client_cert = Certificate::generate();
    EXPECT_TRUE(server_cert && client_cert);
    EXPECT_TRUE(server_.listen({asio::ip::make_address(options.address), 0}));
    server_endpoint_ = {asio::ip::make_address(options.address), server_.port()};
    server_ice_ = random_ice_credentials();
    client_ice_ = random_ice_credentials();

    Fingerprint expect_client = (*client_cert)->fingerprint();
    if (options.tamper_client_fingerprint) expect_client[0] ^= 1;
    Fingerprint expect_server = (*server_cert)->fingerprint();
    if (options.tamper_server_fingerprint) expect_server[0] ^= 1;

    if (!options.raw_ice) {
      agent_ = std::make_unique<IceAgent>(
          io, true, IceServerConfig{},
          IceAgent::Callbacks{.local_candidate = {},
                              .gathering_done = {},
                              .connected = [this] { ice_connected_ = true; },
                              .datagram = [this](ByteView d) { client->handle_datagram(d); },
                              .failed = [this](const Error& e) { client_events.failure = e; }},
          std::vector<std::string>{options.address});
      client_ice_ = {agent_->local_ufrag(), agent_->local_pwd()};
    }
    session_ =
        server_.add_session(server_ice_, client_ice_.ufrag,
                            {.datagram = [this](ByteView d) { server->handle_datagram(d); }});
    server = std::make_unique<WebRtcConnection>(
        io,
        WebRtcConnection::Config{.certificate = *server_cert,
                                 .dtls_role = DtlsRole::Server,
                                 .remote_fingerprint = expect_client},
        callbacks(server_events, [this](ByteView d) { server_.send(session_, d); }));
    client = std::make_unique<WebRtcConnection>(
        io,
        WebRtcConnection::Config{.certificate = *client_cert,
                                 .dtls_role = DtlsRole::Client,
                                 .remote_fingerprint = expect_server},
        callbacks(client_events, [this](ByteView d) {
          if (agent_) {
            (void)agent_->send(d);
            return;
          }
          boost::system::error_code ec;
          client_socket_.send_to(asio::buffer(d.data(), d.size()), server_endpoint_, 0, ec);
        }));
    if (agent_) return;
    client_socket_.open(server_endpoint_.protocol());
    client_socket_.set_option(asio::socket_base::receive_buffer_size(8 * 1024 * 1024));
    client_socket_.set_option(asio::socket_base::send_buffer_size(8 * 1024 * 1024));
    client_socket_.bind({server_endpoint_.address(), 0});
    receive();
  }

  // The connections may still emit datagrams while they shut down: they go first.
  ~LoopbackPair() {
    client.reset();
    agent_.reset();
    server.reset();
  }

  // ICE check, then DTLS and SCTP; true once both sides are connected.
  bool connect() {
    server->start();
    if (agent_) {
      agent_->set_remote_credentials(server_ice_.ufrag, server_ice_.pwd);
      const auto& ep = server_endpoint_;
      (void)agent_->add_remote_candidate("candidate:1 1 udp 2130706431 " +
                                         ep.address().to_string() + " " +
                                         std::to_string(ep.port()) + " typ host");
      agent_->remote_gathering_done();
      agent_->gather();
      if (!run_until([&] { return ice_connected_ || client_events.failure.has_value(); },
                     std::chrono::seconds(30)) ||
          !ice_connected_) {
        return false;
      }
      client->start();
      return run_until([&] {
               return (server_events.connected && client_events.connected) ||
                      server_events.failure || client_events.failure;
             }) &&
             server_events.connected && client_events.connected;
    }
    // The check goes first, as in ICE: DTLS from an unvalidated address is dropped.
    send_check();
    client->start();
    // Like an ICE agent, repeat the check until DTLS is through: on a lossy path the
    // first one may never arrive.
    auto last_check = std::chrono::steady_clock::now();
    return run_until([&] {
             if (!client_events.connected &&
                 std::chrono::steady_clock::now() - last_check > std::chrono::milliseconds(100)) {
               send_check();
               last_check = std::chrono::steady_clock::now();
             }
             return (server_events.connected && client_events.connected) || server_events.failure ||
                    client_events.failure;
           }) &&
           server_events.connected && client_events.connected;
  }

  bool run_until(const std::function<bool()>& done,
                 std::chrono::seconds limit = std::chrono::seconds(120)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      io.run_for(std::chrono::milliseconds(5));
    }
    return true;
  }

  const WebRtcServer& server_port() const { return server_; }

  asio::io_context io;
  PeerEvents server_events;
  PeerEvents client_events;
  std::unique_ptr<WebRtcConnection> server;
  std::unique_ptr<WebRtcConnection> client;

 private:
  WebRtcConnection::Callbacks callbacks(PeerEvents& events, std::function<void(ByteView)> out) {
    return {
        .send_datagram = std::move(out),
        .connected = [&events] { events.connected = true; },
        .channel_opened =
            [&events](std::uint16_t s, const ChannelParams& p) {
              if (events.channel_opened) events.channel_opened(s, p);
            },
        .message =
            [&events](std::uint16_t s, ByteView d, bool) {
              if (events.message) events.message(s, d);
            },
        .channel_closed = {},
        .buffered_amount_low =
            [&events] {
              if (events.buffered_amount_low) events.buffered_amount_low();
            },
        .failed = [&events](const Error& e) { events.failure = e; },
    };
  }

  void send_check() {
    StunTransactionId txid{};
    std::mt19937 rng(7);
    for (auto& b : txid) b = static_cast<std::uint8_t>(rng());
    Bytes request = StunWriter(kStunBindingMethod, StunClass::Request, txid)
                        .add_username(server_ice_.ufrag + ":" + client_ice_.ufrag)
                        .add_priority(0x6e7f1eff)
                        .add_ice_controlling(0x1234567890abcdefULL)
                        .add_use_candidate()
                        .finish(server_ice_.pwd, true);
    client_socket_.send_to(asio::buffer(request), server_endpoint_);
  }

  void receive() {
    client_socket_.async_receive_from(asio::buffer(buffer_), from_,
                                      [this](boost::system::error_code ec, std::size_t n) {
                                        if (ec) return;
                                        ByteView d(buffer_.data(), n);
                                        if (!looks_like_stun(d)) client->handle_datagram(d);
                                        receive();
                                      });
  }

  WebRtcServer server_;
  asio::ip::udp::socket client_socket_;
  asio::ip::udp::endpoint server_endpoint_;
  asio::ip::udp::endpoint from_;
  IceCredentials server_ice_;
  IceCredentials client_ice_;
  WebRtcServer::SessionId session_ = 0;
  std::array<std::uint8_t, 65536> buffer_{};
  std::unique_ptr<IceAgent> agent_;
  bool ice_connected_ = false;
};

}  // namespace switchboard::webrtc::testing
