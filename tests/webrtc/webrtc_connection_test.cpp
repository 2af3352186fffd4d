#include <algorithm>
#include <random>
#include <set>

#include <gtest/gtest.h>

#include "loopback_pair.hpp"

namespace switchboard::webrtc {
namespace {

using testing::LoopbackPair;

// Message i: a slice of one random block at an offset that depends on i, with i in its
// first bytes, so any loss, reordering or corruption shows.
const Bytes& random_block() {
  static const Bytes block = [] {
    Bytes b(512 * 1024);
    std::mt19937_64 rng(42);
    for (auto& byte : b) byte = static_cast<std::uint8_t>(rng());
    return b;
  }();
  return block;
}

Bytes message_for(std::uint32_t i, std::size_t size) {
  const std::size_t offset = (i * 7919u) % (256 * 1024);
  Bytes b(random_block().begin() + static_cast<std::ptrdiff_t>(offset),
          random_block().begin() + static_cast<std::ptrdiff_t>(offset + size));
  for (std::size_t k = 0; k < 4 && k < size; ++k) b[k] = static_cast<std::uint8_t>(i >> (8 * k));
  return b;
}

TEST(WebRtcConnection, LibniceClientConnectsThroughTheSharedIceLitePort) {
  LoopbackPair pair;
  ASSERT_TRUE(pair.connect()) << (pair.client_events.failure ? pair.client_events.failure->message
                                                             : "timeout");
  EXPECT_GT(pair.server_port().stats().stun_requests, 0u);
}

TEST(WebRtcConnection, BrowserStyleClientConnectsThroughTheSharedIceLitePort) {
  LoopbackPair pair({.raw_ice = true});
  ASSERT_TRUE(pair.connect()) << (pair.client_events.failure ? pair.client_events.failure->message
                                                             : "timeout");
  EXPECT_GT(pair.server_port().stats().stun_requests, 0u);
  EXPECT_EQ(pair.server_port().stats().unknown_source, 0u);
}

// Sends `count` durable messages of random sizes up to `max_size` from the client and
// checks that each arrives intact, once, in order.
void send_durable_messages(LoopbackPair& pair, std::uint32_t count, std::size_t max_size) {
  const std::uint32_t kCount = count;
  std::mt19937_64 sizes(1);
  std::uniform_int_distribution<std::size_t> size_of(1, max_size);
  std::vector<std::size_t> plan(kCount);
  for (auto& s : plan) s = size_of(sizes);

  std::uint32_t received = 0;
  bool intact = true;
  pair.server_events.message = [&](std::uint16_t, ByteView data) {
    Bytes expected = message_for(received, plan[received]);
    if (!std::equal(data.begin(), data.end(), expected.begin(), expected.end())) intact = false;
    ++received;
  };
  auto stream = pair.client->open_channel({.label = "durable"});
  ASSERT_TRUE(stream);

  std::uint32_t sent = 0;
  std::optional<Bytes> pending;
  auto pump = [&] {
    while (sent < kCount) {
      if (!pending) pending = message_for(sent, plan[sent]);
      auto r = pair.client->send(*stream, *pending);
      if (!r) {
        ASSERT_EQ(r.error().code, ErrorCode::BufferFull) << r.error().message;
        return;
      }
      pending.reset();
      ++sent;
    }
  };
  pair.client->set_buffered_amount_low_threshold(1024 * 1024);
  pair.client_events.buffered_amount_low = pump;
  pump();
  ASSERT_TRUE(pair.run_until([&] { return received == kCount || pair.client_events.failure; },
                             std::chrono::seconds(240)));
  EXPECT_EQ(received, kCount);
  EXPECT_TRUE(intact) << "a message arrived altered or out of order";
  EXPECT_FALSE(pair.client_events.failure) << pair.client_events.failure->message;
}

// The 10,000-message run uses the browser-style ICE client: libnice's consent checks can
// time out while the loop is saturated by a bulk transfer (an open issue).
TEST(WebRtcConnection, DeliversTenThousandDurableMessagesOfRandomSizesIntactAndInOrder) {
  LoopbackPair pair({.raw_ice = true});
  ASSERT_TRUE(pair.connect());
  send_durable_messages(pair, 10000, 256 * 1024);
}

TEST(WebRtcConnection, LibniceClientDeliversDurableMessagesIntactAndInOrder) {
  LoopbackPair pair;
  ASSERT_TRUE(pair.connect());
  send_durable_messages(pair, 1000, 16 * 1024);
}

TEST(WebRtcConnection, LossyChannelDeliversUnorderedMessages) {
  LoopbackPair pair;
  ASSERT_TRUE(pair.connect());
  std::set<std::uint32_t> seen;
  pair.server_events.message = [&](std::uint16_t, ByteView data) {
    ASSERT_EQ(data.size(), 4u);
    seen.insert(load_u32(data.data()));
  };
  auto stream = pair.client->open_channel({.label = "lossy",
                                           .ordered = false,
                                           .reliability = SctpReliability::MaxRetransmits,
                                           .reliability_value = 0});
  ASSERT_TRUE(stream);
  for (std::uint32_t i = 0; i < 500; ++i) {
    Bytes b;
    put_u32(b, i);
    ASSERT_TRUE(pair.client->send(*stream, b));
    if (i % 50 == 0) pair.io.run_for(std::chrono::milliseconds(1));
  }
  // Loopback rarely drops; most if not all arrive, and nothing stalls.
  pair.run_until([&] { return seen.size() == 500; }, std::chrono::seconds(5));
  EXPECT_GT(seen.size(), 400u);
}

TEST(WebRtcConnection, ChannelsOpenInBothDirections) {
  LoopbackPair pair;
  ASSERT_TRUE(pair.connect());
  std::vector<std::string> at_server;
  std::vector<std::string> at_client;
  pair.server_events.channel_opened = [&](std::uint16_t, const ChannelParams& p) {
    at_server.push_back(p.label);
  };
  pair.client_events.channel_opened = [&](std::uint16_t, const ChannelParams& p) {
    at_client.push_back(p.label);
  };
  ASSERT_TRUE(pair.client->open_channel({.label = "up"}));
  ASSERT_TRUE(pair.server->open_channel({.label = "down"}));
  ASSERT_TRUE(pair.run_until(
      [&] {
        return std::count(at_server.begin(), at_server.end(), "up") > 0 &&
               std::count(at_client.begin(), at_client.end(), "down") > 0;
      },
      std::chrono::seconds(10)));
}

TEST(WebRtcConnection, ClientRefusesServerWithMismatchedFingerprint) {
  LoopbackPair pair({.tamper_server_fingerprint = true});
  EXPECT_FALSE(pair.connect());
  ASSERT_TRUE(pair.client_events.failure);
  EXPECT_NE(pair.client_events.failure->message.find("fingerprint"), std::string::npos)
      << pair.client_events.failure->message;
}

TEST(WebRtcConnection, ServerRefusesClientWithMismatchedFingerprint) {
  LoopbackPair pair({.tamper_client_fingerprint = true});
  EXPECT_FALSE(pair.connect());
  ASSERT_TRUE(pair.server_events.failure);
  EXPECT_NE(pair.server_events.failure->message.find("fingerprint"), std::string::npos);
  EXPECT_FALSE(pair.client_events.connected);
}

}  // namespace
}  // namespace switchboard::webrtc
