#include <gtest/gtest.h>

#include <set>

#include "core/channel_id_allocator.hpp"
#include "test_support.hpp"

namespace switchboard::core {
namespace {

TEST(ChannelId, ExplicitIdsAtBothEndsOfTheRangeAreKept) {
  ChannelIdAllocator ids(1);
  ASSERT_TRUE(ids.acquire(1));
  EXPECT_EQ(*ids.acquire(1), 1);
  EXPECT_EQ(*ids.acquire(65535), 65535);
  EXPECT_EQ(*ids.acquire(7), 7);
}

TEST(ChannelId, OutOfRangeFailsWithInvalidChannelId) {
  ChannelIdAllocator ids(1);
  for (std::uint32_t bad : {65536u, 70000u, 0xffffffffu}) {
    auto r = ids.acquire(bad);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::InvalidChannelId);
  }
}

TEST(ChannelId, ZeroPicksDistinctFreeIdsFrom1024To65535) {
  ChannelIdAllocator ids(42);
  ASSERT_TRUE(ids.acquire(5000));  // taken explicitly: must not be handed out again
  std::set<std::uint16_t> seen;
  for (int i = 0; i < 2000; ++i) {
    auto id = ids.acquire(0);
    ASSERT_TRUE(id);
    EXPECT_GE(*id, 1024);
    EXPECT_NE(*id, 5000);
    EXPECT_TRUE(seen.insert(*id).second) << "id " << *id << " handed out twice";
  }
}

TEST(ChannelId, ZeroPicksAtRandomNotInSequence) {
  ChannelIdAllocator a(1);
  ChannelIdAllocator b(2);
  std::vector<std::uint16_t> from_a;
  std::vector<std::uint16_t> from_b;
  for (int i = 0; i < 8; ++i) {
    from_a.push_back(*a.acquire(0));
    from_b.push_back(*b.acquire(0));
  }
  EXPECT_NE(from_a, from_b);
  int consecutive = 0;
  for (std::size_t i = 1; i < from_a.size(); ++i) consecutive += from_a[i] == from_a[i - 1] + 1;
  EXPECT_LT(consecutive, 7);
}

TEST(ChannelId, ExhaustedRangeFailsWithNoAvailableChannelId) {
  ChannelIdAllocator ids(3);
  for (std::uint32_t i = 1024; i <= 65535; ++i) ASSERT_TRUE(ids.acquire(i));
  auto full = ids.acquire(0);
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().code, ErrorCode::NoAvailableChannelId);
  ids.release(31337);
  EXPECT_EQ(*ids.acquire(0), 31337);
}

TEST(ChannelId, ClosedSendersIdBecomesFreeAgain) {
  LocalCall call;
  auto now = Clock::now();
  auto& alice = call.join("alice", now);
  auto s = alice.create_sender({.channelId = 10000}, now);
  ASSERT_TRUE(s);
  EXPECT_EQ(alice.open_sender(10000), *s);
  alice.close(**s);
  EXPECT_EQ(alice.open_sender(10000), nullptr);
}

TEST(ChannelId, EndpointRejectsOutOfRangeChannelId) {
  DataChannelEndpoint alice(1, {});
  auto s = alice.create_sender({.channelId = 65536}, Clock::now());
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::InvalidChannelId);
}

TEST(ChannelId, CreatingSenderOnOpenChannelClosesTheOldOneFirst) {
  LocalCall call;
  auto now = Clock::now();
  auto& alice = call.join("alice", now);
  auto& bob = call.join("bob", now);
  testing::Inbox inbox;
  inbox.attach(bob);

  auto first = alice.create_sender({.channelId = 9}, now);
  ASSERT_TRUE(alice.send(**first, as_bytes("old")));
  auto second = alice.create_sender({.channelId = 9}, now);
  ASSERT_TRUE(second);
  EXPECT_TRUE((*first)->closed());
  auto late = alice.send(**first, as_bytes("late"));
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().code, ErrorCode::SenderClosed);
  EXPECT_EQ(*alice.send(**second, as_bytes("new")), 1u);
  call.pump(now);

  EXPECT_EQ(inbox.events, (std::vector<std::string>{
                              "created 9 alice readable=0", "message 9 alice 1",
                              "closed 9 alice sender_closed", "created 9 alice readable=0",
                              "message 9 alice 1"}));
  // Closing the replaced sender later must not free the id the new sender holds.
  alice.close(**first);
  EXPECT_EQ(alice.open_sender(9), *second);
}

}  // namespace
}  // namespace switchboard::core
