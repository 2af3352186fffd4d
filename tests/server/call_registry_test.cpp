#include "server/call_registry.hpp"

#include <gtest/gtest.h>

namespace switchboard::server {
namespace {

class CallRegistryTest : public ::testing::Test {
 protected:
  Result<std::shared_ptr<Participant>> add(CallRegistry& registry, const std::string& call,
                                           const std::string& identity) {
    Call& c = registry.find_or_create(call);
    return registry.add(c, [&](core::ParticipantId id) {
      return std::make_shared<Participant>(id, identity, identity, limiter_, queue_);
    });
  }

  core::RateLimit limiter_;
  RecipientQueue queue_{std::chrono::milliseconds(100), 1 << 20};
};

TEST_F(CallRegistryTest, IdsCountFromOnePerCallAndAreNeverReused) {
  CallRegistry registry(10);
  auto a = add(registry, "c1", "alice");
  auto b = add(registry, "c1", "bob");
  auto x = add(registry, "c2", "alice");
  ASSERT_TRUE(a && b && x);
  EXPECT_EQ((*a)->id, 1u);
  EXPECT_EQ((*b)->id, 2u);
  EXPECT_EQ((*x)->id, 1u);
  registry.remove(**b);
  auto b2 = add(registry, "c1", "bob");
  ASSERT_TRUE(b2);
  EXPECT_EQ((*b2)->id, 3u);
  EXPECT_EQ(registry.call_count(), 2u);
  EXPECT_EQ(registry.participant_count(), 3u);
  const Call* c1 = registry.find("c1");
  ASSERT_NE(c1, nullptr);
  EXPECT_TRUE(c1->roster.contains(1));
  EXPECT_FALSE(c1->roster.contains(2));
  EXPECT_EQ(c1->member(3), b2->get());
}

TEST_F(CallRegistryTest, FullCallRefusesWithCallFull) {
  CallRegistry registry(2);
  ASSERT_TRUE(add(registry, "c", "a"));
  ASSERT_TRUE(add(registry, "c", "b"));
  auto refused = add(registry, "c", "c");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::CallFull);
  EXPECT_EQ(registry.participant_count(), 2u);
}

TEST_F(CallRegistryTest, EmptyCallIsRemovedUnlessPinned) {
  CallRegistry registry(10);
  auto a = add(registry, "c", "alice");
  ASSERT_TRUE(a);
  auto removed = registry.remove(**a);
  EXPECT_EQ(removed, *a);
  EXPECT_EQ((*a)->call, nullptr);
  EXPECT_EQ(registry.find("c"), nullptr);
  EXPECT_EQ(registry.call_count(), 0u);

  auto b = add(registry, "c", "bob");
  ASSERT_TRUE(b);
  registry.find("c")->pinned = true;
  registry.remove(**b);
  ASSERT_NE(registry.find("c"), nullptr);
  auto b2 = add(registry, "c", "bob");
  ASSERT_TRUE(b2);
  EXPECT_EQ((*b2)->id, 2u);  // the pinned call still counts
}

}  // namespace
}  // namespace switchboard::server
