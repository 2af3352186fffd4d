#include "client/server_link.hpp"

#include <algorithm>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <gtest/gtest.h>

#include "webrtc/negotiation.hpp"
#include "webrtc/sdp.hpp"
#include "webrtc/webrtc_connection.hpp"
#include "webrtc/webrtc_server.hpp"

namespace switchboard::client {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

constexpr std::uint32_t kMaxMessageSize = 256 * 1024;
constexpr std::size_t kKiB64 = std::size_t{64} * 1024;
constexpr std::size_t kMiB = std::size_t{1024} * 1024;

// A Switchboard server in miniature, for one client: the signaling WebSocket on
// 127.0.0.1, a WebRtcServer on the same port number for UDP, and a DTLS-server data
// connection that echoes every transport message back on its stream.
class FakeServer {
 public:
  struct Behaviour {
    std::optional<signaling::ErrorReply> refuse_join;
    bool echo = true;
    // The answer names a UDP port nobody listens on (a firewalled data port).
    std::optional<std::uint16_t> announce_udp_port;
    std::string announce_ip = "127.0.0.1";  // the answer's candidate address
  };

  FakeServer(asio::io_context& io, Behaviour behaviour)
      : io_(io), behaviour_(std::move(behaviour)), acceptor_(io), udp_(io) {
    auto certificate = webrtc::Certificate::generate();
    EXPECT_TRUE(certificate);
    certificate_ = *certificate;
    // A TCP and a UDP port of the same number, as the real server has.
    for (int attempt = 0; attempt < 20; ++attempt) {
      boost::system::error_code ec;
      acceptor_ = tcp::acceptor(io);
      acceptor_.open(tcp::v4(), ec);
      if (!ec) acceptor_.bind({asio::ip::make_address("127.0.0.1"), 0}, ec);
      if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
      if (ec) continue;
      port_ = acceptor_.local_endpoint().port();
      if (udp_.listen({asio::ip::make_address("127.0.0.1"), port_})) break;
      port_ = 0;
    }
    EXPECT_NE(port_, 0);
    accept();
  }

  ~FakeServer() {
    connection_.reset();
    *alive_ = false;
  }

  std::string url() const { return "ws://127.0.0.1:" + std::to_string(port_); }

  // Sends one signaling message to the client.
  void send(const signaling::Message& message) { write(signaling::serialize(message)); }
  // Sends a transport message to the client on `stream`.
  Result<void> push(std::uint16_t stream, ByteView data) {
    if (!connection_) return Error{ErrorCode::NotConnected, "no data connection"};
    return connection_->send(stream, data);
  }
  void close_websocket() {
    closing_ = true;
    if (!writing_) start_close();
  }

  std::vector<std::string> types;  // of the messages the client sent, in order
  std::optional<signaling::Join> join;
  bool data_connected = false;
  bool websocket_closed = false;
  std::size_t echoed = 0;
  std::vector<std::pair<std::uint16_t, webrtc::ChannelParams>> channels;

 private:
  void accept() {
    acceptor_.async_accept([this, alive = alive_](boost::system::error_code ec, tcp::socket s) {
      if (ec || !*alive) return;
      ws_ = std::make_unique<websocket::stream<beast::tcp_stream>>(std::move(s));
      ws_->async_accept([this, alive](boost::system::error_code ec2) {
        if (ec2 || !*alive) return;
        ws_->text(true);
        read();
      });
    });
  }

  void read() {
    ws_->async_read(buffer_, [this, alive = alive_](boost::system::error_code ec, std::size_t) {
      if (!*alive) return;
      if (ec) {
        websocket_closed = true;
        return;
      }
      const std::string text = beast::buffers_to_string(buffer_.data());
      buffer_.consume(buffer_.size());
      auto parsed = signaling::parse_message(text);
      EXPECT_TRUE(parsed) << text;
      if (parsed) handle(*parsed);
      read();
    });
  }

  void handle(const signaling::Message& message) {
    types.emplace_back(signaling::message_type(message));
    if (const auto* j = std::get_if<signaling::Join>(&message)) {
      join = *j;
      if (behaviour_.refuse_join) {
        signaling::ErrorReply refusal = *behaviour_.refuse_join;
        refusal.req = j->req;
        send(refusal);
        close_websocket();
        return;
      }
      signaling::Joined joined;
      joined.req = j->req;
      joined.participant_id = 7;
      joined.identity = "alice";
      joined.display_name = j->display_name.value_or("");
      joined.call = j->call.value_or("");
      joined.participants = {{3, "bob", "Bob"}};
      joined.max_message_size = kMaxMessageSize;
      send(joined);
    } else if (const auto* o = std::get_if<signaling::Offer>(&message)) {
      answer(*o);
    }
  }

  void answer(const signaling::Offer& offer_message) {
    auto offer = webrtc::parse_sdp(offer_message.sdp);
    ASSERT_TRUE(offer) << offer.error().message;
    offer_ = *offer;
    const auto ice = webrtc::random_ice_credentials();
    const auto address = *webrtc::SocketAddress::parse(
        behaviour_.announce_ip, behaviour_.announce_udp_port.value_or(port_));
    const auto answer =
        webrtc::make_lite_answer(*offer, ice, *certificate_, address, kMaxMessageSize);
    session_ = udp_.add_session(ice, offer->ice_ufrag,
                                {.datagram =
                                     [this](ByteView d) {
                                       if (connection_) connection_->handle_datagram(d);
                                     },
                                 .consent_lost = {}});
    connection_ = std::make_unique<webrtc::WebRtcConnection>(
        io_,
        webrtc::WebRtcConnection::Config{
            .certificate = certificate_,
            .dtls_role = webrtc::answerer_dtls_role(offer->setup),
            .remote_fingerprint = offer->fingerprint,
            .local_sctp_port = answer.sctp_port,
            .remote_sctp_port = offer->sctp_port,
            .remote_max_message_size = offer->max_message_size,
            .local_max_message_size = answer.max_message_size,
        },
        webrtc::WebRtcConnection::Callbacks{
            .send_datagram = [this](ByteView d) { udp_.send(session_, d); },
            .connected = [this] { data_connected = true; },
            .channel_opened = {},
            .message =
                [this](std::uint16_t stream, ByteView data, bool) {
                  if (!behaviour_.echo) return;
                  auto sent = connection_->send(stream, data);
                  EXPECT_TRUE(sent) << sent.error().message;
                  ++echoed;
                },
            .channel_closed = {},
            .buffered_amount_low = {},
            .failed = {},
        });
    for (std::uint16_t stream = 0; stream < 4; ++stream) {
      webrtc::ChannelParams p;
      p.label = "s" + std::to_string(stream);
      p.ordered = stream < 2;
      p.reliability =
          stream < 2 ? webrtc::SctpReliability::Reliable : webrtc::SctpReliability::MaxRetransmits;
      p.priority = stream % 2 == 1 ? 512 : 256;
      p.negotiated = true;
      p.stream = stream;
      EXPECT_TRUE(connection_->open_channel(p));
    }
    connection_->start();
    send(signaling::Answer{.req = offer_message.req, .sdp = webrtc::write_sdp(answer), .peer = {}});
  }

  void write(std::string text) {
    if (!ws_ || closing_) return;
    queue_.push_back(std::move(text));
    if (!writing_) write_next();
  }

  void write_next() {
    if (queue_.empty()) {
      writing_ = false;
      if (closing_) start_close();
      return;
    }
    writing_ = true;
    ws_->async_write(asio::buffer(queue_.front()),
                     [this, alive = alive_](boost::system::error_code ec, std::size_t) {
                       if (!*alive || ec) return;
                       queue_.pop_front();
                       write_next();
                     });
  }

  void start_close() {
    if (!ws_ || close_started_) return;
    close_started_ = true;
    ws_->async_close(websocket::close_code::normal, [alive = alive_](boost::system::error_code) {});
  }

  asio::io_context& io_;
  Behaviour behaviour_;
  tcp::acceptor acceptor_;
  webrtc::WebRtcServer udp_;
  std::uint16_t port_ = 0;
  std::shared_ptr<const webrtc::Certificate> certificate_;
  std::unique_ptr<websocket::stream<beast::tcp_stream>> ws_;
  beast::flat_buffer buffer_;
  std::deque<std::string> queue_;
  bool writing_ = false;
  bool closing_ = false;
  bool close_started_ = false;
  webrtc::SessionDescription offer_;
  webrtc::WebRtcServer::SessionId session_ = 0;
  std::unique_ptr<webrtc::WebRtcConnection> connection_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);

 public:
  const webrtc::SessionDescription& offer() const { return offer_; }
};

// What the link reported, in order.
struct Seen {
  std::optional<signaling::Joined> joined;
  int connected = 0;
  std::vector<Bytes> data;
  std::vector<signaling::ErrorReply> errors;
  std::vector<Error> closed;
  int writable = 0;
  std::vector<std::string> order;  // callback names
  int callbacks_after_leave = 0;
};

class ServerLinkTest : public ::testing::Test {
 protected:
  void make(FakeServer::Behaviour behaviour = {}, const std::string& url = {}) {
    server = std::make_unique<FakeServer>(io, std::move(behaviour));
    ServerLinkConfig config;
    config.url = url.empty() ? server->url() : url;
    config.call = "room-1";
    config.token = "tok";
    config.display_name = "Alice";
    config.p2p = false;
    link = std::make_unique<ServerLink>(io, config, callbacks());
  }

  ServerLink::Callbacks callbacks() {
    auto note = [this](const char* what) {
      seen.order.emplace_back(what);
      if (left) ++seen.callbacks_after_leave;
    };
    return {
        .joined =
            [this, note](const signaling::Joined& j) {
              note("joined");
              seen.joined = j;
            },
        .connected =
            [this, note] {
              note("connected");
              ++seen.connected;
            },
        .participant_joined = [note](const signaling::ParticipantInfo&) { note("pj"); },
        .participant_left = [note](const signaling::ParticipantLeft&) { note("pl"); },
        .data =
            [this, note](ByteView d) {
              note("data");
              seen.data.emplace_back(d.begin(), d.end());
              if (left_from_callback && !left) {
                link->leave();
                left = true;
              }
            },
        .error =
            [this, note](const signaling::ErrorReply& e) {
              note("error");
              seen.errors.push_back(e);
            },
        .writable =
            [this, note] {
              note("writable");
              ++seen.writable;
            },
        .closed =
            [this, note](const Error& e) {
              note("closed");
              seen.closed.push_back(e);
            },
    };
  }

  bool run_until(const std::function<bool()>& done, std::chrono::seconds limit = 30s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      io.run_for(5ms);
    }
    return true;
  }

  void run_for(std::chrono::milliseconds duration) {
    const auto end = std::chrono::steady_clock::now() + duration;
    while (std::chrono::steady_clock::now() < end) io.run_for(5ms);
  }

  // Both ends up: the client's SCTP can be established before the fake server's (both
  // sides send INIT), and a push before that fails.
  bool connect() {
    link->start();
    return run_until([&] { return seen.connected > 0 || !seen.closed.empty(); }) &&
           seen.connected == 1 && run_until([&] { return server->data_connected; });
  }

  void TearDown() override {
    link.reset();
    server.reset();
  }

  asio::io_context io;
  std::unique_ptr<FakeServer> server;
  std::unique_ptr<ServerLink> link;
  Seen seen;
  bool left = false;
  bool left_from_callback = false;  // the data callback calls leave()
};

Bytes pattern(std::uint32_t index, std::size_t size) {
  Bytes out(size);
  std::uint32_t x = index * 2654435761u + 1;
  for (auto& b : out) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    b = static_cast<std::uint8_t>(x);
  }
  return out;
}

constexpr core::TrafficClass kDurable{Reliability::Durable, Priority::Normal};
constexpr core::TrafficClass kDurableHigh{Reliability::Durable, Priority::High};
constexpr core::TrafficClass kLossy{Reliability::Lossy, Priority::Normal};
constexpr core::TrafficClass kLossyHigh{Reliability::Lossy, Priority::High};

TEST(StreamOf, MapsEachTrafficClassToItsNegotiatedStream) {
  EXPECT_EQ(stream_of(kDurable), 0);
  EXPECT_EQ(stream_of(kDurableHigh), 1);
  EXPECT_EQ(stream_of(kLossy), 2);
  EXPECT_EQ(stream_of(kLossyHigh), 3);
}

TEST_F(ServerLinkTest, JoinsThenConnectsTheDataPath) {
  make();
  ASSERT_TRUE(connect());
  ASSERT_TRUE(server->join);
  EXPECT_EQ(server->join->token, "tok");
  EXPECT_EQ(server->join->call, "room-1");
  EXPECT_EQ(server->join->display_name, "Alice");
  EXPECT_EQ(server->join->p2p, false);
  ASSERT_TRUE(seen.joined);
  EXPECT_EQ(seen.joined->participant_id, 7u);
  ASSERT_EQ(seen.joined->participants.size(), 1u);
  EXPECT_EQ(seen.order, (std::vector<std::string>{"joined", "connected"}));
  EXPECT_TRUE(run_until([&] { return server->data_connected; }));
  ASSERT_GE(server->types.size(), 2u);
  EXPECT_EQ(server->types[0], "join");
  EXPECT_EQ(server->types[1], "offer");

  // The offer: our certificate's fingerprint, actpass, the max message size with headroom.
  const auto& offer = server->offer();
  EXPECT_EQ(offer.setup, webrtc::DtlsSetup::ActPass);
  EXPECT_EQ(offer.mid, "0");
  EXPECT_EQ(offer.sctp_port, 5000);
  EXPECT_EQ(offer.max_message_size, std::size_t{kMaxMessageSize} + 65536);
}

TEST_F(ServerLinkTest, WildcardCandidateMeansTheSignalingHost) {
  make({.refuse_join = {}, .echo = true, .announce_udp_port = {}, .announce_ip = "0.0.0.0"});
  ASSERT_TRUE(connect());
}

TEST_F(ServerLinkTest, UnreachableCandidateFallsBackToTheSignalingHost) {
  // 127.0.0.2 is loopback too, but the fake's UDP socket is bound to 127.0.0.1 only.
  make({.refuse_join = {}, .echo = true, .announce_udp_port = {}, .announce_ip = "127.0.0.2"});
  ASSERT_TRUE(connect());
  ASSERT_TRUE(link->send(kDurable, pattern(1, 100)));
  ASSERT_TRUE(run_until([&] { return seen.data.size() == 1; }));
}

TEST_F(ServerLinkTest, SendBeforeConnectedIsNotConnected) {
  make();
  link->start();
  auto sent = link->send(kDurable, pattern(0, 10));
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error().code, ErrorCode::NotConnected);
}

TEST_F(ServerLinkTest, TransportMessagesOfEveryClassComeBackIntact) {
  make();
  ASSERT_TRUE(connect());
  std::vector<Bytes> durable;
  std::multiset<Bytes> lossy;
  std::uint32_t n = 0;
  // One 64 KiB transport message, then small ones on each of the four classes.
  durable.push_back(pattern(n++, kKiB64));
  ASSERT_TRUE(link->send(kDurable, durable.back()));
  for (int round = 0; round < 10; ++round) {
    durable.push_back(pattern(n++, 100 + round));
    ASSERT_TRUE(link->send(kDurable, durable.back()));
    const Bytes high = pattern(n++, 50);
    ASSERT_TRUE(link->send(kDurableHigh, high));
    lossy.insert(high);  // another stream: no order promised against stream 0
    const Bytes l = pattern(n++, 30);
    ASSERT_TRUE(link->send(kLossy, l));
    lossy.insert(l);
    const Bytes lh = pattern(n++, 20);
    ASSERT_TRUE(link->send(kLossyHigh, lh));
    lossy.insert(lh);
  }
  const std::size_t total = durable.size() + lossy.size();
  ASSERT_TRUE(run_until([&] { return seen.data.size() >= total; }));
  run_for(50ms);
  ASSERT_EQ(seen.data.size(), total);
  // Stream 0 kept its order; everything else came back once, intact.
  std::vector<Bytes> durable_back;
  std::multiset<Bytes> rest;
  std::set<Bytes> durable_set(durable.begin(), durable.end());
  for (const Bytes& d : seen.data) {
    if (durable_set.contains(d)) {
      durable_back.push_back(d);
    } else {
      rest.insert(d);
    }
  }
  EXPECT_EQ(durable_back, durable);
  EXPECT_EQ(rest, lossy);
  EXPECT_TRUE(seen.closed.empty());
}

TEST_F(ServerLinkTest, RefusedJoinClosesWithTheServersCode) {
  make({.refuse_join = signaling::ErrorReply{.req = {},
                                             .code = ErrorCode::Unauthorized,
                                             .message = "token expired",
                                             .channel_id = {}},
        .echo = true});
  link->start();
  ASSERT_TRUE(run_until([&] { return !seen.closed.empty(); }));
  EXPECT_EQ(seen.closed[0].code, ErrorCode::Unauthorized);
  EXPECT_EQ(seen.closed[0].message, "token expired");
  run_for(200ms);  // the WebSocket closing afterwards reports nothing more
  EXPECT_EQ(seen.order, (std::vector<std::string>{"closed"}));
}

TEST_F(ServerLinkTest, ServerDisconnectClosesWithItsReason) {
  make();
  ASSERT_TRUE(connect());
  server->send(signaling::Disconnect{.req = {}, .reason = "slow consumer"});
  server->close_websocket();
  ASSERT_TRUE(run_until([&] { return !seen.closed.empty(); }));
  EXPECT_EQ(seen.closed[0].code, ErrorCode::NotConnected);
  EXPECT_EQ(seen.closed[0].message, "slow consumer");
  run_for(200ms);
  EXPECT_EQ(seen.closed.size(), 1u);
  auto sent = link->send(kDurable, pattern(1, 10));
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error().code, ErrorCode::NotConnected);
}

TEST_F(ServerLinkTest, WebSocketClosedByTheServerClosesTheLink) {
  make();
  ASSERT_TRUE(connect());
  server->close_websocket();
  ASSERT_TRUE(run_until([&] { return !seen.closed.empty(); }));
  EXPECT_EQ(seen.closed[0].code, ErrorCode::NotConnected);
}

TEST_F(ServerLinkTest, ErrorsAfterTheJoinGoToTheErrorCallback) {
  make();
  ASSERT_TRUE(connect());
  server->send(signaling::ErrorReply{
      .req = {}, .code = ErrorCode::TrafficLimited, .message = "slow down", .channel_id = 12});
  server->send(signaling::ParticipantJoined{.req = {}, .participant = {9, "carol", "Carol"}});
  server->send(signaling::ParticipantLeft{.req = {}, .participant_id = 3, .identity = "bob"});
  ASSERT_TRUE(run_until([&] { return seen.order.size() >= 5; }));
  ASSERT_EQ(seen.errors.size(), 1u);
  EXPECT_EQ(seen.errors[0].code, ErrorCode::TrafficLimited);
  EXPECT_EQ(seen.errors[0].channel_id, 12u);
  EXPECT_EQ(seen.order, (std::vector<std::string>{"joined", "connected", "error", "pj", "pl"}));
  EXPECT_TRUE(seen.closed.empty());
}

TEST_F(ServerLinkTest, LeaveSendsLeaveAndNoCallbackFollows) {
  make();
  ASSERT_TRUE(connect());
  ASSERT_TRUE(link->send(kDurable, pattern(1, 1000)));  // its echo may be on its way
  link->leave();
  left = true;
  ASSERT_TRUE(run_until([&] {
    return std::find(server->types.begin(), server->types.end(), "leave") != server->types.end();
  }));
  ASSERT_TRUE(run_until([&] { return server->websocket_closed; }));
  server->send(signaling::Disconnect{.req = {}, .reason = "too late"});
  run_for(300ms);
  EXPECT_EQ(seen.callbacks_after_leave, 0);
  EXPECT_TRUE(seen.closed.empty());
  EXPECT_EQ(server->types.back(), "leave");
}

TEST_F(ServerLinkTest, LeaveFromInsideTheDataCallbackStopsDeliveryAtOnce) {
  make();
  ASSERT_TRUE(connect());
  left_from_callback = true;
  for (std::uint32_t i = 0; i < 10; ++i) ASSERT_TRUE(link->send(kDurable, pattern(i, 100)));
  ASSERT_TRUE(run_until([&] {
    return std::find(server->types.begin(), server->types.end(), "leave") != server->types.end();
  }));
  run_for(200ms);
  EXPECT_EQ(seen.data.size(), 1u) << "nothing after the leave, though more echoes came";
  EXPECT_EQ(seen.callbacks_after_leave, 0);
}

TEST_F(ServerLinkTest, PausedReceiveHoldsDeliveryUntilResumed) {
  make({.refuse_join = {}, .echo = false});
  ASSERT_TRUE(connect());
  link->set_receive_paused(true);
  for (std::uint32_t i = 0; i < 20; ++i) ASSERT_TRUE(server->push(0, pattern(i, 1000)));
  run_for(300ms);
  EXPECT_TRUE(seen.data.empty());
  link->set_receive_paused(false);
  ASSERT_TRUE(run_until([&] { return seen.data.size() == 20; }));
  for (std::uint32_t i = 0; i < 20; ++i) EXPECT_EQ(seen.data[i], pattern(i, 1000));
}

TEST_F(ServerLinkTest, UnreachableDataPortClosesWhenIceGivesUp) {
  std::uint16_t dead_port = 0;
  {
    asio::ip::udp::socket probe(io, {asio::ip::make_address("127.0.0.1"), 0});
    dead_port = probe.local_endpoint().port();
  }
  make({.refuse_join = {},
        .echo = true,
        .announce_udp_port = dead_port,
        .announce_ip = "127.0.0.1"});
  link->start();
  ASSERT_TRUE(run_until([&] { return !seen.closed.empty(); }, 20s));
  EXPECT_EQ(seen.closed[0].code, ErrorCode::NotConnected);
  EXPECT_NE(seen.closed[0].message.find("ICE"), std::string::npos) << seen.closed[0].message;
  EXPECT_EQ(seen.order, (std::vector<std::string>{"joined", "closed"}));
}

TEST_F(ServerLinkTest, PingsTheServerEvery15Seconds) {
  make();
  ASSERT_TRUE(connect());
  const auto t = std::chrono::steady_clock::now();
  auto pings = [&] { return std::count(server->types.begin(), server->types.end(), "ping"); };
  ASSERT_TRUE(run_until([&] { return pings() > 0; }, 20s));
  EXPECT_GE(std::chrono::steady_clock::now() - t, 14s);
  EXPECT_EQ(pings(), 1);
}

TEST_F(ServerLinkTest, UnreachableServerClosesWithNotConnected) {
  // A port nobody listens on: bind, note it, close.
  std::uint16_t port = 0;
  {
    tcp::acceptor probe(io, {asio::ip::make_address("127.0.0.1"), 0});
    port = probe.local_endpoint().port();
  }
  make({}, "ws://127.0.0.1:" + std::to_string(port));
  link->start();
  ASSERT_TRUE(run_until([&] { return !seen.closed.empty(); }, 15s));
  EXPECT_EQ(seen.closed[0].code, ErrorCode::NotConnected);
  EXPECT_EQ(seen.order, (std::vector<std::string>{"closed"}));
}

TEST_F(ServerLinkTest, BadUrlClosesWithInvalidArgumentFromTheLoop) {
  make({}, "http://example.invalid/");
  link->start();
  EXPECT_TRUE(seen.closed.empty()) << "never from inside start()";
  ASSERT_TRUE(run_until([&] { return !seen.closed.empty(); }));
  EXPECT_EQ(seen.closed[0].code, ErrorCode::InvalidArgument);
}

TEST_F(ServerLinkTest, WritableFiresWhenTheSendBufferDrainsBelowTheLowWaterMark) {
  make({.refuse_join = {}, .echo = false});
  ASSERT_TRUE(connect());
  // Over the 1 MiB low-water mark, then let it drain.
  for (std::uint32_t i = 0; i < 40; ++i) ASSERT_TRUE(link->send(kDurable, pattern(i, kKiB64)));
  EXPECT_GT(link->buffered_amount(), kMiB);
  ASSERT_TRUE(run_until([&] { return seen.writable > 0; }));
  EXPECT_LE(link->buffered_amount(), kMiB);
}

}  // namespace
}  // namespace switchboard::client
