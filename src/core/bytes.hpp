#pragma once

// Bounds-checked big-endian reading and appending, shared by every wire codec.

#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <vector>

namespace switchboard {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

inline ByteView as_bytes(std::string_view s) noexcept {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
inline std::string_view as_string(ByteView b) noexcept {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// Reads from a span without ever running past its end: every read reports failure
// instead, and a failed reader stays failed.
class ByteReader {
 public:
  explicit ByteReader(ByteView data) noexcept : data_(data) {}

  bool u8(std::uint8_t& v) noexcept {
    if (!need(1)) return false;
    v = data_[pos_++];
    return true;
  }
  bool u16(std::uint16_t& v) noexcept {
    if (!need(2)) return false;
    v = static_cast<std::uint16_t>((data_[pos_] << 8) | data_[pos_ + 1]);
    pos_ += 2;
    return true;
  }
  bool u32(std::uint32_t& v) noexcept {
    if (!need(4)) return false;
    v = (std::uint32_t{data_[pos_]} << 24) | (std::uint32_t{data_[pos_ + 1]} << 16) |
        (std::uint32_t{data_[pos_ + 2]} << 8) | std::uint32_t{data_[pos_ + 3]};
    pos_ += 4;
    return true;
  }
  bool bytes(std::size_t n, ByteView& out) noexcept {
    if (!need(n)) return false;
    out = data_.subspan(pos_, n);
    pos_ += n;
    return true;
  }
  bool skip(std::size_t n) noexcept {
    if (!need(n)) return false;
    pos_ += n;
    return true;
  }

  std::size_t position() const noexcept { return pos_; }
  std::size_t remaining() const noexcept { return data_.size() - pos_; }
  ByteView rest() const noexcept { return data_.subspan(pos_); }

 private:
  bool need(std::size_t n) noexcept { return n <= data_.size() - pos_; }

  ByteView data_;
  std::size_t pos_ = 0;
};

inline void put_u8(Bytes& out, std::uint8_t v) { out.push_back(v); }
inline void put_u16(Bytes& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v));
}
inline void put_u32(Bytes& out, std::uint32_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 24));
  out.push_back(static_cast<std::uint8_t>(v >> 16));
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v));
}
inline void put_bytes(Bytes& out, ByteView b) { out.insert(out.end(), b.begin(), b.end()); }

inline std::uint32_t load_u32(const std::uint8_t* p) noexcept {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}

}  // namespace switchboard
