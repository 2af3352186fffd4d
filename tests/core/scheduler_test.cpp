#include <gtest/gtest.h>

#include <map>

#include "test_support.hpp"

namespace switchboard::core {
namespace {

struct Polled {
  std::uint16_t channel;
  std::size_t payload;
  TrafficClass cls;
};

// Drains an endpoint's frames one transport message at a time, small enough that each
// holds one frame, and records them in order.
std::vector<Polled> drain(DataChannelEndpoint& e, TimePoint now, std::size_t limit = 100000) {
  std::vector<Polled> out;
  Bytes batch;
  while (out.size() < limit) {
    batch.clear();
    auto cls = e.poll(now, batch, 1);
    if (!cls) break;
    ByteView in(batch);
    while (!in.empty()) {
      auto f = decode_frame(in);
      EXPECT_TRUE(f);
      if (!f) return out;
      out.push_back({f->header.channel_id, f->payload.size(), *cls});
    }
  }
  return out;
}

class SchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    endpoint.participant_joined({1, "me", ""}, now);
    endpoint.participant_joined({2, "you", ""}, now);
  }
  DataChannelEndpoint::SenderPtr sender(SenderOptions o) { return *endpoint.create_sender(o, now); }

  TimePoint now = Clock::now();
  DataChannelEndpoint endpoint{1, EndpointConfig{.seed = 7}};
};

TEST_F(SchedulerTest, HighPriorityFramesLeaveBeforeNormalOnes) {
  auto normal = sender({.channelId = 1});
  auto high = sender({.channelId = 2, .priority = Priority::High});
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(endpoint.send(*normal, Bytes(100, 1)));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(endpoint.send(*high, Bytes(100, 1)));
  auto frames = drain(endpoint, now);
  ASSERT_EQ(frames.size(), 10u);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(frames[i].channel, 2);
    EXPECT_EQ(frames[i].cls.priority, Priority::High);
  }
  for (int i = 5; i < 10; ++i) EXPECT_EQ(frames[i].channel, 1);
}

TEST_F(SchedulerTest, ChannelsOfOnePriorityShareBytesFairly) {
  auto small = sender({.channelId = 1});
  auto large = sender({.channelId = 2});
  for (int i = 0; i < 2000; ++i) ASSERT_TRUE(endpoint.send(*small, Bytes(100, 1)));
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(endpoint.send(*large, Bytes(16 * 1024, 1)));
  // While both have data queued, each gets about half the bytes.
  std::map<std::uint16_t, std::size_t> bytes;
  for (const Polled& p : drain(endpoint, now)) {
    bytes[p.channel] += p.payload;
    if (bytes[1] + bytes[2] >= 160 * 1024) break;
  }
  const double share = static_cast<double>(bytes[1]) / static_cast<double>(bytes[1] + bytes[2]);
  EXPECT_NEAR(share, 0.5, 0.1);
}

TEST_F(SchedulerTest, LargeMessageIsFragmentedAndDoesNotBlockAnotherChannel) {
  auto bulk = sender({.channelId = 1});
  auto chat = sender({.channelId = 2});
  ASSERT_TRUE(endpoint.send(*bulk, Bytes(256 * 1024, 1)));
  ASSERT_TRUE(endpoint.send(*chat, as_bytes("hi")));
  auto frames = drain(endpoint, now);
  ASSERT_EQ(frames.size(), 17u);  // 16 fragments of 16 KiB + the chat message
  std::size_t chat_index = 0;
  for (std::size_t i = 0; i < frames.size(); ++i) {
    if (frames[i].channel == 2) chat_index = i;
    if (frames[i].channel == 1) EXPECT_LE(frames[i].payload, 16u * 1024);
  }
  EXPECT_LE(chat_index, 2u) << "the small message waited behind the large one";
}

TEST_F(SchedulerTest, FramesAreBatchedPerTrafficClass) {
  auto durable = sender({.channelId = 1});
  auto lossy = sender({.channelId = 2, .reliability = Reliability::Lossy});
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(endpoint.send(*durable, Bytes(100, 1)));
    ASSERT_TRUE(endpoint.send(*lossy, Bytes(100, 2)));
  }
  std::size_t batches = 0;
  std::size_t frames = 0;
  Bytes batch;
  while (true) {
    batch.clear();
    auto cls = endpoint.poll(now, batch, 64 * 1024);
    if (!cls) break;
    ++batches;
    ByteView in(batch);
    while (!in.empty()) {
      auto f = decode_frame(in);
      ASSERT_TRUE(f);
      EXPECT_EQ(f->header.reliability, cls->reliability) << "a batch mixed traffic classes";
      ++frames;
    }
  }
  EXPECT_EQ(frames, 20u);
  EXPECT_LT(batches, 20u) << "small frames were not coalesced";
}

TEST_F(SchedulerTest, LossyCloseNoticeTravelsDurable) {
  auto lossy = sender({.channelId = 3, .reliability = Reliability::Lossy});
  ASSERT_TRUE(endpoint.send(*lossy, Bytes(10, 1)));
  endpoint.close(*lossy);
  auto frames = drain(endpoint, now);
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(frames[0].cls.reliability, Reliability::Lossy);
  EXPECT_EQ(frames[1].cls.reliability, Reliability::Durable);
}

TEST_F(SchedulerTest, PacedSenderWaitsAndReportsWhenItMaySendAgain) {
  auto paced = sender({.channelId = 1, .bitrateInKbps = 80});  // 10 kB/s
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(endpoint.send(*paced, Bytes(1000, 1)));
  auto first = drain(endpoint, now);
  EXPECT_EQ(first.size(), 1u);
  auto wake = endpoint.next_wakeup(now);
  ASSERT_TRUE(wake);
  EXPECT_GT(*wake, now);
  EXPECT_LE(*wake - now, std::chrono::milliseconds(110));
  EXPECT_EQ(drain(endpoint, *wake).size(), 1u);
}

}  // namespace
}  // namespace switchboard::core
