// What an operator sees of a running server: /healthz, /metrics and --trace-frames.

#include <fstream>
#include <regex>
#include <sstream>

#include <gtest/gtest.h>

#include "harness.hpp"

namespace switchboard::integration {
namespace {

using Observability = IntegrationTest;

// The value of the sample `name` (with its labels, if any) in Prometheus text; nullopt
// when the sample is missing.
std::optional<double> sample(const std::string& text, const std::string& name) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(name + " ", 0) == 0) return std::stod(line.substr(name.size() + 1));
  }
  return std::nullopt;
}

std::string metrics(const Server& server) {
  const auto response = http_get(server.port(), "/metrics");
  if (!response) throw HarnessError("GET /metrics got no HTTP answer");
  if (response->status != 200) {
    throw HarnessError("GET /metrics answered " + std::to_string(response->status));
  }
  return response->body;
}

TEST_F(Observability, HealthzAnswersOk) {
  Server server;
  const auto response = http_get(server.port(), "/healthz");
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body.substr(0, 2), "ok");
}

TEST_F(Observability, MetricsCountCallsParticipantsAndEveryDeliveredMessage) {
  Server server;
  auto agents = join_call(server, unique_call_id(), {"alice", "bob", "carol"});
  Agent& alice = *agents[0];

  const std::string before = metrics(server);
  EXPECT_EQ(sample(before, "switchboard_calls"), 1.0) << before;
  EXPECT_EQ(sample(before, "switchboard_participants"), 3.0) << before;
  ASSERT_TRUE(sample(before, "switchboard_relayed_messages_total")) << before;
  ASSERT_TRUE(sample(before, "switchboard_relayed_bytes_total")) << before;
  EXPECT_TRUE(sample(before, "process_cpu_seconds_total")) << before;
  EXPECT_NE(before.find("switchboard_dropped_messages_total"), std::string::npos) << before;

  // 2 messages of 3 + 5 bytes to 2 recipients: 4 messages and 16 bytes delivered.
  const std::uint16_t channel = alice.create_sender({{"channelId", 4}});
  alice.send_text(channel, "abc");
  alice.send_text(channel, "defgh");
  for (std::size_t r = 1; r <= 2; ++r) {
    EXPECT_EQ(agents[r]->expect_message("alice", channel).value("text", ""), "abc");
    EXPECT_EQ(agents[r]->expect_message("alice", channel).value("text", ""), "defgh");
  }
  const std::string after = metrics(server);
  EXPECT_EQ(*sample(after, "switchboard_relayed_messages_total") -
                *sample(before, "switchboard_relayed_messages_total"),
            4.0)
      << after;
  EXPECT_EQ(*sample(after, "switchboard_relayed_bytes_total") -
                *sample(before, "switchboard_relayed_bytes_total"),
            16.0)
      << after;

  // A second call, and a participant leaving the first.
  auto other = join_call(server, unique_call_id("other"), {"zoe"});
  agents[2]->write_command({{"op", "leave"}});
  agents[2]->expect("left", is_event("left"));
  alice.expect("participant_left carol", [](const Json& e) {
    return e.value("event", "") == "participant_left" && e.value("user", "") == "carol";
  });
  const std::string later = metrics(server);
  EXPECT_EQ(sample(later, "switchboard_calls"), 2.0) << later;
  EXPECT_EQ(sample(later, "switchboard_participants"), 3.0) << later;
}

TEST_F(Observability, TraceFramesRecordsEveryRelayedFramePerRecipient) {
  const std::string trace = test_log_dir() + "/frames.trace";
  Server server({.flags = {"--trace-frames", trace}});
  const std::string call = unique_call_id();
  auto agents = join_call(server, call, {"alice", "bob", "carol"});
  Agent& alice = *agents[0];
  Agent& bob = *agents[1];
  Agent& carol = *agents[2];
  const auto start_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();

  const std::uint16_t channel =
      alice.create_sender({{"channelId", 321}, {"participants", {"bob"}}});
  alice.send_text(channel, "hi");
  alice.set_participants(channel, {});
  alice.send_text(channel, "yo");
  alice.command({{"op", "close"}, {"channelId", channel}});
  EXPECT_EQ(bob.expect_message("alice", channel).value("text", ""), "hi");
  EXPECT_EQ(bob.expect_message("alice", channel).value("text", ""), "yo");
  bob.expect("receiver_closed", is_event("receiver_closed"));
  EXPECT_EQ(carol.expect_message("alice", channel).value("text", ""), "yo");
  carol.expect("receiver_closed", is_event("receiver_closed"));

  // A clean shutdown leaves the whole trace on disk.
  server.process().terminate();
  const auto end_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  std::ifstream in(trace);
  ASSERT_TRUE(in.good()) << "no trace file " << trace;
  std::multiset<std::string> data;
  std::multiset<std::string> close;
  static const std::regex line_format(R"((\d+) (call=.* type=(data|close)( payload=[0-9a-f]*)?))");
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    ASSERT_TRUE(std::regex_match(line, m, line_format)) << line;
    const long long ms = std::stoll(m[1].str());
    EXPECT_GE(ms, start_ms - 1000) << line;
    EXPECT_LE(ms, end_ms + 1000) << line;
    if (m[3].str() == "data") {
      data.insert(m[2].str());
    } else {
      // A close carries no payload; its sequence number is not the data's business.
      close.insert(std::regex_replace(m[2].str(), std::regex(" seq=\\d+"), ""));
    }
  }
  const std::string prefix = "call=" + call + " from=alice ";
  EXPECT_EQ(data, (std::multiset<std::string>{
                      prefix + "to=bob channel=321 seq=1 type=data payload=6869",
                      prefix + "to=bob channel=321 seq=2 type=data payload=796f",
                      prefix + "to=carol channel=321 seq=2 type=data payload=796f",
                  }));
  std::multiset<std::string> close_without_payload;
  for (const auto& c : close) {
    close_without_payload.insert(std::regex_replace(c, std::regex(" payload=$"), ""));
  }
  EXPECT_EQ(close_without_payload,
            (std::multiset<std::string>{prefix + "to=bob channel=321 type=close",
                                        prefix + "to=carol channel=321 type=close"}));
}

}  // namespace
}  // namespace switchboard::integration
