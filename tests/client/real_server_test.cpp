// The C++ SDK against the real switchboard server, in-process on the SDK's event thread:
// the whole path (WebSocket signaling, ICE-lite, DTLS, SCTP, relay) on 127.0.0.1.

#include <chrono>
#include <future>
#include <mutex>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <switchboard/switchboard.hpp>

#include "inbox.hpp"
#include "real_server.hpp"

namespace switchboard {
namespace {

using namespace std::chrono_literals;
using testing::Inbox;
using testing::kWait;
using testing::RealServer;

TEST_F(RealServer, TwoParticipantsExchangeMessagesThroughTheServer) {
  auto& client_a = client();
  auto& client_b = client();
  // Both keep to the server path (a 1:1 call would otherwise go peer-to-peer).
  auto alice = client_a.join(url_, "c1", token("alice", "c1"), {.p2p = false});
  ASSERT_TRUE(alice.ok()) << alice.error().message;
  Inbox alice_inbox(*alice);
  auto bob = client_b.join(url_, "c1", token("bob", "c1"), {.p2p = false});
  ASSERT_TRUE(bob.ok()) << bob.error().message;
  Inbox bob_inbox(*bob);
  EXPECT_EQ((*bob)->self().identity, "bob");
  EXPECT_EQ((*bob)->self().displayName, "bob D");
  ASSERT_EQ((*bob)->participants().size(), 1u);
  EXPECT_EQ((*bob)->participants()[0].identity, "alice");
  ASSERT_TRUE(alice_inbox.wait_log("joined bob"));

  auto sender = (*alice)->dataChannel().createSender({.channelId = 10000});
  ASSERT_TRUE(sender.ok());
  for (int i = 1; i <= 500; ++i) {
    auto seq = (*sender)->sendMessage("hello " + std::to_string(i));
    ASSERT_TRUE(seq.ok()) << seq.error().message;
    ASSERT_EQ(*seq, static_cast<std::uint32_t>(i));
  }
  ASSERT_TRUE(bob_inbox.wait_messages(500));
  auto texts = bob_inbox.texts();
  for (int i = 1; i <= 500; ++i) ASSERT_EQ(texts[i - 1], "hello " + std::to_string(i));
  EXPECT_EQ(bob_inbox.receiver(0)->senderIdentity(), "alice");

  (*sender)->close();
  ASSERT_TRUE(bob_inbox.wait_log("closed 10000 from alice sender_closed"));

  // Bob answers on a channel of his own, to alice only.
  auto reply = (*bob)->dataChannel().createSender({.participants = {"alice"}});
  ASSERT_TRUE(reply.ok());
  ASSERT_TRUE((*reply)->sendMessage(std::string(std::size_t{100} * 1024, 'b')).ok());  // fragmented
  ASSERT_TRUE(alice_inbox.wait_messages(1));
  EXPECT_EQ(alice_inbox.texts()[0].size(), 100u * 1024);

  (*bob)->leave();
  EXPECT_FALSE((*bob)->connected());
  ASSERT_TRUE(alice_inbox.wait_log("left bob"));
  (*alice)->leave();
}

// usrsctp's state is process-wide: two CallClients driving it from two threads would race.
TEST_F(RealServer, EveryCallClientOfAProcessSharesOneEventThread) {
  struct Seen {
    std::mutex mu;
    std::vector<std::thread::id> threads;
  };
  auto seen = std::make_shared<Seen>();
  auto note = [seen](const ParticipantInfo&) {
    std::lock_guard lock(seen->mu);
    seen->threads.push_back(std::this_thread::get_id());
  };
  auto alice = client().join(url_, "c1", token("alice", "c1"));
  ASSERT_TRUE(alice.ok()) << alice.error().message;
  (*alice)->onParticipantJoined(note);
  auto bob = client().join(url_, "c1", token("bob", "c1"));
  ASSERT_TRUE(bob.ok()) << bob.error().message;
  (*bob)->onParticipantJoined(note);
  auto carol = client().join(url_, "c1", token("carol", "c1"));
  ASSERT_TRUE(carol.ok()) << carol.error().message;
  const auto deadline = std::chrono::steady_clock::now() + kWait;
  while (std::chrono::steady_clock::now() < deadline) {
    {
      std::lock_guard lock(seen->mu);
      if (seen->threads.size() >= 3) break;
    }
    std::this_thread::sleep_for(1ms);
  }
  std::lock_guard lock(seen->mu);
  ASSERT_EQ(seen->threads.size(), 3u);  // alice: bob, carol; bob: carol
  EXPECT_EQ(seen->threads[0], seen->threads[1]);
  EXPECT_EQ(seen->threads[1], seen->threads[2]);
  EXPECT_NE(seen->threads[0], std::this_thread::get_id());
}

TEST_F(RealServer, AForgedTokenIsRefusedWithUnauthorized) {
  auto forged = token("mallory", "c1");
  forged.back() = forged.back() == 'A' ? 'B' : 'A';
  auto call = client().join(url_, "c1", forged);
  ASSERT_FALSE(call.ok());
  EXPECT_EQ(call.error().code, ErrorCode::Unauthorized);
}

TEST_F(RealServer, ATokenForAnotherCallIsRefusedWithUnauthorized) {
  auto call = client().join(url_, "c1", token("eve", "c2"));
  ASSERT_FALSE(call.ok());
  EXPECT_EQ(call.error().code, ErrorCode::Unauthorized);
}

TEST_F(RealServer, AnUnreachableServerFailsWithNotConnected) {
  auto call = client().join("ws://127.0.0.1:1", "c1", token("alice", "c1"), {.timeout = 3000ms});
  ASSERT_FALSE(call.ok());
  EXPECT_EQ(call.error().code, ErrorCode::NotConnected);
}

TEST_F(RealServer, ServerShutdownReportsTheCallDisconnected) {
  auto call = client().join(url_, "c1", token("alice", "c1"));
  ASSERT_TRUE(call.ok()) << call.error().message;
  Inbox inbox(*call);
  auto sender = (*call)->dataChannel().createSender({});
  ASSERT_TRUE(sender.ok());
  shutdown();
  ASSERT_TRUE(inbox.wait([](const Inbox& in) {
    return std::any_of(in.log.begin(), in.log.end(),
                       [](const std::string& l) { return l.starts_with("disconnected"); });
  }));
  EXPECT_FALSE((*call)->connected());
  auto r = (*sender)->sendMessage("x");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::NotConnected);
}

TEST_F(RealServer, DestroyingTheCallClientLeavesItsCalls) {
  auto alice = client().join(url_, "c1", token("alice", "c1"));
  ASSERT_TRUE(alice.ok()) << alice.error().message;
  Inbox alice_inbox(*alice);
  {
    CallClient other;
    auto bob = other.join(url_, "c1", token("bob", "c1"));
    ASSERT_TRUE(bob.ok()) << bob.error().message;
    ASSERT_TRUE(alice_inbox.wait_log("joined bob"));
  }
  EXPECT_TRUE(alice_inbox.wait_log("left bob"));
  (*alice)->leave();
}

}  // namespace
}  // namespace switchboard
