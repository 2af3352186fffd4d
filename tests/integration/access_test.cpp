// Who gets into a call: access tokens, and calls that never see each other.

#include <chrono>

#include <gtest/gtest.h>

#include "harness.hpp"
#include "signaling/token.hpp"

namespace switchboard::integration {
namespace {

using AccessTokens = IntegrationTest;
using CallIsolation = IntegrationTest;

constexpr std::string_view kSecret = "integration-test-secret-7f3a9c0e51b24d68";

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A server that trusts kSecret only.
Server secret_server() {
  return Server({.flags = {"--secret-file", write_test_file("secret", kSecret)}, .dev = false});
}

// `switchboard token` with the secret in a file.
std::string cli_token(const std::string& user, const std::string& call, std::string_view secret) {
  const RunResult run = run_cli({"token", "--user", user, "--call", call, "--ttl", "1h",
                                 "--secret-file", write_test_file("token-secret", secret)});
  if (run.status != 0) {
    throw HarnessError("switchboard token exited with " + std::to_string(run.status) + ": " +
                       run.out);
  }
  std::string token = run.out;
  while (!token.empty() && (token.back() == '\n' || token.back() == ' ')) token.pop_back();
  return token;
}

// The agent says UNAUTHORIZED and exits non-zero, never joining.
void expect_refused(const Server& server, const std::string& call, const std::string& user,
                    const std::string& token) {
  Agent agent(server, {.call = call, .user = user, .token = token});
  const Json error = agent.expect("error event", [](const Json& e) {
    return e.value("event", "") == "error" || e.value("event", "") == "joined";
  });
  EXPECT_EQ(error.value("event", ""), "error") << error.dump();
  EXPECT_EQ(error.value("code", ""), "UNAUTHORIZED") << error.dump();
  const auto status = agent.process().wait_exit(Clock::now() + kWait);
  ASSERT_TRUE(status.has_value()) << "the agent did not exit after failing to join";
  EXPECT_NE(*status, 0);
}

// A participant already in the call sees nobody else join.
void expect_nobody_joined(Agent& witness) {
  EXPECT_TRUE(witness.take_received(is_event("participant_joined")).empty());
}

TEST_F(AccessTokens, TokenFromTheTokenCommandAdmitsItsHolder) {
  Server server = secret_server();
  const std::string call = unique_call_id();
  const std::string token = cli_token("alice", call, kSecret);
  EXPECT_EQ(std::count(token.begin(), token.end(), '.'), 2) << token;
  Agent alice(server, {.call = call, .user = "alice", .token = token});
  const Json joined = alice.expect_joined();
  EXPECT_EQ(joined.value("call", ""), call);
  EXPECT_EQ(joined.value("user", ""), "alice");

  // A token for any call ("*") admits to this one too.
  const std::string any = signaling::mint_token(
      {.sub = "bob", .call = "*", .exp = unix_now() + 3600, .iat = unix_now()}, kSecret);
  Agent bob(server, {.call = call, .user = "bob", .token = any});
  bob.expect_joined();
  alice.expect_roster({"bob"});
}

TEST_F(AccessTokens, GarbageTokenIsRefusedWithUnauthorized) {
  Server server = secret_server();
  const std::string call = unique_call_id();
  Agent alice(server, {.call = call, .user = "alice", .token = cli_token("alice", call, kSecret)});
  alice.expect_joined();
  expect_refused(server, call, "mallory", "not-a-token");
  expect_refused(server, call, "mallory", "a.b.c");
  expect_nobody_joined(alice);
}

TEST_F(AccessTokens, ExpiredTokenIsRefusedWithUnauthorized) {
  Server server = secret_server();
  const std::string call = unique_call_id();
  Agent alice(server, {.call = call, .user = "alice", .token = cli_token("alice", call, kSecret)});
  alice.expect_joined();
  const std::int64_t now = unix_now();
  const std::string expired = signaling::mint_token(
      {.sub = "bob", .call = call, .exp = now - 60, .iat = now - 3660}, kSecret);
  expect_refused(server, call, "bob", expired);
  expect_nobody_joined(alice);
}

TEST_F(AccessTokens, ForgedTokenIsRefusedWithUnauthorized) {
  Server server = secret_server();
  const std::string call = unique_call_id();
  Agent alice(server, {.call = call, .user = "alice", .token = cli_token("alice", call, kSecret)});
  alice.expect_joined();
  // Signed with another secret by the token command...
  expect_refused(server, call, "mallory", cli_token("mallory", call, "some-other-secret"));
  // ...and a valid token whose payload was swapped for another identity.
  const std::int64_t now = unix_now();
  const std::string real =
      signaling::mint_token({.sub = "bob", .call = call, .exp = now + 3600, .iat = now}, kSecret);
  const std::string other = signaling::mint_token(
      {.sub = "alice", .call = call, .exp = now + 3600, .iat = now}, "whatever");
  const auto parts = [](const std::string& t) {
    const auto a = t.find('.');
    const auto b = t.find('.', a + 1);
    return std::array<std::string, 3>{t.substr(0, a), t.substr(a + 1, b - a - 1), t.substr(b + 1)};
  };
  const auto r = parts(real);
  const auto o = parts(other);
  expect_refused(server, call, "alice", r[0] + "." + o[1] + "." + r[2]);
  expect_nobody_joined(alice);
  // alice is still alice: a forged join did not replace her connection.
  EXPECT_TRUE(alice.take_received(is_event("disconnected")).empty());
}

TEST_F(AccessTokens, TokenForAnotherCallIsRefusedWithUnauthorized) {
  Server server = secret_server();
  const std::string call = unique_call_id();
  Agent alice(server, {.call = call, .user = "alice", .token = cli_token("alice", call, kSecret)});
  alice.expect_joined();
  expect_refused(server, call, "bob", cli_token("bob", unique_call_id("other"), kSecret));
  expect_nobody_joined(alice);
}

TEST_F(AccessTokens, DevelopmentTokenIsRefusedByAServerWithItsOwnSecret) {
  Server server = secret_server();
  const std::string call = unique_call_id();
  Agent bob(server, call, "bob");  // --dev
  const Json error = bob.expect("error event", is_event("error"));
  EXPECT_EQ(error.value("code", ""), "UNAUTHORIZED");
  const auto status = bob.process().wait_exit(Clock::now() + kWait);
  ASSERT_TRUE(status.has_value());
  EXPECT_NE(*status, 0);
}

TEST_F(CallIsolation, TwoCallsWithTheSameUserNamesNeverSeeEachOthersMessages) {
  Server server;
  const std::string x = unique_call_id("x");
  const std::string y = unique_call_id("y");
  auto in_x = join_call(server, x, {"alice", "bob"});
  auto in_y = join_call(server, y, {"alice", "bob", "yuri"});
  Agent& x_alice = *in_x[0];
  Agent& x_bob = *in_x[1];
  Agent& y_alice = *in_y[0];
  Agent& y_bob = *in_y[1];
  Agent& yuri = *in_y[2];

  EXPECT_EQ(x_alice.roster(), (std::set<std::string>{"bob"}));
  EXPECT_EQ(x_bob.roster(), (std::set<std::string>{"alice"}));
  EXPECT_EQ(y_bob.roster(), (std::set<std::string>{"alice", "yuri"}));

  // Same channel ids in both calls.
  const std::uint16_t cx = x_alice.create_sender({{"channelId", 100}});
  const std::uint16_t cy = y_alice.create_sender({{"channelId", 100}});
  const std::uint16_t cyuri = yuri.create_sender({{"channelId", 100}});
  const std::uint16_t cxb = x_bob.create_sender({{"channelId", 100}});
  x_alice.send_text(cx, "x: from alice");
  y_alice.send_text(cy, "y: from alice");
  yuri.send_text(cyuri, "y: from yuri");
  x_bob.send_text(cxb, "x: from bob");

  EXPECT_EQ(x_bob.expect_message("alice", cx).value("text", ""), "x: from alice");
  EXPECT_EQ(y_bob.expect_message("alice", cy).value("text", ""), "y: from alice");
  EXPECT_EQ(y_bob.expect_message("yuri", cyuri).value("text", ""), "y: from yuri");
  EXPECT_EQ(y_alice.expect_message("yuri", cyuri).value("text", ""), "y: from yuri");
  EXPECT_EQ(x_alice.expect_message("bob", cxb).value("text", ""), "x: from bob");

  // Everything of call y has been routed; a fence in x now follows anything that leaked.
  x_alice.send_text(cx, "fence");
  EXPECT_EQ(x_bob.expect_message("alice", cx).value("text", ""), "fence");
  x_bob.send_text(cxb, "fence");
  EXPECT_EQ(x_alice.expect_message("bob", cxb).value("text", ""), "fence");

  EXPECT_TRUE(x_bob.take_received(is_event("message")).empty());
  EXPECT_TRUE(x_alice.take_received(is_event("message")).empty());
  EXPECT_TRUE(y_bob.take_received(is_event("message")).empty());
  EXPECT_TRUE(y_alice.take_received(is_event("message")).empty());
  for (Agent* agent : {&x_alice, &x_bob}) {
    EXPECT_EQ(agent->roster().count("yuri"), 0u) << agent->user() << " saw yuri of call y";
    EXPECT_TRUE(agent->take_received(is_event("receiver_created")).size() <= 1);
  }
}

}  // namespace
}  // namespace switchboard::integration
