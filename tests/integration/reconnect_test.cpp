// Losing the server and coming back (docs/protocol.md, "Reconnecting and resuming"), end
// to end with real processes:
//
// - Reconnect.*: on 127.0.0.1, the server SIGKILLed and started again on the same port.
// - ReconnectNetns.*: alice in namespace A, bob in B, the server in S (scripts/p2p-netns,
//   which ctest runs around them); an nftables rule in S drops everything to and from
//   alice for a while, for real, then goes.

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdint>
#include <map>
#include <thread>

#include <gtest/gtest.h>

#include "harness.hpp"
#include "netns.hpp"

namespace switchboard::integration {
namespace {

using Reconnect = IntegrationTest;

// The agents must notice a dead server within this (the brief: 5 s).
constexpr auto kNotice = 5s;

// A durable sender on channel `channel` (all recipients).
void durable_sender(Agent& agent, std::uint16_t channel) {
  const auto id = agent.create_sender(Json{{"channelId", channel}, {"reliability", "durable"}});
  if (id != channel) throw HarnessError("sender on channel " + std::to_string(id));
}

std::string payload(const std::string& from, std::size_t i) {
  return from + "-" + std::to_string(i) + "-" + std::string(180, static_cast<char>('a' + i % 26));
}

TEST_F(Reconnect, ServerKilledAndRestartedOnTheSamePortRejoinsAndReportsTheGap) {
  auto server = std::make_unique<Server>();
  const std::uint16_t port = server->port();
  const std::string call = unique_call_id();
  Agent alice(*server, call, "alice");
  Agent bob(*server, call, "bob");
  alice.expect_joined();
  bob.expect_joined();
  alice.expect_roster({"bob"});
  bob.expect_roster({"alice"});
  durable_sender(alice, 1);
  durable_sender(bob, 2);
  alice.send_text(1, "before");
  bob.send_text(2, "before");
  EXPECT_EQ(bob.expect_message("alice", 1).value("text", ""), "before");
  EXPECT_EQ(alice.expect_message("bob", 2).value("text", ""), "before");

  // What the server never confirms: it is frozen (SIGSTOP) once its acknowledgements of
  // the above went out, alice sends kLost messages into her connection, then it dies.
  constexpr std::size_t kLost = 20;
  std::this_thread::sleep_for(500ms);
  server->process().kill(SIGSTOP);
  for (std::size_t i = 0; i < kLost; ++i) alice.send_text(1, "lost-" + std::to_string(i));
  std::this_thread::sleep_for(300ms);  // into her SCTP connection, unacknowledged
  server->process().kill(SIGKILL);
  const auto killed = Clock::now();
  for (Agent* agent : {&alice, &bob}) {
    const Json e = agent->expect("reconnecting", is_event("reconnecting"), kWait);
    EXPECT_LE(received_at(e) - killed, kNotice) << agent->user() << " noticed late";
    EXPECT_FALSE(e.value("reason", "").empty());
  }
  // While the server is down, sends are accepted and queued.
  alice.send_text(1, "during");
  std::this_thread::sleep_for(1500ms);  // a few failed attempts
  server.reset();
  server = std::make_unique<Server>(Server::Options{.port = port});

  for (Agent* agent : {&alice, &bob}) {
    const Json e = agent->expect("reconnected", is_event("reconnected"), 20s);
    EXPECT_EQ(e.value("resumed", true), false) << e.dump();
    // The gap: exactly what the dead server had not confirmed.
    EXPECT_EQ(e.value("unconfirmedMessages", 999U), agent == &alice ? kLost : 0U) << e.dump();
    EXPECT_TRUE(agent->take_received(is_event("disconnected")).empty());
  }
  // The others' receivers of the old session closed; new ones come as they send again.
  bob.expect("alice's old receiver closed", [](const Json& e) {
    return e.value("event", "") == "receiver_closed" && e.value("from", "") == "alice";
  });
  // Both in the new server's call (either may have come back first).
  alice.expect_roster({"bob"}, 20s);
  bob.expect_roster({"alice"}, 20s);
  alice.send_text(1, "after");
  bob.send_text(2, "after");
  // "during" reached bob only if he was back before alice's queue went out; "after" must,
  // on the re-created sender (same channel), numbered on: before 1, the lost 2..21,
  // during 22, after 23. The lost ones never come.
  Json late;
  do {
    late = bob.expect_message("alice", 1);
    EXPECT_FALSE(late.value("text", "").starts_with("lost-")) << late.dump();
  } while (late.value("text", "") != "after");
  EXPECT_EQ(late.value("sequenceNumber", 0U), kLost + 3);
  Json bobs;
  do {
    bobs = alice.expect_message("bob", 2);
  } while (bobs.value("text", "") != "after");
  EXPECT_EQ(bobs.value("sequenceNumber", 0U), 2U);
}

// ------------------------------------------------------------------ network namespaces

class ReconnectNetns : public IntegrationTest {
 protected:
  void SetUp() override {
    auto found = namespaces_from_environment();
    if (!found) {
      GTEST_SKIP() << "needs the namespaces of scripts/p2p-netns: run "
                      "`scripts/p2p-netns -- integration_tests --gtest_filter=ReconnectNetns.*`"
                      " (ctest does)";
    }
    ns_ = *found;
    const char* a_ip = std::getenv("SWITCHBOARD_NETNS_A_IP");
    alice_ip_ = a_ip != nullptr ? a_ip : "10.77.1.2";
  }

  // Drops every packet between S and alice (her namespace reaches only S).
  void drop_alice() {
    apply_nft("drop-alice", "table inet sbdrop {\n"
                            "  chain in { type filter hook input priority -10; ip saddr " +
                                alice_ip_ + " drop; }\n"
                                            "  chain out { type filter hook output priority -10; "
                                            "ip daddr " +
                                alice_ip_ + " drop; }\n}\n");
  }
  void restore_alice() { apply_nft("restore-alice", "delete table inet sbdrop\n"); }

  Namespaces ns_;
  std::string alice_ip_;
};

std::function<bool(const Json&)> is_receiver_event(const std::string& name) {
  return [name](const Json& e) { return e.value("event", "") == name; };
}

// Waits for `count` messages from `from` on `channel` and checks they are 1..count, once
// each, in order, with the payloads sent.
void expect_exactly_once_in_order(Agent& agent, const std::string& from, std::uint16_t channel,
                                  std::size_t count, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (std::size_t i = 0; i < count; ++i) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    const Json m = agent.expect_message(from, channel, std::max(left, 1ms));
    ASSERT_EQ(m.value("sequenceNumber", 0U), i + 1) << agent.user() << " got " << m.dump();
    ASSERT_EQ(m.value("text", ""), payload(from, i)) << agent.user();
  }
  // Nothing more (a duplicate would follow its original on the ordered channel).
  const auto extra = agent.next(is_message_from(from, channel), 1500ms);
  EXPECT_FALSE(extra.has_value()) << agent.user() << " got one more: " << extra->dump();
}

// 2 x N durable messages flow both ways while alice's network is down for 10 s: the
// session resumes, all arrive exactly once and in order, and nobody leaves.
TEST_F(ReconnectNetns, ATenSecondNetworkDropResumesLosingAndDuplicatingNothing) {
  constexpr std::size_t kMessages = 1000;
  NetnsCall netns(ns_, {});
  auto alice = netns.join(ns_.a, "alice", /*p2p=*/false);
  auto bob = netns.join(ns_.b, "bob", /*p2p=*/false);
  alice->expect_roster({"bob"});
  bob->expect_roster({"alice"});
  alice->take_received(is_event("participant_joined"));  // bob came after her
  durable_sender(*alice, 1);
  durable_sender(*bob, 2);

  std::atomic<bool> cut_done{false};
  std::thread cutter;
  Clock::time_point cut_at{};
  for (std::size_t i = 0; i < kMessages; ++i) {
    if (i == kMessages / 5) {
      drop_alice();
      cut_at = Clock::now();
      cutter = std::thread([&] {
        std::this_thread::sleep_for(10s);
        restore_alice();
        cut_done = true;
      });
    }
    std::string why;
    ASSERT_TRUE(alice->send_retrying(1, base64_encode(payload("alice", i)), why, 30s)) << why;
    ASSERT_TRUE(bob->send_retrying(2, base64_encode(payload("bob", i)), why, 30s)) << why;
    std::this_thread::sleep_for(12ms);  // the stream spans the drop
  }
  cutter.join();
  ASSERT_TRUE(cut_done);

  const Json reconnecting = alice->expect("reconnecting", is_event("reconnecting"), 5s);
  EXPECT_LE(received_at(reconnecting) - cut_at, kNotice + 1s);
  const Json back = alice->expect("reconnected", is_event("reconnected"), 30s);
  EXPECT_EQ(back.value("resumed", false), true) << back.dump();
  EXPECT_EQ(back.value("unconfirmedMessages", 1U), 0U);

  expect_exactly_once_in_order(*bob, "alice", 1, kMessages, 60s);
  expect_exactly_once_in_order(*alice, "bob", 2, kMessages, 60s);
  // Identity, receivers and membership kept: nobody left, no receiver closed or came twice.
  for (Agent* agent : {alice.get(), bob.get()}) {
    EXPECT_TRUE(agent->take_received(is_event("participant_left")).empty()) << agent->user();
    EXPECT_TRUE(agent->take_received(is_event("participant_joined")).empty()) << agent->user();
    EXPECT_TRUE(agent->take_received(is_receiver_event("receiver_closed")).empty())
        << agent->user();
    EXPECT_EQ(agent->take_received(is_receiver_event("receiver_created")).size(), 1U)
        << agent->user();
    EXPECT_TRUE(agent->take_received(is_event("disconnected")).empty()) << agent->user();
  }
  EXPECT_TRUE(bob->take_received(is_event("reconnecting")).empty());
}

// The drop outlasts the server's grace period: alice left for the others, and her
// reconnect is a fresh join, reported as not resumed.
TEST_F(ReconnectNetns, ADropLongerThanTheGracePeriodIsReportedAsNotResumed) {
  NetnsCall netns(ns_, {"--resume-grace-ms", "2000"});
  auto alice = netns.join(ns_.a, "alice", /*p2p=*/false);
  auto bob = netns.join(ns_.b, "bob", /*p2p=*/false);
  alice->expect_roster({"bob"});
  bob->expect_roster({"alice"});
  durable_sender(*alice, 1);
  alice->send_text(1, "before");
  bob->expect_message("alice", 1);

  drop_alice();
  // The server notices the silence (5 s), keeps her 2 s, then she leaves.
  bob->expect("alice left", is_event("participant_left"), 15s);
  alice->expect("reconnecting", is_event("reconnecting"), kNotice);
  restore_alice();
  const Json back = alice->expect("reconnected", is_event("reconnected"), 30s);
  EXPECT_EQ(back.value("resumed", true), false) << back.dump();
  bob->expect("alice joined again", is_event("participant_joined"), 10s);
  alice->send_text(1, "after");
  EXPECT_EQ(bob->expect_message("alice", 1).value("text", ""), "after");
}

// More than the SDK buffers during the gap: the sender is told (BUFFER_FULL), and every
// message it was told was accepted arrives, once, in order.
TEST_F(ReconnectNetns, MoreThanTheBufferDuringTheGapIsRefusedNotLost) {
  NetnsCall netns(ns_, {});
  auto alice = netns.join(ns_.a, "alice", /*p2p=*/false);
  auto bob = netns.join(ns_.b, "bob", /*p2p=*/false);
  alice->expect_roster({"bob"});
  bob->expect_roster({"alice"});
  durable_sender(*alice, 1);

  drop_alice();
  alice->expect("reconnecting", is_event("reconnecting"), kNotice);
  // 64 KiB messages until the SDK refuses one: its sender holds 4 MiB.
  const std::string big(60 * 1024, 'x');
  std::size_t accepted = 0;
  bool refused = false;
  for (std::size_t i = 0; i < 200 && !refused; ++i) {
    const std::string text = std::to_string(i) + ":" + big;
    const Json answer = alice->command(Json{{"op", "send"}, {"channelId", 1}, {"text", text}});
    if (answer.value("event", "") == "sent") {
      ++accepted;
      EXPECT_EQ(answer.value("sequenceNumber", 0U), accepted);
    } else {
      EXPECT_EQ(answer.value("code", ""), "BUFFER_FULL") << answer.dump();
      refused = true;
    }
  }
  EXPECT_TRUE(refused) << "200 messages of 60 KiB were all accepted during the gap";
  EXPECT_GT(accepted, 10U);
  restore_alice();
  const Json back = alice->expect("reconnected", is_event("reconnected"), 30s);
  EXPECT_EQ(back.value("resumed", false), true) << back.dump();
  for (std::size_t i = 0; i < accepted; ++i) {
    const Json m = bob->expect_message("alice", 1, 30s);
    ASSERT_EQ(m.value("sequenceNumber", 0U), i + 1);
    ASSERT_EQ(m.value("text", "").substr(0, std::to_string(i).size() + 1),
              std::to_string(i) + ":");
  }
  EXPECT_FALSE(bob->next(is_message_from("alice", 1), 1500ms).has_value());
}

}  // namespace
}  // namespace switchboard::integration
