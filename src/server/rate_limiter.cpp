#include "server/rate_limiter.hpp"

#include <algorithm>
#include <chrono>

namespace switchboard::server {

RateLimiter::RateLimiter(std::uint64_t bytes_per_second, std::uint64_t messages_per_second,
                         core::TimePoint now)
    : byte_rate_(static_cast<double>(bytes_per_second)),
      message_rate_(static_cast<double>(messages_per_second)),
      bytes_(byte_rate_),
      messages_(message_rate_),
      last_(now) {}

void RateLimiter::refill(core::TimePoint now) {
  if (now <= last_) return;
  const double seconds = std::chrono::duration<double>(now - last_).count();
  last_ = now;
  bytes_ = std::min(byte_rate_, bytes_ + seconds * byte_rate_);
  messages_ = std::min(message_rate_, messages_ + seconds * message_rate_);
}

bool RateLimiter::admit(std::size_t bytes, core::TimePoint now) {
  if (unlimited()) return true;
  refill(now);
  const double size = static_cast<double>(bytes);
  if (byte_rate_ > 0 && bytes_ < std::min(size, byte_rate_)) return false;
  if (message_rate_ > 0 && messages_ < 1.0) return false;
  if (byte_rate_ > 0) bytes_ -= size;
  if (message_rate_ > 0) messages_ -= 1.0;
  return true;
}

}  // namespace switchboard::server
