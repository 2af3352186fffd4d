// The server's limits against abuse (apps/switchboard-server/README.md, "Limits"): each
// refuses with a clear error or a close, counts the refusal in /metrics, and leaves honest
// clients alone.
#include <thread>

#include <gtest/gtest.h>

#include "data_client.hpp"
#include "server/address_limits.hpp"
#include "server_harness.hpp"

namespace switchboard::server::testing {
namespace {

using namespace std::chrono_literals;

// switchboard_refused_total{reason="REASON"}; ~0 when absent.
std::uint64_t refused(std::uint16_t port, const std::string& reason) {
  const std::string text = http_get(port, "/metrics").body;
  const std::string name = "switchboard_refused_total{reason=\"" + reason + "\"} ";
  const auto at = text.find(name);
  if (at == std::string::npos) return ~0ull;
  return std::stoull(text.substr(at + name.size()));
}

// A plain TCP connection with a receive timeout, for what a WebSocket client cannot do.
class RawTcp {
 public:
  explicit RawTcp(std::uint16_t port) : socket_(io_) {
    socket_.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    timeval tv{5, 0};
    ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  void write(std::string_view data) { asio::write(socket_, asio::buffer(data)); }
  // True when the server closed the connection (EOF or reset) within the receive timeout,
  // having sent nothing.
  bool closed_by_server() {
    char byte;
    boost::system::error_code ec;
    const std::size_t n = socket_.read_some(asio::buffer(&byte, 1), ec);
    return n == 0 && (ec == asio::error::eof || ec == asio::error::connection_reset);
  }

 private:
  asio::io_context io_;
  asio::ip::tcp::socket socket_;
};

TEST(AddressLimits, CountsConnectionsPerAddressAndGivesPlacesBack) {
  auto table = std::make_shared<AddressLimits>(2, 0, 0);
  const auto now = core::Clock::now();
  auto a1 = AddressLimits::connect(table, "10.0.0.1", now);
  auto a2 = AddressLimits::connect(table, "10.0.0.1", now);
  ASSERT_TRUE(a1 && a2);
  EXPECT_FALSE(AddressLimits::connect(table, "10.0.0.1", now));
  EXPECT_TRUE(AddressLimits::connect(table, "10.0.0.2", now));  // another address
  a1.reset();
  EXPECT_EQ(table->connections("10.0.0.1"), 1u);
  EXPECT_TRUE(AddressLimits::connect(table, "10.0.0.1", now));
  EXPECT_TRUE(table->admit_join("10.0.0.1", now));  // rate 0: unlimited
}

TEST(AddressLimits, JoinAttemptsFollowATokenBucketPerAddress) {
  AddressLimits table(0, 20, 40);
  const auto t0 = core::Clock::now();
  for (int i = 0; i < 40; ++i) ASSERT_TRUE(table.admit_join("a", t0)) << i;
  EXPECT_FALSE(table.admit_join("a", t0));
  EXPECT_TRUE(table.admit_join("b", t0));  // its own bucket
  EXPECT_FALSE(table.admit_join("a", t0 + 40ms));
  EXPECT_TRUE(table.admit_join("a", t0 + 60ms));  // 20/s: one more after 50 ms
  EXPECT_FALSE(table.admit_join("a", t0 + 70ms));
}

TEST(AddressLimits, ForgetsAddressesThatHoldNothing) {
  auto table = std::make_shared<AddressLimits>(4, 20, 40);
  const auto t0 = core::Clock::now();
  auto held = AddressLimits::connect(table, "held", t0);
  for (int i = 0; i < 3000; ++i) table->admit_join("10.1." + std::to_string(i), t0);
  // Seconds later every bucket is full again: only the address with a connection stays.
  for (int i = 0; i < 3000; ++i) table->admit_join("10.2." + std::to_string(i), t0 + 10s);
  EXPECT_LT(table->tracked_addresses(), 3100u);
  EXPECT_EQ(table->connections("held"), 1u);
}

TEST(Limits, AJoinCreatingACallPastMaxCallsGetsServerFull) {
  auto config = test_config();
  config.max_calls = 2;
  ServerThread server(config);
  SignalClient alice(server.port());
  ASSERT_EQ(alice.join("alice", "c1")["type"], "joined");
  SignalClient bob(server.port());
  ASSERT_EQ(bob.join("bob", "c2")["type"], "joined");
  SignalClient carol(server.port());
  auto full = carol.join("carol", "c3", "r3");
  EXPECT_EQ(full["type"], "error");
  EXPECT_EQ(full["code"], "SERVER_FULL");
  EXPECT_EQ(full["req"], "r3");
  EXPECT_TRUE(carol.closed_by_server());
  // Joining a call that exists still works.
  SignalClient dave(server.port());
  EXPECT_EQ(dave.join("dave", "c1")["type"], "joined");
  // Once a call ends, a new one may start.
  ASSERT_TRUE(bob.leave());
  SignalClient erin(server.port());
  EXPECT_EQ(erin.join("erin", "c3")["type"], "joined");
  EXPECT_EQ(refused(server.port(), "server_full"), 1u);
}

TEST(Limits, AFullCallIsRefusedWithCallFullAndCounted) {
  auto config = test_config();
  config.max_participants_per_call = 2;
  ServerThread server(config);
  SignalClient alice(server.port());
  ASSERT_EQ(alice.join("alice", "c1")["type"], "joined");
  SignalClient bob(server.port());
  ASSERT_EQ(bob.join("bob", "c1")["type"], "joined");
  SignalClient carol(server.port());
  EXPECT_EQ(carol.join("carol", "c1")["code"], "CALL_FULL");
  EXPECT_TRUE(carol.closed_by_server());
  EXPECT_EQ(refused(server.port(), "call_full"), 1u);
  EXPECT_EQ(refused(server.port(), "server_full"), 0u);
}

TEST(Limits, ConnectionsPerAddressOverTheLimitAreClosedAtOnceAndCounted) {
  auto config = test_config();
  config.max_connections_per_address = 3;
  ServerThread server(config);
  std::vector<std::unique_ptr<RawTcp>> held;
  for (int i = 0; i < 3; ++i) held.push_back(std::make_unique<RawTcp>(server.port()));
  // Let the server accept all three before the fourth.
  std::this_thread::sleep_for(100ms);
  RawTcp fourth(server.port());
  EXPECT_TRUE(fourth.closed_by_server());
  held.pop_back();  // closing one gives its place back
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(http_get(server.port(), "/healthz").status, 200u);
  held.clear();
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(refused(server.port(), "connections_per_address"), 1u);
  // A WebSocket holds its place as long as it is open.
  SignalClient a(server.port()), b(server.port()), c(server.port());
  std::this_thread::sleep_for(100ms);
  RawTcp over(server.port());
  EXPECT_TRUE(over.closed_by_server());
}

TEST(Limits, JoinAttemptsOverTheRatePerAddressGetTrafficLimited) {
  auto config = test_config();
  config.join_rate_per_address = 2;
  config.join_burst_per_address = 3;
  ServerThread server(config);
  // Every attempt counts, successful or not.
  for (int i = 0; i < 3; ++i) {
    SignalClient client(server.port());
    client.send(json{{"type", "join"}, {"req", "r"}, {"call", "c1"}, {"token", "a.b.c"}});
    auto reply = client.receive();
    ASSERT_TRUE(reply);
    EXPECT_EQ((*reply)["code"], "UNAUTHORIZED") << i;
  }
  SignalClient limited(server.port());
  auto reply = limited.join("alice", "c1", "r4");
  EXPECT_EQ(reply["type"], "error");
  EXPECT_EQ(reply["code"], "TRAFFIC_LIMITED");
  EXPECT_EQ(reply["req"], "r4");
  EXPECT_TRUE(limited.closed_by_server());
  EXPECT_EQ(refused(server.port(), "join_rate"), 1u);
  EXPECT_EQ(refused(server.port(), "unauthorized"), 3u);
  // Two a second: half a second later there is room again.
  std::this_thread::sleep_for(600ms);
  SignalClient later(server.port());
  EXPECT_EQ(later.join("alice", "c1")["type"], "joined");
}

TEST(Limits, AnOversizedSignalingMessageClosesWith1009AndIsCounted) {
  ServerThread server;
  SignalClient client(server.port());
  client.send(json{{"type", "ping"}, {"req", "x"}, {"pad", std::string(65 * 1024, 'a')}});
  auto reply = client.receive();
  ASSERT_TRUE(reply);
  EXPECT_EQ((*reply)["code"], "INVALID_ARGUMENT");
  EXPECT_TRUE(client.closed_by_server());
  EXPECT_EQ(client.close_code(), 1009u);  // message too big
  EXPECT_EQ(refused(server.port(), "message_too_large"), 1u);
}

TEST(Limits, AnHttpRequestNotCompleteInTimeIsClosedAndCounted) {
  auto config = test_config();
  config.http_request_timeout_s = 1;
  ServerThread server(config);
  RawTcp silent(server.port());
  RawTcp slow(server.port());
  slow.write("GET /healthz HTTP/1.1\r\nHost: x\r\n");  // never finishes its headers
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(silent.closed_by_server());
  EXPECT_TRUE(slow.closed_by_server());
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
  EXPECT_EQ(refused(server.port(), "request_timeout"), 2u);
}

TEST(Limits, AWebSocketThatDoesNotJoinInTimeIsClosedAndCounted) {
  auto config = test_config();
  config.join_timeout_s = 1;
  ServerThread server(config);
  SignalClient honest(server.port());
  ASSERT_EQ(honest.join("alice", "c1")["type"], "joined");
  SignalClient lurker(server.port());
  lurker.send(json{{"type", "ping"}, {"req", "p"}});  // pings are no join
  ASSERT_EQ(lurker.receive()->at("type"), "pong");
  auto error = lurker.receive();
  ASSERT_TRUE(error);
  EXPECT_EQ((*error)["type"], "error");
  EXPECT_EQ((*error)["code"], "INVALID_ARGUMENT");
  EXPECT_NE((*error)["message"].get<std::string>().find("join"), std::string::npos);
  EXPECT_TRUE(lurker.closed_by_server());
  EXPECT_EQ(refused(server.port(), "join_timeout"), 1u);
  // The one that joined is still there.
  EXPECT_EQ(honest.next_type_before_pong(), "");
}

TEST(Limits, ASilentSignalingConnectionIsClosedAfterTheIdleTimeoutAndCounted) {
  auto config = test_config();
  // Below what validate() allows (20 s), to keep the test short.
  config.signaling_idle_timeout_s = 2;
  ServerThread server(config);
  SignalClient silent(server.port());
  ASSERT_EQ(silent.join("alice", "c1")["type"], "joined");
  const auto joined = std::chrono::steady_clock::now();
  SignalClient pinging(server.port());
  ASSERT_EQ(pinging.join("bob", "c1")["type"], "joined");
  ASSERT_EQ(pinging.receive()->at("type"), "p2p");
  // Bob pings every half second for 3 s: well past the timeout, he stays.
  for (int i = 0; i < 6; ++i) {
    std::this_thread::sleep_for(500ms);
    pinging.send(json{{"type", "ping"}, {"req", "k"}});
  }
  // Alice is gone: bob heard her leave.
  bool left = false;
  for (int i = 0; i < 20 && !left; ++i) {
    auto m = pinging.receive();
    ASSERT_TRUE(m) << "bob was dropped too";
    left = (*m)["type"] == "participant_left";
  }
  EXPECT_TRUE(left);
  // The reads block without a bound (asio waits out SO_RCVTIMEO): bound it here instead.
  EXPECT_LT(std::chrono::steady_clock::now() - joined, 6s);
  // Alice reads what was queued for her, then the end of the connection (not a time-out).
  for (int i = 0; i < 10 && silent.receive(); ++i) {
  }
  EXPECT_TRUE(silent.error() == asio::error::eof ||
              silent.error() == asio::error::connection_reset ||
              silent.error() == websocket::error::closed)
      << silent.error().message();
  EXPECT_EQ(refused(server.port(), "idle_timeout"), 1u);
}

// The data path on one io_context with the server (usrsctp is process-wide).
class DataConnectLimit : public ::testing::Test {
 protected:
  void TearDown() override {
    if (!server_) return;
    bool done = false;
    server_->shutdown("server shutting down", [&] { done = true; });
    run_until(
        io_, [&] { return done; }, 5s);
    server_.reset();
  }
  asio::io_context io_;
  std::unique_ptr<Server> server_;
};

TEST_F(DataConnectLimit, AnOfferWhoseConnectionNeverComesUpIsDroppedAndCounted) {
  spdlog::set_level(spdlog::level::warn);
  auto config = test_config();
  config.data_connect_timeout_s = 1;
  server_ = std::make_unique<Server>(io_, config);
  ASSERT_TRUE(server_->start());
  const std::uint16_t port = server_->port();

  DataClient honest(io_, port, "alice", "d", signaling::kDevelopmentSecret);
  ASSERT_TRUE(honest.connect());

  // Bob offers, then never sends a STUN check or a DTLS byte.
  AsyncSignal bob(io_, port);
  bob.send(json{{"type", "join"}, {"req", "j"}, {"call", "d"}, {"token", dev_token("bob", "d")}});
  ASSERT_TRUE(run_until(io_, [&] { return bob.take("joined").has_value(); }));
  auto certificate = webrtc::Certificate::generate();
  ASSERT_TRUE(certificate);
  webrtc::SessionDescription offer;
  const auto ice = webrtc::random_ice_credentials();
  offer.ice_ufrag = ice.ufrag;
  offer.ice_pwd = ice.pwd;
  offer.fingerprint = (*certificate)->fingerprint();
  offer.setup = webrtc::DtlsSetup::ActPass;
  offer.session_id = 1;
  offer.session_version = 1;
  bob.send(json{{"type", "offer"}, {"req", "o"}, {"sdp", webrtc::write_sdp(offer)}});
  ASSERT_TRUE(run_until(io_, [&] { return bob.take("answer").has_value(); }));
  const auto answered = std::chrono::steady_clock::now();
  std::optional<json> disconnect;
  ASSERT_TRUE(run_until(
      io_, [&] { return (disconnect = bob.take("disconnect")).has_value(); }, 5s));
  EXPECT_GE(std::chrono::steady_clock::now() - answered, 900ms);
  EXPECT_NE((*disconnect)["reason"].get<std::string>().find("data connection not established"),
            std::string::npos);
  EXPECT_TRUE(run_until(
      io_, [&] { return bob.closed; }, 5s));
  EXPECT_TRUE(run_until(io_, [&] { return honest.signal.take("participant_left").has_value(); }));
  EXPECT_EQ(server_->metrics().refused_for(RefusalReason::DataConnectTimeout), 1u);
  // Alice, connected in time, stays.
  EXPECT_FALSE(honest.failed);
  EXPECT_FALSE(honest.signal.closed);
  EXPECT_EQ(server_->metrics().participants, 1u);
}

}  // namespace
}  // namespace switchboard::server::testing
