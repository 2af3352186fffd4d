#include "webrtc/socket_address.hpp"

#include <algorithm>

#include <arpa/inet.h>

namespace switchboard::webrtc {

SocketAddress SocketAddress::v4(const std::array<std::uint8_t, 4>& ip,
                                std::uint16_t port) noexcept {
  SocketAddress a;
  a.family_ = Family::V4;
  a.port_ = port;
  std::copy(ip.begin(), ip.end(), a.ip_.begin());
  return a;
}

SocketAddress SocketAddress::v6(const std::array<std::uint8_t, 16>& ip,
                                std::uint16_t port) noexcept {
  SocketAddress a;
  a.family_ = Family::V6;
  a.port_ = port;
  a.ip_ = ip;
  return a;
}

std::optional<SocketAddress> SocketAddress::parse(std::string_view ip, std::uint16_t port) {
  if (ip.size() >= 2 && ip.front() == '[' && ip.back() == ']') ip = ip.substr(1, ip.size() - 2);
  // inet_pton needs a terminated string; the longest textual IPv6 address is 45 characters.
  if (ip.empty() || ip.size() > 45) return std::nullopt;
  const std::string text(ip);
  std::array<std::uint8_t, 4> v4_bytes{};
  if (inet_pton(AF_INET, text.c_str(), v4_bytes.data()) == 1) return v4(v4_bytes, port);
  std::array<std::uint8_t, 16> v6_bytes{};
  if (inet_pton(AF_INET6, text.c_str(), v6_bytes.data()) == 1) return v6(v6_bytes, port);
  return std::nullopt;
}

std::string SocketAddress::ip_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(is_v4() ? AF_INET : AF_INET6, ip_.data(), buf, sizeof buf);
  return buf;
}

std::string SocketAddress::to_string() const {
  const std::string port = std::to_string(port_);
  return is_v4() ? ip_string() + ":" + port : "[" + ip_string() + "]:" + port;
}

std::size_t SocketAddress::hash() const noexcept {
  // FNV-1a over family, port and address: cheap, and spreads the low-entropy ports
  // and addresses of one NAT well enough for a hash map.
  std::uint64_t h = 0xcbf29ce484222325ULL;
  auto mix = [&h](std::uint8_t byte) {
    h ^= byte;
    h *= 0x100000001b3ULL;
  };
  mix(static_cast<std::uint8_t>(family_));
  mix(static_cast<std::uint8_t>(port_ >> 8));
  mix(static_cast<std::uint8_t>(port_));
  for (std::uint8_t b : ip_bytes()) mix(b);
  return static_cast<std::size_t>(h);
}

}  // namespace switchboard::webrtc
