#include "core/rate_limit.hpp"

#include <gtest/gtest.h>

namespace switchboard::core {
namespace {

using namespace std::chrono_literals;
const TimePoint t0{};

TEST(RateLimit, ZeroMeansUnlimited) {
  RateLimit limiter(0, 0, 1.0, t0);
  for (int i = 0; i < 100000; ++i) ASSERT_TRUE(limiter.admit(1 << 20, t0));
}

TEST(RateLimit, BytesBurstIsOneSecondThenRefillsAtRate) {
  RateLimit limiter(1000, 0, 1.0, t0);
  EXPECT_TRUE(limiter.admit(600, t0));
  EXPECT_TRUE(limiter.admit(400, t0));
  EXPECT_FALSE(limiter.admit(1, t0));
  EXPECT_FALSE(limiter.admit(200, t0 + 100ms));  // 100 bytes refilled
  EXPECT_TRUE(limiter.admit(200, t0 + 200ms));
  EXPECT_FALSE(limiter.admit(1, t0 + 200ms));
  // Refill never exceeds the burst.
  EXPECT_TRUE(limiter.admit(1000, t0 + 100s));
  EXPECT_FALSE(limiter.admit(1, t0 + 100s));
}

TEST(RateLimit, MessagesBurstIsOneSecond) {
  RateLimit limiter(0, 10, 1.0, t0);
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(limiter.admit(5, t0));
  EXPECT_FALSE(limiter.admit(5, t0));
  EXPECT_TRUE(limiter.admit(5, t0 + 100ms));
  EXPECT_FALSE(limiter.admit(5, t0 + 100ms));
}

TEST(RateLimit, RefusedMessagesAreNotCharged) {
  RateLimit limiter(1000, 2, 1.0, t0);
  EXPECT_TRUE(limiter.admit(900, t0));
  EXPECT_FALSE(limiter.admit(200, t0));  // over the bytes
  EXPECT_TRUE(limiter.admit(100, t0));   // the refused one cost nothing
  EXPECT_FALSE(limiter.admit(0, t0));    // out of messages
}

TEST(RateLimit, MessageLargerThanBurstPassesWhenFullThenHoldsAverage) {
  RateLimit limiter(1000, 0, 1.0, t0);
  EXPECT_TRUE(limiter.admit(3000, t0));
  EXPECT_FALSE(limiter.admit(1, t0 + 2s));  // still paying off 2000 of debt
  EXPECT_TRUE(limiter.admit(1, t0 + 2100ms));
}

TEST(RateLimit, BurstSecondsScaleTheBucket) {
  RateLimit limiter(1000, 10, 4.0, t0);
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(limiter.admit(400, t0));  // 4000 bytes
  EXPECT_FALSE(limiter.admit(1, t0));
  RateLimit messages(0, 10, 4.0, t0);
  for (int i = 0; i < 40; ++i) EXPECT_TRUE(messages.admit(1, t0));
  EXPECT_FALSE(messages.admit(1, t0));
}

TEST(RateLimit, AllowsDoesNotChargeUntilTaken) {
  RateLimit limiter(1000, 1, 1.0, t0);
  EXPECT_TRUE(limiter.allows(1000, t0));
  EXPECT_TRUE(limiter.allows(1000, t0));
  limiter.take(1000);
  EXPECT_FALSE(limiter.allows(1, t0));
}

TEST(RateLimit, DefaultIsUnlimited) {
  RateLimit limiter;
  EXPECT_TRUE(limiter.unlimited());
  EXPECT_TRUE(limiter.admit(std::size_t{1} << 30, t0));
}

}  // namespace
}  // namespace switchboard::core
