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

TEST(ServerConfig, LimitsHaveSafeDefaultsAndComeFromTomlJsonAndFlags) {
  auto defaults = resolve_config({}, std::string("s"));
  ASSERT_TRUE(defaults) << defaults.error().message;
  EXPECT_EQ(defaults->max_calls, 10000u);
  EXPECT_EQ(defaults->max_connections_per_address, 64u);
  EXPECT_EQ(defaults->join_rate_per_address, 20u);
  EXPECT_EQ(defaults->join_burst_per_address, 40u);
  EXPECT_EQ(defaults->http_request_timeout_s, 10u);
  EXPECT_EQ(defaults->join_timeout_s, 10u);
  EXPECT_EQ(defaults->data_connect_timeout_s, 15u);
  EXPECT_EQ(defaults->signaling_idle_timeout_s, 60u);

  ServerConfig c;
  ASSERT_TRUE(apply_config_text(R"(max_calls = 5
max_connections_per_address = 7
join_rate_per_address = 3
join_burst_per_address = 4
http_request_timeout_s = 2
join_timeout_s = 3
data_connect_timeout_s = 4
signaling_idle_timeout_s = 25
)",
                                ConfigFormat::Toml, c));
  EXPECT_EQ(c.max_calls, 5u);
  EXPECT_EQ(c.max_connections_per_address, 7u);
  EXPECT_EQ(c.join_rate_per_address, 3u);
  EXPECT_EQ(c.join_burst_per_address, 4u);
  EXPECT_EQ(c.http_request_timeout_s, 2u);
  EXPECT_EQ(c.join_timeout_s, 3u);
  EXPECT_EQ(c.data_connect_timeout_s, 4u);
  EXPECT_EQ(c.signaling_idle_timeout_s, 25u);
  ASSERT_TRUE(apply_config_text(R"({"max_calls": 9, "join_rate_per_address": 0})",
                                ConfigFormat::Json, c));
  EXPECT_EQ(c.max_calls, 9u);
  EXPECT_EQ(c.join_rate_per_address, 0u);

  ConfigOverrides o;
  o.max_calls = 2;
  o.max_connections_per_address = 0;  // unlimited
  o.join_timeout_s = 1;
  o.signaling_idle_timeout_s = 20;
  auto flags = resolve_config(o, std::string("s"));
  ASSERT_TRUE(flags) << flags.error().message;
  EXPECT_EQ(flags->max_calls, 2u);
  EXPECT_EQ(flags->max_connections_per_address, 0u);
  EXPECT_EQ(flags->join_timeout_s, 1u);
  EXPECT_EQ(flags->signaling_idle_timeout_s, 20u);
}

TEST(ServerConfig, RejectsLimitsThatCannotWork) {
  auto refused = [](ConfigOverrides o, std::string_view names) {
    auto r = resolve_config(o, std::string("s"));
    ASSERT_FALSE(r) << names;
    EXPECT_NE(r.error().message.find(names), std::string::npos) << r.error().message;
  };
  ConfigOverrides o;
  o.max_calls = 0;
  refused(o, "max_calls");
  o = {};
  o.join_timeout_s = 0;
  refused(o, "join_timeout_s");
  o = {};
  o.data_connect_timeout_s = 3601;
  refused(o, "data_connect_timeout_s");
  o = {};
  o.http_request_timeout_s = 0;
  refused(o, "http_request_timeout_s");
  o = {};
  // Shorter than the clients' ping interval would drop quiet, honest clients.
  o.signaling_idle_timeout_s = 19;
  refused(o, "signaling_idle_timeout_s");
  o = {};
  o.join_burst_per_address = 0;
  refused(o, "join_burst_per_address");
  ServerConfig c;
  EXPECT_FALSE(apply_config_text(R"({"max_calls": -1})", ConfigFormat::Json, c));
  EXPECT_FALSE(apply_config_text(R"({"join_timeout_s": "10"})", ConfigFormat::Json, c));
}

}  // namespace
}  // namespace switchboard::server
