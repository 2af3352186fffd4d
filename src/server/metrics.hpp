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

  void drop(DropReason reason, std::uint64_t n = 1) {
    dropped[static_cast<std::size_t>(reason)] += n;
  }
  std::uint64_t dropped_for(DropReason reason) const {
    return dropped[static_cast<std::size_t>(reason)];
  }
};

// The exposition text; `cpu_seconds` is the process's user + system CPU time.
std::string to_prometheus(const Metrics& metrics, double cpu_seconds);

// User + system CPU time of this process, in seconds.
double process_cpu_seconds();

}  // namespace switchboard::server
