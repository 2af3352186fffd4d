#pragma once

// The messages interop tests exchange: message i has a size from a fixed cycle that
// includes 256 KiB, and bytes derived from i, so either side can check what arrived
// without shipping a copy. web/test/pattern.mjs mirrors this exactly.

#include <array>
#include <cstdint>

#include "core/bytes.hpp"

namespace switchboard::interop {

inline constexpr std::array<std::size_t, 8> kSizes{1, 17, 100, 1200, 5000, 16384, 65535, 262144};

inline std::size_t pattern_size(std::uint32_t i) {
  return kSizes[i % kSizes.size()];
}

inline std::uint8_t pattern_byte(std::uint32_t i, std::size_t j) {
  return static_cast<std::uint8_t>((i * 31u + j * 7u) & 0xffu);
}

inline Bytes pattern_message(std::uint32_t i) {
  Bytes b(pattern_size(i));
  for (std::size_t j = 0; j < b.size(); ++j) b[j] = pattern_byte(i, j);
  return b;
}

inline bool matches_pattern(std::uint32_t i, ByteView data) {
  if (data.size() != pattern_size(i)) return false;
  for (std::size_t j = 0; j < data.size(); ++j) {
    if (data[j] != pattern_byte(i, j)) return false;
  }
  return true;
}

}  // namespace switchboard::interop
