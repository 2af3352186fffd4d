#include "server/turn_credentials.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace switchboard::server
