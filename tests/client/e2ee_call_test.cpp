// End-to-end encryption through the C++ SDK and the real server (in-process): participants
// with the same keys talk, one with another key gets DECRYPTION_FAILED on its receiver and
// no message, one without E2EE sees only sealed bytes, and keys rotate without leaving.

#include <algorithm>
#include <string>

#include <gtest/gtest.h>

#include <switchboard/switchboard.hpp>

#include "inbox.hpp"
#include "real_server.hpp"

namespace switchboard {
namespace {

using testing::Inbox;
using testing::RealServer;

E2eeKeys keys(std::vector<std::pair<std::uint32_t, std::uint8_t>> ids_and_fills) {
  std::vector<E2eeKey> list;
  for (auto [id, fill] : ids_and_fills) {
    E2eeKey key{id, {}};
    key.key.fill(fill);
    list.push_back(key);
  }
  return *E2eeKeys::fromKeys(std::move(list));
}

using E2eeCall = RealServer;

TEST_F(E2eeCall, ParticipantsWithTheSameKeysTalkAndOthersNeverReadAMessage) {
  const std::string call = "e2ee-1";
  const E2eeKeys shared = keys({{1, 0x42}});
  auto alice = client().join(url_, call, token("alice", call), {.p2p = false, .e2ee = shared});
  ASSERT_TRUE(alice.ok()) << alice.error().message;
  Inbox alice_inbox(*alice);
  auto bob = client().join(url_, call, token("bob", call), {.p2p = false, .e2ee = shared});
  ASSERT_TRUE(bob.ok()) << bob.error().message;
  Inbox bob_inbox(*bob);
  auto carol =
      client().join(url_, call, token("carol", call), {.p2p = false, .e2ee = keys({{1, 0x43}})});
  ASSERT_TRUE(carol.ok()) << carol.error().message;
  Inbox carol_inbox(*carol);
  auto dave = client().join(url_, call, token("dave", call), {.p2p = false});
  ASSERT_TRUE(dave.ok()) << dave.error().message;
  Inbox dave_inbox(*dave);
  ASSERT_TRUE(alice_inbox.wait_log("joined dave"));

  auto sender = (*alice)->dataChannel().createSender({.channelId = 10000});
  ASSERT_TRUE(sender.ok());
  EXPECT_EQ((*sender)->maxMessageSizeInBytes(), kDefaultMaxMessageSize - kE2eeOverhead);
  const std::string big(std::size_t{100} * 1024, 's');  // fragmented on the wire
  ASSERT_TRUE((*sender)->sendMessage("meet at the old mill").ok());
  ASSERT_TRUE((*sender)->sendMessage(big).ok());
  auto too_large = (*sender)->sendMessage(std::string(kDefaultMaxMessageSize, 'x'));
  ASSERT_FALSE(too_large.ok());
  EXPECT_EQ(too_large.error().code, ErrorCode::MessageTooLarge);

  ASSERT_TRUE(bob_inbox.wait_messages(2));
  EXPECT_EQ(bob_inbox.texts(), (std::vector<std::string>{"meet at the old mill", big}));
  EXPECT_EQ(bob_inbox.sequences(), (std::vector<std::uint32_t>{1, 2}));

  ASSERT_TRUE(dave_inbox.wait_messages(2));
  const auto sealed = dave_inbox.texts();
  EXPECT_EQ(sealed[0].size(), std::string("meet at the old mill").size() + kE2eeOverhead);
  EXPECT_EQ(sealed[0].find("old mill"), std::string::npos);
  EXPECT_EQ(sealed[1].size(), big.size() + kE2eeOverhead);

  // Carol's receiver exists and reports both messages, but none is readable.
  ASSERT_TRUE(carol_inbox.wait([](const Inbox& in) {
    return std::count(in.log.begin(), in.log.end(), "error 10000 from alice DECRYPTION_FAILED") ==
           2;
  }));
  EXPECT_TRUE(carol_inbox.messages_copy().empty());
  EXPECT_EQ(carol_inbox.receiver(0)->unreadMessages(), 0u);

  // Bob answers; Alice reads it.
  auto reply = (*bob)->dataChannel().createSender({.channelId = 10000, .participants = {"alice"}});
  ASSERT_TRUE(reply.ok());
  ASSERT_TRUE((*reply)->sendMessage("agreed").ok());
  ASSERT_TRUE(alice_inbox.wait_messages(1));
  EXPECT_EQ(alice_inbox.texts()[0], "agreed");
}

// Sealing happens above the transport: the direct path carries sealed messages too.
TEST_F(E2eeCall, SealedMessagesGoPeerToPeerInAOneToOneCall) {
  const std::string call = "e2ee-p2p";
  const E2eeKeys shared = keys({{5, 0x55}});
  auto alice = client().join(url_, call, token("alice", call), {.e2ee = shared});
  ASSERT_TRUE(alice.ok()) << alice.error().message;
  Inbox alice_inbox(*alice);
  auto bob = client().join(url_, call, token("bob", call), {.e2ee = shared});
  ASSERT_TRUE(bob.ok()) << bob.error().message;
  Inbox bob_inbox(*bob);
  ASSERT_TRUE(alice_inbox.wait_log("transport p2p bob"));
  ASSERT_TRUE(bob_inbox.wait_log("transport p2p alice"));
  std::uint64_t relayed_before = 0;
  on_loop([&] { relayed_before = server_->metrics().relayed_messages; });

  auto sender = (*alice)->dataChannel().createSender({.channelId = 9});
  ASSERT_TRUE(sender.ok());
  for (int i = 1; i <= 50; ++i) ASSERT_TRUE((*sender)->sendMessage("direct " + std::to_string(i)));
  ASSERT_TRUE(bob_inbox.wait_messages(50));
  EXPECT_EQ(bob_inbox.texts().back(), "direct 50");
  std::uint64_t relayed_after = 0;
  on_loop([&] { relayed_after = server_->metrics().relayed_messages; });
  EXPECT_EQ(relayed_after, relayed_before);
}

TEST_F(E2eeCall, KeysRotateWithoutLeavingTheCall) {
  const std::string call = "e2ee-rotate";
  auto alice =
      client().join(url_, call, token("alice", call), {.p2p = false, .e2ee = keys({{1, 1}})});
  ASSERT_TRUE(alice.ok()) << alice.error().message;
  Inbox alice_inbox(*alice);
  auto bob = client().join(url_, call, token("bob", call), {.p2p = false, .e2ee = keys({{1, 1}})});
  ASSERT_TRUE(bob.ok()) << bob.error().message;
  Inbox bob_inbox(*bob);
  ASSERT_TRUE(alice_inbox.wait_log("joined bob"));
  auto sender = (*alice)->dataChannel().createSender({.channelId = 3});
  ASSERT_TRUE(sender.ok());
  ASSERT_TRUE((*sender)->sendMessage("under key 1").ok());
  ASSERT_TRUE(bob_inbox.wait_messages(1));

  // Everyone learns key 2 first, then it seals; then key 1 is dropped.
  ASSERT_TRUE((*bob)->setE2eeKeys(keys({{1, 1}, {2, 2}})).ok());
  ASSERT_TRUE((*alice)->setE2eeKeys(keys({{1, 1}, {2, 2}})).ok());
  ASSERT_TRUE((*sender)->sendMessage("under key 2").ok());
  ASSERT_TRUE(bob_inbox.wait_messages(2));
  ASSERT_TRUE((*bob)->setE2eeKeys(keys({{2, 2}})).ok());
  ASSERT_TRUE((*sender)->sendMessage("still key 2").ok());
  ASSERT_TRUE(bob_inbox.wait_messages(3));
  EXPECT_EQ(bob_inbox.texts(),
            (std::vector<std::string>{"under key 1", "under key 2", "still key 2"}));

  // Alice falls back to key 1 only: Bob no longer holds it.
  ASSERT_TRUE((*alice)->setE2eeKeys(keys({{1, 1}})).ok());
  ASSERT_TRUE((*sender)->sendMessage("under key 1 again").ok());
  ASSERT_TRUE(bob_inbox.wait_log("error 3 from alice DECRYPTION_FAILED"));
  EXPECT_EQ(bob_inbox.messages_copy().size(), 3u);
}

TEST_F(E2eeCall, KeysForAnotherCallOrACallWithoutE2eeAreRefused) {
  auto derived = E2eeKeys::parse("1:passphrase:open sesame", "some-other-call");
  ASSERT_TRUE(derived.ok());
  auto refused = client().join(url_, "e2ee-3", token("alice", "e2ee-3"), {.e2ee = *derived});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::InvalidArgument);
  EXPECT_NE(refused.error().message.find("some-other-call"), std::string::npos);

  auto plain = client().join(url_, "e2ee-3", token("alice", "e2ee-3"), {.p2p = false});
  ASSERT_TRUE(plain.ok()) << plain.error().message;
  auto set = (*plain)->setE2eeKeys(keys({{1, 1}}));
  ASSERT_FALSE(set.ok());
  EXPECT_EQ(set.error().code, ErrorCode::InvalidArgument);
  (*plain)->leave();
}

}  // namespace
}  // namespace switchboard
