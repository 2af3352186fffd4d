#include "webrtc/ice_lite_client.hpp"

#include <chrono>
#include <functional>
#include <optional>
#include <vector>

#include <boost/asio.hpp>
#include <gtest/gtest.h>

#include "webrtc/webrtc_server.hpp"

namespace switchboard::webrtc {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

// A datagram that is neither STUN nor anything else the client inspects.
Bytes payload(std::uint8_t tag, std::size_t size = 100) {
  Bytes out(size, tag);
  out[0] = 0x17;  // the first byte of a DTLS application-data record
  return out;
}

// A WebRtcServer on 127.0.0.1 with one session for the client, echoing its datagrams.
class IceLiteClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server.listen({asio::ip::make_address("127.0.0.1"), 0}));
    server_ice = random_ice_credentials();
  }

  void make_client(const IceLiteClient::Config& config = {}) {
    client = std::make_unique<IceLiteClient>(
        io, config,
        IceLiteClient::Callbacks{
            .connected = [this] { ++connected; },
            .datagram = [this](ByteView d) { received.emplace_back(d.begin(), d.end()); },
            .failed =
                [this](const Error& e) {
                  ++failures;
                  failure = e;
                }});
    session = server.add_session(server_ice, client->local_credentials().ufrag,
                                 {.datagram =
                                      [this](ByteView d) {
                                        at_server.emplace_back(d.begin(), d.end());
                                        server.send(session, d);
                                      },
                                  .consent_lost = {}});
  }

  SocketAddress server_address() const { return *SocketAddress::parse("127.0.0.1", server.port()); }

  bool run_until(const std::function<bool()>& done, std::chrono::seconds limit = 20s) {
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

  asio::io_context io;
  WebRtcServer server{io};
  IceCredentials server_ice;
  WebRtcServer::SessionId session = 0;
  std::unique_ptr<IceLiteClient> client;
  int connected = 0;
  int failures = 0;
  std::optional<Error> failure;
  std::vector<Bytes> received;
  std::vector<Bytes> at_server;
};

TEST_F(IceLiteClientTest, ConnectsToTheLiteServerAndCarriesDatagramsBothWays) {
  make_client();
  ASSERT_TRUE(client->start(server_ice, {server_address()}));
  ASSERT_TRUE(run_until([&] { return connected > 0; }));
  EXPECT_EQ(client->selected(), server_address());

  for (std::uint8_t i = 1; i <= 20; ++i) client->send(payload(i, 1000));
  ASSERT_TRUE(run_until([&] { return received.size() == 20; }));
  for (std::uint8_t i = 1; i <= 20; ++i) {
    EXPECT_EQ(at_server[i - 1], payload(i, 1000));
    EXPECT_EQ(received[i - 1], payload(i, 1000));
  }
  EXPECT_EQ(connected, 1);
  EXPECT_EQ(failures, 0);
}

TEST_F(IceLiteClientTest, NominatesTheCandidateThatAnswersAndSkipsTheDeadOne) {
  make_client();
  // Nothing listens on this one (a socket opened and closed at once).
  asio::ip::udp::socket dead(io, {asio::ip::make_address("127.0.0.1"), 0});
  const auto dead_address = to_socket_address(dead.local_endpoint());
  dead.close();
  ASSERT_TRUE(client->start(server_ice, {dead_address, server_address()}));
  ASSERT_TRUE(run_until([&] { return connected > 0; }));
  EXPECT_EQ(client->selected(), server_address());
  client->send(payload(7));
  ASSERT_TRUE(run_until([&] { return received.size() == 1; }));
}

TEST_F(IceLiteClientTest, WrongPasswordNeverConnectsAndFailsAtTheTimeout) {
  make_client({.connect_timeout = 500ms});
  IceCredentials wrong = server_ice;
  wrong.pwd[0] = wrong.pwd[0] == 'a' ? 'b' : 'a';
  ASSERT_TRUE(client->start(wrong, {server_address()}));
  ASSERT_TRUE(run_until([&] { return failures > 0; }));
  EXPECT_EQ(connected, 0);
  EXPECT_EQ(failure->code, ErrorCode::NotConnected);
  EXPECT_GE(client->stats().checks_sent, 3u) << "checks repeat until the timeout";
  run_for(300ms);
  EXPECT_EQ(failures, 1);
}

TEST_F(IceLiteClientTest, KeepsConsentWithSlowerChecksOnceTheDataConnectionIsUp) {
  make_client({.consent_interval = 200ms, .consent_timeout = 500ms});
  ASSERT_TRUE(client->start(server_ice, {server_address()}));
  ASSERT_TRUE(run_until([&] { return connected > 0; }));
  client->set_data_connected();
  const auto before = client->stats().checks_sent;
  run_for(1500ms);
  EXPECT_EQ(failures, 0) << "answered keep-alives hold consent past its timeout";
  const auto sent = client->stats().checks_sent - before;
  EXPECT_GE(sent, 4u);
  EXPECT_LE(sent, 9u) << "keep-alives every 200 ms, not every 100 ms";
}

TEST_F(IceLiteClientTest, AnUnansweredConsentCheckIsSentAgainUntilAnswered) {
  make_client({.consent_interval = 5s, .consent_retransmit = 100ms, .consent_timeout = 30s});
  ASSERT_TRUE(client->start(server_ice, {server_address()}));
  ASSERT_TRUE(run_until([&] { return connected > 0; }));
  client->set_data_connected();
  run_for(300ms);
  const auto answered = client->stats().checks_sent;
  run_for(700ms);
  EXPECT_EQ(client->stats().checks_sent, answered) << "an answered check waits the interval";
  server.remove_session(session);  // checks now go unanswered (a lossy path, say)
  client->send(payload(1));  // (the next check is due at 5 s; see that the retries start)
  run_for(5500ms);
  const auto retries = client->stats().checks_sent - answered;
  EXPECT_GE(retries, 4u) << "the 5 s check, then one every 100 ms while unanswered";
  EXPECT_EQ(failures, 0);
}

TEST_F(IceLiteClientTest, ConsentIsLostWhenTheServerStopsAnswering) {
  make_client({.consent_interval = 100ms, .consent_timeout = 500ms});
  ASSERT_TRUE(client->start(server_ice, {server_address()}));
  ASSERT_TRUE(run_until([&] { return connected > 0; }));
  client->set_data_connected();
  server.remove_session(session);  // its checks now go unanswered
  const auto t = std::chrono::steady_clock::now();
  ASSERT_TRUE(run_until([&] { return failures > 0; }));
  EXPECT_GE(std::chrono::steady_clock::now() - t, 350ms);
  EXPECT_EQ(failure->code, ErrorCode::NotConnected);
  EXPECT_NE(failure->message.find("consent"), std::string::npos) << failure->message;
}

TEST_F(IceLiteClientTest, IgnoresDatagramsFromAddressesThatAreNotTheServer) {
  make_client();
  ASSERT_TRUE(client->start(server_ice, {server_address()}));
  ASSERT_TRUE(run_until([&] { return connected > 0; }));
  asio::ip::udp::socket stranger(io, {asio::ip::make_address("127.0.0.1"), 0});
  const Bytes junk = payload(9);
  stranger.send_to(asio::buffer(junk), to_endpoint(*client->local_address()));
  client->send(payload(1));
  ASSERT_TRUE(run_until([&] { return received.size() == 1; }));
  run_for(100ms);
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0], payload(1));
}

TEST_F(IceLiteClientTest, RefusesToStartWithoutAUsableCandidate) {
  make_client();
  auto started = client->start(server_ice, {});
  ASSERT_FALSE(started);
  EXPECT_EQ(started.error().code, ErrorCode::InvalidArgument);
}

TEST_F(IceLiteClientTest, CloseStopsChecksAndCallbacks) {
  make_client({.connect_timeout = 300ms});
  IceCredentials wrong = server_ice;
  wrong.ufrag = "nobody00";
  ASSERT_TRUE(client->start(wrong, {server_address()}));
  run_for(50ms);
  client->close();
  const auto sent = client->stats().checks_sent;
  run_for(600ms);
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(client->stats().checks_sent, sent);
}

}  // namespace
}  // namespace switchboard::webrtc
