#include "server/turn_credentials.hpp"

#include <chrono>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "server_harness.hpp"

namespace switchboard::server {
namespace {

TEST(TurnCredentials, Base64IsStandardAndPadded) {
  // RFC 4648 section 10 test vectors.
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foob"), "Zm9vYg==");
  EXPECT_EQ(base64_encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  // '+' and '/', not base64url's '-' and '_'.
  EXPECT_EQ(base64_encode(std::string("\xfb\xff\xbf", 3)), "+/+/");
}

TEST(TurnCredentials, MatchesCoturnRestConvention) {
  // Expected values computed independently with
  //   printf %s "$username" | openssl dgst -sha1 -hmac "$secret" -binary | base64
  const TurnCredentials a =
      mint_turn_credentials("north-wind-42", "alice@example.org", 1'700'000'000, 3600);
  EXPECT_EQ(a.username, "1700003600:alice@example.org");
  EXPECT_EQ(a.credential, "yCbi+93qJuFYtJAyJABAHxON4ik=");

  const TurnCredentials b = mint_turn_credentials("s", "bob", 1'700'000'000, 60);
  EXPECT_EQ(b.username, "1700000060:bob");
  EXPECT_EQ(b.credential, "7AJXzcOyAiNrLxdE4CqNHEdM4nw=");
}

TEST(TurnCredentials, UsernameCarriesTheExpiryNotTheMintingTime) {
  const auto c = mint_turn_credentials("secret", "carol", 1000, 1);
  EXPECT_EQ(c.username, "1001:carol");
  const auto d = mint_turn_credentials("secret", "carol", 1'800'000'000, 86'400);
  EXPECT_EQ(d.username, "1800086400:carol");
  // Pure: the same inputs mint the same credentials; a different expiry, secret or
  // identity changes the HMAC.
  EXPECT_EQ(d, mint_turn_credentials("secret", "carol", 1'800'000'000, 86'400));
  EXPECT_NE(d.credential,
            mint_turn_credentials("secret", "carol", 1'800'000'001, 86'400).credential);
  EXPECT_NE(d.credential,
            mint_turn_credentials("secreT", "carol", 1'800'000'000, 86'400).credential);
  EXPECT_NE(d.credential,
            mint_turn_credentials("secret", "carl", 1'800'000'000, 86'400).credential);
  // HMAC-SHA1 is 20 bytes: 28 base64 characters ending in one '='.
  EXPECT_EQ(d.credential.size(), 28u);
  EXPECT_EQ(d.credential.back(), '=');
}

TEST(TurnCredentials, IceServersForComposesStaticStunAndTurnEntries) {
  ServerConfig config;
  config.ice_servers = {signaling::IceServer{
      .urls = {"turn:static.example.org"}, .username = "u", .credential = "p"}};
  config.stun_urls = {"stun:stun1.example.org:3478", "stun:stun2.example.org"};
  config.turn_urls = {"turn:turn.example.org:3478?transport=udp",
                      "turn:turn.example.org:443?transport=tcp"};
  config.turn_secret = "north-wind-42";
  config.turn_credential_ttl_s = 3600;

  const auto servers = ice_servers_for(config, "alice@example.org", 1'700'000'000);
  ASSERT_EQ(servers.size(), 3u);
  EXPECT_EQ(servers[0], config.ice_servers[0]);
  EXPECT_EQ(servers[1].urls, config.stun_urls);
  EXPECT_FALSE(servers[1].username.has_value());
  EXPECT_FALSE(servers[1].credential.has_value());
  EXPECT_EQ(servers[2].urls, config.turn_urls);
  EXPECT_EQ(servers[2].username, "1700003600:alice@example.org");
  EXPECT_EQ(servers[2].credential, "yCbi+93qJuFYtJAyJABAHxON4ik=");

  // Minted per join: a later join gets a later expiry.
  const auto later = ice_servers_for(config, "alice@example.org", 1'700'000'100);
  EXPECT_EQ(later[2].username, "1700003700:alice@example.org");
}

TEST(TurnCredentials, IceServersForLeavesOutWhatIsNotConfigured) {
  ServerConfig config;
  EXPECT_TRUE(ice_servers_for(config, "a", 0).empty());

  config.stun_urls = {"stun:127.0.0.1:3478"};
  auto servers = ice_servers_for(config, "a", 0);
  ASSERT_EQ(servers.size(), 1u);
  EXPECT_EQ(servers[0].urls, config.stun_urls);

  config.stun_urls.clear();
  config.turn_urls = {"turn:127.0.0.1:3478"};
  config.turn_secret = "s";
  config.turn_credential_ttl_s = 60;
  servers = ice_servers_for(config, "bob", 1'700'000'000);
  ASSERT_EQ(servers.size(), 1u);
  EXPECT_EQ(servers[0].username, "1700000060:bob");
  EXPECT_EQ(servers[0].credential, "7AJXzcOyAiNrLxdE4CqNHEdM4nw=");
}

TEST(TurnCredentials, JoinedCarriesStunAndFreshTurnCredentialsForTheJoiner) {
  auto config = testing::test_config();
  config.ice_servers = {{.urls = {"stun:static.example.org"}, .username = {}, .credential = {}}};
  config.stun_urls = {"stun:127.0.0.1:3478"};
  config.turn_urls = {"turn:127.0.0.1:3478?transport=udp"};
  config.turn_secret = "north-wind-42";
  config.turn_credential_ttl_s = 600;
  ASSERT_TRUE(validate(config));
  testing::ServerThread server(config);
  testing::SignalClient alice(server.port());
  const auto before = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  const auto joined = alice.join("alice", "c1");
  const auto after = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  ASSERT_EQ(joined["type"], "joined") << joined.dump();
  const auto& servers = joined["iceServers"];
  ASSERT_EQ(servers.size(), 3u) << joined.dump();
  EXPECT_EQ(servers[0]["urls"][0], "stun:static.example.org");
  EXPECT_EQ(servers[1]["urls"][0], "stun:127.0.0.1:3478");
  EXPECT_FALSE(servers[1].contains("username"));
  EXPECT_EQ(servers[2]["urls"][0], "turn:127.0.0.1:3478?transport=udp");
  // Minted at join time for the token's identity: it must be one of the credentials
  // mint_turn_credentials gives for a moment during the join.
  const std::string username = servers[2]["username"];
  const std::string credential = servers[2]["credential"];
  bool matched = false;
  for (auto now = before; now <= after; ++now) {
    const auto expected = mint_turn_credentials("north-wind-42", "alice", now, 600);
    matched = matched || (username == expected.username && credential == expected.credential);
  }
  EXPECT_TRUE(matched) << username << " " << credential;
}

}  // namespace
}  // namespace switchboard::server
