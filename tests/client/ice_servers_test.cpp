#include "client/ice_servers.hpp"

#include <gtest/gtest.h>

namespace switchboard::client {
namespace {

using signaling::IceServer;

TEST(IceServers, StunAndTurnUrisBecomeLibniceServers) {
  auto config = to_ice_config({
      IceServer{{"stun:stun.example.org", "stun:192.0.2.1:3479", "stun:[2001:db8::1]:3480"},
                std::nullopt,
                std::nullopt},
      IceServer{{"turn:turn.example.org?transport=udp", "turn:[::1]:5000"},
                "1700000000:alice",
                "c2VjcmV0"},
  });
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(
      config->stun_servers,
      (std::vector<std::string>{"stun.example.org:3478", "192.0.2.1:3479", "[2001:db8::1]:3480"}));
  ASSERT_EQ(config->turn_servers.size(), 2u);
  EXPECT_EQ(config->turn_servers[0].host, "turn.example.org");
  EXPECT_EQ(config->turn_servers[0].port, 3478);
  EXPECT_EQ(config->turn_servers[0].username, "1700000000:alice");
  EXPECT_EQ(config->turn_servers[0].password, "c2VjcmV0");
  EXPECT_EQ(config->turn_servers[1].host, "::1");
  EXPECT_EQ(config->turn_servers[1].port, 5000);
}

TEST(IceServers, WhatLibniceCannotUseHereIsSkipped) {
  auto config = to_ice_config({
      IceServer{
          {"stuns:s.example.org", "turns:t.example.org:5349", "turn:t.example.org?transport=tcp"},
          "u",
          "p"},
      IceServer{{"turn:no-credentials.example.org"}, std::nullopt, std::nullopt},
  });
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_TRUE(config->stun_servers.empty());
  EXPECT_TRUE(config->turn_servers.empty());
}

TEST(IceServers, MalformedUrisAreRefusedByName) {
  for (const char* uri :
       {"stun.example.org", "http://x", "stun:", "stun:host:0", "stun:host:70000", "stun:host:12ab",
        "stun:[::1", "stun:[::1]x", "stun:host?x=1", "turn:host?transport=sctp"}) {
    auto config = to_ice_config({IceServer{{uri}, "u", "p"}});
    ASSERT_FALSE(config.ok()) << uri;
    EXPECT_EQ(config.error().code, ErrorCode::InvalidArgument);
    EXPECT_NE(config.error().message.find(uri), std::string::npos) << config.error().message;
  }
}

}  // namespace
}  // namespace switchboard::client
