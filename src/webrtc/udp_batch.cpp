#include "webrtc/udp_batch.hpp"

#include <cerrno>
#include <cstring>

#include <netinet/in.h>
#include <netinet/udp.h>

namespace switchboard::webrtc {
namespace {

// The kernel takes at most 64 segments per GSO write and 64 KiB in all.
constexpr std::size_t kMaxSegments = 64;
constexpr std::size_t kMaxGsoBytes = 65000;

socklen_t to_sockaddr(const SocketAddress& a, sockaddr_storage& out) {
  std::memset(&out, 0, sizeof(out));
  const ByteView ip = a.ip_bytes();
  if (a.is_v4()) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&out);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(a.port());
    std::memcpy(&sin->sin_addr, ip.data(), 4);
    return sizeof(sockaddr_in);
  }
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(&out);
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons(a.port());
  std::memcpy(&sin6->sin6_addr, ip.data(), 16);
  return sizeof(sockaddr_in6);
}

SocketAddress from_sockaddr(const sockaddr_storage& s) {
  if (s.ss_family == AF_INET6) {
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&s);
    std::array<std::uint8_t, 16> ip{};
    std::memcpy(ip.data(), &sin6->sin6_addr, 16);
    static constexpr std::uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(ip.data(), kMapped, 12) == 0) {
      return SocketAddress::v4({ip[12], ip[13], ip[14], ip[15]}, ntohs(sin6->sin6_port));
    }
    return SocketAddress::v6(ip, ntohs(sin6->sin6_port));
  }
  const auto* sin = reinterpret_cast<const sockaddr_in*>(&s);
  std::array<std::uint8_t, 4> ip{};
  std::memcpy(ip.data(), &sin->sin_addr, 4);
  return SocketAddress::v4(ip, ntohs(sin->sin_port));
}

}  // namespace

void DatagramBatch::add(const SocketAddress& to, ByteView datagram) {
  items_.push_back({to, data_.size(), datagram.size()});
  put_bytes(data_, datagram);
}

std::size_t DatagramBatch::flush(int fd) {
  std::size_t refused = 0;
  std::size_t i = 0;
  while (i < items_.size()) {
    // A run: same destination, same size (the last one may be shorter), within limits.
    std::size_t n = 1;
    std::size_t bytes = items_[i].size;
    while (gso_ && i + n < items_.size() && n < kMaxSegments && items_[i + n].to == items_[i].to &&
           items_[i + n - 1].size == items_[i].size && items_[i + n].size <= items_[i].size &&
           bytes + items_[i + n].size <= kMaxGsoBytes) {
      bytes += items_[i + n].size;
      ++n;
    }
    refused += send_run(fd, i, n);
    i += n;
  }
  items_.clear();
  data_.clear();
  return refused;
}

std::size_t DatagramBatch::send_run(int fd, std::size_t first, std::size_t count) {
  const Item& head = items_[first];
  std::size_t bytes = 0;
  for (std::size_t k = 0; k < count; ++k) bytes += items_[first + k].size;
  sockaddr_storage to{};
  const socklen_t to_len = to_sockaddr(head.to, to);
  iovec iov{data_.data() + head.offset, bytes};
  msghdr msg{};
  msg.msg_name = &to;
  msg.msg_namelen = to_len;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(std::uint16_t))] = {};
  if (count > 1) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    cmsghdr* cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_UDP;
    cm->cmsg_type = UDP_SEGMENT;
    cm->cmsg_len = CMSG_LEN(sizeof(std::uint16_t));
    const auto segment = static_cast<std::uint16_t>(head.size);
    std::memcpy(CMSG_DATA(cm), &segment, sizeof(segment));
  }
  if (::sendmsg(fd, &msg, MSG_NOSIGNAL) >= 0) return 0;
  if (count > 1 && (errno == EINVAL || errno == EIO || errno == ENOPROTOOPT)) {
    gso_ = false;  // no GSO here: one datagram per write from now on
    std::size_t refused = 0;
    for (std::size_t k = 0; k < count; ++k) refused += send_run(fd, first + k, 1);
    return refused;
  }
  return count;  // a full buffer drops them, as the network would; SCTP retransmits
}

bool enable_receive_coalescing(int fd) {
  int on = 1;
  return ::setsockopt(fd, SOL_UDP, UDP_GRO, &on, sizeof(on)) == 0;
}

std::size_t receive_datagrams(int fd, std::span<std::uint8_t> buffer, int max_reads,
                              const std::function<void(ByteView, const SocketAddress&)>& on) {
  std::size_t count = 0;
  for (int r = 0; r < max_reads; ++r) {
    sockaddr_storage from{};
    iovec iov{buffer.data(), buffer.size()};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msghdr msg{};
    msg.msg_name = &from;
    msg.msg_namelen = sizeof(from);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    const ssize_t n = ::recvmsg(fd, &msg, MSG_DONTWAIT);
    if (n < 0) break;
    std::size_t segment = static_cast<std::size_t>(n);
    for (cmsghdr* cm = CMSG_FIRSTHDR(&msg); cm != nullptr; cm = CMSG_NXTHDR(&msg, cm)) {
      if (cm->cmsg_level == SOL_UDP && cm->cmsg_type == UDP_GRO) {
        int size = 0;
        std::memcpy(&size, CMSG_DATA(cm), sizeof(size));
        if (size > 0) segment = static_cast<std::size_t>(size);
      }
    }
    const SocketAddress source = from_sockaddr(from);
    for (std::size_t offset = 0; offset < static_cast<std::size_t>(n); offset += segment) {
      const std::size_t size = std::min(segment, static_cast<std::size_t>(n) - offset);
      on(ByteView(buffer.data() + offset, size), source);
      ++count;
    }
  }
  return count;
}

}  // namespace switchboard::webrtc
