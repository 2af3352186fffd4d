#include "core/token_bucket.hpp"

#include <algorithm>
#include <cmath>

namespace switchboard::core {

TokenBucket::TokenBucket(double bytes_per_second, double burst_bytes, TimePoint now)
    : rate_(bytes_per_second), burst_(burst_bytes), tokens_(burst_bytes), last_(now) {}

void TokenBucket::refill(TimePoint now) {
  if (now <= last_) return;
  const double seconds = std::chrono::duration<double>(now - last_).count();
  tokens_ = std::min(burst_, tokens_ + seconds * rate_);
  last_ = now;
}

bool TokenBucket::ready(TimePoint now) {
  refill(now);
  return tokens_ >= 0;
}

TimePoint TokenBucket::ready_at(TimePoint now) const {
  double tokens = tokens_;
  if (now > last_) {
    tokens = std::min(burst_, tokens + std::chrono::duration<double>(now - last_).count() * rate_);
  }
  if (tokens >= 0) return now;
  const double seconds = -tokens / rate_;
  return now + std::chrono::duration_cast<Duration>(std::chrono::duration<double>(seconds)) +
         Duration(1);
}

}  // namespace switchboard::core
