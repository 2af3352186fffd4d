#pragma once

// An IPv4 or IPv6 address with a UDP port: a plain value, no socket. The server keys its
// per-datagram lookups on it, so it is cheap to copy, compare and hash.

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core/bytes.hpp"

namespace switchboard::webrtc {

class SocketAddress {
 public:
  enum class Family : std::uint8_t { V4, V6 };

  // 0.0.0.0:0
  SocketAddress() = default;
  static SocketAddress v4(const std::array<std::uint8_t, 4>& ip, std::uint16_t port) noexcept;
  static SocketAddress v6(const std::array<std::uint8_t, 16>& ip, std::uint16_t port) noexcept;
  // "192.0.2.1" or "2001:db8::1" (brackets allowed: "[::1]"); nullopt when not an address.
  static std::optional<SocketAddress> parse(std::string_view ip, std::uint16_t port);

  Family family() const noexcept { return family_; }
  bool is_v4() const noexcept { return family_ == Family::V4; }
  bool is_v6() const noexcept { return family_ == Family::V6; }
  std::uint16_t port() const noexcept { return port_; }
  // Network byte order: 4 bytes for IPv4, 16 for IPv6.
  ByteView ip_bytes() const noexcept { return ByteView(ip_.data(), is_v4() ? 4 : 16); }

  std::string ip_string() const;
  // "1.2.3.4:5" or "[::1]:5"
  std::string to_string() const;

  friend bool operator==(const SocketAddress&, const SocketAddress&) = default;
  friend auto operator<=>(const SocketAddress&, const SocketAddress&) = default;

  std::size_t hash() const noexcept;

 private:
  Family family_ = Family::V4;
  std::uint16_t port_ = 0;
  // IPv4 uses the first 4 bytes; the rest stay zero so defaulted comparison is exact.
  std::array<std::uint8_t, 16> ip_{};
};

}  // namespace switchboard::webrtc

template <>
struct std::hash<switchboard::webrtc::SocketAddress> {
  std::size_t operator()(const switchboard::webrtc::SocketAddress& a) const noexcept {
    return a.hash();
  }
};
