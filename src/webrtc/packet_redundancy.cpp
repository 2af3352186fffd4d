#include "webrtc/packet_redundancy.hpp"

#include <algorithm>
#include <cmath>
#include <optional>

namespace switchboard::webrtc {
namespace {

constexpr std::size_t kCommonHeader = 12;
constexpr std::size_t kChunkHeader = 4;
constexpr std::uint8_t kData = 0;
constexpr std::uint8_t kSack = 3;
constexpr std::uint8_t kIData = 64;  // RFC 8260; its TSN sits where DATA's does
// A jump further than this is not loss (a peer restarting its TSNs, say): not counted.
constexpr std::uint32_t kMaxSkip = 1024;

// Serial number arithmetic (RFC 1982), as TSNs wrap.
bool after(std::uint32_t a, std::uint32_t b) {
  return a != b && static_cast<std::uint32_t>(a - b) < 0x80000000U;
}

std::uint32_t load_u16(const std::uint8_t* p) { return std::uint32_t{p[0]} << 8 | p[1]; }

// Calls `f(type, chunk)` for each chunk of an SCTP packet (the chunk with its header, padding
// left out); stops at the first that does not fit. usrsctp checks packets properly: this
// only counts.
template <typename F>
void for_each_chunk(ByteView packet, F&& f) {
  std::size_t at = kCommonHeader;
  while (at + kChunkHeader <= packet.size()) {
    const std::size_t length = load_u16(packet.data() + at + 2);
    if (length < kChunkHeader || at + length > packet.size()) return;
    f(packet[at], packet.subspan(at, length));
    at += (length + 3) & ~std::size_t{3};
  }
}

// The TSN of a DATA or I-DATA chunk; nothing for any other chunk.
std::optional<std::uint32_t> tsn_of(std::uint8_t type, ByteView chunk) {
  if ((type != kData && type != kIData) || chunk.size() < kChunkHeader + 4) return std::nullopt;
  return load_u32(chunk.data() + kChunkHeader);
}

// Calls `f(tsn)` for each TSN a SACK chunk reports missing: the holes between its
// cumulative TSN ack and its gap ack blocks (RFC 9260 §3.3.4).
template <typename F>
void for_each_missing(ByteView sack, F&& f) {
  if (sack.size() < 16) return;
  const std::uint8_t* p = sack.data();
  const std::uint32_t cumulative = load_u32(p + 4);
  const std::size_t gaps = load_u16(p + 12);
  if (16 + 4 * gaps > sack.size()) return;
  std::uint32_t next = 1;  // the first hole's offset from the cumulative ack
  for (std::size_t g = 0; g < gaps; ++g) {
    const std::uint32_t start = load_u16(p + 16 + 4 * g);
    const std::uint32_t end = load_u16(p + 18 + 4 * g);
    if (start < next || end < start) return;
    for (std::uint32_t o = next; o < start && o - next < kMaxSkip; ++o) f(cumulative + o);
    next = end + 1;
  }
}

}  // namespace

PacketRedundancy::PacketRedundancy(core::TimePoint now)
    : epoch_start_(now), budget_(kBudgetBytesPerSecond, kBudgetBurstBytes, now) {}

double PacketRedundancy::residual_loss() const {
  return epoch_chunks_ == 0 ? 0.0 : static_cast<double>(epoch_lost_) / epoch_chunks_;
}

void PacketRedundancy::restart(core::TimePoint now) {
  recent_chunks_ = 0;
  recent_lost_ = 0;
  epoch_chunks_ = 0;
  epoch_lost_ = 0;
  epoch_start_ = now;
}

void PacketRedundancy::count(std::uint32_t chunks, std::uint32_t lost, core::TimePoint now) {
  recent_chunks_ += chunks;
  recent_lost_ += lost;
  epoch_chunks_ += chunks;
  epoch_lost_ += lost;
  if (copies_ < kMaxCopies && recent_chunks_ >= kMinChunks) {
    const double expected = kRaiseAbove * recent_chunks_;
    if (recent_lost_ > expected + 3 * std::sqrt(expected)) {
      ++copies_;
      restart(now);
      return;
    }
  }
  if (recent_chunks_ > kRecentChunks) {
    recent_chunks_ /= 2;
    recent_lost_ /= 2;
  }
  if (now - epoch_start_ >= kEpoch) {
    // An epoch with little traffic says nothing about the path (and a stalled association
    // sends little): it keeps the copies.
    if (copies_ > 1 && epoch_chunks_ >= kMinChunks && residual_loss() < kLowerBelow) --copies_;
    restart(now);
  }
}

int PacketRedundancy::on_send(ByteView sctp_packet, core::TimePoint now) {
  const bool fresh = !sent_any_;  // no DATA sent before this packet
  std::uint32_t chunks = 0;
  std::uint32_t resent = 0;
  for_each_chunk(sctp_packet, [&](std::uint8_t type, ByteView chunk) {
    const auto data = tsn_of(type, chunk);
    if (!data) return;
    const std::uint32_t tsn = *data;
    ++chunks;
    if (!sent_any_ || after(tsn, highest_sent_)) {
      sent_any_ = true;
      highest_sent_ = tsn;
      missing_.reset(tsn % kSeenWindow);
    } else if (!missing_.test(tsn % kSeenWindow)) {  // not reported missing by a SACK
      missing_.set(tsn % kSeenWindow);
      ++resent;
    }
  });
  int wanted = 0;
  if (chunks > 0) {
    // A fresh association, or one idle for kIdle: its first packets go out twice.
    if (fresh || now - last_data_sent_ >= kIdle) warmup_left_ = kWarmupPackets;
    last_data_sent_ = now;
    if (warmup_left_ > 0) {
      --warmup_left_;
      wanted = kWarmupCopies;
    }
  }
  count(chunks, resent, now);
  wanted = std::max(wanted, copies_);
  int copies = 1;
  for (; copies < wanted; ++copies) {
    if (!budget_.ready(now)) {
      over_budget_ += static_cast<std::uint64_t>(wanted - copies);
      break;
    }
    budget_.consume(sctp_packet.size() + kRecordOverhead);
    ++extra_datagrams_;
  }
  return copies;
}

void PacketRedundancy::on_receive(ByteView sctp_packet, core::TimePoint now) {
  std::uint32_t chunks = 0;
  std::uint32_t lost = 0;
  for_each_chunk(sctp_packet, [&](std::uint8_t type, ByteView chunk) {
    if (type == kSack) {
      // What we sent and the peer reports missing: lost on the way out, whether it is
      // resent (durable) or abandoned (lossy, never resent). Each TSN counts once.
      for_each_missing(chunk, [&](std::uint32_t tsn) {
        if (!sent_any_ || after(tsn, highest_sent_) || highest_sent_ - tsn >= kSeenWindow) {
          return;
        }
        if (!missing_.test(tsn % kSeenWindow)) {
          missing_.set(tsn % kSeenWindow);
          ++lost;
        }
      });
      return;
    }
    const auto data = tsn_of(type, chunk);
    if (!data) return;
    const std::uint32_t tsn = *data;
    ++chunks;
    if (!received_any_) {
      received_any_ = true;
      highest_received_ = tsn;
      seen_.set(tsn % kSeenWindow);
      return;
    }
    if (after(tsn, highest_received_)) {
      const std::uint32_t gap = tsn - highest_received_ - 1;
      if (gap <= kMaxSkip) {
        lost += gap;
        chunks += gap;
      }
      if (gap + 1 >= kSeenWindow) {
        seen_.reset();
      } else {
        for (std::uint32_t t = highest_received_ + 1; t != tsn; ++t) seen_.reset(t % kSeenWindow);
      }
      highest_received_ = tsn;
      seen_.set(tsn % kSeenWindow);
      return;
    }
    // At or below the highest: a retransmission filling a gap (counted when it opened), or
    // one we had: the peer sent it again because our SACK was lost.
    const bool old = highest_received_ - tsn >= kSeenWindow;
    if (old || seen_.test(tsn % kSeenWindow)) {
      ++lost;
    } else {
      seen_.set(tsn % kSeenWindow);
      --chunks;  // its gap was counted already
    }
  });
  count(chunks, lost, now);
}

}  // namespace switchboard::webrtc
