// The scale-out settings: Redis URLs, node ids, and the configuration rules around them.
#include <gtest/gtest.h>

#include "server/cluster.hpp"
#include "server/cluster_redis.hpp"
#include "server/config.hpp"

namespace switchboard::server {
namespace {

TEST(RedisUrl, HostPortAndDatabase) {
  auto a = parse_redis_url("redis://127.0.0.1:6380/2");
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 6380);
  EXPECT_EQ(a->db, 2);
  EXPECT_EQ(a->to_string(), "redis://127.0.0.1:6380/2");
  auto b = parse_redis_url("redis://cache.internal");
  ASSERT_TRUE(b) << b.error().message;
  EXPECT_EQ(b->host, "cache.internal");
  EXPECT_EQ(b->port, 6379);
  EXPECT_EQ(b->db, 0);
}

TEST(RedisUrl, MalformedOnesNameWhatIsWrong) {
  const std::pair<const char*, const char*> cases[] = {
      {"http://127.0.0.1:6379", "redis://"},
      {"redis://", "host"},
      {"redis://h:0", "port"},
      {"redis://h:70000", "port"},
      {"redis://h:12x", "port"},
      {"redis://h:6379/x", "database"},
      {"redis://user:pw@h:6379", "credentials"},
  };
  for (const auto& [url, why] : cases) {
    auto r = parse_redis_url(url);
    ASSERT_FALSE(r) << url;
    EXPECT_EQ(r.error().code, ErrorCode::InvalidArgument) << url;
    EXPECT_NE(r.error().message.find(why), std::string::npos) << url << ": " << r.error().message;
  }
}

TEST(NodeId, LettersDigitsAndSomePunctuation) {
  EXPECT_TRUE(valid_node_id("node-1.eu_west"));
  EXPECT_FALSE(valid_node_id(""));
  EXPECT_FALSE(valid_node_id("a b"));
  EXPECT_FALSE(valid_node_id("a:b"));
  EXPECT_FALSE(valid_node_id(std::string(65, 'a')));
}

Result<ServerConfig> with(ConfigOverrides o) {
  o.dev = true;
  return resolve_config(o, std::nullopt);
}

TEST(ServerConfig, WithoutRedisNoClusterSettingIsAccepted) {
  auto plain = with({});
  ASSERT_TRUE(plain) << plain.error().message;
  EXPECT_TRUE(plain->redis.empty());
  ConfigOverrides o;
  o.node_id = "a";
  auto lonely = with(o);
  ASSERT_FALSE(lonely);
  EXPECT_NE(lonely.error().message.find("--redis"), std::string::npos) << lonely.error().message;
}

TEST(ServerConfig, RedisNeedsANodeIdAndAWebSocketPublicUrl) {
  ConfigOverrides o;
  o.redis = "redis://127.0.0.1:6379";
  auto missing = with(o);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("--node-id"), std::string::npos);
  o.node_id = "bad id";
  EXPECT_FALSE(with(o));
  o.node_id = "a";
  o.public_url = "http://10.0.0.1:8480";
  auto bad_url = with(o);
  ASSERT_FALSE(bad_url);
  EXPECT_NE(bad_url.error().message.find("ws://"), std::string::npos);
  o.public_url = "ws://10.0.0.1:8480";
  auto ok = with(o);
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok->node_id, "a");
  o.redis = "redis://h:99999";
  EXPECT_FALSE(with(o));
}

TEST(ServerConfig, ClusterKeysInAFile) {
  ServerConfig c;
  ASSERT_TRUE(apply_config_text(
      "redis = \"redis://10.0.0.9:6379/1\"\nnode_id = \"b\"\npublic_url = \"ws://10.0.0.2:8480\"\n",
      ConfigFormat::Toml, c));
  EXPECT_EQ(c.redis, "redis://10.0.0.9:6379/1");
  EXPECT_EQ(c.node_id, "b");
  EXPECT_EQ(c.public_url, "ws://10.0.0.2:8480");
}

}  // namespace
}  // namespace switchboard::server
