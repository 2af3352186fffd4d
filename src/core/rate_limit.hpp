#pragma once

// A participant's send allowance: a token bucket on bytes and one on messages, refilled
// at their rates, each holding at most `burst_seconds` of its rate. The server enforces
// it on what arrives; the SDK holds its sends to the same rates so that a message over
// them fails at once with TRAFFIC_LIMITED instead of being dropped by the server.
// Pure: the caller passes the time.

#include <cstddef>
#include <cstdint>

#include "core/clock.hpp"

namespace switchboard::core {

class RateLimit {
 public:
  RateLimit() = default;  // unlimited
  // A rate of 0 leaves that dimension unlimited.
  RateLimit(std::uint64_t bytes_per_second, std::uint64_t messages_per_second, double burst_seconds,
            TimePoint now);

  // Whether one message of `bytes` fits now. A message larger than the byte burst fits
  // when the bucket is full and leaves it in debt, so the average still holds.
  bool allows(std::size_t bytes, TimePoint now);
  // Charges one message of `bytes` (after allows()).
  void take(std::size_t bytes);
  // allows() then take(): true, and charged, when the message fits.
  bool admit(std::size_t bytes, TimePoint now) {
    if (!allows(bytes, now)) return false;
    take(bytes);
    return true;
  }

  bool unlimited() const { return bytes_.rate == 0 && messages_.rate == 0; }

 private:
  struct Bucket {
    double rate = 0;  // per second; 0 = unlimited
    double burst = 0;
    double tokens = 0;
  };
  void refill(TimePoint now);

  Bucket bytes_;
  Bucket messages_;
  TimePoint last_{};
};

}  // namespace switchboard::core
