#include "webrtc/ice_agent.hpp"

#include <array>
#include <chrono>
#include <filesystem>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/post.hpp>
#include <gtest/gtest.h>

#include "ice_side.hpp"
#include "webrtc/ice_lite.hpp"
#include "webrtc/stun.hpp"

namespace switchboard::webrtc {
namespace {

using namespace std::chrono_literals;
using boost::asio::ip::udp;

// Tests never touch any other address.
std::vector<std::string> loopback_only() {
  return {"127.0.0.1"};
}

// Runs the io_context until `done` or a generous deadline; false on timeout.
bool run_until(boost::asio::io_context& io, const std::function<bool()>& done,
               std::chrono::steady_clock::duration limit = 20s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    io.run_for(10ms);
    if (io.stopped()) io.restart();
  }
  return done();
}

void run_for(boost::asio::io_context& io, std::chrono::steady_clock::duration d) {
  io.run_for(d);
  if (io.stopped()) io.restart();
}

using testing::Side;

struct AgentPair {
  boost::asio::io_context io;
  Side controlling;
  Side controlled;

  AgentPair() {
    controlling.agent = std::make_unique<IceAgent>(io, true, IceServerConfig{},
                                                   controlling.callbacks(), loopback_only());
    controlled.agent = std::make_unique<IceAgent>(io, false, IceServerConfig{},
                                                  controlled.callbacks(), loopback_only());
    controlling.peer = &controlled;
    controlled.peer = &controlling;
    controlling.agent->set_remote_credentials(controlled.agent->local_ufrag(),
                                              controlled.agent->local_pwd());
    controlled.agent->set_remote_credentials(controlling.agent->local_ufrag(),
                                             controlling.agent->local_pwd());
  }

  ::testing::AssertionResult connect() {
    controlling.agent->gather();
    controlled.agent->gather();
    const bool ok = run_until(io, [&] {
      return (controlling.connected != 0 && controlled.connected != 0) || controlling.failure ||
             controlled.failure;
    });
    if (controlling.failure) {
      return ::testing::AssertionFailure()
             << "controlling failed: " << controlling.failure->message;
    }
    if (controlled.failure) {
      return ::testing::AssertionFailure() << "controlled failed: " << controlled.failure->message;
    }
    if (!ok) return ::testing::AssertionFailure() << "no connection within the deadline";
    return ::testing::AssertionSuccess();
  }
};

Bytes numbered(std::uint32_t n, std::size_t size = 1200) {
  Bytes out;
  put_u32(out, n);
  out.resize(size, static_cast<std::uint8_t>(n * 7));
  return out;
}

std::uint32_t number_of(ByteView datagram) {
  return datagram.size() >= 4 ? load_u32(datagram.data()) : 0xffffffffu;
}

TEST(IceAgent, CredentialsAreFixedAndLongEnoughForIce) {
  boost::asio::io_context io;
  IceAgent agent(io, true, {}, {}, loopback_only());
  EXPECT_GE(agent.local_ufrag().size(), 4u);  // RFC 8445 section 5.3
  EXPECT_GE(agent.local_pwd().size(), 22u);
  EXPECT_EQ(agent.local_ufrag(), agent.local_ufrag());
}

TEST(IceAgent, GathersLoopbackHostCandidatesAndReportsGatheringDone) {
  boost::asio::io_context io;
  Side side;
  side.agent =
      std::make_unique<IceAgent>(io, true, IceServerConfig{}, side.callbacks(), loopback_only());
  side.agent->gather();
  ASSERT_TRUE(run_until(io, [&] { return side.gathering_done; }));
  ASSERT_FALSE(side.candidates.empty());
  for (const std::string& candidate : side.candidates) {
    EXPECT_TRUE(candidate.starts_with("candidate:")) << candidate;
    EXPECT_NE(candidate.find(" 127.0.0.1 "), std::string::npos) << candidate;
    EXPECT_NE(candidate.find("typ host"), std::string::npos) << candidate;
  }
}

TEST(IceAgent, ConnectsOverLoopbackAndCarriesAThousandDatagramsEachWay) {
  AgentPair pair;
  ASSERT_TRUE(pair.connect());
  EXPECT_EQ(pair.controlling.connected, 1);
  EXPECT_EQ(pair.controlled.connected, 1);
  ASSERT_TRUE(pair.controlling.agent->selected_pair().has_value());
  EXPECT_NE(pair.controlling.agent->selected_pair()->find("127.0.0.1:"), std::string::npos)
      << *pair.controlling.agent->selected_pair();

  // Ping-pong, so nothing can overrun a socket buffer: each side receives exactly the
  // numbers it expects, in order.
  constexpr std::uint32_t kCount = 1000;
  std::uint32_t pongs = 0;
  std::uint32_t pings = 0;
  bool out_of_order = false;
  pair.controlled.on_datagram = [&](ByteView datagram) {
    if (number_of(datagram) != pings || datagram.size() != 1200) out_of_order = true;
    ++pings;
    EXPECT_TRUE(pair.controlled.agent->send(datagram).ok());
  };
  pair.controlling.on_datagram = [&](ByteView datagram) {
    if (number_of(datagram) != pongs) out_of_order = true;
    ++pongs;
    if (pongs < kCount) EXPECT_TRUE(pair.controlling.agent->send(numbered(pongs)).ok());
  };
  ASSERT_TRUE(pair.controlling.agent->send(numbered(0)).ok());
  ASSERT_TRUE(run_until(pair.io, [&] { return pongs == kCount; }))
      << "pings=" << pings << " pongs=" << pongs;
  EXPECT_EQ(pings, kCount);
  EXPECT_FALSE(out_of_order);
  EXPECT_FALSE(pair.controlling.failure);
  EXPECT_FALSE(pair.controlled.failure);
}

TEST(IceAgent, ABurstSentInOneTurnArrivesAsSeparateDatagramsIntactAndInOrder) {
  // A host pair's datagrams of one loop turn leave in few writes (UDP GSO runs of equal
  // size): each must still arrive alone, with its own size, in order.
  AgentPair pair;
  ASSERT_TRUE(pair.connect());
  constexpr std::uint32_t kCount = 300;
  auto size_of = [](std::uint32_t n) -> std::size_t {
    if (n % 50 == 49) return 300;   // ends a run
    if (n % 77 == 0) return 1300;   // larger than the run it follows
    return 1200;
  };
  std::vector<Bytes> got;
  pair.controlled.on_datagram = [&](ByteView d) { got.emplace_back(d.begin(), d.end()); };
  for (std::uint32_t n = 0; n < kCount; ++n) {
    ASSERT_TRUE(pair.controlling.agent->send(numbered(n, size_of(n))).ok()) << n;
  }
  ASSERT_TRUE(run_until(pair.io, [&] { return got.size() == kCount; })) << got.size();
  for (std::uint32_t n = 0; n < kCount; ++n) {
    EXPECT_EQ(got[n], numbered(n, size_of(n))) << n;
  }
}

TEST(IceAgent, SendBeforeConnectedFailsWithNotConnected) {
  AgentPair pair;
  const Bytes payload = numbered(1);
  auto sent = pair.controlling.agent->send(payload);
  ASSERT_FALSE(sent.ok());
  EXPECT_EQ(sent.error().code, ErrorCode::NotConnected);

  pair.controlling.agent->gather();
  run_for(pair.io, 1ms);  // gathering started, no remote candidates yet
  sent = pair.controlling.agent->send(payload);
  ASSERT_FALSE(sent.ok());
  EXPECT_EQ(sent.error().code, ErrorCode::NotConnected);
}

TEST(IceAgent, MalformedCandidateIsInvalidArgument) {
  boost::asio::io_context io;
  IceAgent agent(io, true, {}, {}, loopback_only());
  for (const char* bad : {"", "candidate:", "candidate:garbage", "hello world",
                          "candidate:1 1 udp 2130706431 127.0.0.1 typ host",
                          "candidate:1 1 udp 2130706431 not-an-ip.local 5000 typ host",
                          "candidate:1 2 udp 2130706431 127.0.0.1 5000 typ host"}) {
    const auto added = agent.add_remote_candidate(bad);
    ASSERT_FALSE(added.ok()) << "'" << bad << "' was accepted";
    EXPECT_EQ(added.error().code, ErrorCode::InvalidArgument) << bad;
  }
}

TEST(IceAgent, AcceptsCandidatesWithOrWithoutTheAttributePrefixAndIgnoresTcp) {
  boost::asio::io_context io;
  IceAgent agent(io, true, {}, {}, loopback_only());
  EXPECT_TRUE(
      agent.add_remote_candidate("candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host").ok());
  EXPECT_TRUE(
      agent.add_remote_candidate("a=candidate:2 1 UDP 2130706431 127.0.0.1 5001 typ host\r\n")
          .ok());
  // What browsers append after the standard fields.
  EXPECT_TRUE(agent
                  .add_remote_candidate("candidate:3 1 udp 2130706431 127.0.0.1 5002 typ host "
                                        "generation 0 ufrag abcd network-id 1")
                  .ok());
  EXPECT_TRUE(
      agent.add_remote_candidate("candidate:4 1 tcp 1518280447 127.0.0.1 9 typ host tcptype active")
          .ok());
}

TEST(IceAgent, CandidatesGivenBeforeTheCredentialsStillConnect) {
  boost::asio::io_context io;
  Side controlling;
  Side controlled;
  controlling.agent = std::make_unique<IceAgent>(io, true, IceServerConfig{},
                                                 controlling.callbacks(), loopback_only());
  controlled.agent = std::make_unique<IceAgent>(io, false, IceServerConfig{},
                                                controlled.callbacks(), loopback_only());
  controlling.peer = &controlled;
  controlled.peer = &controlling;
  controlling.agent->gather();
  controlled.agent->gather();
  ASSERT_TRUE(
      run_until(io, [&] { return controlling.gathering_done && controlled.gathering_done; }));
  // Trickled candidates are in; only now the credentials, as when SDP arrives late.
  controlling.agent->set_remote_credentials(controlled.agent->local_ufrag(),
                                            controlled.agent->local_pwd());
  controlled.agent->set_remote_credentials(controlling.agent->local_ufrag(),
                                           controlling.agent->local_pwd());
  EXPECT_TRUE(
      run_until(io, [&] { return controlling.connected == 1 && controlled.connected == 1; }));
  EXPECT_FALSE(controlling.failure);
}

TEST(IceAgent, FailsWhenThePeerNeverAnswers) {
  // A bound socket that reads nothing: checks vanish, as with a peer behind a firewall.
  boost::asio::io_context io;
  udp::socket silent(io, udp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
  Side side;
  side.agent =
      std::make_unique<IceAgent>(io, true, IceServerConfig{}, side.callbacks(), loopback_only());
  side.agent->set_remote_credentials("peerufrag", "peer-password-0123456789");
  ASSERT_TRUE(side.agent
                  ->add_remote_candidate("candidate:1 1 udp 2130706431 127.0.0.1 " +
                                         std::to_string(silent.local_endpoint().port()) +
                                         " typ host")
                  .ok());
  side.agent->remote_gathering_done();
  side.agent->gather();
  // libnice gives up after its STUN retransmissions (about 7 s); the bound is generous.
  ASSERT_TRUE(run_until(
      io, [&] { return side.failure.has_value(); }, 60s));
  EXPECT_EQ(side.failure->code, ErrorCode::NotConnected);
  EXPECT_EQ(side.connected, 0);
  EXPECT_EQ(side.agent->send(numbered(0)).error().code, ErrorCode::NotConnected);
}

TEST(IceAgent, DestroyingAnAgentFromItsOwnDatagramCallbackIsSafe) {
  AgentPair pair;
  ASSERT_TRUE(pair.connect());
  int received = 0;
  pair.controlled.on_datagram = [&](ByteView) {
    ++received;
    pair.controlled.agent.reset();
  };
  pair.controlling.peer = nullptr;
  for (std::uint32_t i = 0; i < 10; ++i)
    ASSERT_TRUE(pair.controlling.agent->send(numbered(i)).ok());
  ASSERT_TRUE(run_until(pair.io, [&] { return pair.controlled.agent == nullptr; }));
  run_for(pair.io, 50ms);
  EXPECT_EQ(received, 1);
  // The survivor keeps working (its peer is gone, so datagrams just vanish).
  EXPECT_TRUE(pair.controlling.agent->send(numbered(11)).ok());
  run_for(pair.io, 20ms);
}

TEST(IceAgent, DestroyingAgentsWhileTheLoopRunsIsSafe) {
  AgentPair pair;
  // Mid-gathering and mid-checks: destroy the controlled agent from a plain Asio handler
  // right after both start, while candidates are still trickling towards it.
  pair.controlling.agent->gather();
  pair.controlled.agent->gather();
  boost::asio::post(pair.io, [&] {
    pair.controlling.peer = nullptr;
    pair.controlled.agent.reset();
  });
  run_for(pair.io, 100ms);
  EXPECT_EQ(pair.controlled.connected, 0);
  pair.controlling.agent.reset();
  run_for(pair.io, 20ms);

  // And once connected, from inside the connected callback.
  AgentPair second;
  second.controlled.peer = nullptr;
  IceAgent::Callbacks callbacks = second.controlled.callbacks();
  bool destroyed_in_callback = false;
  second.controlling.agent = std::make_unique<IceAgent>(
      second.io, true, IceServerConfig{},
      IceAgent::Callbacks{.local_candidate =
                              [&](const std::string& c) {
                                if (second.controlled.agent) {
                                  EXPECT_TRUE(
                                      second.controlled.agent->add_remote_candidate(c).ok());
                                }
                              },
                          .gathering_done = {},
                          .connected =
                              [&] {
                                second.controlling.agent.reset();
                                destroyed_in_callback = true;
                              },
                          .datagram = {},
                          .failed = {}},
      loopback_only());
  second.controlled.peer = &second.controlling;
  second.controlling.agent->set_remote_credentials(second.controlled.agent->local_ufrag(),
                                                   second.controlled.agent->local_pwd());
  second.controlled.agent->set_remote_credentials(second.controlling.agent->local_ufrag(),
                                                  second.controlling.agent->local_pwd());
  second.controlling.agent->gather();
  second.controlled.agent->gather();
  ASSERT_TRUE(run_until(second.io, [&] { return destroyed_in_callback; }));
  run_for(second.io, 50ms);
}

std::size_t open_fds() {
  return static_cast<std::size_t>(std::distance(
      std::filesystem::directory_iterator("/proc/self/fd"), std::filesystem::directory_iterator{}));
}

TEST(IceAgent, DestroyingAnAgentClosesItsSockets) {
  boost::asio::io_context io;
  const auto gather_and_destroy = [&] {
    Side side;
    side.agent =
        std::make_unique<IceAgent>(io, true, IceServerConfig{}, side.callbacks(), loopback_only());
    side.agent->gather();
    ASSERT_TRUE(run_until(io, [&] { return side.gathering_done; }));
  };
  gather_and_destroy();  // first use sets up GLib's process-wide state
  run_for(io, 10ms);
  const std::size_t before = open_fds();
  gather_and_destroy();
  run_for(io, 10ms);
  EXPECT_EQ(open_fds(), before);
}

// The server's side, as in production: IceLiteServer on one UDP socket, answering checks
// and echoing every other datagram to the session's selected address.
class LitePeer {
 public:
  explicit LitePeer(boost::asio::io_context& io)
      : socket_(io, udp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0)) {
    receive();
  }

  std::uint16_t port() const { return socket_.local_endpoint().port(); }
  IceLiteServer& ice() { return ice_; }
  int nominations = 0;
  int checks = 0;
  int echoed = 0;
  bool answering = true;  // false: STUN is dropped unanswered

 private:
  void receive() {
    socket_.async_receive_from(boost::asio::buffer(buffer_), from_,
                               [this](const boost::system::error_code& error, std::size_t size) {
                                 if (error) return;
                                 handle(ByteView(buffer_.data(), size));
                                 receive();
                               });
  }

  void handle(ByteView datagram) {
    const SocketAddress from = *SocketAddress::parse(from_.address().to_string(), from_.port());
    if (looks_like_stun(datagram)) {
      if (!answering) return;
      auto outcome = ice_.handle_stun(datagram, from, std::chrono::steady_clock::now());
      ++checks;
      if (outcome.nominated) ++nominations;
      if (!outcome.response.empty()) socket_.send_to(boost::asio::buffer(outcome.response), from_);
      return;
    }
    const auto session = ice_.session_for(from);
    if (!session) return;
    const auto to = ice_.selected_address(*session);
    if (!to) return;
    socket_.send_to(boost::asio::buffer(datagram.data(), datagram.size()),
                    udp::endpoint(boost::asio::ip::make_address(to->ip_string()), to->port()));
    ++echoed;
  }

  udp::socket socket_;
  udp::endpoint from_;
  std::array<std::uint8_t, 2048> buffer_{};
  IceLiteServer ice_;
};

TEST(IceAgent, ControllingAgentNominatesAPairWithTheIceLiteServer) {
  boost::asio::io_context io;
  LitePeer server(io);
  const IceCredentials server_credentials{"srvUfrag", "server-password-0123456789"};
  Side client;
  client.agent =
      std::make_unique<IceAgent>(io, true, IceServerConfig{}, client.callbacks(), loopback_only());
  ASSERT_TRUE(server.ice().add_session(1, server_credentials, client.agent->local_ufrag()));
  client.agent->set_remote_credentials(server_credentials.ufrag, server_credentials.pwd);
  // The server's single candidate, and end-of-candidates: a lite agent gathers nothing else.
  ASSERT_TRUE(client.agent
                  ->add_remote_candidate("candidate:1 1 udp 2130706431 127.0.0.1 " +
                                         std::to_string(server.port()) + " typ host")
                  .ok());
  client.agent->remote_gathering_done();
  client.agent->gather();

  ASSERT_TRUE(run_until(io, [&] { return client.connected == 1 || client.failure; }));
  ASSERT_FALSE(client.failure) << client.failure->message;
  ASSERT_TRUE(run_until(io, [&] { return server.nominations >= 1; }))
      << "the server saw " << server.checks << " checks, none with USE-CANDIDATE";

  std::vector<std::uint32_t> echoes;
  client.on_datagram = [&](ByteView datagram) { echoes.push_back(number_of(datagram)); };
  for (std::uint32_t i = 0; i < 20; ++i) {
    ASSERT_TRUE(client.agent->send(numbered(i)).ok());
    ASSERT_TRUE(run_until(io, [&] { return echoes.size() == i + 1; })) << "echo " << i;
    EXPECT_EQ(echoes.back(), i);
  }
  // The pair the client selected is the address the server nominated.
  const auto selected = server.ice().selected_address(1);
  ASSERT_TRUE(selected.has_value());
  EXPECT_TRUE(client.agent->selected_pair()->starts_with(selected->to_string() + " -> "))
      << *client.agent->selected_pair() << " vs " << selected->to_string();
}

TEST(IceAgent, APeerThatStopsAnsweringChecksDoesNotFailTheSelectedPair) {
  // No consent freshness from libnice: its 10 s without an answered check fails working
  // paths under heavy loss. The SDK's acknowledgements judge the direct path instead
  // (client::CallTransport::kDirectSilence). With libnice's consent on, this fails at 10 s.
  boost::asio::io_context io;
  LitePeer server(io);
  const IceCredentials server_credentials{"srvUfrag", "server-password-0123456789"};
  Side client;
  client.agent =
      std::make_unique<IceAgent>(io, true, IceServerConfig{}, client.callbacks(), loopback_only());
  ASSERT_TRUE(server.ice().add_session(1, server_credentials, client.agent->local_ufrag()));
  client.agent->set_remote_credentials(server_credentials.ufrag, server_credentials.pwd);
  ASSERT_TRUE(client.agent
                  ->add_remote_candidate("candidate:1 1 udp 2130706431 127.0.0.1 " +
                                         std::to_string(server.port()) + " typ host")
                  .ok());
  client.agent->remote_gathering_done();
  client.agent->gather();
  ASSERT_TRUE(run_until(io, [&] { return server.nominations >= 1 && client.connected != 0; }));
  server.answering = false;
  EXPECT_FALSE(run_until(io, [&] { return client.failure.has_value(); }, 12s));
  EXPECT_TRUE(client.agent->send(ByteView(reinterpret_cast<const std::uint8_t*>("x"), 1)).ok());
}

// A STUN server that maps every client to 127.0.0.1 on a different port, so the agent's
// server-reflexive candidate differs from its host candidate while staying on loopback.
class StunResponder {
 public:
  explicit StunResponder(boost::asio::io_context& io)
      : socket_(io, udp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0)) {
    receive();
  }
  std::uint16_t port() const { return socket_.local_endpoint().port(); }
  int requests = 0;

 private:
  void receive() {
    socket_.async_receive_from(boost::asio::buffer(buffer_), from_,
                               [this](const boost::system::error_code& error, std::size_t size) {
                                 if (error) return;
                                 const ByteView datagram(buffer_.data(), size);
                                 // libnice asks in RFC 3489 style (no magic cookie; a 16-byte
                                 // transaction id), which every STUN server still answers, with
                                 // MAPPED-ADDRESS.
                                 if (size >= 20 && datagram[0] == 0x00 && datagram[1] == 0x01) {
                                   ++requests;
                                   const auto mapped_port = static_cast<std::uint16_t>(
                                       from_.port() == 65535 ? 1024 : from_.port() + 1);
                                   Bytes response;
                                   put_u16(response, 0x0101);  // Binding success
                                   put_u16(response, 12);
                                   put_bytes(response, datagram.subspan(4, 16));
                                   put_u16(response, stun_attr::kMappedAddress);
                                   put_u16(response, 8);
                                   put_u16(response, 0x0001);  // IPv4
                                   put_u16(response, mapped_port);
                                   put_bytes(response, std::array<std::uint8_t, 4>{127, 0, 0, 1});
                                   socket_.send_to(boost::asio::buffer(response), from_);
                                 }
                                 receive();
                               });
  }

  udp::socket socket_;
  udp::endpoint from_;
  std::array<std::uint8_t, 2048> buffer_{};
};

TEST(IceAgent, GathersAServerReflexiveCandidateFromTheStunServer) {
  boost::asio::io_context io;
  StunResponder stun(io);
  Side side;
  side.agent = std::make_unique<IceAgent>(
      io, true, IceServerConfig{.stun_servers = {"127.0.0.1:" + std::to_string(stun.port())}},
      side.callbacks(), loopback_only());
  side.agent->gather();
  ASSERT_TRUE(run_until(io, [&] { return side.gathering_done; }));
  EXPECT_GE(stun.requests, 1);
  bool srflx = false;
  for (const std::string& candidate : side.candidates) {
    if (candidate.find("typ srflx") != std::string::npos) srflx = true;
  }
  EXPECT_TRUE(srflx) << "candidates: " << ::testing::PrintToString(side.candidates);
}

}  // namespace
}  // namespace switchboard::webrtc
