#include "server/metrics.hpp"

#include <cstdio>

#include <time.h>

namespace switchboard::server {
namespace {

void family(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out.append("# HELP ").append(name).append(" ").append(help).append("\n");
  out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

void sample(std::string& out, std::string_view name, std::uint64_t value) {
  out.append(name).append(" ").append(std::to_string(value)).append("\n");
}

}  // namespace

std::string_view to_string(DropReason reason) noexcept {
  switch (reason) {
    case DropReason::Malformed:
      return "malformed";
    case DropReason::ForgedSender:
      return "forged_sender";
    case DropReason::TooLarge:
      return "too_large";
    case DropReason::TrafficLimited:
      return "traffic_limited";
    case DropReason::Latency:
      return "latency";
    case DropReason::SlowConsumer:
      return "slow_consumer";
    case DropReason::ResendLimited:
      return "resend_limited";
  }
  return "unknown";
}

std::string_view to_string(RefusalReason reason) noexcept {
  switch (reason) {
    case RefusalReason::ServerFull:
      return "server_full";
    case RefusalReason::CallFull:
      return "call_full";
    case RefusalReason::ConnectionsPerAddress:
      return "connections_per_address";
    case RefusalReason::JoinRate:
      return "join_rate";
    case RefusalReason::Unauthorized:
      return "unauthorized";
    case RefusalReason::MessageTooLarge:
      return "message_too_large";
    case RefusalReason::BadMessage:
      return "bad_message";
    case RefusalReason::BadOffer:
      return "bad_offer";
    case RefusalReason::RequestTimeout:
      return "request_timeout";
    case RefusalReason::JoinTimeout:
      return "join_timeout";
    case RefusalReason::IdleTimeout:
      return "idle_timeout";
    case RefusalReason::DataConnectTimeout:
      return "data_connect_timeout";
  }
  return "unknown";
}

std::string to_prometheus(const Metrics& m, double cpu_seconds) {
  std::string out;
  out.reserve(4096);
  family(out, "switchboard_calls", "gauge", "Calls with at least one participant.");
  sample(out, "switchboard_calls", m.calls);
  family(out, "switchboard_participants", "gauge", "Participants in all calls.");
  sample(out, "switchboard_participants", m.participants);
  family(out, "switchboard_signaling_connections", "gauge", "Open signaling WebSockets.");
  sample(out, "switchboard_signaling_connections", m.signaling_connections);
  family(out, "switchboard_relayed_messages_total", "counter",
         "DataChannel messages delivered, counted once per recipient.");
  sample(out, "switchboard_relayed_messages_total", m.relayed_messages);
  family(out, "switchboard_relayed_bytes_total", "counter",
         "DataChannel payload bytes delivered, counted once per recipient.");
  sample(out, "switchboard_relayed_bytes_total", m.relayed_bytes);
  family(out, "switchboard_dropped_messages_total", "counter",
         "DataChannel frames the server did not deliver, by reason.");
  for (std::size_t i = 0; i < kDropReasonCount; ++i) {
    out.append("switchboard_dropped_messages_total{reason=\"")
        .append(to_string(static_cast<DropReason>(i)))
        .append("\"} ")
        .append(std::to_string(m.dropped[i]))
        .append("\n");
  }
  family(out, "switchboard_paused_senders", "gauge",
         "Participants whose data is not read because every recipient of it is backed up.");
  sample(out, "switchboard_paused_senders", m.paused_senders);
  family(out, "switchboard_sender_pauses_total", "counter",
         "Times a sender was paused because every recipient of its durable data was backed up.");
  sample(out, "switchboard_sender_pauses_total", m.sender_pauses);
  family(out, "switchboard_refused_total", "counter",
         "Connections, joins and offers refused or cut off by a limit or a check, by reason.");
  for (std::size_t i = 0; i < kRefusalReasonCount; ++i) {
    out.append("switchboard_refused_total{reason=\"")
        .append(to_string(static_cast<RefusalReason>(i)))
        .append("\"} ")
        .append(std::to_string(m.refused[i]))
        .append("\n");
  }
  family(out, "switchboard_ignored_datagrams_total", "counter",
         "UDP datagrams ignored: STUN for no session, other datagrams from unknown addresses.");
  out.append("switchboard_ignored_datagrams_total{reason=\"stun_unauthenticated\"} ")
      .append(std::to_string(m.stun_ignored))
      .append("\n");
  out.append("switchboard_ignored_datagrams_total{reason=\"unknown_source\"} ")
      .append(std::to_string(m.unknown_source_datagrams))
      .append("\n");
  family(out, "process_cpu_seconds_total", "counter", "User and system CPU time in seconds.");
  char cpu[64];
  std::snprintf(cpu, sizeof cpu, "%.6f", cpu_seconds);
  out.append("process_cpu_seconds_total ").append(cpu).append("\n");
  return out;
}

double process_cpu_seconds() {
  timespec ts{};
  if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0) return 0.0;
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

}  // namespace switchboard::server
