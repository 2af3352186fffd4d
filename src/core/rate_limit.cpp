#include "core/rate_limit.hpp"

#include <algorithm>
#include <chrono>

namespace switchboard::core {

RateLimit::RateLimit(std::uint64_t bytes_per_second, std::uint64_t messages_per_second,
                     double burst_seconds, TimePoint now)
    : last_(now) {
  for (auto [bucket, rate] :
       {std::pair{&bytes_, bytes_per_second}, std::pair{&messages_, messages_per_second}}) {
    bucket->rate = static_cast<double>(rate);
    bucket->burst = bucket->rate * burst_seconds;
    bucket->tokens = bucket->burst;
  }
}

void RateLimit::refill(TimePoint now) {
  if (now <= last_) return;
  const double seconds = std::chrono::duration<double>(now - last_).count();
  last_ = now;
  for (Bucket* b : {&bytes_, &messages_}) {
    b->tokens = std::min(b->burst, b->tokens + seconds * b->rate);
  }
}

bool RateLimit::allows(std::size_t bytes, TimePoint now) {
  if (unlimited()) return true;
  refill(now);
  if (bytes_.rate > 0 && bytes_.tokens < std::min(static_cast<double>(bytes), bytes_.burst)) {
    return false;
  }
  return messages_.rate == 0 || messages_.tokens >= 1.0;
}

void RateLimit::take(std::size_t bytes) {
  if (bytes_.rate > 0) bytes_.tokens -= static_cast<double>(bytes);
  if (messages_.rate > 0) messages_.tokens -= 1.0;
}

}  // namespace switchboard::core
