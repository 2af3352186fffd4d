#include "webrtc/packet_redundancy.hpp"

#include <initializer_list>
#include <random>
#include <vector>

#include <gtest/gtest.h>

namespace switchboard::webrtc {
namespace {

using namespace std::chrono_literals;

// An SCTP packet: the common header, then one DATA chunk (RFC 9260 §3.3.1) of `payload`
// bytes per TSN, each padded to 4 bytes.
Bytes packet(std::initializer_list<std::uint32_t> tsns, std::size_t payload = 100) {
  Bytes out(12, 0);
  for (std::uint32_t tsn : tsns) {
    const std::size_t length = 16 + payload;
    out.push_back(0);     // DATA
    out.push_back(0x03);  // B and E: a whole message
    put_u16(out, static_cast<std::uint16_t>(length));
    put_u32(out, tsn);
    put_u16(out, 1);      // stream
    put_u16(out, 0);      // SSN
    put_u32(out, 53);     // PPID: binary
    out.insert(out.end(), payload, 0xab);
    while (out.size() % 4 != 0) out.push_back(0);
  }
  return out;
}

Bytes sack_only() {
  Bytes out(12, 0);
  out.push_back(3);  // SACK
  out.push_back(0);
  put_u16(out, 16);
  put_u32(out, 7);
  put_u32(out, 1 << 20);
  put_u16(out, 0);
  put_u16(out, 0);
  return out;
}

// A sender whose every `lose_every`-th packet is lost and retransmitted; one packet per ms.
class Sender {
 public:
  Sender(PacketRedundancy& r, core::TimePoint& now) : r_(r), now_(now) {}

  int send(int lose_every) {
    const std::uint32_t tsn = next_++;
    int copies = r_.on_send(packet({tsn}), now_);
    if (lose_every > 0 && tsn % static_cast<std::uint32_t>(lose_every) == 0) {
      copies = r_.on_send(packet({tsn}), now_);  // its retransmission
    }
    now_ += 1ms;
    return copies;
  }
  void run(int packets, int lose_every) {
    for (int i = 0; i < packets; ++i) send(lose_every);
  }

 private:
  PacketRedundancy& r_;
  core::TimePoint& now_;
  std::uint32_t next_ = 1000;
};

TEST(PacketRedundancy, ALosslessPathGetsOneCopyOfEachPacketAfterItsFirstPackets) {
  core::TimePoint now{};
  PacketRedundancy r(now);
  Sender sender(r, now);
  for (std::uint32_t i = 0; i < PacketRedundancy::kWarmupPackets; ++i) {
    EXPECT_EQ(sender.send(0), PacketRedundancy::kWarmupCopies) << "warming up, packet " << i;
  }
  for (int i = 0; i < 20'000; ++i) EXPECT_EQ(sender.send(0), 1);
  EXPECT_EQ(r.extra_datagrams(), PacketRedundancy::kWarmupPackets);
  EXPECT_EQ(r.residual_loss(), 0.0);
  EXPECT_EQ(r.copies(), 1);
}

TEST(PacketRedundancy, AnAssociationIdleForASecondWarmsUpAgainAndPacketsWithoutDataDoNot) {
  core::TimePoint now{};
  PacketRedundancy r(now);
  Sender sender(r, now);
  EXPECT_EQ(r.on_send(sack_only(), now), 1) << "no DATA: no warm-up";
  sender.run(static_cast<int>(PacketRedundancy::kWarmupPackets), 0);
  EXPECT_EQ(sender.send(0), 1);
  now += PacketRedundancy::kIdle - 100ms;  // not idle long enough
  EXPECT_EQ(sender.send(0), 1);
  EXPECT_EQ(r.on_send(sack_only(), now + 5s), 1);  // SACKs and the like keep no one warm
  now += PacketRedundancy::kIdle;
  for (std::uint32_t i = 0; i < PacketRedundancy::kWarmupPackets; ++i) {
    EXPECT_EQ(sender.send(0), PacketRedundancy::kWarmupCopies) << "after idling, packet " << i;
  }
  EXPECT_EQ(sender.send(0), 1);
  EXPECT_EQ(r.copies(), 1) << "warming up measures nothing";
}

TEST(PacketRedundancy, RetransmissionsAddACopyAtATimeUpToFour) {
  core::TimePoint now{};
  PacketRedundancy r(now);
  Sender sender(r, now);
  int copies = 1;
  int packets_to_first = 0;
  for (int i = 0; i < 200; ++i) {  // 20% of packets resent
    sender.send(5);
    if (r.copies() == 1) packets_to_first = i + 1;
    EXPECT_LE(r.copies() - copies, 1) << "one step at a time";
    EXPECT_GE(r.copies(), copies) << "never fewer while the loss goes on";
    copies = r.copies();
  }
  EXPECT_LE(packets_to_first, 2 * static_cast<int>(PacketRedundancy::kMinChunks));
  EXPECT_EQ(r.copies(), PacketRedundancy::kMaxCopies);
  EXPECT_EQ(sender.send(5), PacketRedundancy::kMaxCopies);  // within the budget
}

TEST(PacketRedundancy, LossBelowTheThresholdAddsNothing) {
  core::TimePoint now{};
  PacketRedundancy r(now);
  Sender sender(r, now);
  sender.run(10'000, 100);  // 1%: SACKs recover that without timeouts
  EXPECT_EQ(r.copies(), 1);
}

TEST(PacketRedundancy, CopiesFallOneAtATimeOnceTheLossHasStoppedForTenSeconds) {
  core::TimePoint now{};
  PacketRedundancy r(now);
  Sender sender(r, now);
  sender.run(3 * PacketRedundancy::kMinChunks, 4);
  ASSERT_EQ(r.copies(), 4);
  sender.run(9'000, 0);  // 9 s without loss
  EXPECT_EQ(r.copies(), 4);
  sender.run(1'100, 0);
  EXPECT_EQ(r.copies(), 3);
  sender.run(9'000, 0);
  EXPECT_EQ(r.copies(), 3);  // 10 s between steps
  sender.run(1'100, 0);
  EXPECT_EQ(r.copies(), 2);
  sender.run(100, 4);  // loss again, after 20 s of none: back up within 100 packets
  EXPECT_GE(r.copies(), 3);
}

TEST(PacketRedundancy, LossInTheResidueAfterCopiesKeepsThem) {
  // At 4 copies a 20% path loses 0.16% of packets: calm, so copies fall to 3; there the
  // residue is 0.8%, above the 0.5% that keeps them.
  core::TimePoint now{};
  PacketRedundancy r(now);
  Sender sender(r, now);
  sender.run(4 * PacketRedundancy::kMinChunks, 5);
  ASSERT_EQ(r.copies(), 4);
  sender.run(12'000, 125);  // 0.8%
  EXPECT_EQ(r.copies(), 4);
}

TEST(PacketRedundancy, TsnsSkippedOnTheWayInAddCopiesToo) {
  // A receiver sends little DATA, but its SACKs need copies when the path drops packets.
  core::TimePoint now{};
  PacketRedundancy r(now);
  std::uint32_t tsn = 5000;
  std::vector<std::uint32_t> skipped;
  for (int i = 0; i < 40; ++i) {
    tsn += (i % 4 == 0) ? 2 : 1;  // every fourth packet lost on the way
    if (i % 4 == 0 && i > 0) skipped.push_back(tsn - 1);
    r.on_receive(packet({tsn}), now);
    now += 1ms;
  }
  const int copies = r.copies();
  EXPECT_GE(copies, 2);
  EXPECT_EQ(r.on_send(sack_only(), now), copies);
  // The retransmissions filling the gaps are not new losses.
  for (std::uint32_t fill : skipped) r.on_receive(packet({fill}), now);
  EXPECT_EQ(r.copies(), copies);
}

TEST(PacketRedundancy, DataReceivedTwiceMeansOurSacksAreLostAndAddsCopies) {
  // One packet in flight at a time: no TSN is ever skipped, but each one whose SACK was
  // lost comes again.
  core::TimePoint now{};
  PacketRedundancy r(now);
  for (std::uint32_t tsn = 1; tsn <= 40; ++tsn) {
    r.on_receive(packet({tsn}), now);
    if (tsn % 3 == 0) r.on_receive(packet({tsn}), now);  // resent: our SACK was lost
    now += 10ms;
  }
  EXPECT_GE(r.copies(), 2);
  // A gap filled later is not counted twice: 20% skipped, then filled, is one round's loss.
  PacketRedundancy fills(now);
  for (std::uint32_t tsn = 1; tsn <= 100; ++tsn) {
    if (tsn % 50 != 0) fills.on_receive(packet({tsn}), now);
  }
  fills.on_receive(packet({50}), now);
  fills.on_receive(packet({100}), now);
  EXPECT_EQ(fills.copies(), 1);
}

// A SACK acknowledging up to `cumulative`, then TSNs cumulative+start..cumulative+end for
// each gap block.
Bytes sack(std::uint32_t cumulative,
           std::initializer_list<std::pair<std::uint16_t, std::uint16_t>> gaps) {
  Bytes out(12, 0);
  out.push_back(3);
  out.push_back(0);
  put_u16(out, static_cast<std::uint16_t>(16 + 4 * gaps.size()));
  put_u32(out, cumulative);
  put_u32(out, 1 << 20);
  put_u16(out, static_cast<std::uint16_t>(gaps.size()));
  put_u16(out, 0);
  for (auto [start, end] : gaps) {
    put_u16(out, start);
    put_u16(out, end);
  }
  return out;
}

TEST(PacketRedundancy, TsnsTheSacksReportMissingAddCopiesEvenWhenNeverResent) {
  // A lossy channel: nothing is ever resent, only the peer's SACKs show what was lost.
  core::TimePoint now{};
  PacketRedundancy r(now);
  for (std::uint32_t tsn = 100; tsn < 140; ++tsn) r.on_send(packet({tsn}), now);
  // 101 missing, reported by four SACKs in a row: one loss of 40 (four would add a copy).
  for (int i = 0; i < 4; ++i) r.on_receive(sack(100, {{2, 39}}), now);
  EXPECT_EQ(r.residual_loss(), 1.0 / 40);
  EXPECT_EQ(r.copies(), 1);
  // 110, 115, 120, 125 and 130 missing as well: 6 of 40.
  r.on_receive(sack(100, {{2, 9}, {11, 14}, {16, 19}, {21, 24}, {26, 29}, {31, 39}}), now);
  EXPECT_EQ(r.copies(), 2);
  // Resending what a SACK reported is not a second loss.
  PacketRedundancy resend(now);
  for (std::uint32_t tsn = 1; tsn <= 40; ++tsn) resend.on_send(packet({tsn}), now);
  resend.on_receive(sack(0, {{2, 40}}), now);  // 1 missing
  resend.on_send(packet({1}), now);
  EXPECT_EQ(resend.residual_loss(), 1.0 / 41);  // 41 chunks sent, 1 lost
}

TEST(PacketRedundancy, CountsEveryChunkOfABundleAndAcrossTsnWrap) {
  core::TimePoint now{};
  PacketRedundancy r(now);
  const std::uint32_t near_wrap = 0xffffffff - 20;
  std::uint32_t tsn = near_wrap;
  for (int i = 0; i < 8; ++i) {  // 32 chunks, 4 to a packet, none lost
    r.on_send(packet({tsn, tsn + 1, tsn + 2, tsn + 3}, 20), now);
    tsn += 4;
  }
  EXPECT_EQ(r.copies(), 1);
  EXPECT_EQ(r.residual_loss(), 0.0);
  for (int i = 0; i < 8; ++i) {  // the same 32 again: all retransmissions, 2 to a packet
    r.on_send(packet({near_wrap + 4U * i, near_wrap + 4U * i + 1}, 20), now);
    r.on_send(packet({near_wrap + 4U * i + 2, near_wrap + 4U * i + 3}, 20), now);
  }
  EXPECT_GE(r.copies(), 3);  // the 32 resent chunks: a step per 8 at least
  EXPECT_EQ(r.residual_loss(), 1.0);
}

TEST(PacketRedundancy, CopiesBeyondTheBudgetAreNotSent) {
  core::TimePoint now{};
  PacketRedundancy r(now);
  Sender sender(r, now);
  sender.run(10 * PacketRedundancy::kMinChunks, 4);
  ASSERT_EQ(r.copies(), PacketRedundancy::kMaxCopies);
  const std::uint64_t before = r.extra_datagrams();
  // 10 s of full packets, 10,000 a second: far more than the budget takes.
  const Bytes full = packet({1}, 1100);
  const auto start = now;
  std::uint32_t tsn = 1'000'000;
  for (int i = 0; i < 100'000; ++i) {
    Bytes p = full;
    p[16] = static_cast<std::uint8_t>(tsn >> 24);
    p[17] = static_cast<std::uint8_t>(tsn >> 16);
    p[18] = static_cast<std::uint8_t>(tsn >> 8);
    p[19] = static_cast<std::uint8_t>(tsn);
    ++tsn;
    const int copies = r.on_send(p, now);
    EXPECT_GE(copies, 1);
    now += 100us;
  }
  const double seconds = std::chrono::duration<double>(now - start).count();
  const double extra_bytes =
      static_cast<double>(r.extra_datagrams() - before) *
      static_cast<double>(full.size() + PacketRedundancy::kRecordOverhead);
  EXPECT_LE(extra_bytes, PacketRedundancy::kBudgetBurstBytes +
                             seconds * PacketRedundancy::kBudgetBytesPerSecond + 2048);
  EXPECT_GE(extra_bytes, seconds * PacketRedundancy::kBudgetBytesPerSecond * 0.9);
  EXPECT_GT(r.over_budget(), 0U);
}

TEST(PacketRedundancy, MalformedPacketsAreCountedAsFarAsTheyParseAndNeverRead) {
  core::TimePoint now{};
  PacketRedundancy r(now);
  std::mt19937 rng(7);
  for (int i = 0; i < 20'000; ++i) {
    Bytes junk(std::uniform_int_distribution<std::size_t>(0, 64)(rng));
    for (auto& b : junk) b = static_cast<std::uint8_t>(rng());
    const int copies = r.on_send(junk, now);
    EXPECT_GE(copies, 1);
    EXPECT_LE(copies, PacketRedundancy::kMaxCopies);
    r.on_receive(junk, now);
  }
  Bytes truncated = packet({1, 2});
  truncated.resize(truncated.size() - 10);  // the second chunk's length runs past the end
  r.on_send(truncated, now);
}

}  // namespace
}  // namespace switchboard::webrtc
