// Routing through a real switchboard-server: who receives what, with which sequence
// number, and how receivers close. Participants are `switchboard agent` processes.
//
// Absence is checked without sleeping: after the messages under test, the sender sends a
// "fence" on the same durable (ordered) channel to everyone. A participant's first message
// on that channel must then be the one it was meant to get, or the fence itself; anything
// duplicated would sit before the fence.
//
// Not covered here: a frame claiming another sender. The agent (and the SDK under it)
// never produces one — the server stamps FROM — so the server's own tests cover it.

#include <cstdio>

#include <gtest/gtest.h>
#include <signal.h>

#include "harness.hpp"

namespace switchboard::integration {
namespace {

std::vector<std::string> five() {
  return {"alice", "bob", "carol", "dave", "eve"};
}

using FiveParticipantCall = IntegrationTest;
using SequenceNumbers = IntegrationTest;
using ChannelIds = IntegrationTest;
using SenderClose = IntegrationTest;
using Leave = IntegrationTest;
using Recipients = IntegrationTest;
using AgentContract = IntegrationTest;
using FlowControl = IntegrationTest;

Agent& by_name(std::vector<std::unique_ptr<Agent>>& agents, const std::string& user) {
  for (auto& agent : agents) {
    if (agent->user() == user) return *agent;
  }
  throw HarnessError("no agent " + user);
}

// The texts and sequence numbers of the messages `receiver` gets from `from` on
// `channel`, in order, up to and including the first one whose text is "fence".
std::vector<std::pair<std::uint32_t, std::string>> messages_until_fence(Agent& receiver,
                                                                        const std::string& from,
                                                                        std::uint16_t channel) {
  std::vector<std::pair<std::uint32_t, std::string>> got;
  for (;;) {
    const Json m = receiver.expect_message(from, channel);
    got.emplace_back(m.at("sequenceNumber").get<std::uint32_t>(), m.value("text", "<binary>"));
    if (got.back().second == "fence") return got;
  }
}

using Received = std::vector<std::pair<std::uint32_t, std::string>>;

// {"op":"leave"}, answered by `left` (whether it echoes the req is pinned separately).
void leave(Agent& agent) {
  agent.write_command({{"op", "leave"}});
  agent.expect("left", is_event("left"));
}

TEST_F(FiveParticipantCall, BroadcastReachesEveryOtherParticipantOnceWithTheSameSequenceNumber) {
  Server server;
  auto agents = join_call(server, unique_call_id(), five());
  Agent& alice = by_name(agents, "alice");

  const std::uint16_t channel = alice.create_sender({{"channelId", 10000}});
  ASSERT_EQ(channel, 10000);
  EXPECT_EQ(alice.send_text(channel, "hello everyone"), 1u);
  EXPECT_EQ(alice.send_text(channel, "fence"), 2u);

  for (const std::string& user : {"bob", "carol", "dave", "eve"}) {
    SCOPED_TRACE(user);
    Agent& receiver = by_name(agents, user);
    // receiver_created comes before the receiver's first message.
    const Json first =
        receiver.expect("receiver_created or message from alice", [&](const Json& e) {
          return (e.value("event", "") == "receiver_created" ||
                  e.value("event", "") == "message") &&
                 e.value("from", "") == "alice";
        });
    EXPECT_EQ(first.value("event", ""), "receiver_created");
    EXPECT_EQ(first.value("channelId", -1), 10000);

    const Json m = receiver.expect_message("alice", channel);
    EXPECT_EQ(m.value("sequenceNumber", 0), 1);
    EXPECT_EQ(m.value("text", ""), "hello everyone");
    EXPECT_EQ(m.value("base64", ""), base64_encode("hello everyone"));
    EXPECT_EQ(m.value("size", 0), 14);
    const Json fence = receiver.expect_message("alice", channel);
    EXPECT_EQ(fence.value("sequenceNumber", 0), 2);
    EXPECT_EQ(fence.value("text", ""), "fence");
    // Exactly once: a second copy or a second receiver would have come before the fence.
    EXPECT_TRUE(receiver.take_received(is_message_from("alice", channel)).empty());
    EXPECT_TRUE(receiver.take_received(is_event("receiver_created")).empty());
  }

  // The sender never hears itself: bob broadcasts after alice, alice gets bob's message
  // and nothing from alice.
  Agent& bob = by_name(agents, "bob");
  const std::uint16_t bob_channel = bob.create_sender({{"channelId", 10000}});
  bob.send_text(bob_channel, "bob here");
  EXPECT_EQ(alice.expect_message("bob", bob_channel).value("text", ""), "bob here");
  EXPECT_TRUE(alice
                  .take_received([](const Json& e) {
                    return e.value("from", "") == "alice" &&
                           (e.value("event", "") == "message" ||
                            e.value("event", "") == "receiver_created");
                  })
                  .empty());
}

TEST_F(FiveParticipantCall, MessageToOneRecipientReachesOnlyThatRecipient) {
  Server server;
  auto agents = join_call(server, unique_call_id(), five());
  Agent& alice = by_name(agents, "alice");

  const std::uint16_t channel =
      alice.create_sender({{"channelId", 20}, {"participants", {"carol"}}});
  EXPECT_EQ(alice.send_text(channel, "just for carol"), 1u);
  alice.set_participants(channel, {});
  EXPECT_EQ(alice.send_text(channel, "fence"), 2u);

  EXPECT_EQ(messages_until_fence(by_name(agents, "carol"), "alice", channel),
            (Received{{1, "just for carol"}, {2, "fence"}}));
  for (const std::string& user : {"bob", "dave", "eve"}) {
    SCOPED_TRACE(user);
    EXPECT_EQ(messages_until_fence(by_name(agents, user), "alice", channel),
              (Received{{2, "fence"}}));
  }
}

TEST_F(FiveParticipantCall, MessageToASubsetReachesExactlyThatSubset) {
  Server server;
  auto agents = join_call(server, unique_call_id(), five());
  Agent& alice = by_name(agents, "alice");

  // An id listed twice and the sender itself change nothing.
  const std::uint16_t channel =
      alice.create_sender({{"channelId", 21}, {"participants", {"bob", "dave", "bob", "alice"}}});
  EXPECT_EQ(alice.send_text(channel, "bob and dave"), 1u);
  alice.set_participants(channel, {});
  EXPECT_EQ(alice.send_text(channel, "fence"), 2u);

  for (const std::string& user : {"bob", "dave"}) {
    SCOPED_TRACE(user);
    EXPECT_EQ(messages_until_fence(by_name(agents, user), "alice", channel),
              (Received{{1, "bob and dave"}, {2, "fence"}}));
  }
  for (const std::string& user : {"carol", "eve"}) {
    SCOPED_TRACE(user);
    EXPECT_EQ(messages_until_fence(by_name(agents, user), "alice", channel),
              (Received{{2, "fence"}}));
  }
  EXPECT_TRUE(alice.take_received(is_event("message")).empty());
}

TEST_F(FiveParticipantCall, SetParticipantsRedirectsTheMessagesThatFollow) {
  Server server;
  auto agents = join_call(server, unique_call_id(), five());
  Agent& alice = by_name(agents, "alice");

  const std::uint16_t channel = alice.create_sender({{"channelId", 22}});
  EXPECT_EQ(alice.send_text(channel, "all"), 1u);
  const Json set = alice.command(
      {{"op", "set_participants"}, {"channelId", channel}, {"participants", {"bob"}}});
  EXPECT_EQ(set.value("event", ""), "participants_set");
  EXPECT_EQ(set.value("channelId", -1), channel);
  EXPECT_EQ(alice.send_text(channel, "bob"), 2u);
  alice.set_participants(channel, {"carol", "eve"});
  EXPECT_EQ(alice.send_text(channel, "carol and eve"), 3u);
  alice.set_participants(channel, {});
  EXPECT_EQ(alice.send_text(channel, "fence"), 4u);

  EXPECT_EQ(messages_until_fence(by_name(agents, "bob"), "alice", channel),
            (Received{{1, "all"}, {2, "bob"}, {4, "fence"}}));
  EXPECT_EQ(messages_until_fence(by_name(agents, "carol"), "alice", channel),
            (Received{{1, "all"}, {3, "carol and eve"}, {4, "fence"}}));
  EXPECT_EQ(messages_until_fence(by_name(agents, "dave"), "alice", channel),
            (Received{{1, "all"}, {4, "fence"}}));
  EXPECT_EQ(messages_until_fence(by_name(agents, "eve"), "alice", channel),
            (Received{{1, "all"}, {3, "carol and eve"}, {4, "fence"}}));
}

// shared/reference/acs-datachannel-concept.md, "Sequence number": recipients A and B,
// then B, then A: A gets 1 and 3, B gets 1 and 2.
TEST_F(SequenceNumbers, RecipientsSeeTheGapsLeftByParticipantChanges) {
  Server server;
  auto agents = join_call(server, unique_call_id(), {"sender", "a", "b"});
  Agent& sender = by_name(agents, "sender");

  const std::uint16_t channel =
      sender.create_sender({{"channelId", 3000}, {"participants", {"a", "b"}}});
  EXPECT_EQ(sender.send_text(channel, "one"), 1u);
  sender.set_participants(channel, {"b"});
  EXPECT_EQ(sender.send_text(channel, "two"), 2u);
  sender.set_participants(channel, {"a"});
  EXPECT_EQ(sender.send_text(channel, "three"), 3u);
  sender.set_participants(channel, {});
  EXPECT_EQ(sender.send_text(channel, "fence"), 4u);

  EXPECT_EQ(messages_until_fence(by_name(agents, "a"), "sender", channel),
            (Received{{1, "one"}, {3, "three"}, {4, "fence"}}));
  EXPECT_EQ(messages_until_fence(by_name(agents, "b"), "sender", channel),
            (Received{{1, "one"}, {2, "two"}, {4, "fence"}}));
}

TEST_F(ChannelIds, AbsentOrZeroChannelIdAllocatesDistinctIdsFrom1024Up) {
  Server server;
  auto agents = join_call(server, unique_call_id(), {"alice", "bob"});
  Agent& alice = by_name(agents, "alice");
  Agent& bob = by_name(agents, "bob");

  const Json absent = alice.command({{"op", "create_sender"}});
  ASSERT_EQ(absent.value("event", ""), "sender_created") << absent.dump();
  const Json zero = alice.command({{"op", "create_sender"}, {"channelId", 0}});
  ASSERT_EQ(zero.value("event", ""), "sender_created") << zero.dump();
  const int first = absent.value("channelId", -1);
  const int second = zero.value("channelId", -1);
  EXPECT_GE(first, 1024);
  EXPECT_LE(first, 65535);
  EXPECT_GE(second, 1024);
  EXPECT_LE(second, 65535);
  EXPECT_NE(first, second);
  // The server's default largest message (256 KiB) reaches the SDK.
  EXPECT_EQ(absent.value("maxMessageSize", 0), 262144);

  // An explicit id is kept.
  EXPECT_EQ(alice.create_sender({{"channelId", 1}}), 1);

  // The receivers carry the allocated ids.
  alice.send_text(static_cast<std::uint16_t>(first), "on the first");
  alice.send_text(static_cast<std::uint16_t>(second), "on the second");
  alice.send_text(1, "on one");
  EXPECT_EQ(bob.expect_message("alice", static_cast<std::uint16_t>(first)).value("text", ""),
            "on the first");
  EXPECT_EQ(bob.expect_message("alice", static_cast<std::uint16_t>(second)).value("text", ""),
            "on the second");
  EXPECT_EQ(bob.expect_message("alice", 1).value("text", ""), "on one");
}

TEST_F(SenderClose, RecipientsSeeTheirReceiverClosedWithSenderClosed) {
  Server server;
  auto agents = join_call(server, unique_call_id(), five());
  Agent& alice = by_name(agents, "alice");

  const std::uint16_t channel = alice.create_sender({{"channelId", 500}});
  alice.send_text(channel, "last words");
  const Json closed = alice.command({{"op", "close"}, {"channelId", channel}});
  EXPECT_EQ(closed.value("event", ""), "sender_closed");
  EXPECT_EQ(closed.value("channelId", -1), channel);

  for (const std::string& user : {"bob", "carol", "dave", "eve"}) {
    SCOPED_TRACE(user);
    Agent& receiver = by_name(agents, user);
    // The message first, then the close.
    const Json first = receiver.expect("message or receiver_closed from alice", [](const Json& e) {
      return (e.value("event", "") == "message" || e.value("event", "") == "receiver_closed") &&
             e.value("from", "") == "alice";
    });
    EXPECT_EQ(first.value("event", ""), "message");
    EXPECT_EQ(first.value("text", ""), "last words");
    const Json receiver_closed = receiver.expect("receiver_closed", is_event("receiver_closed"));
    EXPECT_EQ(receiver_closed.value("channelId", -1), channel);
    EXPECT_EQ(receiver_closed.value("from", ""), "alice");
    EXPECT_EQ(receiver_closed.value("reason", ""), "sender_closed");
  }
}

TEST_F(SenderClose, SendAfterCloseFailsWithSenderClosed) {
  Server server;
  auto agents = join_call(server, unique_call_id(), {"alice", "bob"});
  Agent& alice = by_name(agents, "alice");

  const std::uint16_t channel = alice.create_sender({{"channelId", 501}});
  EXPECT_EQ(alice.send_text(channel, "before"), 1u);
  alice.command({{"op", "close"}, {"channelId", channel}});
  const Json answer =
      alice.command({{"op", "send"}, {"channelId", channel}, {"text", "after"}, {"req", "late"}});
  EXPECT_EQ(answer.value("event", ""), "error");
  EXPECT_EQ(answer.value("code", ""), "SENDER_CLOSED");
  EXPECT_EQ(answer.value("req", ""), "late");

  // The agent keeps running after a failed command, and bob got only the first message.
  Agent& bob = by_name(agents, "bob");
  EXPECT_EQ(bob.expect_message("alice", channel).value("text", ""), "before");
  EXPECT_EQ(bob.expect("receiver_closed", is_event("receiver_closed")).value("reason", ""),
            "sender_closed");
  EXPECT_TRUE(bob.take_received(is_message_from("alice", channel)).empty());
}

// Issue 4: "When a participant leaves, every receiver fed by it closes at the others
// (participant_left)." A leave is not a close of each sender: the reason says which.
TEST_F(Leave, EveryReceiverFedByTheLeaverClosesWithParticipantLeft) {
  Server server;
  auto agents = join_call(server, unique_call_id(), five());
  Agent& alice = by_name(agents, "alice");
  Agent& bob = by_name(agents, "bob");

  const std::uint16_t normal = alice.create_sender({{"channelId", 600}});
  const std::uint16_t high = alice.create_sender({{"channelId", 601}, {"priority", "high"}});
  const std::uint16_t bobs = bob.create_sender({{"channelId", 600}});
  alice.send_text(normal, "normal");
  alice.send_text(high, "high");
  bob.send_text(bobs, "bob 1");
  const std::vector<std::string> others = {"carol", "dave", "eve"};
  for (const std::string& user : others) {
    Agent& receiver = by_name(agents, user);
    EXPECT_EQ(receiver.expect_message("alice", normal).value("text", ""), "normal");
    EXPECT_EQ(receiver.expect_message("alice", high).value("text", ""), "high");
    EXPECT_EQ(receiver.expect_message("bob", bobs).value("text", ""), "bob 1");
  }
  EXPECT_EQ(bob.expect_message("alice", normal).value("text", ""), "normal");
  EXPECT_EQ(bob.expect_message("alice", high).value("text", ""), "high");

  leave(alice);
  EXPECT_EQ(alice.process().wait_exit(Clock::now() + kWait), std::optional<int>(0));

  for (const std::string& user : {"bob", "carol", "dave", "eve"}) {
    SCOPED_TRACE(user);
    Agent& receiver = by_name(agents, user);
    std::set<int> closed;
    for (int i = 0; i < 2; ++i) {
      const Json e = receiver.expect("receiver_closed from alice", [](const Json& e) {
        return e.value("event", "") == "receiver_closed" && e.value("from", "") == "alice";
      });
      EXPECT_EQ(e.value("reason", ""), "participant_left");
      closed.insert(e.value("channelId", -1));
    }
    EXPECT_EQ(closed, (std::set<int>{normal, high}));
    receiver.expect("participant_left alice", [](const Json& e) {
      return e.value("event", "") == "participant_left" && e.value("user", "") == "alice";
    });
  }

  // Bob's receivers stay open.
  EXPECT_EQ(bob.send_text(bobs, "bob 2"), 2u);
  for (const std::string& user : others) {
    Agent& receiver = by_name(agents, user);
    const Json m = receiver.expect_message("bob", bobs);
    EXPECT_EQ(m.value("text", ""), "bob 2");
    EXPECT_EQ(m.value("sequenceNumber", 0), 2);
    EXPECT_TRUE(receiver
                    .take_received([](const Json& e) {
                      return e.value("event", "") == "receiver_closed" &&
                             e.value("from", "") == "bob";
                    })
                    .empty());
  }
}

// A participant that vanishes without leaving (its process killed): the server notices
// the closed connection, keeps the participant for its grace period (it might resume,
// docs/protocol.md "Reconnecting and resuming"; half a second here), and then the
// others' receivers of it close with participant_left.
TEST_F(Leave, ReceiversOfAParticipantWhoseAgentIsKilledCloseWithParticipantLeft) {
  Server server(Server::Options{.flags = {"--resume-grace-ms", "500"}});
  auto agents = join_call(server, unique_call_id(), {"alice", "bob", "carol"});
  Agent& alice = by_name(agents, "alice");
  const std::uint16_t channel = alice.create_sender({{"channelId", 610}});
  alice.send_text(channel, "hello");
  for (const std::string& user : {"bob", "carol"}) {
    EXPECT_EQ(by_name(agents, user).expect_message("alice", channel).value("text", ""), "hello");
  }

  ::kill(alice.process().pid(), SIGKILL);
  alice.process().wait_exit(Clock::now() + kWait);

  for (const std::string& user : {"bob", "carol"}) {
    SCOPED_TRACE(user);
    Agent& receiver = by_name(agents, user);
    const Json closed = receiver.expect("receiver_closed", is_event("receiver_closed"));
    EXPECT_EQ(closed.value("from", ""), "alice");
    EXPECT_EQ(closed.value("channelId", -1), channel);
    EXPECT_EQ(closed.value("reason", ""), "participant_left");
    receiver.expect("participant_left alice", [](const Json& e) {
      return e.value("event", "") == "participant_left" && e.value("user", "") == "alice";
    });
  }
}

// The same identity joining again replaces the older connection: it is told why and
// leaves; the others see it leave and join again, and its old receivers close.
TEST_F(Leave, JoiningAgainWithTheSameIdentityReplacesTheOlderConnection) {
  Server server;
  const std::string call = unique_call_id();
  auto agents = join_call(server, call, {"alice", "bob"});
  Agent& old_alice = by_name(agents, "alice");
  Agent& bob = by_name(agents, "bob");
  const std::uint16_t channel = old_alice.create_sender({{"channelId", 620}});
  old_alice.send_text(channel, "old");
  EXPECT_EQ(bob.expect_message("alice", channel).value("text", ""), "old");

  Agent new_alice(server, call, "alice");
  new_alice.expect_joined();
  const Json disconnected = old_alice.expect("disconnected", is_event("disconnected"));
  EXPECT_NE(disconnected.value("reason", "").find("another connection"), std::string::npos)
      << disconnected.dump();
  const auto status = old_alice.process().wait_exit(Clock::now() + kWait);
  ASSERT_TRUE(status.has_value()) << "the replaced agent did not exit";
  EXPECT_NE(*status, 0);

  const Json closed = bob.expect("receiver_closed", is_event("receiver_closed"));
  EXPECT_EQ(closed.value("from", ""), "alice");
  EXPECT_EQ(closed.value("reason", ""), "participant_left");
  bob.expect("participant_left alice", [](const Json& e) {
    return e.value("event", "") == "participant_left" && e.value("user", "") == "alice";
  });
  bob.expect("participant_joined alice", [](const Json& e) {
    return e.value("event", "") == "participant_joined" && e.value("user", "") == "alice";
  });

  // The new connection is a new sender: its channel starts over at 1.
  const std::uint16_t again = new_alice.create_sender({{"channelId", 620}});
  EXPECT_EQ(new_alice.send_text(again, "new"), 1u);
  const Json m = bob.expect_message("alice", again);
  EXPECT_EQ(m.value("text", ""), "new");
  EXPECT_EQ(m.value("sequenceNumber", 0), 1);
}

TEST_F(Recipients, SixtyFiveRecipientsFailWithTooManyParticipants) {
  Server server;
  auto agents = join_call(server, unique_call_id(), {"alice", "bob"});
  Agent& alice = by_name(agents, "alice");
  Agent& bob = by_name(agents, "bob");

  std::vector<std::string> sixty_four = {"bob"};
  for (int i = 1; i < 64; ++i) sixty_four.push_back("absent-" + std::to_string(i));
  std::vector<std::string> sixty_five = sixty_four;
  sixty_five.push_back("absent-64");

  const Json refused =
      alice.command({{"op", "create_sender"}, {"channelId", 700}, {"participants", sixty_five}});
  EXPECT_EQ(refused.value("event", ""), "error");
  EXPECT_EQ(refused.value("code", ""), "TOO_MANY_PARTICIPANTS");

  // 64 is the limit, not past it.
  const std::uint16_t channel =
      alice.create_sender({{"channelId", 701}, {"participants", sixty_four}});
  EXPECT_EQ(alice.send_text(channel, "to 64"), 1u);
  const Json set_refused = alice.command(
      {{"op", "set_participants"}, {"channelId", channel}, {"participants", sixty_five}});
  EXPECT_EQ(set_refused.value("event", ""), "error");
  EXPECT_EQ(set_refused.value("code", ""), "TOO_MANY_PARTICIPANTS");
  // The refused list changed nothing: the sender still reaches bob.
  EXPECT_EQ(alice.send_text(channel, "still to 64"), 2u);

  EXPECT_EQ(bob.expect_message("alice", channel).value("text", ""), "to 64");
  EXPECT_EQ(bob.expect_message("alice", channel).value("text", ""), "still to 64");
}

TEST_F(Recipients, ListingOnlyAbsentParticipantsFailsWithNoValidParticipant) {
  Server server;
  auto agents = join_call(server, unique_call_id(), {"alice", "bob", "carol"});
  Agent& alice = by_name(agents, "alice");
  Agent& bob = by_name(agents, "bob");

  const std::uint16_t channel =
      alice.create_sender({{"channelId", 800}, {"participants", {"zed", "yann"}}});
  const Json absent = alice.command({{"op", "send"}, {"channelId", channel}, {"text", "x"}});
  EXPECT_EQ(absent.value("event", ""), "error");
  EXPECT_EQ(absent.value("code", ""), "NO_VALID_PARTICIPANT");

  // The sender itself is not a recipient either.
  alice.set_participants(channel, {"alice"});
  const Json self = alice.command({{"op", "send"}, {"channelId", channel}, {"text", "x"}});
  EXPECT_EQ(self.value("code", ""), "NO_VALID_PARTICIPANT");

  // Nor is a participant who left.
  Agent& carol = by_name(agents, "carol");
  leave(carol);
  alice.expect("participant_left carol", [](const Json& e) {
    return e.value("event", "") == "participant_left" && e.value("user", "") == "carol";
  });
  alice.set_participants(channel, {"carol"});
  const Json gone = alice.command({{"op", "send"}, {"channelId", channel}, {"text", "x"}});
  EXPECT_EQ(gone.value("code", ""), "NO_VALID_PARTICIPANT");

  // A valid list works again, and nothing refused ever reached bob.
  alice.set_participants(channel, {"carol", "bob"});
  alice.send_text(channel, "for bob");
  EXPECT_EQ(bob.expect_message("alice", channel).value("text", ""), "for bob");
}

TEST_F(AgentContract, LeaveIsAnsweredByLeftWithItsReqAndTheAgentExitsZero) {
  Server server;
  auto agents = join_call(server, unique_call_id(), {"alice", "bob"});
  Agent& alice = by_name(agents, "alice");
  Agent& bob = by_name(agents, "bob");

  alice.write_command({{"op", "leave"}, {"req", "bye"}});
  const Json left = alice.expect("left", is_event("left"));
  EXPECT_EQ(left.value("req", ""), "bye") << "every command's req is echoed by its answer";
  EXPECT_EQ(alice.process().wait_exit(Clock::now() + kWait), std::optional<int>(0));
  bob.expect("participant_left alice", [](const Json& e) {
    return e.value("event", "") == "participant_left" && e.value("user", "") == "alice";
  });

  // EOF on stdin leaves too, with status 0.
  bob.process().close_stdin();
  EXPECT_EQ(bob.process().wait_exit(Clock::now() + kWait), std::optional<int>(0));
}

// An honest file transfer through the server faster than the recipient takes it: alice
// sends 20 MiB of durable messages to bob as fast as her SDK lets her (no bitrateKbps),
// with the server's durable queue bound at 1 MiB. The server holds alice back (it stops
// reading her connection) instead of cutting bob off as a slow consumer: he gets
// everything, in order. (The broadcast to two recipients is the next test.)
TEST_F(FlowControl, UnpacedDurableTransferIsPacedToTheRecipientInsteadOfCuttingItOff) {
  constexpr std::size_t kMessageSize = std::size_t{128} * 1024;
  constexpr std::size_t kMessages = 160;  // 20 MiB
  Server server({.flags = {"--durable-queue-bytes", "1048576", "--rate-limit-bytes", "0",
                           "--rate-limit-messages", "0"}});
  auto agents = join_call(server, unique_call_id(), {"alice", "bob"});
  Agent& alice = by_name(agents, "alice");
  Agent& bob = by_name(agents, "bob");
  const std::uint16_t channel = alice.create_sender({{"channelId", 5100}});

  std::vector<std::string> encoded;
  std::vector<std::uint32_t> sequence_numbers;
  for (std::size_t i = 0; i < kMessages; ++i) {
    encoded.push_back(
        base64_encode(random_bytes(kMessageSize, static_cast<std::uint32_t>(7000 + i))));
    std::string why;
    const auto sequence = alice.send_retrying(channel, encoded.back(), why);
    ASSERT_TRUE(sequence.has_value()) << "message " << i << ": " << why;
    sequence_numbers.push_back(*sequence);
  }

  for (std::size_t i = 0; i < kMessages; ++i) {
    const auto m = bob.next(is_message_from("alice", channel), kWait);
    ASSERT_TRUE(m.has_value()) << "bob got " << i << " of " << kMessages << " messages; "
                               << bob.describe_pending();
    ASSERT_EQ(m->value("sequenceNumber", 0u), sequence_numbers[i]) << "message " << i;
    ASSERT_TRUE(m->value("base64", "") == encoded[i]) << "message " << i << " differs";
  }
  for (auto& agent : agents) {
    EXPECT_TRUE(agent->take_received(is_event("disconnected")).empty()) << agent->user();
    EXPECT_TRUE(agent->take_received(is_event("participant_left")).empty()) << agent->user();
  }
  const auto metrics = http_get(server.port(), "/metrics");
  ASSERT_TRUE(metrics.has_value());
  const std::string dropped = R"(switchboard_dropped_messages_total{reason="slow_consumer"} 0)";
  EXPECT_NE(metrics->body.find(dropped), std::string::npos) << metrics->body;
  const std::string pauses = "\nswitchboard_sender_pauses_total ";
  const auto at = metrics->body.find(pauses);
  ASSERT_NE(at, std::string::npos) << metrics->body;
  std::printf("alice was paused %s times\n",
              metrics->body
                  .substr(at + pauses.size(), metrics->body.find('\n', at + 1) - at - pauses.size())
                  .c_str());
}

// The same unpaced 20 MiB, broadcast to two agents that read equally fast, with the bound at
// 1 MiB. The server paces alice to whichever of them is behind (a recipient that starts
// lagging gets a grace period to catch up before the sender stops waiting for it), so
// neither drifts to the bound: both get everything, in order, and nobody is cut off.
TEST_F(FlowControl, UnpacedDurableBroadcastToTwoEqualRecipientsCutsOffNeither) {
  constexpr std::size_t kMessageSize = std::size_t{128} * 1024;
  constexpr std::size_t kMessages = 160;  // 20 MiB
  Server server({.flags = {"--durable-queue-bytes", "1048576", "--rate-limit-bytes", "0",
                           "--rate-limit-messages", "0"}});
  auto agents = join_call(server, unique_call_id(), {"alice", "bob", "carol"});
  Agent& alice = by_name(agents, "alice");
  const std::uint16_t channel = alice.create_sender({{"channelId", 5200}});

  std::vector<std::string> encoded;
  std::vector<std::uint32_t> sequence_numbers;
  for (std::size_t i = 0; i < kMessages; ++i) {
    encoded.push_back(
        base64_encode(random_bytes(kMessageSize, static_cast<std::uint32_t>(9000 + i))));
    std::string why;
    const auto sequence = alice.send_retrying(channel, encoded.back(), why);
    ASSERT_TRUE(sequence.has_value()) << "message " << i << ": " << why;
    sequence_numbers.push_back(*sequence);
  }

  for (const char* user : {"bob", "carol"}) {
    Agent& receiver = by_name(agents, user);
    for (std::size_t i = 0; i < kMessages; ++i) {
      const auto m = receiver.next(is_message_from("alice", channel), kWait);
      ASSERT_TRUE(m.has_value()) << user << " got " << i << " of " << kMessages << " messages; "
                                 << receiver.describe_pending();
      ASSERT_EQ(m->value("sequenceNumber", 0u), sequence_numbers[i]) << user << " message " << i;
      ASSERT_TRUE(m->value("base64", "") == encoded[i]) << user << " message " << i << " differs";
    }
  }
  for (auto& agent : agents) {
    EXPECT_TRUE(agent->take_received(is_event("disconnected")).empty()) << agent->user();
    EXPECT_TRUE(agent->take_received(is_event("participant_left")).empty()) << agent->user();
  }
  const auto metrics = http_get(server.port(), "/metrics");
  ASSERT_TRUE(metrics.has_value());
  const std::string dropped = R"(switchboard_dropped_messages_total{reason="slow_consumer"} 0)";
  EXPECT_NE(metrics->body.find(dropped), std::string::npos) << metrics->body;
}

}  // namespace
}  // namespace switchboard::integration
