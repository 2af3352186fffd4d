#pragma once

// Loss-adaptive packet redundancy, between SCTP and DTLS. Sans-IO.
//
// SCTP reads every lost packet as congestion. On a path that drops packets at random (a
// poor Wi-Fi or mobile link: 20% and more, whatever the load) its window stays at one or
// two packets, so losses are found by retransmission timeouts rather than by SACKs, and a
// path that still carries 80% of what is sent moves a few hundred small messages a second
// (docs/testing.md has the figures). So, while the association sees such loss, each SCTP
// packet's DTLS record goes on the wire more than once. The peer's DTLS drops the copies
// as replays (RFC 6347 §4.1.2.6; OpenSSL and BoringSSL both do), so its SCTP sees each
// packet once, and a packet sent k times is lost only with probability p^k. Nothing
// changes on the wire format and the peer needs no support: it works with browsers too.
//
// The loss is measured from the association's own packets:
//  - sent: DATA chunks the peer's SACKs report missing (durable or lossy alike), and
//    retransmissions no SACK reported (a TSN sent before: after a timeout); each TSN once;
//  - received: TSNs skipped (a DATA chunk whose TSN is past the next one expected), and
//    DATA chunks received twice (the peer resent them because our SACK was lost: with one
//    packet in flight, that is how a lossy path shows on the receiving side).
// Both are what is left after the copies already sent (the peer's too). One more copy (at
// most 4) as soon as the recent chunks (the last 256 to 512; the count starts again at each
// change) show more than 2% lost with some confidence: at least 8 chunks (a stalled
// association resends only a few per timeout), and 3 standard deviations above 2%, so a
// path losing 1% does not get copies by chance. One fewer when 10 s end with at least 8
// chunks and less than 0.5% of them lost. Copies beyond a budget (1 MiB/s, 1 MiB burst) are
// not sent, so a path whose loss comes from congestion is not flooded: real-time traffic
// fits in it whole, a bulk transfer under heavy loss gets copies for part of its packets.

#include <bitset>
#include <cstdint>

#include "core/bytes.hpp"
#include "core/clock.hpp"
#include "core/token_bucket.hpp"

namespace switchboard::webrtc {

class PacketRedundancy {
 public:
  static constexpr int kMaxCopies = 4;
  // Until the association is up (the DTLS handshake, SCTP's INIT and COOKIE exchange),
  // every datagram goes out twice: a handful of datagrams, each of which stalls the setup
  // for a retransmission timeout when lost, before any loss could be measured.
  static constexpr int kHandshakeCopies = 2;
  // The same for the first kWarmupPackets packets carrying DATA once the association is up,
  // and again after kIdle without any: nothing is measured yet, SCTP's window is small, and
  // a lost packet (or its SACK) costs a retransmission timeout, during which a relay drops
  // lossy messages for their latency (at 40% loss that stalled a lossy stream for 1-12 s).
  static constexpr int kWarmupCopies = 2;
  static constexpr std::uint32_t kWarmupPackets = 16;
  static constexpr core::Duration kIdle = std::chrono::seconds(1);
  static constexpr double kRaiseAbove = 0.02;
  static constexpr double kLowerBelow = 0.005;
  static constexpr std::uint32_t kMinChunks = 8;
  static constexpr std::uint32_t kRecentChunks = 512;  // then halved
  static constexpr core::Duration kEpoch = std::chrono::seconds(10);
  static constexpr double kBudgetBytesPerSecond = 1024.0 * 1024.0;
  static constexpr double kBudgetBurstBytes = 1024.0 * 1024.0;
  // What a copy costs on the wire besides the SCTP packet: DTLS record header, AES-GCM
  // nonce and tag.
  static constexpr std::size_t kRecordOverhead = 37;

  explicit PacketRedundancy(core::TimePoint now);

  // An SCTP packet about to go to DTLS: how many times to put its record on the wire
  // (1 to kMaxCopies).
  int on_send(ByteView sctp_packet, core::TimePoint now);
  // An SCTP packet DTLS handed up.
  void on_receive(ByteView sctp_packet, core::TimePoint now);

  // The copies each packet gets now, budget permitting.
  int copies() const { return copies_; }
  // The share of chunks lost in the current 10 s (0 without any).
  double residual_loss() const;
  // Datagrams sent as copies, and copies the budget held back, since the start.
  std::uint64_t extra_datagrams() const { return extra_datagrams_; }
  std::uint64_t over_budget() const { return over_budget_; }

 private:
  void count(std::uint32_t chunks, std::uint32_t lost, core::TimePoint now);

  void restart(core::TimePoint now);

  std::uint32_t recent_chunks_ = 0;
  std::uint32_t recent_lost_ = 0;
  std::uint32_t epoch_chunks_ = 0;
  std::uint32_t epoch_lost_ = 0;
  core::TimePoint epoch_start_;
  bool sent_any_ = false;
  core::TimePoint last_data_sent_{};
  std::uint32_t warmup_left_ = 0;
  std::uint32_t highest_sent_ = 0;
  bool received_any_ = false;
  std::uint32_t highest_received_ = 0;
  static constexpr std::uint32_t kSeenWindow = 4096;  // TSNs below the highest we remember
  std::bitset<kSeenWindow> seen_;     // received, by TSN
  std::bitset<kSeenWindow> missing_;  // sent and counted lost, by TSN
  int copies_ = 1;
  core::TokenBucket budget_;
  std::uint64_t extra_datagrams_ = 0;
  std::uint64_t over_budget_ = 0;
};

}  // namespace switchboard::webrtc
