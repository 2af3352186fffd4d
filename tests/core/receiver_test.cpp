#include <gtest/gtest.h>

#include "core/reassembler.hpp"
#include "test_support.hpp"

namespace switchboard::core {
namespace {

using testing::Inbox;

// alice and bob in one in-process call; bob's receivers report to `inbox`.
struct AliceAndBob {
  explicit AliceAndBob(EndpointConfig config = {}, bool auto_read = true) : call(config) {
    inbox.auto_read = auto_read;
    inbox.attach(bob);
  }
  LocalCall call;
  TimePoint now = Clock::now();
  DataChannelEndpoint& alice = call.join("alice", now);
  DataChannelEndpoint& bob = call.join("bob", now);
  Inbox inbox;
};

TEST(Receiver, IsCreatedOnFirstMessageAndAnnouncedBeforeItIsReadable) {
  AliceAndBob t;
  auto& [call, now, alice, bob, inbox] = t;
  auto s = alice.create_sender({.channelId = 10000}, now);
  call.pump(now);
  EXPECT_TRUE(inbox.events.empty()) << "a sender alone creates no receiver";
  ASSERT_TRUE(alice.send(**s, as_bytes("hi")));
  call.pump(now);
  ASSERT_EQ(inbox.events.size(), 2u);
  EXPECT_EQ(inbox.events[0], "created 10000 alice readable=0");
  EXPECT_EQ(inbox.events[1], "message 10000 alice 1");
  EXPECT_EQ(inbox.receivers[0]->sender_identity(), "alice");
  EXPECT_EQ(inbox.receivers[0]->channel_id(), 10000);
}

TEST(Receiver, OneReceiverPerSenderAndChannel) {
  LocalCall call;
  auto now = Clock::now();
  auto& alice = call.join("alice", now);
  auto& bob = call.join("bob", now);
  auto& carol = call.join("carol", now);
  Inbox inbox;
  inbox.attach(carol);
  auto a1 = alice.create_sender({.channelId = 1}, now);
  auto a2 = alice.create_sender({.channelId = 2}, now);
  auto b1 = bob.create_sender({.channelId = 1}, now);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(alice.send(**a1, as_bytes("x")));
    ASSERT_TRUE(alice.send(**a2, as_bytes("x")));
    ASSERT_TRUE(bob.send(**b1, as_bytes("x")));
  }
  call.pump(now);
  EXPECT_EQ(inbox.receivers.size(), 3u);
  EXPECT_EQ(inbox.messages.size(), 9u);
}

TEST(Receiver, ReadMessageReturnsNothingWhenEmptyAndKeepsOrder) {
  AliceAndBob t{{}, false};
  auto& [call, now, alice, bob, inbox] = t;
  auto s = alice.create_sender({}, now);
  ASSERT_TRUE(alice.send(**s, as_bytes("one")));
  ASSERT_TRUE(alice.send(**s, as_bytes("two")));
  call.pump(now);
  auto& r = *inbox.receivers.at(0);
  EXPECT_EQ(r.unread_messages(), 2u);
  EXPECT_EQ(as_string(r.read()->data), "one");
  auto second = r.read();
  EXPECT_EQ(second->sequence_number, 2u);
  EXPECT_EQ(as_string(second->data), "two");
  EXPECT_FALSE(r.read());
}

TEST(Receiver, ClosesWhenSenderClosesAndKeepsUnreadMessagesReadable) {
  AliceAndBob t{{}, false};
  auto& [call, now, alice, bob, inbox] = t;
  auto s = alice.create_sender({.channelId = 4}, now);
  ASSERT_TRUE(alice.send(**s, as_bytes("last words")));
  alice.close(**s);
  call.pump(now);
  auto& r = *inbox.receivers.at(0);
  EXPECT_TRUE(r.closed());
  EXPECT_EQ(r.close_reason(), ReceiverCloseReason::SenderClosed);
  EXPECT_EQ(inbox.events.back(), "closed 4 alice sender_closed");
  EXPECT_EQ(as_string(r.read()->data), "last words");
}

TEST(Receiver, ClosesWhenSenderLeavesTheCall) {
  AliceAndBob t;
  auto& [call, now, alice, bob, inbox] = t;
  auto s = alice.create_sender({.channelId = 4}, now);
  ASSERT_TRUE(alice.send(**s, as_bytes("bye")));
  call.pump(now);
  call.leave(alice);
  EXPECT_EQ(inbox.events.back(), "closed 4 alice participant_left");
}

TEST(Receiver, ClosesAfterIdleTimeoutAndANewOneFollowsLaterMessages) {
  AliceAndBob t{EndpointConfig{.receiver_idle_timeout = std::chrono::seconds(30)}};
  auto& [call, now, alice, bob, inbox] = t;
  auto s = alice.create_sender({.channelId = 4}, now);
  ASSERT_TRUE(alice.send(**s, as_bytes("x")));
  call.pump(now);
  ASSERT_TRUE(bob.next_wakeup(now));
  EXPECT_EQ(*bob.next_wakeup(now), now + std::chrono::seconds(30));
  bob.on_timer(now + std::chrono::seconds(29));
  EXPECT_FALSE(inbox.receivers[0]->closed());
  bob.on_timer(now + std::chrono::seconds(30));
  EXPECT_EQ(inbox.receivers[0]->close_reason(), ReceiverCloseReason::Idle);
  EXPECT_EQ(inbox.events.back(), "closed 4 alice idle");
  ASSERT_TRUE(alice.send(**s, as_bytes("y")));
  call.pump(now + std::chrono::seconds(31));
  EXPECT_EQ(inbox.receivers.size(), 2u);
}

TEST(Receiver, DefaultIdleTimeoutIs120Seconds) {
  EXPECT_EQ(EndpointConfig{}.receiver_idle_timeout, std::chrono::seconds(120));
}

TEST(Receiver, UnreadBoundDropsLossyMessages) {
  AliceAndBob t{EndpointConfig{.receive_buffer_limit = 64 * 1024}, false};
  auto& [call, now, alice, bob, inbox] = t;
  auto s = alice.create_sender({.reliability = Reliability::Lossy}, now);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(alice.send(**s, Bytes(16 * 1024, 1)));
  call.pump(now);
  auto& r = *inbox.receivers.at(0);
  EXPECT_EQ(r.unread_bytes(), 64u * 1024);
  EXPECT_EQ(r.dropped_messages(), 6u);
  EXPECT_EQ(bob.stats().lossy_dropped_on_receive, 6u);
  EXPECT_FALSE(bob.durable_input_paused()) << "lossy traffic never pauses input";
}

TEST(Receiver, UnreadBoundPausesDurableInputWithoutLosingMessages) {
  AliceAndBob t{EndpointConfig{.receive_buffer_limit = 64 * 1024}, false};
  auto& [call, now, alice, bob, inbox] = t;
  auto s = alice.create_sender({}, now);
  EXPECT_FALSE(bob.durable_input_paused());
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(alice.send(**s, Bytes(16 * 1024, 1)));
  call.pump(now);
  auto& r = *inbox.receivers.at(0);
  EXPECT_TRUE(bob.durable_input_paused());
  EXPECT_EQ(r.unread_messages(), 10u) << "durable messages are never dropped";
  while (r.unread_bytes() >= 64 * 1024) ASSERT_TRUE(r.read());
  EXPECT_FALSE(bob.durable_input_paused());
}

TEST(Receiver, FramesFromAParticipantNotYetAnnouncedWaitForTheRoster) {
  auto now = Clock::now();
  DataChannelEndpoint bob(2, {});
  bob.participant_joined({2, "bob", ""}, now);
  Inbox inbox;
  inbox.attach(bob);
  FrameHeader h;
  h.channel_id = 5;
  h.sequence = 1;
  h.from = 9;
  Bytes frame;
  encode_frame(h, {}, as_bytes("early"), frame);
  ASSERT_TRUE(bob.ingest(frame, now));
  EXPECT_TRUE(inbox.events.empty());
  bob.participant_joined({9, "zoe", ""}, now);
  ASSERT_EQ(inbox.messages.size(), 1u);
  EXPECT_EQ(inbox.messages[0].from, "zoe");
}

TEST(Receiver, MalformedInputIsAnErrorAndCounted) {
  auto now = Clock::now();
  DataChannelEndpoint bob(2, {});
  Bytes junk{1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff};
  auto r = bob.ingest(junk, now);
  ASSERT_FALSE(r);
  EXPECT_EQ(bob.stats().malformed_frames, 1u);
  FrameHeader h;
  h.channel_id = 5;
  h.sequence = 1;  // no sender stamped: not acceptable from the network
  Bytes unstamped;
  encode_frame(h, {}, as_bytes("x"), unstamped);
  EXPECT_FALSE(bob.ingest(unstamped, now));
}

TEST(Router, FrameClaimingAnotherSenderIsRejected) {
  // A client may not stamp its own frames with someone else's id.
  AliceAndBob t;
  auto& [call, now, alice, bob, inbox] = t;
  FrameHeader h;
  h.channel_id = 5;
  h.sequence = 1;
  h.from = bob.self();
  Bytes forged;
  encode_frame(h, {}, as_bytes("forged"), forged);
  call.relay(alice, forged, now);
  EXPECT_EQ(call.rejected_frames(), 1u);
  EXPECT_TRUE(inbox.messages.empty());
  Inbox alice_inbox;
  alice_inbox.attach(alice);
  h.from = alice.self();
  Bytes honest;
  encode_frame(h, {}, as_bytes("honest"), honest);
  call.relay(alice, honest, now);
  EXPECT_EQ(inbox.messages.size(), 1u);
}

// Fragments: in order for durable, in any order (or missing) for lossy.
FrameHeader fragment(std::uint32_t seq, std::uint32_t size, std::uint32_t offset,
                     Reliability r = Reliability::Lossy) {
  FrameHeader h;
  h.channel_id = 1;
  h.sequence = seq;
  h.reliability = r;
  h.fragmented = true;
  h.message_size = size;
  h.fragment_offset = offset;
  h.from = 3;
  return h;
}

DecodedFrame decoded(const FrameHeader& h, const Bytes& payload) {
  return DecodedFrame{h, {}, payload};
}

TEST(Reassembler, PutsOutOfOrderLossyFragmentsBackTogether) {
  Reassembler r;
  auto now = Clock::now();
  Bytes whole = testing::pattern(30, 1);
  Bytes a(whole.begin(), whole.begin() + 10);
  Bytes b(whole.begin() + 10, whole.begin() + 20);
  Bytes c(whole.begin() + 20, whole.end());
  EXPECT_FALSE(r.add(3, decoded(fragment(1, 30, 20), c), now));
  EXPECT_FALSE(r.add(3, decoded(fragment(1, 30, 0), a), now));
  auto done = r.add(3, decoded(fragment(1, 30, 10), b), now);
  ASSERT_TRUE(done);
  EXPECT_EQ(*done, whole);
  EXPECT_EQ(r.pending_bytes(), 0u);
}

TEST(Reassembler, DiscardsOverlappingFragments) {
  Reassembler r;
  auto now = Clock::now();
  EXPECT_FALSE(r.add(3, decoded(fragment(1, 30, 0), Bytes(20, 1)), now));
  EXPECT_FALSE(r.add(3, decoded(fragment(1, 30, 10), Bytes(20, 2)), now));
  EXPECT_EQ(r.discarded(), 1u);
}

TEST(Reassembler, ExpiresIncompleteLossyMessages) {
  Reassembler r;
  auto now = Clock::now();
  EXPECT_FALSE(r.add(3, decoded(fragment(1, 30, 0), Bytes(10, 1)), now));
  EXPECT_EQ(r.pending_bytes(), 30u);
  r.expire(now + std::chrono::seconds(9));
  EXPECT_EQ(r.pending_bytes(), 30u);
  r.expire(now + std::chrono::seconds(10));
  EXPECT_EQ(r.pending_bytes(), 0u);
}

TEST(Reassembler, BoundsPartialMessagesPerChannelAndInTotal) {
  Reassembler r(Reassembler::Limits{.max_pending_bytes = 100, .max_partials_per_channel = 2});
  auto now = Clock::now();
  for (std::uint32_t seq = 1; seq <= 5; ++seq) {
    EXPECT_FALSE(r.add(3, decoded(fragment(seq, 40, 0), Bytes(10, 1)),
                       now + std::chrono::milliseconds(seq)));
  }
  EXPECT_EQ(r.pending_bytes(), 80u) << "only the two newest partials stay";
  EXPECT_FALSE(r.add(3, decoded(fragment(9, 200, 0), Bytes(10, 1)), now));
  EXPECT_LE(r.pending_bytes(), 100u);
}

}  // namespace
}  // namespace switchboard::core

namespace switchboard::core {
namespace {

TEST(Receiver, DirectPeerFramesAreAttributedToThatPeer) {
  auto now = Clock::now();
  DataChannelEndpoint bob(2, {});
  bob.participant_joined({2, "bob", ""}, now);
  bob.participant_joined({1, "alice", ""}, now);
  testing::Inbox inbox;
  inbox.attach(bob);
  FrameHeader h;
  h.channel_id = 5;
  h.sequence = 1;
  Bytes unstamped;
  encode_frame(h, {}, as_bytes("direct"), unstamped);
  ASSERT_TRUE(bob.ingest_from(1, unstamped, now));
  ASSERT_EQ(inbox.messages.size(), 1u);
  EXPECT_EQ(inbox.messages[0].from, "alice");
  h.from = 3;  // a peer may not speak for someone else
  Bytes forged;
  encode_frame(h, {}, as_bytes("forged"), forged);
  EXPECT_FALSE(bob.ingest_from(1, forged, now));
  EXPECT_EQ(inbox.messages.size(), 1u);
}

}  // namespace
}  // namespace switchboard::core
