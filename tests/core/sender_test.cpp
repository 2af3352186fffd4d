#include <gtest/gtest.h>

#include "test_support.hpp"

namespace switchboard::core {
namespace {

using testing::Inbox;

class SenderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    alice = &call.join("alice", now);
    bob = &call.join("bob", now);
    carol = &call.join("carol", now);
    bob_inbox.attach(*bob);
    carol_inbox.attach(*carol);
  }

  DataChannelEndpoint::SenderPtr sender(SenderOptions options = {}) {
    auto s = alice->create_sender(options, now);
    EXPECT_TRUE(s) << s.error().message;
    return *s;
  }

  TimePoint now = Clock::now();
  LocalCall call;
  DataChannelEndpoint* alice = nullptr;
  DataChannelEndpoint* bob = nullptr;
  DataChannelEndpoint* carol = nullptr;
  Inbox bob_inbox;
  Inbox carol_inbox;
};

TEST_F(SenderTest, DefaultsAreDurableNormalUnpacedEveryone) {
  SenderOptions defaults;
  EXPECT_EQ(defaults.channelId, 0u);
  EXPECT_EQ(defaults.reliability, Reliability::Durable);
  EXPECT_EQ(defaults.priority, Priority::Normal);
  EXPECT_EQ(defaults.bitrateInKbps, 0u);
  EXPECT_TRUE(defaults.participants.empty());
  auto s = sender();
  EXPECT_EQ(s->reliability(), Reliability::Durable);
  EXPECT_EQ(s->max_message_size(), 256u * 1024);
}

TEST_F(SenderTest, SequenceNumbersStartAtOneAndCountEveryAcceptedMessage) {
  auto s = sender();
  EXPECT_EQ(*alice->send(*s, as_bytes("a")), 1u);
  EXPECT_EQ(*alice->send(*s, as_bytes("b")), 2u);
  EXPECT_FALSE(alice->send(*s, {}));  // refused: does not use a number
  EXPECT_EQ(*alice->send(*s, as_bytes("c")), 3u);
}

TEST_F(SenderTest, SequenceNumbersAreCountedPerSender) {
  auto one = sender();
  auto two = sender();
  EXPECT_EQ(*alice->send(*one, as_bytes("a")), 1u);
  EXPECT_EQ(*alice->send(*one, as_bytes("a")), 2u);
  EXPECT_EQ(*alice->send(*two, as_bytes("a")), 1u);
}

TEST_F(SenderTest, SequenceNumberWrapsFromMaxToZero) {
  auto s = sender();
  s->restore_sequence(4294967295u);
  EXPECT_EQ(*alice->send(*s, as_bytes("a")), 4294967295u);
  EXPECT_EQ(*alice->send(*s, as_bytes("b")), 0u);
  EXPECT_EQ(*alice->send(*s, as_bytes("c")), 1u);
  call.pump(now);
  EXPECT_EQ(bob_inbox.sequences(), (std::vector<std::uint32_t>{4294967295u, 0u, 1u}));
}

// The concept document's example: recipients {B,C}, then {C}, then {B}.
TEST_F(SenderTest, RecipientChangesLeaveGapsInSequenceNumbers) {
  auto s = sender({.participants = {"bob", "carol"}});
  ASSERT_TRUE(alice->send(*s, as_bytes("1")));
  ASSERT_TRUE(alice->set_participants(*s, {"carol"}));
  ASSERT_TRUE(alice->send(*s, as_bytes("2")));
  ASSERT_TRUE(alice->set_participants(*s, {"bob"}));
  ASSERT_TRUE(alice->send(*s, as_bytes("3")));
  call.pump(now);
  EXPECT_EQ(bob_inbox.sequences(), (std::vector<std::uint32_t>{1, 3}));
  EXPECT_EQ(carol_inbox.sequences(), (std::vector<std::uint32_t>{1, 2}));
}

TEST_F(SenderTest, EmptyRecipientListReachesEveryoneIncludingLaterJoiners) {
  auto s = sender();
  ASSERT_TRUE(alice->send(*s, as_bytes("before")));
  call.pump(now);
  auto& dave = call.join("dave", now);
  Inbox dave_inbox;
  dave_inbox.attach(dave);
  ASSERT_TRUE(alice->send(*s, as_bytes("after")));
  call.pump(now);
  EXPECT_EQ(bob_inbox.sequences(), (std::vector<std::uint32_t>{1, 2}));
  EXPECT_EQ(dave_inbox.sequences(), (std::vector<std::uint32_t>{2}));
}

TEST_F(SenderTest, MoreThan64RecipientsFailsWithTooManyParticipants) {
  std::vector<Identity> many;
  for (int i = 0; i < 65; ++i) many.push_back("user" + std::to_string(i));
  auto created = alice->create_sender({.participants = many}, now);
  ASSERT_FALSE(created);
  EXPECT_EQ(created.error().code, ErrorCode::TooManyParticipants);
  auto s = sender();
  auto set = alice->set_participants(*s, many);
  ASSERT_FALSE(set);
  EXPECT_EQ(set.error().code, ErrorCode::TooManyParticipants);
  many.resize(63);
  many.push_back("bob");
  ASSERT_TRUE(alice->set_participants(*s, many));  // 64 is fine; strangers skipped
  ASSERT_TRUE(alice->send(*s, as_bytes("x")));
  call.pump(now);
  EXPECT_EQ(bob_inbox.messages.size(), 1u);
  EXPECT_TRUE(carol_inbox.messages.empty());
}

TEST_F(SenderTest, NoListedParticipantInCallFailsWithNoValidParticipant) {
  auto s = sender({.participants = {"mallory", "alice"}});
  auto r = alice->send(*s, as_bytes("x"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::NoValidParticipant);
  // The same list becomes valid once someone on it is in the call.
  ASSERT_TRUE(alice->set_participants(*s, {"mallory", "carol"}));
  EXPECT_EQ(*alice->send(*s, as_bytes("x")), 1u);
}

TEST_F(SenderTest, RecipientWhoLeftIsSkipped) {
  auto s = sender({.participants = {"bob", "carol"}});
  call.leave(*carol);
  carol = nullptr;
  ASSERT_TRUE(alice->send(*s, as_bytes("x")));
  call.pump(now);
  EXPECT_EQ(bob_inbox.messages.size(), 1u);
  call.leave(*bob);
  auto r = alice->send(*s, as_bytes("y"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::NoValidParticipant);
}

TEST_F(SenderTest, SenderNeverReceivesItsOwnMessages) {
  Inbox alice_inbox;
  alice_inbox.attach(*alice);
  auto everyone = sender();
  auto listed = sender({.participants = {"alice", "bob"}});
  ASSERT_TRUE(alice->send(*everyone, as_bytes("x")));
  ASSERT_TRUE(alice->send(*listed, as_bytes("y")));
  call.pump(now);
  EXPECT_TRUE(alice_inbox.messages.empty());
  EXPECT_EQ(bob_inbox.messages.size(), 2u);
}

TEST_F(SenderTest, BadOptionsFailWithInvalidArgument) {
  for (SenderOptions bad : {SenderOptions{.reliability = static_cast<Reliability>(7)},
                            SenderOptions{.priority = static_cast<Priority>(9)},
                            SenderOptions{.bitrateInKbps = 10'000'001}}) {
    auto r = alice->create_sender(bad, now);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::InvalidArgument);
  }
}

TEST_F(SenderTest, ReliabilityAndPriorityNamesParseCaseInsensitively) {
  EXPECT_EQ(parse_reliability("Durable"), Reliability::Durable);
  EXPECT_EQ(parse_reliability("LOSSY"), Reliability::Lossy);
  EXPECT_EQ(parse_priority("high"), Priority::High);
  EXPECT_FALSE(parse_reliability("reliable"));
  EXPECT_FALSE(parse_priority(""));
}

TEST_F(SenderTest, EmptyMessageFailsWithMessageEmpty) {
  auto s = sender();
  auto r = alice->send(*s, {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::MessageEmpty);
}

TEST_F(SenderTest, MessageOverMaxSizeFailsWithMessageTooLarge) {
  auto s = sender();
  Bytes max(256 * 1024, 1);
  EXPECT_TRUE(alice->send(*s, max));
  max.push_back(1);
  auto r = alice->send(*s, max);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::MessageTooLarge);
}

TEST(SenderLimits, MaxMessageSizeIsConfigurableUpTo16MiB) {
  EndpointConfig big;
  big.max_message_size = 16 * 1024 * 1024;
  EXPECT_TRUE(validate(big));
  big.max_message_size += 1;
  auto r = validate(big);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::InvalidArgument);

  LocalCall call(EndpointConfig{.max_message_size = 16 * 1024 * 1024});
  auto now = Clock::now();
  auto& alice = call.join("alice", now);
  auto& bob = call.join("bob", now);
  Inbox inbox;
  inbox.attach(bob);
  auto s = alice.create_sender({}, now);
  Bytes whole = testing::pattern(16 * 1024 * 1024, 5);
  ASSERT_TRUE(alice.send(**s, whole));
  call.pump(now);
  ASSERT_EQ(inbox.messages.size(), 1u);
  EXPECT_EQ(inbox.messages[0].data, whole);
}

TEST_F(SenderTest, SendAfterCloseFailsWithSenderClosed) {
  auto s = sender();
  alice->close(*s);
  auto r = alice->send(*s, as_bytes("x"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::SenderClosed);
  EXPECT_EQ(alice->set_participants(*s, {}).error().code, ErrorCode::SenderClosed);
}

TEST_F(SenderTest, CloseNoticeReachesEveryRecipientAfterQueuedMessages) {
  auto s = sender({.reliability = Reliability::Lossy, .participants = {"bob"}});
  ASSERT_TRUE(alice->send(*s, as_bytes("1")));
  ASSERT_TRUE(alice->set_participants(*s, {"carol"}));
  ASSERT_TRUE(alice->send(*s, as_bytes("2")));
  alice->close(*s);
  call.pump(now);
  const auto ch = std::to_string(s->channel_id());
  EXPECT_EQ(bob_inbox.events.back(), "closed " + ch + " alice sender_closed");
  EXPECT_EQ(carol_inbox.events, (std::vector<std::string>{"created " + ch + " alice readable=0",
                                                          "message " + ch + " alice 2",
                                                          "closed " + ch + " alice sender_closed"}));
}

TEST_F(SenderTest, DurableMessagesArriveInOrderAndIntact) {
  auto s = sender();
  std::vector<Bytes> sent;
  for (std::uint32_t i = 0; i < 300; ++i) {
    const std::size_t size = 1 + (i * 7919u) % (100 * 1024);
    sent.push_back(testing::pattern(size, i));
    ASSERT_TRUE(alice->send(*s, sent.back()));
    if (i % 13 == 0) call.pump(now);
  }
  call.pump(now);
  ASSERT_EQ(bob_inbox.messages.size(), sent.size());
  for (std::size_t i = 0; i < sent.size(); ++i) {
    EXPECT_EQ(bob_inbox.messages[i].sequence, i + 1);
    EXPECT_EQ(bob_inbox.messages[i].data, sent[i]);
  }
}

TEST_F(SenderTest, DurableOverBufferBoundFailsWithBufferFullAndBufferedAmountDrains) {
  auto s = sender();
  Bytes chunk(256 * 1024, 7);
  std::size_t accepted = 0;
  Result<std::uint32_t> r = 0u;
  while ((r = alice->send(*s, chunk))) ++accepted;
  EXPECT_EQ(r.error().code, ErrorCode::BufferFull);
  EXPECT_EQ(accepted, 16u);  // 4 MiB / 256 KiB
  EXPECT_EQ(s->buffered_amount(), 4u * 1024 * 1024);
  call.pump(now);
  EXPECT_EQ(s->buffered_amount(), 0u);
  EXPECT_EQ(bob_inbox.messages.size(), 16u);
  EXPECT_TRUE(alice->send(*s, chunk));  // room again; nothing was lost
}

TEST_F(SenderTest, LossyOverBufferBoundDropsAndCountsWithoutError) {
  auto s = sender({.reliability = Reliability::Lossy});
  Bytes chunk(256 * 1024, 7);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(alice->send(*s, chunk));
  EXPECT_EQ(s->dropped_messages(), 4u);
  call.pump(now);
  EXPECT_EQ(bob_inbox.messages.size(), 16u);
  EXPECT_EQ(bob_inbox.messages.back().sequence, 16u);
}

// Pacing, measured on a simulated clock: the token bucket holds the average rate.
class PacingTest : public ::testing::TestWithParam<std::uint32_t> {};

TEST_P(PacingTest, AverageRateStaysWithinTenPercentOfBitrate) {
  const std::uint32_t kbps = GetParam();
  const double bytes_per_second = kbps * 1000.0 / 8.0;
  TimePoint t = Clock::now();
  LocalCall call;
  auto& alice = call.join("alice", t);
  auto& bob = call.join("bob", t);
  std::size_t received = 0;
  DataChannelEndpoint::Events events;
  events.message_ready = [&](const DataChannelEndpoint::ReceiverPtr& r) {
    while (auto m = r->read()) received += m->data.size();
  };
  bob.set_events(events);
  auto s = alice.create_sender({.bitrateInKbps = kbps}, t);
  const Duration run = std::chrono::seconds(20);
  const std::size_t message = std::max<std::size_t>(64, static_cast<std::size_t>(bytes_per_second / 50));
  const TimePoint end = t + run;
  for (; t < end; t += std::chrono::milliseconds(5)) {
    while ((*s)->buffered_amount() < 4 * message) ASSERT_TRUE(alice.send(**s, Bytes(message, 1)));
    call.pump(t);
  }
  const double rate = static_cast<double>(received) / std::chrono::duration<double>(run).count();
  EXPECT_NEAR(rate, bytes_per_second, bytes_per_second * 0.10) << kbps << " kbps";
}

INSTANTIATE_TEST_SUITE_P(Bitrates, PacingTest, ::testing::Values(32u, 512u, 8000u, 100000u));

TEST(Pacing, ZeroBitrateMeansNoPacing) {
  TimePoint t = Clock::now();
  LocalCall call;
  auto& alice = call.join("alice", t);
  auto& bob = call.join("bob", t);
  Inbox inbox;
  inbox.attach(bob);
  auto s = alice.create_sender({}, t);
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(alice.send(**s, Bytes(16 * 1024, 1)));
  call.pump(t);  // no time passes
  EXPECT_EQ(inbox.messages.size(), 100u);
}

}  // namespace
}  // namespace switchboard::core
