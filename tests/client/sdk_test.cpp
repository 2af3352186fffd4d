// The C++ SDK (Call, DataChannelSender/Receiver/Feature) end to end against an in-process
// relay that routes frames with the server's rules (fake_relay.hpp). Each participant is a
// real Call::Impl on a real event thread; only the network is replaced.

#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "client/call_impl.hpp"
#include "fake_relay.hpp"
#include "inbox.hpp"
#include "run_on_loop.hpp"

namespace switchboard {
namespace {

using namespace std::chrono_literals;
using testing::FakeRelay;
using testing::Inbox;
using testing::kWait;
using testing::RelayConfig;
using testing::run_on_loop;

struct Participant {
  std::shared_ptr<Call> call;
  std::unique_ptr<Inbox> inbox;
  Call* operator->() const { return call.get(); }
  DataChannelFeature& dc() const { return call->dataChannel(); }
};

class Sdk : public ::testing::Test {
 protected:
  explicit Sdk(RelayConfig config = {}) {
    loop_ = std::make_unique<client::EventLoop>();
    relay_ = std::make_unique<FakeRelay>(loop_->io(), std::move(config));
  }
  ~Sdk() override {
    for (auto& p : participants_) p->call->leave();
    participants_.clear();
    loop_.reset();  // before the relay its handlers point to
    relay_.reset();
  }

  Result<std::shared_ptr<Call::Impl>> join_impl(const std::string& identity,
                                                std::chrono::milliseconds timeout = 5000ms) {
    client::ServerLinkConfig config;
    config.url = "ws://fake";
    config.call = "call-1";
    config.token = identity;
    return Call::Impl::join(*loop_, relay_->factory(), config, timeout, tuning_);
  }

  Participant& join(const std::string& identity, bool auto_read = true) {
    auto impl = join_impl(identity);
    EXPECT_TRUE(impl.ok()) << (impl ? "" : impl.error().message);
    auto p = std::make_unique<Participant>();
    p->call = std::make_shared<Call>(std::move(*impl));
    p->inbox = std::make_unique<Inbox>(p->call, auto_read);
    participants_.push_back(std::move(p));
    return *participants_.back();
  }

  // Runs `fn` on the event thread and waits for it.
  template <typename Fn>
  void on_loop(Fn fn) {
    run_on_loop(*loop_, std::move(fn));
  }

  std::shared_ptr<DataChannelSender> sender(Participant& p, const SenderOptions& options = {}) {
    auto s = p.dc().createSender(options);
    EXPECT_TRUE(s.ok()) << (s ? "" : s.error().message);
    return s ? *s : nullptr;
  }

  std::unique_ptr<client::EventLoop> loop_;
  std::unique_ptr<FakeRelay> relay_;
  std::function<void(core::EndpointConfig&)> tuning_;
  std::vector<std::unique_ptr<Participant>> participants_;
};

// ---- Joining and the roster ----

TEST_F(Sdk, JoinReportsSelfAndTheOthersAlreadyInTheCall) {
  auto& alice = join("alice");
  auto& bob = join("bob");
  EXPECT_EQ(bob->self().identity, "bob");
  EXPECT_EQ(bob->id(), "call-1");
  EXPECT_TRUE(bob->connected());
  ASSERT_EQ(bob->participants().size(), 1u);
  EXPECT_EQ(bob->participants()[0].identity, "alice");
  EXPECT_EQ(bob->participants()[0].displayName, "alice (display)");
  ASSERT_TRUE(alice.inbox->wait_log("joined bob"));
  ASSERT_EQ(alice->participants().size(), 1u);
  EXPECT_EQ(alice->participants()[0].identity, "bob");
}

TEST_F(Sdk, RefusedJoinReturnsTheServersError) {
  loop_.reset();
  relay_.reset();
  RelayConfig config;
  config.refuse["mallory"] = Error{ErrorCode::Unauthorized, "token forged"};
  loop_ = std::make_unique<client::EventLoop>();
  relay_ = std::make_unique<FakeRelay>(loop_->io(), config);
  auto r = join_impl("mallory");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::Unauthorized);
}

TEST_F(Sdk, JoinWithoutADataConnectionTimesOutWithNotConnected) {
  loop_.reset();
  relay_.reset();
  RelayConfig config;
  config.never_connect.push_back("slow");
  loop_ = std::make_unique<client::EventLoop>();
  relay_ = std::make_unique<FakeRelay>(loop_->io(), config);
  auto& alice = join("alice");
  auto r = join_impl("slow", 200ms);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::NotConnected);
  // The half-joined participant was taken out of the call again.
  EXPECT_TRUE(alice.inbox->wait_log("left slow"));
}

TEST_F(Sdk, JoinOnTheEventThreadIsRefused) {
  Result<std::shared_ptr<Call::Impl>> r{ErrorCode::Internal, "not run"};
  on_loop([&] { r = join_impl("alice"); });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::InvalidArgument);
}

// ---- Sending and receiving ----

TEST_F(Sdk, SendFromAnotherThreadReturnsIncreasingSequenceNumbersDeliveredInOrder) {
  auto& alice = join("alice");
  auto& bob = join("bob");
  auto s = sender(alice, {.channelId = 10000});
  std::vector<std::uint32_t> sequences;
  std::thread worker([&] {
    for (int i = 1; i <= 200; ++i) {
      auto seq = s->sendMessage("m" + std::to_string(i));
      sequences.push_back(seq ? *seq : 0);
    }
  });
  worker.join();
  for (std::uint32_t i = 0; i < 200; ++i) ASSERT_EQ(sequences[i], i + 1);
  ASSERT_TRUE(bob.inbox->wait_messages(200));
  auto texts = bob.inbox->texts();
  auto seqs = bob.inbox->sequences();
  for (std::uint32_t i = 0; i < 200; ++i) {
    EXPECT_EQ(texts[i], "m" + std::to_string(i + 1));
    EXPECT_EQ(seqs[i], i + 1);
  }
}

TEST_F(Sdk, ReceiverCreatedComesBeforeItsFirstMessage) {
  auto& alice = join("alice");
  auto& bob = join("bob");
  auto s = sender(alice, {.channelId = 7});
  ASSERT_TRUE(s->sendMessage("hello").ok());
  ASSERT_TRUE(bob.inbox->wait_messages(1));
  auto log = bob.inbox->log_copy();
  auto created = std::find(log.begin(), log.end(), "created 7 from alice");
  auto message = std::find(log.begin(), log.end(), "message 7 from alice");
  ASSERT_NE(created, log.end());
  ASSERT_NE(message, log.end());
  EXPECT_LT(created, message);
  auto r = bob.inbox->receiver(0);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->senderDisplayName(), "alice (display)");
  EXPECT_EQ(r->channelId(), 7);
}

// A sender may start the moment a participant's join() returns, before the program has
// registered onReceiverCreated: that receiver and its messages are not lost.
TEST_F(Sdk, AReceiverCreatedBeforeTheCallbackIsRegisteredIsAnnouncedToIt) {
  auto& alice = join("alice");
  auto impl = join_impl("bob");
  ASSERT_TRUE(impl.ok()) << impl.error().message;
  auto bob = std::make_shared<Call>(std::move(*impl));
  ASSERT_TRUE(alice.inbox->wait_log("joined bob"));
  auto s = sender(alice, {.channelId = 7});
  ASSERT_TRUE(s->sendMessage("hello").ok());
  // bob has no callbacks yet; the receiver is created and the message arrives meanwhile.
  std::this_thread::sleep_for(300ms);
  Inbox inbox(bob);
  ASSERT_TRUE(inbox.wait_messages(1));
  auto log = inbox.log_copy();
  auto created = std::find(log.begin(), log.end(), "created 7 from alice");
  auto message = std::find(log.begin(), log.end(), "message 7 from alice");
  ASSERT_NE(created, log.end());
  ASSERT_NE(message, log.end());
  EXPECT_LT(created, message);
}

TEST_F(Sdk, ReadMessageReturnsMessagesOldestFirstAndNulloptWhenNoneWait) {
  auto& alice = join("alice");
  auto& bob = join("bob", /*auto_read=*/false);
  auto s = sender(alice, {.channelId = 5});
  for (const char* text : {"one", "two", "three"}) ASSERT_TRUE(s->sendMessage(text).ok());
  ASSERT_TRUE(bob.inbox->wait([](const Inbox& in) {
    return !in.receivers.empty() && in.receivers[0]->unreadMessages() == 3;
  }));
  auto r = bob.inbox->receiver(0);
  for (const char* text : {"one", "two", "three"}) {
    auto m = r->readMessage();
    ASSERT_TRUE(m);
    EXPECT_EQ(std::string(m->data.begin(), m->data.end()), text);
  }
  EXPECT_FALSE(r->readMessage());
  EXPECT_EQ(r->unreadMessages(), 0u);
}

TEST_F(Sdk, BroadcastOneRecipientAndSubsetReachExactlyTheChosenParticipants) {
  auto& alice = join("alice");
  auto& bob = join("bob");
  auto& carol = join("carol");
  auto& dave = join("dave");
  auto s = sender(alice, {.channelId = 100});
  ASSERT_TRUE(s->sendMessage("to all").ok());
  ASSERT_TRUE(s->setParticipants({"bob"}).ok());
  EXPECT_EQ(s->participants(), std::vector<Identity>{"bob"});
  ASSERT_TRUE(s->sendMessage("to bob").ok());
  ASSERT_TRUE(s->setParticipants({"bob", "carol"}).ok());
  ASSERT_TRUE(s->sendMessage("to bob and carol").ok());
  ASSERT_TRUE(s->setParticipants({}).ok());
  ASSERT_TRUE(s->sendMessage("end").ok());

  for (auto* p : {&bob, &carol, &dave}) ASSERT_TRUE(p->inbox->wait_log("message 100 from alice"));
  auto ended = [](const Inbox& in) {
    return !in.messages.empty() && in.messages.back().text == "end";
  };
  for (auto* p : {&bob, &carol, &dave}) ASSERT_TRUE(p->inbox->wait(ended));
  EXPECT_EQ(bob.inbox->texts(),
            (std::vector<std::string>{"to all", "to bob", "to bob and carol", "end"}));
  EXPECT_EQ(carol.inbox->texts(), (std::vector<std::string>{"to all", "to bob and carol", "end"}));
  EXPECT_EQ(dave.inbox->texts(), (std::vector<std::string>{"to all", "end"}));
  EXPECT_TRUE(alice.inbox->texts().empty());
}

// The ACS documentation's example: recipients {A, B}, then {B}, then {A}.
TEST_F(Sdk, ChangingRecipientsLeavesGapsInTheSequenceNumbers) {
  auto& sender_p = join("s");
  auto& a = join("a");
  auto& b = join("b");
  auto s = sender(sender_p, {.channelId = 3, .participants = {"a", "b"}});
  EXPECT_EQ(*s->sendMessage("1"), 1u);
  ASSERT_TRUE(s->setParticipants({"b"}).ok());
  EXPECT_EQ(*s->sendMessage("2"), 2u);
  ASSERT_TRUE(s->setParticipants({"a"}).ok());
  EXPECT_EQ(*s->sendMessage("3"), 3u);
  ASSERT_TRUE(a.inbox->wait_messages(2));
  ASSERT_TRUE(b.inbox->wait_messages(2));
  EXPECT_EQ(a.inbox->sequences(), (std::vector<std::uint32_t>{1, 3}));
  EXPECT_EQ(b.inbox->sequences(), (std::vector<std::uint32_t>{1, 2}));
}

TEST_F(Sdk, ChannelIdZeroAllocatesDistinctIdsFrom1024Up) {
  auto& alice = join("alice");
  auto s1 = sender(alice);
  auto s2 = sender(alice);
  EXPECT_GE(s1->channelId(), kFirstAllocatedChannelId);
  EXPECT_GE(s2->channelId(), kFirstAllocatedChannelId);
  EXPECT_NE(s1->channelId(), s2->channelId());
}

TEST_F(Sdk, SenderReportsItsOptionsAndTheCallsMessageLimit) {
  auto& alice = join("alice");
  auto s = sender(alice, {.channelId = 42,
                          .reliability = Reliability::Lossy,
                          .priority = Priority::High,
                          .bitrateInKbps = 800});
  EXPECT_EQ(s->channelId(), 42);
  EXPECT_EQ(s->reliability(), Reliability::Lossy);
  EXPECT_EQ(s->priority(), Priority::High);
  EXPECT_EQ(s->bitrateInKbps(), 800u);
  EXPECT_EQ(s->maxMessageSizeInBytes(), 256u * 1024);
  EXPECT_FALSE(s->closed());
}

TEST_F(Sdk, LargeMessagesAreFragmentedAndArriveWhole) {
  auto& alice = join("alice");
  auto& bob = join("bob");
  auto s = sender(alice, {.channelId = 9});
  std::string big(std::size_t{200} * 1024, 'x');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
  ASSERT_TRUE(s->sendMessage(big).ok());
  ASSERT_TRUE(s->sendMessage(big.substr(0, 100)).ok());
  ASSERT_TRUE(bob.inbox->wait_messages(2));
  EXPECT_EQ(bob.inbox->texts()[0], big);
  EXPECT_EQ(bob.inbox->texts()[1], big.substr(0, 100));
}

TEST_F(Sdk, HighAndNormalAndLossySendersAllDeliver) {
  auto& alice = join("alice");
  auto& bob = join("bob");
  auto high = sender(alice, {.channelId = 1, .priority = Priority::High});
  auto lossy = sender(alice, {.channelId = 2, .reliability = Reliability::Lossy});
  ASSERT_TRUE(high->sendMessage("h").ok());
  ASSERT_TRUE(lossy->sendMessage("l").ok());
  ASSERT_TRUE(bob.inbox->wait_messages(2));
}

// Pacing holds frames back; the SDK's timer must send them when the bucket refills.
TEST_F(Sdk, PacedSenderDeliversEverythingAtItsBitrate) {
  auto& alice = join("alice");
  auto& bob = join("bob");
  // 80 kbit/s = 10 kB/s: three 2 kB messages take about 0.4 s after the first.
  auto s = sender(alice, {.channelId = 60, .bitrateInKbps = 80});
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(s->sendMessage(std::string(2000, 'p')).ok());
  ASSERT_TRUE(bob.inbox->wait_messages(3));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 300ms);
  EXPECT_EQ(s->bufferedAmount(), 0u);
}

TEST_F(Sdk, ReceiverIdleForTheTimeoutClosesWithIdle) {
  tuning_ = [](core::EndpointConfig& c) { c.receiver_idle_timeout = 200ms; };
  auto& alice = join("alice");
  auto& bob = join("bob");
  auto s = sender(alice, {.channelId = 61});
  ASSERT_TRUE(s->sendMessage("once").ok());
  ASSERT_TRUE(bob.inbox->wait_messages(1));
  EXPECT_TRUE(bob.inbox->wait_log("closed 61 from alice idle"));
  EXPECT_EQ(bob.inbox->receiver(0)->closeReason(), ReceiverCloseReason::Idle);
}

// ---- Closing and leaving ----

TEST_F(Sdk, CloseClosesTheReceiversWithSenderClosedAndKeepsTheirMessagesReadable) {
  auto& alice = join("alice");
  auto& bob = join("bob", /*auto_read=*/false);
  auto s = sender(alice, {.channelId = 11});
  ASSERT_TRUE(s->sendMessage("before close").ok());
  s->close();
  s->close();  // idempotent
  EXPECT_TRUE(s->closed());
  ASSERT_TRUE(bob.inbox->wait_log("closed 11 from alice sender_closed"));
  auto r = bob.inbox->receiver(0);
  EXPECT_TRUE(r->closed());
  EXPECT_EQ(r->closeReason(), ReceiverCloseReason::SenderClosed);
  auto m = r->readMessage();
  ASSERT_TRUE(m);
  EXPECT_EQ(std::string(m->data.begin(), m->data.end()), "before close");
}

TEST_F(Sdk, SendAfterCloseFailsWithSenderClosed) {
  auto& alice = join("alice");
  join("bob");
  auto s = sender(alice, {.channelId = 12});
  s->close();
  auto r = s->sendMessage("late");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::SenderClosed);
}

TEST_F(Sdk, CreatingASenderOnAnOpenChannelClosesTheOldOne) {
  auto& alice = join("alice");
  auto& bob = join("bob");
  auto old_sender = sender(alice, {.channelId = 13});
  ASSERT_TRUE(old_sender->sendMessage("old").ok());
  auto new_sender = sender(alice, {.channelId = 13});
  EXPECT_TRUE(old_sender->closed());
  ASSERT_TRUE(new_sender->sendMessage("new").ok());
  ASSERT_TRUE(bob.inbox->wait_messages(2));
  EXPECT_EQ(bob.inbox->texts(), (std::vector<std::string>{"old", "new"}));
  EXPECT_EQ(bob.inbox->sequences(), (std::vector<std::uint32_t>{1, 1}));
  EXPECT_TRUE(bob.inbox->wait_log("closed 13 from alice sender_closed"));
}

TEST_F(Sdk, ParticipantLeavingClosesItsReceiversWithParticipantLeft) {
  auto& alice = join("alice");
  auto& bob = join("bob");
  auto& carol = join("carol");
  auto s = sender(carol, {.channelId = 20});
  ASSERT_TRUE(s->sendMessage("hi").ok());
  ASSERT_TRUE(alice.inbox->wait_messages(1));
  // The server reports carol gone (her connection dropped) before any close notice.
  on_loop([&] { relay_->disconnect("carol", "connection lost"); });
  ASSERT_TRUE(alice.inbox->wait_log("closed 20 from carol participant_left"));
  ASSERT_TRUE(bob.inbox->wait_log("closed 20 from carol participant_left"));
  EXPECT_TRUE(alice.inbox->wait_log("left carol"));
  EXPECT_EQ(alice->participants().size(), 1u);
}

// Leaving sends what was queued, then the server's participant_left closes the receivers.
TEST_F(Sdk, LeaveDeliversQueuedMessagesAndTheReceiversCloseWithParticipantLeft) {
  auto& alice = join("alice");
  auto& bob = join("bob");
  std::shared_ptr<testing::FakeLink> alice_link;
  on_loop([&] {
    alice_link = relay_->find("alice");
    alice_link->refuse_sends = true;  // everything stays queued in the SDK
  });
  auto s = sender(alice, {.channelId = 21});
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(s->sendMessage("m" + std::to_string(i)).ok());
  std::thread leaver([&] { alice->leave(); });
  const auto deadline = std::chrono::steady_clock::now() + kWait;
  while (alice->connected() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_FALSE(alice->connected());
  on_loop([&] {
    alice_link->refuse_sends = false;
    alice_link->callbacks.writable();
  });
  leaver.join();
  alice->leave();  // idempotent
  ASSERT_TRUE(bob.inbox->wait_log("left alice"));
  EXPECT_EQ(bob.inbox->texts().size(), 50u);
  EXPECT_TRUE(bob.inbox->wait_log("closed 21 from alice participant_left"));
  EXPECT_TRUE(s->closed());
  auto r = s->sendMessage("after leave");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::NotConnected);
  auto created = alice.dc().createSender({});
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.error().code, ErrorCode::NotConnected);
}

TEST_F(Sdk, CloseRightBeforeLeaveStillClosesTheReceiversWithSenderClosed) {
  auto& alice = join("alice");
  auto& bob = join("bob");
  std::shared_ptr<testing::FakeLink> alice_link;
  on_loop([&] {
    alice_link = relay_->find("alice");
    alice_link->refuse_sends = true;
  });
  auto s = sender(alice, {.channelId = 25});
  ASSERT_TRUE(s->sendMessage("last words").ok());
  s->close();
  std::thread leaver([&] { alice->leave(); });
  const auto deadline = std::chrono::steady_clock::now() + kWait;
  while (alice->connected() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(1ms);
  }
  on_loop([&] {
    alice_link->refuse_sends = false;
    alice_link->callbacks.writable();
  });
  leaver.join();
  ASSERT_TRUE(bob.inbox->wait_log("left alice"));
  EXPECT_EQ(bob.inbox->texts(), std::vector<std::string>{"last words"});
  EXPECT_TRUE(bob.inbox->wait_log("closed 25 from alice sender_closed"));
}

TEST_F(Sdk, NoCallbackRunsAfterLeaveReturns) {
  auto& alice = join("alice");
  auto& bob = join("bob");
  auto s = sender(alice, {.channelId = 22});
  ASSERT_TRUE(s->sendMessage("first").ok());
  ASSERT_TRUE(bob.inbox->wait_messages(1));
  bob->leave();
  const auto log_at_leave = bob.inbox->log_copy();
  ASSERT_TRUE(s->sendMessage("second").ok());
  auto& carol = join("carol");  // a join bob would have been told about
  ASSERT_TRUE(s->sendMessage("third").ok());
  (void)carol;
  on_loop([] {});  // every queued handler of the event thread has run
  on_loop([] {});
  EXPECT_EQ(bob.inbox->log_copy(), log_at_leave);
}

TEST_F(Sdk, NoCallbackRunsWhileLeaveDrainsTheTransport) {
  auto& alice = join("alice");
  auto& bob = join("bob");
  auto bob_sender = sender(bob, {.channelId = 23});
  ASSERT_TRUE(bob_sender->sendMessage("hi").ok());
  ASSERT_TRUE(alice.inbox->wait_messages(1));
  auto s = sender(alice, {.channelId = 24});
  std::shared_ptr<testing::FakeLink> bob_link;
  on_loop([&] {
    bob_link = relay_->find("bob");
    bob_link->buffered = 1;  // leave() waits for this to reach 0
  });
  std::thread leaver([&] { bob->leave(); });
  // Once bob is no longer connected his leave() is draining; data still reaches his link.
  const auto deadline = std::chrono::steady_clock::now() + kWait;
  while (bob->connected() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(1ms);
  }
  ASSERT_FALSE(bob->connected());
  const auto log_at_leave = bob.inbox->log_copy();
  ASSERT_TRUE(s->sendMessage("while bob leaves").ok());
  on_loop([] {});
  on_loop([] {});
  on_loop([&] { bob_link->buffered = 0; });
  leaver.join();
  EXPECT_FALSE(bob->connected());
  EXPECT_EQ(bob.inbox->log_copy(), log_at_leave);
  EXPECT_TRUE(alice.inbox->wait_log("closed 23 from bob participant_left"));
}

TEST_F(Sdk, DroppingTheCallLeavesIt) {
  auto& alice = join("alice");
  {
    auto bob = join_impl("bob");
    ASSERT_TRUE(bob.ok());
    ASSERT_TRUE(alice.inbox->wait_log("joined bob"));
    Call call(std::move(*bob));
  }
  EXPECT_TRUE(alice.inbox->wait_log("left bob"));
}

// ---- Errors ----

TEST_F(Sdk, MoreThan64RecipientsFailsWithTooManyParticipants) {
  auto& alice = join("alice");
  std::vector<Identity> many;
  many.reserve(65);
  for (int i = 0; i < 65; ++i) many.push_back("p" + std::to_string(i));
  auto created = alice.dc().createSender({.participants = many});
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.error().code, ErrorCode::TooManyParticipants);
  auto s = sender(alice, {.channelId = 30});
  auto set = s->setParticipants(many);
  ASSERT_FALSE(set.ok());
  EXPECT_EQ(set.error().code, ErrorCode::TooManyParticipants);
  many.pop_back();
  EXPECT_TRUE(s->setParticipants(many).ok());
}

TEST_F(Sdk, RecipientsNoneOfWhomIsInTheCallFailWithNoValidParticipant) {
  auto& alice = join("alice");
  join("bob");
  auto s = sender(alice, {.channelId = 31, .participants = {"nobody", "alice"}});
  auto r = s->sendMessage("x");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::NoValidParticipant);
}

TEST_F(Sdk, EmptyMessageFailsWithMessageEmpty) {
  auto& alice = join("alice");
  auto s = sender(alice, {.channelId = 32});
  auto r = s->sendMessage(std::string_view{});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::MessageEmpty);
}

TEST_F(Sdk, InvalidChannelIdIsRefused) {
  auto& alice = join("alice");
  auto r = alice.dc().createSender({.channelId = 70000});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::InvalidChannelId);
}

TEST_F(Sdk, ServerErrorNamingAChannelReachesThatSendersOnError) {
  auto& alice = join("alice");
  auto s = sender(alice, {.channelId = 33});
  auto other = sender(alice, {.channelId = 34});
  std::promise<Error> got;
  s->onError([&](const Error& e) { got.set_value(e); });
  other->onError([](const Error&) { ADD_FAILURE() << "wrong sender"; });
  on_loop([&] {
    relay_->send_error("alice", {std::nullopt, ErrorCode::TrafficLimited, "slow down", 33});
  });
  auto f = got.get_future();
  ASSERT_EQ(f.wait_for(kWait), std::future_status::ready);
  auto e = f.get();
  EXPECT_EQ(e.code, ErrorCode::TrafficLimited);
  EXPECT_EQ(e.message, "slow down");
}

TEST_F(Sdk, DisconnectionReportsOnDisconnectedAndFailsFurtherSendsWithNotConnected) {
  auto& alice = join("alice");
  auto& bob = join("bob");
  auto s = sender(alice, {.channelId = 35});
  std::promise<Error> sender_error;
  s->onError([&](const Error& e) { sender_error.set_value(e); });
  on_loop([&] { relay_->disconnect("alice", "slow consumer"); });
  ASSERT_TRUE(alice.inbox->wait_log("disconnected NOT_CONNECTED slow consumer"));
  auto f = sender_error.get_future();
  ASSERT_EQ(f.wait_for(kWait), std::future_status::ready);
  EXPECT_EQ(f.get().code, ErrorCode::NotConnected);
  EXPECT_FALSE(alice->connected());
  auto r = s->sendMessage("after");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::NotConnected);
  EXPECT_TRUE(bob.inbox->wait_log("left alice"));
  alice->leave();  // still fine after a disconnection
  auto log = alice.inbox->log_copy();
  EXPECT_EQ(std::count_if(log.begin(), log.end(),
                          [](const std::string& l) { return l.starts_with("disconnected"); }),
            1);
}

class SdkWithSmallLimits : public Sdk {
 protected:
  SdkWithSmallLimits() : Sdk(config()) {}
  static RelayConfig config() {
    RelayConfig c;
    c.max_message_size = 1000;
    c.rate_limit_messages_per_second = 5;
    c.rate_limit_bytes_per_second = 100'000;
    return c;
  }
};

TEST_F(SdkWithSmallLimits, MessageOverTheCallsLimitFailsWithMessageTooLarge) {
  auto& alice = join("alice");
  join("bob");
  auto s = sender(alice, {.channelId = 40});
  EXPECT_EQ(s->maxMessageSizeInBytes(), 1000u);
  auto r = s->sendMessage(std::string(1001, 'x'));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::MessageTooLarge);
  EXPECT_TRUE(s->sendMessage(std::string(1000, 'x')).ok());
}

TEST_F(SdkWithSmallLimits, SendingOverTheRateLimitFailsWithTrafficLimited) {
  auto& alice = join("alice");
  auto& bob = join("bob");
  auto s = sender(alice, {.channelId = 41});
  // The burst is one second of the rate: five messages pass, the sixth does not.
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(s->sendMessage("ok").ok()) << i;
  auto r = s->sendMessage("over");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::TrafficLimited);
  ASSERT_TRUE(bob.inbox->wait_messages(5));
  // The refused message was not queued: the next accepted one follows without a gap...
  EXPECT_EQ(bob.inbox->sequences().back(), 5u);
}

// ---- Flow control ----

TEST_F(Sdk, UnreadDurableDataPausesTheTransportUntilRead) {
  auto& alice = join("alice");
  auto& bob = join("bob", /*auto_read=*/false);
  auto s = sender(alice, {.channelId = 50});
  const std::string chunk(std::size_t{250} * 1024, 'z');
  // 9 MiB: over the receiver's 8 MiB unread bound.
  int sent = 0;
  const auto deadline = std::chrono::steady_clock::now() + kWait;
  while (sent < 37 && std::chrono::steady_clock::now() < deadline) {
    auto r = s->sendMessage(chunk);
    if (r) {
      ++sent;
    } else {
      ASSERT_EQ(r.error().code, ErrorCode::BufferFull);
      std::this_thread::sleep_for(1ms);
    }
  }
  ASSERT_EQ(sent, 37);
  auto bob_link = [&] {
    std::shared_ptr<testing::FakeLink> link;
    on_loop([&] { link = relay_->find("bob"); });
    return link;
  }();
  ASSERT_TRUE(bob_link);
  auto paused = [&] {
    bool p = false;
    on_loop([&] { p = bob_link->receive_paused; });
    return p;
  };
  auto deadline2 = std::chrono::steady_clock::now() + kWait;
  while (!paused() && std::chrono::steady_clock::now() < deadline2)
    std::this_thread::sleep_for(1ms);
  ASSERT_TRUE(paused());
  auto r = bob.inbox->receiver(0);
  ASSERT_TRUE(r);
  bob.inbox->drain(*r);
  auto deadline3 = std::chrono::steady_clock::now() + kWait;
  while (paused() && std::chrono::steady_clock::now() < deadline3) std::this_thread::sleep_for(1ms);
  EXPECT_FALSE(paused());
}

}  // namespace
}  // namespace switchboard
