#pragma once

// A participant's send allowance on the server: a token bucket on bytes and one on
// messages, each refilled at its rate with a burst of one second's worth. Pure: the caller
// passes the time.

#include <cstddef>
#include <cstdint>

#include "core/clock.hpp"

namespace switchboard::server {

class RateLimiter {
 public:
  // 0 = that dimension is unlimited.
  RateLimiter(std::uint64_t bytes_per_second, std::uint64_t messages_per_second,
              core::TimePoint now);

  // True, and the message is charged, when both buckets allow one message of `bytes`.
  // A message larger than the byte burst passes when the bucket is full, and leaves it
  // in debt, so the average still holds.
  bool admit(std::size_t bytes, core::TimePoint now);

  bool unlimited() const { return byte_rate_ == 0 && message_rate_ == 0; }

 private:
  void refill(core::TimePoint now);

  double byte_rate_;
  double message_rate_;
  double bytes_;     // tokens; burst = byte_rate_
  double messages_;  // tokens; burst = message_rate_
  core::TimePoint last_;
};

}  // namespace switchboard::server
