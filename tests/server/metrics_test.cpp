#include "server/metrics.hpp"

#include <gtest/gtest.h>

#include "server/frame_trace.hpp"

namespace switchboard::server {
namespace {

TEST(Metrics, PrometheusTextHasEveryFamilyWithTypes) {
  Metrics m;
  m.calls = 2;
  m.participants = 5;
  m.signaling_connections = 6;
  m.relayed_messages = 1234;
  m.relayed_bytes = 99999;
  m.drop(DropReason::ForgedSender, 3);
  m.drop(DropReason::Latency);
  m.paused_senders = 2;
  m.sender_pauses = 17;
  const std::string text = to_prometheus(m, 1.5);
  EXPECT_NE(text.find("# TYPE switchboard_calls gauge\nswitchboard_calls 2\n"), std::string::npos);
  EXPECT_NE(text.find("\nswitchboard_participants 5\n"), std::string::npos);
  EXPECT_NE(text.find("\nswitchboard_signaling_connections 6\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE switchboard_relayed_messages_total counter\n"
                      "switchboard_relayed_messages_total 1234\n"),
            std::string::npos);
  EXPECT_NE(text.find("\nswitchboard_relayed_bytes_total 99999\n"), std::string::npos);
  EXPECT_NE(text.find("switchboard_dropped_messages_total{reason=\"forged_sender\"} 3\n"),
            std::string::npos);
  EXPECT_NE(text.find("switchboard_dropped_messages_total{reason=\"latency\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("switchboard_dropped_messages_total{reason=\"slow_consumer\"} 0\n"),
            std::string::npos);
  EXPECT_NE(text.find("# TYPE switchboard_paused_senders gauge\nswitchboard_paused_senders 2\n"),
            std::string::npos);
  EXPECT_NE(text.find("# TYPE switchboard_sender_pauses_total counter\n"
                      "switchboard_sender_pauses_total 17\n"),
            std::string::npos);
  EXPECT_NE(text.find("# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total 1.5"),
            std::string::npos);
  EXPECT_EQ(text.back(), '\n');
}

TEST(Metrics, ProcessCpuSecondsAdvances) {
  const double before = process_cpu_seconds();
  volatile double x = 0;
  for (int i = 0; i < 20'000'000; ++i) x = x + 1.0;
  EXPECT_GT(process_cpu_seconds(), before);
}

TEST(FrameTrace, LineFormat) {
  const std::uint8_t payload[] = {0x68, 0x69, 0x00, 0xff};
  std::string line;
  format_trace_line(TraceRecord{.unix_ms = 1800000000123,
                                .call = "c1",
                                .from = "alice",
                                .to = "bob",
                                .channel = 10000,
                                .sequence = 7,
                                .type = core::FrameType::Data,
                                .payload = payload},
                    line);
  EXPECT_EQ(line,
            "1800000000123 call=c1 from=alice to=bob channel=10000 seq=7 type=data "
            "payload=686900ff\n");
  line.clear();
  format_trace_line(TraceRecord{.unix_ms = 5,
                                .call = "c",
                                .from = "a",
                                .to = "b",
                                .channel = 1,
                                .sequence = 9,
                                .type = core::FrameType::Close,
                                .payload = {}},
                    line);
  EXPECT_EQ(line, "5 call=c from=a to=b channel=1 seq=9 type=close payload=\n");
}

}  // namespace
}  // namespace switchboard::server
