// Two full ICE agents that may only talk through a TURN relay: a real coturn `turnserver`
// (Debian's coturn, installed by scripts/setup) that this test starts on 127.0.0.1, with
// TURN REST credentials minted by the server's own code. No skip: a missing turnserver
// is a failure, because this is the only test of the relay path.

#include <array>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "coturn.hpp"
#include "ice_side.hpp"
#include "server/turn_credentials.hpp"
#include "webrtc/ice_agent.hpp"

namespace switchboard::webrtc {
namespace {

using namespace std::chrono_literals;
using boost::asio::ip::udp;

constexpr const char* kTurnSecret = testing::kCoturnSecret;

using testing::Coturn;

bool run_until(boost::asio::io_context& io, const std::function<bool()>& done,
               std::chrono::steady_clock::duration limit = 30s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    io.run_for(10ms);
    if (io.stopped()) io.restart();
  }
  return done();
}

using testing::Side;

IceServerConfig relay_only(std::uint16_t turn_port, std::string_view identity) {
  const auto credentials =
      server::mint_turn_credentials(kTurnSecret, identity, std::time(nullptr), 600);
  IceServerConfig config;
  config.turn_servers.push_back(IceServerConfig::Turn{.host = "127.0.0.1",
                                                      .port = turn_port,
                                                      .username = credentials.username,
                                                      .password = credentials.credential});
  config.force_relay = true;
  return config;
}

Bytes numbered(std::uint32_t n, std::size_t size = 1000) {
  Bytes out;
  put_u32(out, n);
  out.resize(size, static_cast<std::uint8_t>(n * 13));
  return out;
}

std::uint32_t number_of(ByteView datagram) {
  return datagram.size() >= 4 ? load_u32(datagram.data()) : 0xffffffffu;
}

TEST(IceTurn, ForcedRelayAgentsConnectThroughCoturnAndCarryDatagramsBothWays) {
  Coturn coturn;
  ASSERT_TRUE(coturn.start());

  boost::asio::io_context io;
  Side controlling;
  Side controlled;
  const IceServerConfig alice = relay_only(coturn.port(), "alice");
  const IceServerConfig bob = relay_only(coturn.port(), "bob");
  controlling.agent = std::make_unique<IceAgent>(io, true, alice, controlling.callbacks(),
                                                 std::vector<std::string>{"127.0.0.1"});
  controlled.agent = std::make_unique<IceAgent>(io, false, bob, controlled.callbacks(),
                                                std::vector<std::string>{"127.0.0.1"});
  controlling.peer = &controlled;
  controlled.peer = &controlling;
  controlling.agent->set_remote_credentials(controlled.agent->local_ufrag(),
                                            controlled.agent->local_pwd());
  controlled.agent->set_remote_credentials(controlling.agent->local_ufrag(),
                                           controlling.agent->local_pwd());
  controlling.agent->gather();
  controlled.agent->gather();

  ASSERT_TRUE(run_until(io,
                        [&] {
                          return (controlling.connected != 0 && controlled.connected != 0) ||
                                 controlling.failure || controlled.failure;
                        }))
      << "no connection; coturn's log:\n"
      << coturn.log_text();
  ASSERT_FALSE(controlling.failure) << controlling.failure->message << "\n" << coturn.log_text();
  ASSERT_FALSE(controlled.failure) << controlled.failure->message << "\n" << coturn.log_text();

  // force-relay: only relay candidates were announced, and the pair is relay to relay.
  for (const Side* side : {&controlling, &controlled}) {
    ASSERT_FALSE(side->candidates.empty());
    for (const std::string& candidate : side->candidates) {
      EXPECT_NE(candidate.find("typ relay"), std::string::npos) << candidate;
    }
    const auto pair = side->agent->selected_pair();
    ASSERT_TRUE(pair.has_value());
    EXPECT_TRUE(pair->ends_with("(relay)")) << *pair;
  }

  // coturn accepted the minted credentials and relayed for both.
  for (const IceServerConfig* config : {&alice, &bob}) {
    EXPECT_TRUE(coturn.logged("user <" + config->turn_servers[0].username +
                              ">: incoming packet ALLOCATE processed, success"))
        << coturn.log_text();
  }

  // Ping-pong through the relay: 200 datagrams each way, each exactly once and in order.
  constexpr std::uint32_t kCount = 200;
  std::uint32_t pings = 0;
  std::uint32_t pongs = 0;
  bool out_of_order = false;
  controlled.on_datagram = [&](ByteView datagram) {
    if (number_of(datagram) != pings || datagram.size() != 1000) out_of_order = true;
    ++pings;
    EXPECT_TRUE(controlled.agent->send(datagram).ok());
  };
  controlling.on_datagram = [&](ByteView datagram) {
    if (number_of(datagram) != pongs) out_of_order = true;
    ++pongs;
    if (pongs < kCount) EXPECT_TRUE(controlling.agent->send(numbered(pongs)).ok());
  };
  ASSERT_TRUE(controlling.agent->send(numbered(0)).ok());
  ASSERT_TRUE(run_until(io, [&] { return pongs == kCount; }))
      << "pings=" << pings << " pongs=" << pongs << "; coturn's log:\n"
      << coturn.log_text();
  EXPECT_EQ(pings, kCount);
  EXPECT_FALSE(out_of_order);

  controlling.agent.reset();
  controlled.agent.reset();
  coturn.stop();
}

TEST(IceTurn, WrongTurnSecretGathersNoRelayCandidate) {
  // The credentials are what coturn checks: minted with another secret, the allocation is
  // refused, so a forced-relay agent has nothing to offer.
  Coturn coturn;
  ASSERT_TRUE(coturn.start());
  boost::asio::io_context io;
  Side side;
  const auto wrong =
      server::mint_turn_credentials("not-the-secret", "mallory", std::time(nullptr), 600);
  IceServerConfig config;
  config.turn_servers.push_back(IceServerConfig::Turn{.host = "127.0.0.1",
                                                      .port = coturn.port(),
                                                      .username = wrong.username,
                                                      .password = wrong.credential});
  config.force_relay = true;
  side.agent = std::make_unique<IceAgent>(io, true, config, side.callbacks(),
                                          std::vector<std::string>{"127.0.0.1"});
  side.agent->gather();
  ASSERT_TRUE(run_until(io, [&] { return side.gathering_done; }));
  EXPECT_TRUE(side.candidates.empty()) << ::testing::PrintToString(side.candidates);
  EXPECT_TRUE(coturn.logged("user <" + wrong.username + ">:", "error 401")) << coturn.log_text();
}

}  // namespace
}  // namespace switchboard::webrtc
