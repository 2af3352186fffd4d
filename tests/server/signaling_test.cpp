// The server's HTTP and signaling behaviour, over real sockets on 127.0.0.1.
#include <random>

#include <gtest/gtest.h>

#include "server_harness.hpp"

namespace switchboard::server::testing {
namespace {

std::uint64_t metric(std::uint16_t port, const std::string& name) {
  const std::string text = http_get(port, "/metrics").body;
  const auto at = text.find("\n" + name + " ");
  if (at == std::string::npos) return ~0ull;
  return std::stoull(text.substr(at + name.size() + 2));
}

TEST(ServerHttp, HealthzMetricsAndNotFound) {
  ServerThread server;
  auto health = http_get(server.port(), "/healthz");
  EXPECT_EQ(health.status, 200u);
  EXPECT_EQ(health.body, "ok");
  auto metrics = http_get(server.port(), "/metrics");
  EXPECT_EQ(metrics.status, 200u);
  for (const char* name :
       {"switchboard_calls", "switchboard_participants", "switchboard_relayed_messages_total",
        "switchboard_relayed_bytes_total", "switchboard_dropped_messages_total{reason=",
        "process_cpu_seconds_total", "switchboard_signaling_connections"}) {
    EXPECT_NE(metrics.body.find(name), std::string::npos) << name;
  }
  EXPECT_EQ(http_get(server.port(), "/nope").status, 404u);
  EXPECT_EQ(http_get(server.port(), "/v1/signal").status, 404u);  // not an upgrade
}

TEST(ServerSignaling, PingBeforeJoinIsAnswered) {
  ServerThread server;
  SignalClient client(server.port());
  client.send(json{{"type", "ping"}, {"req", "p1"}});
  auto pong = client.receive();
  ASSERT_TRUE(pong);
  EXPECT_EQ((*pong)["type"], "pong");
  EXPECT_EQ((*pong)["req"], "p1");
}

struct RefusedJoin {
  std::string name;
  json join;
  std::string code;
};

class ServerJoinRefused : public ::testing::TestWithParam<RefusedJoin> {};

TEST_P(ServerJoinRefused, GetsErrorWithReqThenClose) {
  ServerThread server;
  SignalClient client(server.port());
  client.send(GetParam().join);
  auto reply = client.receive();
  ASSERT_TRUE(reply);
  EXPECT_EQ((*reply)["type"], "error");
  EXPECT_EQ((*reply)["code"], GetParam().code);
  EXPECT_EQ((*reply)["req"], "r1");
  EXPECT_FALSE((*reply)["message"].get<std::string>().empty());
  EXPECT_TRUE(client.closed_by_server()) << client.error().message();
  EXPECT_EQ(metric(server.port(), "switchboard_participants"), 0u);
}

INSTANTIATE_TEST_SUITE_P(
    Tokens, ServerJoinRefused,
    ::testing::Values(
        RefusedJoin{"Missing", json{{"type", "join"}, {"req", "r1"}, {"call", "c1"}},
                    "UNAUTHORIZED"},
        RefusedJoin{"Forged",
                    json{{"type", "join"},
                         {"req", "r1"},
                         {"call", "c1"},
                         {"token", dev_token("alice", "c1", 3600, "another-secret")}},
                    "UNAUTHORIZED"},
        RefusedJoin{"Expired",
                    json{{"type", "join"},
                         {"req", "r1"},
                         {"call", "c1"},
                         {"token", dev_token("alice", "c1", -10)}},
                    "UNAUTHORIZED"},
        RefusedJoin{"WrongCall",
                    json{{"type", "join"},
                         {"req", "r1"},
                         {"call", "c2"},
                         {"token", dev_token("alice", "c1")}},
                    "UNAUTHORIZED"},
        RefusedJoin{"Garbage",
                    json{{"type", "join"}, {"req", "r1"}, {"call", "c1"}, {"token", "a.b.c"}},
                    "UNAUTHORIZED"},
        RefusedJoin{"AnyCallTokenWithoutCall",
                    json{{"type", "join"}, {"req", "r1"}, {"token", dev_token("alice", "*")}},
                    "INVALID_ARGUMENT"},
        RefusedJoin{"OfferBeforeJoin", json{{"type", "offer"}, {"req", "r1"}, {"sdp", "v=0"}},
                    "INVALID_ARGUMENT"},
        RefusedJoin{"UnknownType", json{{"type", "dance"}, {"req", "r1"}}, "INVALID_ARGUMENT"},
        RefusedJoin{"ServerMessage", json{{"type", "pong"}, {"req", "r1"}}, "INVALID_ARGUMENT"}),
    [](const auto& info) { return info.param.name; });

TEST(ServerSignaling, BadJsonGetsInvalidArgumentAndClose) {
  ServerThread server;
  SignalClient client(server.port());
  client.send(std::string("{not json"));
  auto reply = client.receive();
  ASSERT_TRUE(reply);
  EXPECT_EQ((*reply)["type"], "error");
  EXPECT_EQ((*reply)["code"], "INVALID_ARGUMENT");
  EXPECT_TRUE(client.closed_by_server());
}

TEST(ServerSignaling, MessageOver64KiBGetsErrorAndClose) {
  ServerThread server;
  SignalClient client(server.port());
  client.send(json{{"type", "ping"}, {"req", "x"}, {"pad", std::string(65 * 1024, 'a')}});
  auto reply = client.receive();
  ASSERT_TRUE(reply);
  EXPECT_EQ((*reply)["type"], "error");
  EXPECT_EQ((*reply)["code"], "INVALID_ARGUMENT");
  EXPECT_TRUE(client.closed_by_server());
  // The server is fine.
  EXPECT_EQ(http_get(server.port(), "/healthz").status, 200u);
}

TEST(ServerSignaling, JoinWithoutCallUsesTheTokensCall) {
  ServerThread server;
  SignalClient client(server.port());
  client.send(json{{"type", "join"}, {"req", "r"}, {"token", dev_token("alice", "c9")}});
  auto joined = client.receive();
  ASSERT_TRUE(joined);
  EXPECT_EQ((*joined)["type"], "joined");
  EXPECT_EQ((*joined)["call"], "c9");
}

TEST(ServerSignaling, TwoParticipantsSeeRosterJoinsAndLeaves) {
  ServerThread server;
  SignalClient alice(server.port());
  auto a = alice.join("alice", "c1");
  ASSERT_EQ(a["type"], "joined") << a.dump();
  EXPECT_EQ(a["req"], "j");
  EXPECT_EQ(a["participantId"], 1);
  EXPECT_EQ(a["identity"], "alice");
  EXPECT_EQ(a["call"], "c1");
  EXPECT_TRUE(a["participants"].empty());
  EXPECT_EQ(a["maxMessageSize"], 262144);
  EXPECT_EQ(a["rateLimitBytesPerSecond"], 12'500'000);
  EXPECT_EQ(a["rateLimitMessagesPerSecond"], 50'000);

  SignalClient bob(server.port());
  auto b = bob.join("bob", "c1", "j", false);  // no p2p pairing (p2p_signaling_test.cpp)
  ASSERT_EQ(b["type"], "joined");
  EXPECT_EQ(b["participantId"], 2);
  ASSERT_EQ(b["participants"].size(), 1u);
  EXPECT_EQ(b["participants"][0]["participantId"], 1);
  EXPECT_EQ(b["participants"][0]["identity"], "alice");

  auto joined = alice.receive();
  ASSERT_TRUE(joined);
  EXPECT_EQ((*joined)["type"], "participant_joined");
  EXPECT_EQ((*joined)["participantId"], 2);
  EXPECT_EQ((*joined)["identity"], "bob");
  EXPECT_EQ(metric(server.port(), "switchboard_participants"), 2u);
  EXPECT_EQ(metric(server.port(), "switchboard_calls"), 1u);

  EXPECT_TRUE(bob.leave());
  auto left = alice.receive();
  ASSERT_TRUE(left);
  EXPECT_EQ((*left)["type"], "participant_left");
  EXPECT_EQ((*left)["participantId"], 2);
  EXPECT_EQ((*left)["identity"], "bob");

  // Ids are never reused: bob again is #3.
  SignalClient bob2(server.port());
  EXPECT_EQ(bob2.join("bob", "c1")["participantId"], 3);
}

TEST(ServerSignaling, ClosingTheSocketLeavesTheCall) {
  ServerThread server;
  SignalClient alice(server.port());
  ASSERT_EQ(alice.join("alice", "c1")["type"], "joined");
  {
    SignalClient bob(server.port());
    ASSERT_EQ(bob.join("bob", "c1")["type"], "joined");
  }  // dropped without leave
  auto left = alice.receive("participant_left");
  ASSERT_TRUE(left);
  EXPECT_EQ((*left)["identity"], "bob");
}

TEST(ServerSignaling, TwoCallsDoNotSeeEachOther) {
  ServerThread server;
  SignalClient alice(server.port());
  ASSERT_EQ(alice.join("alice", "c1")["type"], "joined");
  SignalClient carol(server.port());
  auto c = carol.join("carol", "c2");
  ASSERT_EQ(c["type"], "joined");
  EXPECT_TRUE(c["participants"].empty());
  EXPECT_EQ(c["participantId"], 1);  // ids count per call
  carol.send(json{{"type", "leave"}});
  // Alice hears nothing of c2: the next thing she gets is her own pong.
  alice.send(json{{"type", "ping"}, {"req", "p"}});
  auto next = alice.receive();
  ASSERT_TRUE(next);
  EXPECT_EQ((*next)["type"], "pong");
  EXPECT_EQ(metric(server.port(), "switchboard_calls"), 1u);
}

TEST(ServerSignaling, SameIdentityAgainReplacesTheOldConnection) {
  ServerThread server;
  SignalClient bob(server.port());
  ASSERT_EQ(bob.join("bob", "c1", "j", false)["type"], "joined");  // p2p: p2p_signaling_test
  SignalClient alice(server.port());
  ASSERT_EQ(alice.join("alice", "c1")["participantId"], 2);
  ASSERT_TRUE(bob.receive("participant_joined"));

  SignalClient alice2(server.port());
  auto again = alice2.join("alice", "c1");
  ASSERT_EQ(again["type"], "joined");
  EXPECT_EQ(again["participantId"], 3);
  ASSERT_EQ(again["participants"].size(), 1u);  // bob only

  auto bye = alice.receive();
  ASSERT_TRUE(bye);
  EXPECT_EQ((*bye)["type"], "disconnect");
  EXPECT_EQ((*bye)["reason"], "joined from another connection");
  EXPECT_TRUE(alice.closed_by_server());

  expect_next(bob, "participant_left", 2);
  expect_next(bob, "participant_joined", 3);
}

TEST(ServerSignaling, SoleParticipantJoiningAgainGetsANewId) {
  ServerThread server;
  SignalClient first(server.port());
  ASSERT_EQ(first.join("alice", "c1")["participantId"], 1);
  SignalClient second(server.port());
  auto again = second.join("alice", "c1");
  ASSERT_EQ(again["type"], "joined");
  EXPECT_EQ(again["participantId"], 2);
  EXPECT_TRUE(again["participants"].empty());
  auto bye = first.receive("disconnect");
  ASSERT_TRUE(bye);
  EXPECT_EQ((*bye)["reason"], "joined from another connection");
}

TEST(ServerSignaling, JoinedCarriesTheConfiguredIceServersAndLimits) {
  auto config = test_config();
  config.ice_servers = {
      {.urls = {"stun:stun.example.org:3478"}, .username = {}, .credential = {}},
      {.urls = {"turn:turn.example.org:3478?transport=udp"}, .username = "u", .credential = "p"}};
  config.max_message_size = 1000;
  config.rate_limit_bytes_per_second = 0;
  config.rate_limit_messages_per_second = 7;
  ServerThread server(config);
  SignalClient alice(server.port());
  auto joined = alice.join("alice", "c1");
  ASSERT_EQ(joined["type"], "joined");
  ASSERT_EQ(joined["iceServers"].size(), 2u);
  EXPECT_EQ(joined["iceServers"][0]["urls"][0], "stun:stun.example.org:3478");
  EXPECT_EQ(joined["iceServers"][1]["username"], "u");
  EXPECT_EQ(joined["iceServers"][1]["credential"], "p");
  EXPECT_EQ(joined["maxMessageSize"], 1000);
  EXPECT_FALSE(joined.contains("rateLimitBytesPerSecond"));  // unlimited
  EXPECT_EQ(joined["rateLimitMessagesPerSecond"], 7);
}

TEST(ServerSignaling, FullCallRefusesWithCallFull) {
  auto config = test_config();
  config.max_participants_per_call = 1;
  ServerThread server(config);
  SignalClient alice(server.port());
  ASSERT_EQ(alice.join("alice", "c1")["type"], "joined");
  SignalClient bob(server.port());
  auto refused = bob.join("bob", "c1", "r2");
  EXPECT_EQ(refused["type"], "error");
  EXPECT_EQ(refused["code"], "CALL_FULL");
  EXPECT_EQ(refused["req"], "r2");
  EXPECT_TRUE(bob.closed_by_server());
}

TEST(ServerSignaling, BadOfferIsRefusedWithoutClosing) {
  ServerThread server;
  SignalClient alice(server.port());
  ASSERT_EQ(alice.join("alice", "c1")["type"], "joined");
  alice.send(json{{"type", "offer"}, {"req", "o1"}, {"sdp", "v=0\r\n"}});
  auto reply = alice.receive();
  ASSERT_TRUE(reply);
  EXPECT_EQ((*reply)["type"], "error");
  EXPECT_EQ((*reply)["code"], "INVALID_ARGUMENT");
  EXPECT_EQ((*reply)["req"], "o1");
  alice.send(json{{"type", "ping"}, {"req", "p"}});
  auto pong = alice.receive();
  ASSERT_TRUE(pong);
  EXPECT_EQ((*pong)["type"], "pong");
}

TEST(ServerSignaling, ShutdownDisconnectsEveryParticipant) {
  ServerThread server;
  SignalClient alice(server.port());
  ASSERT_EQ(alice.join("alice", "c1")["type"], "joined");
  SignalClient bob(server.port());
  ASSERT_EQ(bob.join("bob", "c1")["type"], "joined");
  std::thread stopper([&] { server.shutdown(); });
  for (SignalClient* c : {&alice, &bob}) {
    auto bye = c->receive("disconnect");
    ASSERT_TRUE(bye);
    EXPECT_EQ((*bye)["reason"], "server shutting down");
  }
  stopper.join();
}

TEST(ServerSignaling, GarbageMessagesCloseOnlyTheirOwnConnection) {
  ServerThread server;
  SignalClient alice(server.port());
  ASSERT_EQ(alice.join("alice", "c1")["type"], "joined");
  std::mt19937 rng(99);
  const std::vector<std::string> samples = {"",
                                            "null",
                                            "[]",
                                            "{}",
                                            "{\"type\":5}",
                                            "{\"type\":\"join\",\"token\":7}",
                                            "{\"type\":\"offer\",\"sdp\":\"v=0\"}",
                                            "{\"type\":\"join\",\"token\":\"x\",\"call\":\"\"}",
                                            std::string(1000, '{')};
  for (int i = 0; i < 40; ++i) {
    SignalClient bad(server.port());
    std::string text = samples[static_cast<std::size_t>(i) % samples.size()];
    if (i >= static_cast<int>(samples.size())) {
      text.resize(1 + rng() % 200);
      for (auto& c : text) c = static_cast<char>(' ' + rng() % 95);  // printable ASCII
    }
    bad.send(text);
    auto reply = bad.receive();
    ASSERT_TRUE(reply) << i;
    EXPECT_EQ((*reply)["type"], "error") << i;
    EXPECT_TRUE(bad.closed_by_server()) << i;
  }
  {
    // Not UTF-8 in a text message: the WebSocket layer itself fails that connection.
    SignalClient bad(server.port());
    bad.send(std::string("\xff\xfe"));
    auto first = bad.receive();
    if (first) EXPECT_EQ((*first)["type"], "error");
    EXPECT_FALSE(bad.receive().has_value());
  }
  alice.send(json{{"type", "ping"}, {"req", "p"}});
  auto pong = alice.receive();
  ASSERT_TRUE(pong);
  EXPECT_EQ((*pong)["type"], "pong");
}

}  // namespace
}  // namespace switchboard::server::testing
