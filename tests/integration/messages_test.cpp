// Message sizes, rate limits and flow control through a real switchboard-server.

#include <cstdio>

#include <gtest/gtest.h>

#include "harness.hpp"

namespace switchboard::integration {
namespace {

using MessageSize = IntegrationTest;
using DurableMessages = IntegrationTest;
using TrafficLimit = IntegrationTest;
using SlowConsumer = IntegrationTest;
using LossyMessages = IntegrationTest;

double seconds(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

// The answer to a send that must fail with `code`: either the send's own answer, or (when
// the SDK accepted it and the server refused it) an error event that follows.
void expect_send_refused(Agent& agent, const Json& answer, const std::string& code) {
  if (answer.value("event", "") == "error") {
    EXPECT_EQ(answer.value("code", ""), code) << answer.dump();
    return;
  }
  EXPECT_EQ(answer.value("event", ""), "sent") << answer.dump();
  agent.expect("error " + code, is_error(code));
}

TEST_F(MessageSize, MessageOverTheServerLimitFailsWithMessageTooLarge) {
  Server server({.flags = {"--max-message-size", "1024"}});
  auto agents = join_call(server, unique_call_id(), {"alice", "bob"});
  Agent& alice = *agents[0];
  Agent& bob = *agents[1];

  const Json created = alice.command({{"op", "create_sender"}, {"channelId", 42}});
  ASSERT_EQ(created.value("event", ""), "sender_created") << created.dump();
  EXPECT_EQ(created.value("maxMessageSize", 0), 1024);

  const std::string too_large = random_bytes(2000, 1);
  const Json refused = alice.command(
      {{"op", "send"}, {"channelId", 42}, {"base64", base64_encode(too_large)}, {"req", "big"}});
  expect_send_refused(alice, refused, "MESSAGE_TOO_LARGE");
  const Json one_over = alice.command(
      {{"op", "send"}, {"channelId", 42}, {"base64", base64_encode(random_bytes(1025, 2))}});
  expect_send_refused(alice, one_over, "MESSAGE_TOO_LARGE");

  const std::string at_limit = random_bytes(1024, 3);
  alice.send_bytes(42, at_limit);
  // bob's first message on the channel is the one at the limit: the others never came.
  const Json m = bob.expect_message("alice", 42);
  EXPECT_EQ(m.value("size", 0), 1024);
  EXPECT_EQ(m.value("base64", ""), base64_encode(at_limit));
}

TEST_F(DurableMessages, OneByteTo200KiBArriveIntactAndInOrder) {
  Server server;
  auto agents = join_call(server, unique_call_id(), {"alice", "bob", "carol"});
  Agent& alice = *agents[0];

  const std::vector<std::size_t> sizes = {1,
                                          2,
                                          3,
                                          100,
                                          1000,
                                          1200,
                                          1500,
                                          16383,
                                          16384,
                                          16385,
                                          65535,
                                          65536,
                                          65537,
                                          100000,
                                          131072,
                                          150001,
                                          std::size_t{200} * 1024 - 1,
                                          std::size_t{200} * 1024};
  const std::uint16_t channel = alice.create_sender({{"channelId", 9}, {"reliability", "Durable"}});
  std::vector<std::string> payloads;
  std::vector<std::uint32_t> sequence_numbers;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    payloads.push_back(random_bytes(sizes[i], static_cast<std::uint32_t>(100 + i)));
    sequence_numbers.push_back(alice.send_bytes(channel, payloads.back()));
    EXPECT_EQ(sequence_numbers.back(), i + 1);
  }

  for (std::size_t r = 1; r < agents.size(); ++r) {
    Agent& receiver = *agents[r];
    SCOPED_TRACE(receiver.user());
    for (std::size_t i = 0; i < sizes.size(); ++i) {
      const Json m = receiver.expect_message("alice", channel);
      EXPECT_EQ(m.value("sequenceNumber", 0u), sequence_numbers[i]) << "message " << i;
      EXPECT_EQ(m.value("size", 0u), sizes[i]) << "message " << i;
      EXPECT_TRUE(m.value("base64", "") == base64_encode(payloads[i]))
          << "message " << i << " of " << sizes[i] << " bytes differs";
    }
  }
}

// Lossy messages may be lost, never altered, duplicated or misrouted. On an idle loopback
// they all arrive; the test asks only that most do.
TEST_F(LossyMessages, ArriveIntactAtTheirRecipientsOnly) {
  constexpr int kMessages = 20;
  Server server;
  auto agents = join_call(server, unique_call_id(), {"alice", "bob", "carol"});
  Agent& alice = *agents[0];
  Agent& bob = *agents[1];
  Agent& carol = *agents[2];
  const std::uint16_t channel = alice.create_sender({{"channelId", 88},
                                                     {"reliability", "lossy"},
                                                     {"priority", "High"},
                                                     {"participants", {"bob"}}});
  std::map<std::string, std::uint32_t> sequence_of;
  for (int i = 0; i < kMessages; ++i) {
    const std::string text = "lossy " + std::to_string(i);
    sequence_of[text] = alice.send_text(channel, text);
  }
  std::set<std::string> got;
  while (got.size() < kMessages) {
    const auto m = bob.next(is_message_from("alice", channel), 2s);
    if (!m) break;
    const std::string text = m->value("text", "");
    ASSERT_TRUE(sequence_of.count(text)) << m->dump();
    EXPECT_EQ(m->value("sequenceNumber", 0u), sequence_of[text]);
    EXPECT_TRUE(got.insert(text).second) << "duplicate " << text;
  }
  EXPECT_GE(got.size(), kMessages / 2u) << "most lossy messages arrive on an idle loopback";
  // A durable broadcast fence from alice: carol gets it, and never got a lossy one.
  const std::uint16_t fence = alice.create_sender({{"channelId", 89}});
  alice.send_text(fence, "fence");
  EXPECT_EQ(carol.expect_message("alice", fence).value("text", ""), "fence");
  EXPECT_TRUE(carol.take_received(is_message_from("alice", channel)).empty());
}

// alice sends `count` messages of `size` bytes as fast as the agent takes them to bob and
// carol, on a server limiting each participant to `rate` per second (messages, or bytes
// when `bytes`), the burst being one second of it. The sender is told TRAFFIC_LIMITED; the
// recipients get at least the burst and never more than the burst plus the rate over the
// time it took, in order, all the same messages.
void check_rate_limit(bool bytes, int rate, std::size_t size, int count) {
  Server server(
      {.flags = {bytes ? "--rate-limit-bytes" : "--rate-limit-messages", std::to_string(rate)}});
  auto agents = join_call(server, unique_call_id(), {"alice", "bob", "carol"});
  Agent& alice = *agents[0];
  const std::uint16_t channel = alice.create_sender({{"channelId", 77}});
  const auto text_of = [&](int i) {
    std::string text = "m" + std::to_string(i) + ":";
    if (text.size() < size) text.resize(size, 'x');
    return text;
  };
  const auto units_of = [&](const Json& m) { return bytes ? m.value("size", 0.0) : 1.0; };

  const auto start = Clock::now();
  std::vector<std::string> reqs;
  reqs.reserve(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) {
    reqs.push_back(
        alice.write_command({{"op", "send"}, {"channelId", channel}, {"text", text_of(i)}}));
  }
  std::map<std::string, std::uint32_t> sequence_of;
  int refused_at_send = 0;
  for (int i = 0; i < count; ++i) {
    const Json answer = alice.answer(reqs[i]);
    if (answer.value("event", "") == "sent") {
      sequence_of[text_of(i)] = answer.at("sequenceNumber").get<std::uint32_t>();
    } else {
      ASSERT_EQ(answer.value("code", ""), "TRAFFIC_LIMITED") << answer.dump();
      ++refused_at_send;
    }
  }
  const double sending = seconds(Clock::now() - start);
  // The sender hears about it: refused sends, or the server's error events.
  if (refused_at_send == 0) alice.expect("TRAFFIC_LIMITED error", is_error("TRAFFIC_LIMITED"));

  // A fence after the burst, retried until the refilled allowance lets one through.
  Agent& bob = *agents[1];
  const auto fence_deadline = Clock::now() + 15s;
  auto is_fence = [&](const Json& e) {
    return is_message_from("alice", channel)(e) && e.value("text", "").rfind("fence", 0) == 0;
  };
  bool fenced = false;
  for (int attempt = 0; !fenced && Clock::now() < fence_deadline; ++attempt) {
    alice.command(
        {{"op", "send"}, {"channelId", channel}, {"text", "fence" + std::to_string(attempt)}});
    fenced = bob.next(is_fence, 500ms).has_value();
  }
  ASSERT_TRUE(fenced) << "no fence message reached bob within 15 s";

  std::vector<std::string> bob_got;
  for (std::size_t r = 1; r < agents.size(); ++r) {
    Agent& receiver = *agents[r];
    SCOPED_TRACE(receiver.user());
    if (r != 1) receiver.expect("fence", is_fence);
    std::vector<Json> got = receiver.take_received(
        [&](const Json& e) { return is_message_from("alice", channel)(e) && !is_fence(e); });
    ASSERT_FALSE(got.empty());
    const double window = seconds(received_at(got.back()) - start);
    std::vector<std::string> texts;
    double units = 0;
    int previous = -1;
    for (const Json& m : got) {
      const std::string text = m.value("text", "");
      texts.push_back(text);
      units += units_of(m);
      ASSERT_TRUE(sequence_of.count(text))
          << "received " << text.substr(0, 12) << "..., which alice never sent";
      EXPECT_EQ(m.value("sequenceNumber", 0u), sequence_of[text]) << text.substr(0, 12);
      const int index = std::stoi(text.substr(1));
      EXPECT_GT(index, previous) << "out of order";
      previous = index;
    }
    // One message of slack either way: the bucket's granularity is a message.
    const double unit = bytes ? static_cast<double>(size) : 1.0;
    const double allowance = rate + rate * window + unit;
    std::printf(
        "%s: %zu of %d messages (%.0f %s) delivered in %.3f s (sending took %.3f s, "
        "allowance %.1f)\n",
        receiver.user().c_str(), got.size(), count, units, bytes ? "bytes" : "messages", window,
        sending, allowance);
    EXPECT_GE(units, rate - unit);
    EXPECT_LE(units, allowance);
    EXPECT_LT(got.size(), static_cast<std::size_t>(count));
    if (r == 1) {
      bob_got = texts;
    } else {
      EXPECT_EQ(texts, bob_got) << "a broadcast reaches every recipient alike";
    }
  }
}

TEST_F(TrafficLimit, SenderOverTheMessageRateIsLimitedAndRecipientsGetOnlyTheAllowance) {
  check_rate_limit(false, 50, 0, 500);
}

TEST_F(TrafficLimit, SenderOverTheByteRateIsLimitedAndRecipientsGetOnlyTheAllowance) {
  check_rate_limit(true, 50'000, 5'000, 200);
}

// dave stops reading his events: his stdout pipe fills, his agent's event thread blocks on
// it, and he stops taking data off the network. alice sends 20 MiB of durable messages to
// everyone, paced at 2 MB/s (bitrateKbps) so that bob and carol keep up with room to
// spare on a loaded 2-core machine; the server's durable queue bound is 1 MiB.
TEST_F(SlowConsumer, IsDisconnectedWhileTheOthersReceiveEveryDurableMessage) {
  constexpr std::size_t kMessageSize = std::size_t{128} * 1024;
  constexpr std::size_t kMessages = 160;  // 20 MiB
  constexpr int kBitrateKbps = 16'000;
  constexpr double kPacedSeconds = kMessages * kMessageSize * 8.0 / (kBitrateKbps * 1000.0);
  Server server({.flags = {"--durable-queue-bytes", "1048576"}});
  auto agents = join_call(server, unique_call_id(), {"alice", "bob", "carol", "dave"});
  Agent& alice = *agents[0];
  Agent& dave = *agents[3];
  const std::uint16_t channel =
      alice.create_sender({{"channelId", 5000}, {"bitrateKbps", kBitrateKbps}});

  dave.process().pause_reading(true);

  std::vector<std::string> encoded;
  std::vector<std::uint32_t> sequence_numbers;
  const auto start = Clock::now();
  for (std::size_t i = 0; i < kMessages; ++i) {
    encoded.push_back(base64_encode(random_bytes(kMessageSize, static_cast<std::uint32_t>(i))));
    std::string why;
    const auto sequence = alice.send_retrying(channel, encoded.back(), why);
    ASSERT_TRUE(sequence.has_value()) << "message " << i << ": " << why;
    sequence_numbers.push_back(*sequence);
  }
  const double sending = seconds(Clock::now() - start);

  for (std::size_t r = 1; r <= 2; ++r) {
    Agent& receiver = *agents[r];
    SCOPED_TRACE(receiver.user());
    for (std::size_t i = 0; i < kMessages; ++i) {
      const auto m = receiver.next(is_message_from("alice", channel), kWait);
      ASSERT_TRUE(m.has_value()) << receiver.user() << " got " << i << " of " << kMessages
                                 << " messages; " << receiver.describe_pending();
      ASSERT_EQ(m->value("sequenceNumber", 0u), sequence_numbers[i]) << "message " << i;
      ASSERT_TRUE(m->value("base64", "") == encoded[i]) << "message " << i << " differs";
      if (i + 1 == kMessages) {
        const double took = seconds(received_at(*m) - start);
        std::printf("%s: %zu MiB in %.2f s (sending took %.2f s, paced time %.2f s)\n",
                    receiver.user().c_str(), kMessages * kMessageSize >> 20, took, sending,
                    kPacedSeconds);
        // They keep the sender's rate: dave's stall does not hold them back (twice the
        // paced time leaves room for a loaded machine).
        EXPECT_LT(took, 2 * kPacedSeconds);
      }
    }
    EXPECT_TRUE(receiver.take_received(is_event("disconnected")).empty());
  }
  for (std::size_t r = 0; r <= 2; ++r) {
    agents[r]->expect("participant_left dave", [](const Json& e) {
      return e.value("event", "") == "participant_left" && e.value("user", "") == "dave";
    });
  }

  // dave: what he got is an unbroken prefix, and then his stream ends with the reason.
  dave.process().pause_reading(false);
  std::size_t got = 0;
  bool disconnected = false;
  const auto deadline = Clock::now() + 30s;
  while (auto e = dave.next(
             [&](const Json& e) {
               return is_message_from("alice", channel)(e) || is_event("disconnected")(e);
             },
             std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()))) {
    if (e->value("event", "") == "disconnected") {
      EXPECT_NE(e->value("reason", "").find("slow consumer"), std::string::npos) << e->dump();
      disconnected = true;
      break;
    }
    ASSERT_LT(got, kMessages);
    ASSERT_EQ(e->value("sequenceNumber", 0u), sequence_numbers[got]) << "message " << got;
    ASSERT_TRUE(e->value("base64", "") == encoded[got]) << "message " << got << " differs";
    ++got;
  }
  std::printf("dave received %zu of %zu messages before being cut off\n", got, kMessages);
  if (!disconnected) {
    EXPECT_TRUE(dave.process().drained()) << "dave's stream neither said disconnected nor ended";
  }
  EXPECT_LT(got, kMessages) << "dave got everything: he was never cut off";

  // What dave never got is counted, not dropped silently.
  const auto metrics = http_get(server.port(), "/metrics");
  ASSERT_TRUE(metrics.has_value());
  const std::string name = R"(switchboard_dropped_messages_total{reason="slow_consumer"} )";
  const auto at = metrics->body.find(name);
  ASSERT_NE(at, std::string::npos) << metrics->body;
  EXPECT_GT(std::stod(metrics->body.substr(at + name.size())), 0.0) << metrics->body;
}

}  // namespace
}  // namespace switchboard::integration
