#pragma once

#include <bitset>
#include <cstdint>
#include <random>

#include "switchboard/result.hpp"

namespace switchboard::core {

// The channel ids of one participant's open senders.
class ChannelIdAllocator {
 public:
  explicit ChannelIdAllocator(std::uint64_t seed);

  // `requested` 1..65535 is taken as is (the caller closes a sender already on it);
  // 0 picks a free id at random from 1024..65535, as ACS does.
  Result<std::uint16_t> acquire(std::uint32_t requested);
  void release(std::uint16_t id) noexcept;
  bool in_use(std::uint16_t id) const noexcept { return used_.test(id); }

 private:
  std::bitset<65536> used_;
  std::mt19937_64 rng_;
};

}  // namespace switchboard::core
