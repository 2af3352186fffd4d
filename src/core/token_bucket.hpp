#pragma once

#include <cstdint>

#include "core/clock.hpp"

namespace switchboard::core {

// Paces a sender to an average rate. A frame may go whenever the bucket is not in debt,
// and its size is then charged in full, so frames larger than the burst still pass while
// the average holds.
class TokenBucket {
 public:
  TokenBucket(double bytes_per_second, double burst_bytes, TimePoint now);

  bool ready(TimePoint now);
  void consume(std::size_t bytes) { tokens_ -= static_cast<double>(bytes); }
  // When the bucket is next out of debt.
  TimePoint ready_at(TimePoint now) const;

 private:
  void refill(TimePoint now);

  double rate_;
  double burst_;
  double tokens_;
  TimePoint last_;
};

}  // namespace switchboard::core
