#include "server/rate_limiter.hpp"

#include <gtest/gtest.h>

namespace switchboard::server {
namespace {

using namespace std::chrono_literals;
const core::TimePoint t0{};

TEST(RateLimiter, ZeroMeansUnlimited) {
  RateLimiter limiter(0, 0, t0);
  for (int i = 0; i < 100000; ++i) ASSERT_TRUE(limiter.admit(1 << 20, t0));
}

TEST(RateLimiter, BytesBurstIsOneSecondThenRefillsAtRate) {
  RateLimiter limiter(1000, 0, t0);
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

TEST(RateLimiter, MessagesBurstIsOneSecond) {
  RateLimiter limiter(0, 10, t0);
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(limiter.admit(5, t0));
  EXPECT_FALSE(limiter.admit(5, t0));
  EXPECT_TRUE(limiter.admit(5, t0 + 100ms));
  EXPECT_FALSE(limiter.admit(5, t0 + 100ms));
}

TEST(RateLimiter, RefusedMessagesAreNotCharged) {
  RateLimiter limiter(1000, 2, t0);
  EXPECT_TRUE(limiter.admit(900, t0));
  EXPECT_FALSE(limiter.admit(200, t0));  // over the bytes
  EXPECT_TRUE(limiter.admit(100, t0));   // the refused one cost nothing
  EXPECT_FALSE(limiter.admit(0, t0));    // out of messages
}

TEST(RateLimiter, MessageLargerThanBurstPassesWhenFullThenHoldsAverage) {
  RateLimiter limiter(1000, 0, t0);
  EXPECT_TRUE(limiter.admit(3000, t0));
  EXPECT_FALSE(limiter.admit(1, t0 + 2s));  // still paying off 2000 of debt
  EXPECT_TRUE(limiter.admit(1, t0 + 2100ms));
}

}  // namespace
}  // namespace switchboard::server
