#include "server/recipient_queue.hpp"

#include <gtest/gtest.h>

namespace switchboard::server {
namespace {

using namespace std::chrono_literals;
const core::TimePoint t0{};

Bytes tagged(std::uint8_t tag, std::size_t size = 10) {
  return Bytes(size, tag);
}

std::vector<std::uint8_t> drain_tags(RecipientQueue& q, core::TimePoint now) {
  std::vector<std::uint8_t> tags;
  StreamIndex s = 0;
  while (QueuedBatch* b = q.next(now, s)) {
    tags.push_back(b->data.front());
    q.pop(s);
  }
  return tags;
}

TEST(RecipientQueue, HighClassesFirstThenFifoWithinClass) {
  RecipientQueue q(100ms, 1 << 20);
  q.push(0, tagged(1), 1, 10, t0);  // durable normal
  q.push(2, tagged(2), 1, 10, t0);  // lossy normal
  q.push(1, tagged(3), 1, 10, t0);  // durable high
  q.push(0, tagged(4), 1, 10, t0);
  q.push(3, tagged(5), 1, 10, t0);  // lossy high
  q.push(1, tagged(6), 1, 10, t0);
  EXPECT_EQ(drain_tags(q, t0), (std::vector<std::uint8_t>{3, 6, 5, 1, 4, 2}));
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.durable_bytes(), 0u);
  EXPECT_EQ(q.lossy_bytes(), 0u);
}

TEST(RecipientQueue, LossyOlderThanLatencyTargetIsDroppedAndCounted) {
  RecipientQueue q(100ms, 1 << 20);
  q.push(2, tagged(1), 3, 10, t0);
  q.push(2, tagged(2), 2, 10, t0 + 50ms);
  q.push(0, tagged(3), 1, 10, t0);  // durable never ages out
  EXPECT_EQ(drain_tags(q, t0 + 120ms), (std::vector<std::uint8_t>{3, 2}));
  EXPECT_EQ(q.take_latency_drops(), 3u);
  EXPECT_EQ(q.take_latency_drops(), 0u);
}

TEST(RecipientQueue, PushExpiresStaleLossySoAStalledRecipientHoldsLittle) {
  RecipientQueue q(100ms, 1 << 20);
  for (int i = 0; i < 100; ++i) q.push(3, tagged(1, 1000), 1, 1000, t0 + i * 10ms);
  EXPECT_LE(q.lossy_bytes(), 11u * 1000);
  EXPECT_GE(q.take_latency_drops(), 89u);
}

TEST(RecipientQueue, DurableBoundIsReportedNotEnforced) {
  RecipientQueue q(100ms, 1000);
  q.push(0, tagged(1, 600), 1, 600, t0);
  EXPECT_FALSE(q.over_durable_bound());
  q.push(1, tagged(2, 600), 1, 600, t0 + 10s);
  EXPECT_TRUE(q.over_durable_bound());
  EXPECT_EQ(q.durable_bytes(), 1200u);
  EXPECT_EQ(drain_tags(q, t0 + 20s).size(), 2u);  // nothing durable was dropped
}

TEST(RecipientQueue, ClearReturnsTheMessagesItHeld) {
  RecipientQueue q(100ms, 1000);
  q.push(0, tagged(1), 4, 10, t0);
  q.push(2, tagged(2), 3, 10, t0);
  EXPECT_EQ(q.clear(), 7u);
  EXPECT_TRUE(q.empty());
  StreamIndex s = 0;
  EXPECT_EQ(q.next(t0, s), nullptr);
}

}  // namespace
}  // namespace switchboard::server
