// Peer-to-peer through the SDK against the real server (in-process, 127.0.0.1): a 1:1 call
// goes direct, a third participant brings both back to the server and its departure sends
// them direct again, and no switch loses, duplicates or reorders a durable message.

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include <switchboard/switchboard.hpp>

#include "inbox.hpp"
#include "real_server.hpp"

namespace switchboard {
namespace {

using namespace std::chrono_literals;
using testing::Inbox;
using testing::RealServer;

class PeerToPeer : public RealServer {
 protected:
  std::uint64_t relayed_messages() {
    std::uint64_t n = 0;
    on_loop([&] { n = server_->metrics().relayed_messages; });
    return n;
  }

  std::shared_ptr<Call> join(const std::string& user, JoinOptions options = {}) {
    auto call = client().join(url_, "c1", token(user, "c1"), options);
    EXPECT_TRUE(call.ok()) << (call.ok() ? "" : call.error().message);
    return call.ok() ? *call : nullptr;
  }

  // Sends until accepted: BUFFER_FULL only means "later".
  static std::uint32_t send(DataChannelSender& sender, const std::string& text) {
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (true) {
      auto seq = sender.sendMessage(text);
      if (seq.ok()) return *seq;
      EXPECT_EQ(seq.error().code, ErrorCode::BufferFull) << seq.error().message;
      if (seq.error().code != ErrorCode::BufferFull ||
          std::chrono::steady_clock::now() > deadline) {
        return 0;
      }
      std::this_thread::sleep_for(1ms);
    }
  }

  // Every message on `channel` from `from`, in arrival order: "m<i>" for i = 0.. .
  static std::vector<int> numbers(Inbox& inbox, std::uint16_t channel) {
    std::vector<int> out;
    for (const auto& m : inbox.messages_copy()) {
      if (m.channel == channel) out.push_back(std::stoi(m.text.substr(1)));
    }
    return out;
  }

  static bool wait_count(Inbox& inbox, std::size_t n, std::chrono::seconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      if (inbox.wait_messages(n)) return true;
    }
    return false;
  }
};

TEST_F(PeerToPeer, AOneToOneCallGoesDirectAndTheServerRelaysNothing) {
  auto alice = join("alice");
  Inbox alice_inbox(alice);
  auto bob = join("bob");
  Inbox bob_inbox(bob);
  ASSERT_TRUE(alice_inbox.wait_log("transport p2p bob"));
  ASSERT_TRUE(bob_inbox.wait_log("transport p2p alice"));
  EXPECT_EQ(alice->transport().mode, TransportMode::PeerToPeer);
  EXPECT_EQ(alice->transport().peer.identity, "bob");

  const std::uint64_t relayed_before = relayed_messages();
  auto to_bob = alice->dataChannel().createSender({.channelId = 1});
  auto to_alice = bob->dataChannel().createSender({.channelId = 2, .priority = Priority::High});
  ASSERT_TRUE(to_bob.ok() && to_alice.ok());
  for (int i = 0; i < 1000; ++i) {
    ASSERT_NE(send(**to_bob, "m" + std::to_string(i)), 0U);
    ASSERT_NE(send(**to_alice, "m" + std::to_string(i)), 0U);
  }
  ASSERT_TRUE(wait_count(bob_inbox, 1000, 20s));
  ASSERT_TRUE(wait_count(alice_inbox, 1000, 20s));
  std::vector<int> expected(1000);
  for (int i = 0; i < 1000; ++i) expected[i] = i;
  EXPECT_EQ(numbers(bob_inbox, 1), expected);
  EXPECT_EQ(numbers(alice_inbox, 2), expected);
  EXPECT_EQ(relayed_messages(), relayed_before);
}

TEST_F(PeerToPeer, TheP2pJoinOptionKeepsTheCallOnTheServer) {
  auto alice = join("alice");
  Inbox alice_inbox(alice);
  auto bob = join("bob", {.p2p = false});
  Inbox bob_inbox(bob);
  ASSERT_TRUE(alice_inbox.wait_log("joined bob"));
  auto to_bob = alice->dataChannel().createSender({.channelId = 1});
  ASSERT_TRUE(to_bob.ok());
  const std::uint64_t relayed_before = relayed_messages();
  for (int i = 0; i < 100; ++i) ASSERT_NE(send(**to_bob, "m" + std::to_string(i)), 0U);
  ASSERT_TRUE(wait_count(bob_inbox, 100, 10s));
  EXPECT_EQ(relayed_messages(), relayed_before + 100);
  EXPECT_EQ(alice->transport().mode, TransportMode::Server);
  for (const auto& line : alice_inbox.log_copy()) EXPECT_NE(line.rfind("transport", 0), 0U) << line;
}

// 2 × 10,000 durable messages on two channels, while a third participant joins (both go
// back to the server) and, in a second round, leaves (both go direct again).
TEST_F(PeerToPeer, SwitchingPathsMidStreamLosesDuplicatesAndReordersNothing) {
  auto alice = join("alice");
  Inbox alice_inbox(alice);
  auto bob = join("bob");
  Inbox bob_inbox(bob);
  ASSERT_TRUE(alice_inbox.wait_log("transport p2p bob"));
  auto normal = alice->dataChannel().createSender({.channelId = 1, .participants = {"bob"}});
  auto high = alice->dataChannel().createSender(
      {.channelId = 2, .priority = Priority::High, .participants = {"bob"}});
  ASSERT_TRUE(normal.ok() && high.ok());

  constexpr int kPerRound = 10000;
  auto stream = [&](int first, std::atomic<int>& progress) {
    for (int i = first; i < first + kPerRound; ++i) {
      const std::string text = "m" + std::to_string(i) + std::string(static_cast<std::size_t>(i % 700), 'x');
      if (send(**normal, text) == 0 || send(**high, text) == 0) return;
      progress = i - first + 1;
    }
  };

  // Round 1: carol joins once a fifth has gone.
  std::atomic<int> progress{0};
  std::thread round1([&] { stream(0, progress); });
  while (progress < kPerRound / 5) std::this_thread::sleep_for(1ms);
  std::shared_ptr<Call> carol = join("carol");
  ASSERT_TRUE(carol);
  round1.join();
  ASSERT_EQ(progress, kPerRound);
  ASSERT_TRUE(alice_inbox.wait_log("transport server"));
  ASSERT_TRUE(wait_count(bob_inbox, 2 * kPerRound, 30s));

  // Round 2: carol leaves once a fifth has gone.
  progress = 0;
  std::thread round2([&] { stream(kPerRound, progress); });
  while (progress < kPerRound / 5) std::this_thread::sleep_for(1ms);
  carol->leave();
  round2.join();
  ASSERT_EQ(progress, kPerRound);
  ASSERT_TRUE(wait_count(bob_inbox, 4 * kPerRound, 30s));
  std::this_thread::sleep_for(200ms);  // anything duplicated would arrive by now

  std::vector<int> expected(2 * kPerRound);
  for (int i = 0; i < 2 * kPerRound; ++i) expected[i] = i;
  EXPECT_EQ(numbers(bob_inbox, 1), expected);
  EXPECT_EQ(numbers(bob_inbox, 2), expected);
  auto transports = [](const Inbox& inbox) {
    std::vector<std::string> out;
    for (const auto& line : inbox.log) {
      if (line.rfind("transport", 0) == 0) out.push_back(line);
    }
    return out;
  };
  const std::vector<std::string> expected_transports{"transport p2p bob", "transport server",
                                                     "transport p2p bob"};
  EXPECT_TRUE(alice_inbox.wait([&](const Inbox& in) { return transports(in).size() >= 3; }));
  std::vector<std::string> seen;
  for (const auto& line : alice_inbox.log_copy()) {
    if (line.rfind("transport", 0) == 0) seen.push_back(line);
  }
  EXPECT_EQ(seen, expected_transports);
}

}  // namespace
}  // namespace switchboard
