#pragma once

// The server's counters and gauges, and their Prometheus text exposition (format 0.0.4)
// for GET /metrics. Plain integers: everything runs on the one event-loop thread.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace switchboard::server {

// Why the server did not deliver a frame (the `reason` label).
enum class DropReason : std::uint8_t {
  Malformed,
  ForgedSender,
  TooLarge,
  TrafficLimited,
  Latency,
  SlowConsumer,
  ResendLimited,  // RESENT frames past the sender's resend allowance
};
inline constexpr std::size_t kDropReasonCount = 7;

std::string_view to_string(DropReason reason) noexcept;

// Why the server refused or cut off a connection, a join or an offer (the `reason` label
// of switchboard_refused_total). The limits: apps/switchboard-server/README.md.
enum class RefusalReason : std::uint8_t {
  ServerFull,             // max_calls reached: SERVER_FULL
  CallFull,               // max_participants_per_call reached: CALL_FULL
  ConnectionsPerAddress,  // max_connections_per_address open already: closed at accept
  JoinRate,               // join attempts over join_rate_per_address: TRAFFIC_LIMITED
  Unauthorized,           // missing, forged, expired or wrong-call token
  MessageTooLarge,        // signaling message over 64 KiB
  BadMessage,             // signaling that does not parse or breaks the protocol
  BadOffer,               // an SDP offer that does not parse
  RequestTimeout,         // no complete HTTP request (or upgrade) within http_request_timeout_s
  JoinTimeout,            // a WebSocket without a successful join within join_timeout_s
  IdleTimeout,            // nothing received for signaling_idle_timeout_s
  DataConnectTimeout,     // ICE/DTLS/SCTP not up within data_connect_timeout_s of the answer
};
inline constexpr std::size_t kRefusalReasonCount = 12;

std::string_view to_string(RefusalReason reason) noexcept;

struct Metrics {
  // Gauges.
  std::uint64_t calls = 0;
  std::uint64_t participants = 0;
  std::uint64_t signaling_connections = 0;
  std::uint64_t paused_senders = 0;  // senders whose connection is not read (flow control)
  // Counters.
  std::uint64_t relayed_messages = 0;  // DATA messages delivered, per recipient
  std::uint64_t relayed_bytes = 0;     // payload bytes delivered, per recipient
  std::array<std::uint64_t, kDropReasonCount> dropped{};
  std::uint64_t sender_pauses = 0;  // times a sender was paused because all its recipients lag
  std::array<std::uint64_t, kRefusalReasonCount> refused{};
  // UDP datagrams ignored (copied from the WebRTC server's statistics when exposed): STUN
  // that authenticates for no session, and non-STUN from an address no check validated.
  std::uint64_t stun_ignored = 0;
  std::uint64_t unknown_source_datagrams = 0;

  void drop(DropReason reason, std::uint64_t n = 1) {
    dropped[static_cast<std::size_t>(reason)] += n;
  }
  std::uint64_t dropped_for(DropReason reason) const {
    return dropped[static_cast<std::size_t>(reason)];
  }
  void refuse(RefusalReason reason) { ++refused[static_cast<std::size_t>(reason)]; }
  std::uint64_t refused_for(RefusalReason reason) const {
    return refused[static_cast<std::size_t>(reason)];
  }
};

// The exposition text; `cpu_seconds` is the process's user + system CPU time.
std::string to_prometheus(const Metrics& metrics, double cpu_seconds);

// User + system CPU time of this process, in seconds.
double process_cpu_seconds();

}  // namespace switchboard::server
