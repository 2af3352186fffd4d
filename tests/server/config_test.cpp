#include "server/config.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "signaling/token.hpp"

namespace switchboard::server {
namespace {

std::string write_temp(const std::string& name, const std::string& text) {
  auto path = std::filesystem::temp_directory_path() /
              ("sb-config-" + std::to_string(::getpid()) + "-" + name);
  std::ofstream(path) << text;
  return path.string();
}

TEST(ServerConfig, DefaultsNeedASecret) {
  auto c = resolve_config({}, std::nullopt);
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("secret"), std::string::npos);
}

TEST(ServerConfig, SecretFromEnvironmentAndDefaults) {
  auto c = resolve_config({}, std::string("s3cret"));
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->secret, "s3cret");
  EXPECT_EQ(c->bind, "127.0.0.1");
  EXPECT_EQ(c->port, 8480);
  EXPECT_EQ(c->public_ip, "127.0.0.1");
  EXPECT_EQ(c->max_message_size, 262144u);
  EXPECT_EQ(c->rate_limit_bytes_per_second, 12'500'000u);
  EXPECT_EQ(c->rate_limit_messages_per_second, 50'000u);
  EXPECT_EQ(c->latency_target_ms, 100u);
  EXPECT_EQ(c->durable_queue_bytes, 8u * 1024 * 1024);
  EXPECT_EQ(c->max_participants_per_call, 1000u);
}

TEST(ServerConfig, WildcardBindAnnouncesLoopbackUnlessGiven) {
  ConfigOverrides o;
  o.bind = "0.0.0.0";
  auto c = resolve_config(o, std::string("s"));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->public_ip, "127.0.0.1");
  o.public_ip = "203.0.113.7";
  c = resolve_config(o, std::string("s"));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->public_ip, "203.0.113.7");
}

TEST(ServerConfig, DevUsesDevelopmentSecretOnLoopbackOnly) {
  ConfigOverrides o;
  o.dev = true;
  auto c = resolve_config(o, std::nullopt);
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->secret, signaling::kDevelopmentSecret);
  o.bind = "0.0.0.0";
  c = resolve_config(o, std::nullopt);
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("loopback"), std::string::npos);
}

TEST(ServerConfig, TomlFileThenFlagsOverride) {
  const auto secret = write_temp("secret", "from-file\n");
  const auto path = write_temp("a.toml", R"(
bind = "127.0.0.1"
port = 9000
secret_file = ")" + secret + R"("
max_message_size = 1000
rate_limit_bytes_per_second = 0
log_level = "debug"

[[ice_servers]]
urls = ["stun:stun.example.org:3478"]

[[ice_servers]]
urls = "turn:turn.example.org:3478?transport=udp"
username = "u"
credential = "p"
)");
  ConfigOverrides o;
  o.config_file = path;
  o.port = 9100;
  auto c = resolve_config(o, std::string("from-env"));
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->port, 9100);
  EXPECT_EQ(c->secret, "from-file");
  EXPECT_EQ(c->max_message_size, 1000u);
  EXPECT_EQ(c->rate_limit_bytes_per_second, 0u);
  EXPECT_EQ(c->log_level, "debug");
  ASSERT_EQ(c->ice_servers.size(), 2u);
  EXPECT_EQ(c->ice_servers[0].urls, std::vector<std::string>{"stun:stun.example.org:3478"});
  EXPECT_EQ(c->ice_servers[1].username, "u");
  EXPECT_EQ(c->ice_servers[1].credential, "p");
}

TEST(ServerConfig, JsonFileWithSameKeys) {
  const auto path =
      write_temp("b.json", R"({"port": 0, "latency_target_ms": 50, "durable_queue_bytes": 1048576,
                              "max_participants_per_call": 3, "dev": true})");
  ConfigOverrides o;
  o.config_file = path;
  auto c = resolve_config(o, std::nullopt);
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->port, 0);
  EXPECT_EQ(c->latency_target_ms, 50u);
  EXPECT_EQ(c->durable_queue_bytes, 1048576u);
  EXPECT_EQ(c->max_participants_per_call, 3u);
  EXPECT_TRUE(c->dev);
}

TEST(ServerConfig, RejectsUnknownKeysWrongTypesAndBadValues) {
  ServerConfig c;
  auto r = apply_config_text("prot = 1\n", ConfigFormat::Toml, c);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("prot"), std::string::npos);
  r = apply_config_text(R"({"port": "80"})", ConfigFormat::Json, c);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("port"), std::string::npos);
  r = apply_config_text(R"({"port": 70000})", ConfigFormat::Json, c);
  EXPECT_FALSE(r);
  r = apply_config_text("port = [", ConfigFormat::Toml, c);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("TOML"), std::string::npos);
  r = apply_config_text("{", ConfigFormat::Json, c);
  EXPECT_FALSE(r);

  ConfigOverrides o;
  o.max_message_size = 17u * 1024 * 1024;
  EXPECT_FALSE(resolve_config(o, std::string("s")));
  o = {};
  o.bind = "not-an-ip";
  EXPECT_FALSE(resolve_config(o, std::string("s")));
  o = {};
  o.log_level = "loud";
  EXPECT_FALSE(resolve_config(o, std::string("s")));
  o = {};
  o.config_file = "/nonexistent/x.yaml";
  EXPECT_FALSE(resolve_config(o, std::string("s")));
}

TEST(ServerConfig, StunAndTurnSettingsFromTomlJsonAndFlags) {
  const auto turn_secret = write_temp("turn-secret", "coturn-shared\n");
  const auto toml = write_temp("turn.toml", R"(
stun_urls = ["stun:stun.example.org:3478"]
turn_urls = ["turn:turn.example.org:3478?transport=udp", "turns:turn.example.org:5349"]
turn_secret_file = ")" + turn_secret + R"("
turn_credential_ttl_s = 600
)");
  ConfigOverrides o;
  o.config_file = toml;
  auto c = resolve_config(o, std::string("s"));
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->stun_urls, std::vector<std::string>{"stun:stun.example.org:3478"});
  EXPECT_EQ(c->turn_urls, (std::vector<std::string>{"turn:turn.example.org:3478?transport=udp",
                                                    "turns:turn.example.org:5349"}));
  EXPECT_EQ(c->turn_secret, "coturn-shared");
  EXPECT_EQ(c->turn_credential_ttl_s, 600u);

  // Flags replace the file's lists and secret.
  const auto flag_secret = write_temp("turn-secret-2", "from-flag");
  o.turn_urls = std::vector<std::string>{"turn:127.0.0.1:3478"};
  o.turn_secret_file = flag_secret;
  o.turn_credential_ttl_s = 90;
  o.stun_urls = std::vector<std::string>{};
  c = resolve_config(o, std::string("s"));
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_TRUE(c->stun_urls.empty());
  EXPECT_EQ(c->turn_urls, std::vector<std::string>{"turn:127.0.0.1:3478"});
  EXPECT_EQ(c->turn_secret, "from-flag");
  EXPECT_EQ(c->turn_credential_ttl_s, 90u);

  ServerConfig j;
  ASSERT_TRUE(
      apply_config_text(R"({"stun_urls": ["stun:a"], "turn_urls": ["turn:b"], "turn_secret": "x"})",
                        ConfigFormat::Json, j));
  EXPECT_EQ(j.stun_urls, std::vector<std::string>{"stun:a"});
  EXPECT_EQ(j.turn_urls, std::vector<std::string>{"turn:b"});
  EXPECT_EQ(j.turn_secret, "x");
  EXPECT_EQ(j.turn_credential_ttl_s, 3600u);  // the default
}

TEST(ServerConfig, TurnUrlsAndTurnSecretComeTogether) {
  ConfigOverrides o;
  o.turn_urls = std::vector<std::string>{"turn:127.0.0.1:3478"};
  auto c = resolve_config(o, std::string("s"));
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("turn-secret-file"), std::string::npos) << c.error().message;

  o = {};
  o.turn_secret_file = write_temp("turn-secret-3", "lonely");
  c = resolve_config(o, std::string("s"));
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("turn_urls"), std::string::npos) << c.error().message;

  o.turn_urls = std::vector<std::string>{"turn:127.0.0.1:3478"};
  EXPECT_TRUE(resolve_config(o, std::string("s")));
}

TEST(ServerConfig, RejectsBadStunAndTurnSettings) {
  ServerConfig c;
  EXPECT_FALSE(apply_config_text(R"({"stun_urls": "stun:a"})", ConfigFormat::Json, c));
  EXPECT_FALSE(apply_config_text(R"({"turn_urls": [1]})", ConfigFormat::Json, c));
  EXPECT_FALSE(apply_config_text(R"({"turn_credential_ttl_s": -5})", ConfigFormat::Json, c));
  EXPECT_FALSE(
      apply_config_text(R"({"turn_secret_file": "/nonexistent/s"})", ConfigFormat::Json, c));

  ConfigOverrides o;
  o.stun_urls = std::vector<std::string>{"turn:wrong-scheme"};
  auto r = resolve_config(o, std::string("s"));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("stun_urls"), std::string::npos);
  o = {};
  o.turn_urls = std::vector<std::string>{"turn.example.org:3478"};
  o.turn_secret_file = write_temp("turn-secret-4", "x");
  EXPECT_FALSE(resolve_config(o, std::string("s")));
  o.turn_urls = std::vector<std::string>{"turn:turn.example.org"};
  o.turn_credential_ttl_s = 0;
  r = resolve_config(o, std::string("s"));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("turn_credential_ttl_s"), std::string::npos);
  o.turn_credential_ttl_s = 3600;
  ASSERT_TRUE(resolve_config(o, std::string("s")));
  // joined carries at most kMaxIceServers entries; stun_urls and turn_urls take one each.
  const auto full = write_temp("full.json", [] {
    std::string text = R"({"ice_servers": [)";
    for (std::size_t i = 0; i < signaling::kMaxIceServers; ++i) {
      text += std::string(i == 0 ? "" : ",") + R"({"urls": "stun:s)" + std::to_string(i) + R"("})";
    }
    return text + "]}";
  }());
  o.config_file = full;
  r = resolve_config(o, std::string("s"));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("ice_servers"), std::string::npos);
}

// Found while writing the config fuzz target: a secret file naming an endless device was read
// until memory ran out. Now the read stops after 1 MiB and says why.
TEST(ServerConfig, ASecretFileThatNeverEndsIsRefusedNotReadForever) {
  ServerConfig c;
  for (const char* key : {"secret_file", "turn_secret_file"}) {
    const std::string text = std::string(R"({")") + key + R"(": "/dev/zero"})";
    auto r = apply_config_text(text, ConfigFormat::Json, c);
    ASSERT_FALSE(r) << key;
    EXPECT_EQ(r.error().code, ErrorCode::InvalidArgument);
    EXPECT_NE(r.error().message.find("larger than 1 MiB"), std::string::npos) << r.error().message;
  }
}

}  // namespace
}  // namespace switchboard::server
