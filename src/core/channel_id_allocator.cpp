#include "core/channel_id_allocator.hpp"

#include <string>

#include "switchboard/options.hpp"

namespace switchboard::core {

ChannelIdAllocator::ChannelIdAllocator(std::uint64_t seed) : rng_(seed) {}

Result<std::uint16_t> ChannelIdAllocator::acquire(std::uint32_t requested) {
  if (requested > kMaxChannelId) {
    return Error{ErrorCode::InvalidChannelId,
                 "channel id " + std::to_string(requested) + " is outside 1..65535"};
  }
  if (requested != 0) {
    const auto id = static_cast<std::uint16_t>(requested);
    used_.set(id);
    return id;
  }
  // Random probes find a free id quickly while few are taken; a scan from a random start
  // settles the crowded case and proves exhaustion.
  std::uniform_int_distribution<std::uint32_t> pick(kFirstAllocatedChannelId, kMaxChannelId);
  for (int attempt = 0; attempt < 32; ++attempt) {
    const auto id = static_cast<std::uint16_t>(pick(rng_));
    if (!used_.test(id)) {
      used_.set(id);
      return id;
    }
  }
  constexpr std::uint32_t span = kMaxChannelId - kFirstAllocatedChannelId + 1;
  const std::uint32_t start = pick(rng_) - kFirstAllocatedChannelId;
  for (std::uint32_t i = 0; i < span; ++i) {
    const auto id = static_cast<std::uint16_t>(kFirstAllocatedChannelId + (start + i) % span);
    if (!used_.test(id)) {
      used_.set(id);
      return id;
    }
  }
  return Error{ErrorCode::NoAvailableChannelId, "every channel id in 1024..65535 is in use"};
}

void ChannelIdAllocator::release(std::uint16_t id) noexcept { used_.reset(id); }

}  // namespace switchboard::core
