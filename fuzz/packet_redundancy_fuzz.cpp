// Packet redundancy (src/webrtc/packet_redundancy.cpp) walks the chunks of every SCTP
// packet the peer sends (decrypted, but the peer may be hostile) and of ours. The input is
// a run of packets: a length byte (its low bit: received or sent), then that many bytes;
// each goes through on_receive or on_send, 1 ms apart. Whatever the bytes, copies stay
// within 1..kMaxCopies and nothing is read outside the packet (ASan).
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "webrtc/packet_redundancy.hpp"

using namespace switchboard;
using switchboard::webrtc::PacketRedundancy;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  core::TimePoint now{};
  PacketRedundancy redundancy(now);
  std::size_t at = 0;
  while (at < size) {
    const std::uint8_t head = data[at++];
    const std::size_t length = std::min<std::size_t>(std::size_t{head} >> 1 << 2, size - at);
    const ByteView packet(data + at, length);
    at += length;
    if ((head & 1) != 0) {
      redundancy.on_receive(packet, now);
    } else {
      const int copies = redundancy.on_send(packet, now);
      if (copies < 1 || copies > PacketRedundancy::kMaxCopies) std::abort();
    }
    if (redundancy.copies() < 1 || redundancy.copies() > PacketRedundancy::kMaxCopies) {
      std::abort();
    }
    now += std::chrono::milliseconds(1);
  }
  return 0;
}
