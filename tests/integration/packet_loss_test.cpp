// Random packet loss end to end: a real switchboard-server process and two SDK participants
// (in this process), all inside scripts/with-netns --loss N, which drops N% of every
// inbound UDP datagram at random with nftables: client -> server, server -> client and the
// direct peer-to-peer path alike (signaling is TCP and untouched).
//
// Durable: every message arrives exactly once, in order, with its bytes; lossy: delivery
// goes on for as long as the sender sends. Each case prints its figures (sent, delivered,
// lost, duplicates, reordered, duration) on a line starting "packet-loss:".

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <switchboard/switchboard.hpp>

#include "harness.hpp"
#include "signaling/token.hpp"

namespace switchboard::integration {
namespace {

int loss_percent() {
  const char* loss = std::getenv("SWITCHBOARD_NETNS_LOSS");
  return loss != nullptr ? std::atoi(loss) : 0;
}

// SWITCHBOARD_LOSS_MESSAGES overrides the durable count (for measuring; ctest uses the
// default).
std::uint32_t durable_count() {
  const char* n = std::getenv("SWITCHBOARD_LOSS_MESSAGES");
  return n != nullptr ? static_cast<std::uint32_t>(std::strtoul(n, nullptr, 10)) : 100'000;
}

// Message i: what a call's data channel carries (chat, reactions, strokes, game state):
// 16..215 bytes, except every 1,000th: 17..48 KiB (a pasted image, a file's chunk), which
// the SDK splits into 16 KiB fragments and SCTP each fragment into packets. About 13 MB in
// all. Bytes: the index (4 bytes, big-endian), then a pattern of the index, so a corrupted
// or misplaced message shows.
std::size_t size_of(std::uint32_t i) {
  if (i % 1000 == 999) return 17 * 1024 + (i * 7919u) % (31 * 1024);
  return 16 + (i * 7919u) % 200;
}

std::vector<std::uint8_t> message(std::uint32_t i, std::size_t size) {
  std::vector<std::uint8_t> bytes(size);
  for (std::size_t k = 0; k < size; ++k) bytes[k] = static_cast<std::uint8_t>(i * 31 + k * 7);
  for (std::size_t k = 0; k < 4; ++k) bytes[k] = static_cast<std::uint8_t>(i >> (24 - 8 * k));
  return bytes;
}

std::uint32_t index_of(const std::vector<std::uint8_t>& bytes) {
  if (bytes.size() < 4) return UINT32_MAX;
  return static_cast<std::uint32_t>(bytes[0]) << 24 | static_cast<std::uint32_t>(bytes[1]) << 16 |
         static_cast<std::uint32_t>(bytes[2]) << 8 | bytes[3];
}

std::string dev_token(const std::string& user, const std::string& call) {
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  return signaling::mint_token(
      {.sub = user, .call = call, .name = user, .exp = now + 3600, .iat = now},
      signaling::kDevelopmentSecret);
}

// What the receiver saw, filled in on the SDK's event thread.
struct Tally {
  std::mutex mutex;
  std::vector<std::uint8_t> seen;  // per index: times delivered
  std::uint32_t delivered = 0;
  std::uint32_t duplicates = 0;
  std::uint32_t reordered = 0;  // arrived after a higher index
  std::uint32_t corrupted = 0;  // bytes or sequence number not those sent for the index
  std::uint32_t highest = 0;
  bool any = false;
  Clock::time_point last_delivery{};
  std::chrono::milliseconds longest_gap{0};  // between deliveries, while any arrive
  std::atomic<bool> receiver_closed{false};

  std::size_t fixed_size = 0;  // every message's size; 0: size_of(index)

  explicit Tally(std::uint32_t count, std::size_t size = 0) : seen(count, 0), fixed_size(size) {}

  void add(const DataChannelMessage& m) {
    const std::uint32_t i = index_of(m.data);
    const auto now = Clock::now();
    std::lock_guard lock(mutex);
    const std::size_t expected_size = fixed_size != 0 ? fixed_size : size_of(i);
    if (i >= seen.size() || m.data.size() != expected_size || m.data != message(i, expected_size) ||
        m.sequenceNumber != i + 1) {
      ++corrupted;
      return;
    }
    if (seen[i]++ > 0) ++duplicates;
    if (any && i < highest) ++reordered;
    if (any) {
      longest_gap = std::max(
          longest_gap, std::chrono::duration_cast<std::chrono::milliseconds>(now - last_delivery));
    }
    highest = std::max(highest, i);
    any = true;
    last_delivery = now;
    ++delivered;
  }
  std::uint32_t lost() {
    std::lock_guard lock(mutex);
    return static_cast<std::uint32_t>(std::count(seen.begin(), seen.end(), 0));
  }
};

class PacketLoss : public IntegrationTest {
 protected:
  void SetUp() override {
    if (loss_percent() <= 0) GTEST_SKIP() << "runs inside scripts/with-netns --loss N (ctest does)";
  }

  // alice -> bob in a call of their own on a fresh server; `p2p` lets them go direct.
  void join_both(bool p2p) {
    // The handshakes see the loss too: at 40% the data connection now and then takes more
    // than the server's default 15 s to come up, so the server waits as long as the SDK
    // does (30 s, `timeout` below).
    server_ = std::make_unique<Server>(Server::Options{
        .flags = {"--rate-limit-bytes", "0", "--rate-limit-messages", "0",
                  "--data-connect-timeout", "30"}});
    call_id_ = unique_call_id(p2p ? "p2p" : "server");
    JoinOptions options;
    options.p2p = p2p;
    options.timeout = std::chrono::seconds(30);  // the handshakes see the loss too
    auto bob = bob_client_.join(server_->url(), call_id_, dev_token("bob", call_id_), options);
    ASSERT_TRUE(bob.ok()) << bob.error().message;
    bob_ = *bob;
    bob_->dataChannel().onReceiverCreated([this](const std::shared_ptr<DataChannelReceiver>& r) {
      {
        std::lock_guard lock(receivers_mutex_);
        receivers_created_.push_back("'" + r->senderIdentity() + "' on channel " +
                                     std::to_string(r->channelId()));
      }
      if (r->senderIdentity() != "alice" || !tally_) return;
      receiver_ = r;
      std::weak_ptr<DataChannelReceiver> weak = r;
      r->onMessageReady([this, weak] {
        auto receiver = weak.lock();
        if (!receiver) return;
        while (auto m = receiver->readMessage()) tally_->add(*m);
      });
      r->onClose([this](ReceiverCloseReason) { tally_->receiver_closed = true; });
    });
    auto alice =
        alice_client_.join(server_->url(), call_id_, dev_token("alice", call_id_), options);
    ASSERT_TRUE(alice.ok()) << alice.error().message;
    alice_ = *alice;
    alice_->onTransportChanged([this](const TransportInfo& t) {
      transport_changes_ += 1;
      if (t.mode == TransportMode::PeerToPeer) went_direct_ = true;
    });
    if (alice_->transport().mode == TransportMode::PeerToPeer) went_direct_ = true;
  }

  // A peer-to-peer case starts sending once the call is direct. Setting the direct path up
  // sees the loss too: libnice's checks fail a try now and then (about one in ten at 20%,
  // one in two at 40%), and the server pairs the two again with backoff (`p2p_failed`), so
  // at 20% the call must get there. At 40% it may take several tries, or none may work in
  // time: the case then sends anyway and checks the same guarantees; the `direct` figure
  // says which it was.
  void start_direct() {
    const bool direct = wait_direct(std::chrono::seconds(45));
    if (loss_percent() < 40) ASSERT_TRUE(direct) << "the call never went direct";
  }

  // What to look at when a case fails: the receivers bob's SDK made, and the server's
  // relay and drop counters.
  std::string diagnostics() {
    std::string text = "bob's receivers:";
    {
      std::lock_guard lock(receivers_mutex_);
      for (const auto& r : receivers_created_) text += " " + r + ";";
      if (receivers_created_.empty()) text += " none";
    }
    text += "\nserver metrics:";
    if (const auto metrics = http_get(server_->host(), server_->port(), "/metrics")) {
      std::istringstream lines(metrics->body);
      for (std::string line; std::getline(lines, line);) {
        if (line.rfind("switchboard_relayed", 0) == 0 || line.rfind("switchboard_dropped", 0) == 0) {
          text += "\n  " + line;
        }
      }
    } else {
      text += " GET /metrics failed";
    }
    return text;
  }

  bool wait_direct(std::chrono::seconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      if (alice_->transport().mode == TransportMode::PeerToPeer &&
          bob_->transport().mode == TransportMode::PeerToPeer) {
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  void durable(bool p2p) {
    const std::uint32_t count = durable_count();
    tally_ = std::make_unique<Tally>(count);
    join_both(p2p);
    if (HasFatalFailure()) return;
    if (p2p) start_direct();
    if (HasFatalFailure()) return;
    auto sender = alice_->dataChannel().createSender({.channelId = 1000});
    ASSERT_TRUE(sender.ok()) << sender.error().message;

    const auto start = Clock::now();
    const auto give_up = start + std::chrono::seconds(120);
    std::uint32_t sent = 0;
    std::uint64_t bytes = 0;
    std::string failure;
    while (sent < count && failure.empty() && Clock::now() < give_up) {
      const auto data = message(sent, size_of(sent));
      auto seq = (*sender)->sendMessage(data);
      if (seq.ok()) {
        ++sent;
        bytes += data.size();
      } else if (seq.error().code == ErrorCode::BufferFull) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      } else {
        failure = seq.error().message;
      }
    }
    ASSERT_TRUE(failure.empty()) << "send " << sent << " failed: " << failure;
    while (Clock::now() < give_up) {
      {
        std::lock_guard lock(tally_->mutex);
        if (tally_->delivered + tally_->corrupted >= count) break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    const std::uint32_t lost = tally_->lost();
    std::lock_guard lock(tally_->mutex);
    std::printf(
        "packet-loss: durable %s, %d%% loss: sent %u (%.1f MB), delivered %u, lost %u, "
        "duplicates %u, reordered %u, corrupted %u, %.1f s (%.2f MB/s), longest gap %lld ms, "
        "direct %s, transport changes %d\n",
        p2p ? "p2p" : "server", loss_percent(), sent, static_cast<double>(bytes) / 1e6,
        tally_->delivered, lost, tally_->duplicates, tally_->reordered, tally_->corrupted, seconds,
        static_cast<double>(bytes) / 1e6 / seconds,
        static_cast<long long>(tally_->longest_gap.count()), went_direct_ ? "yes" : "no",
        transport_changes_.load());
    EXPECT_EQ(sent, count) << "the sender was still blocked after 120 s";
    EXPECT_EQ(tally_->delivered, count) << diagnostics();
    EXPECT_EQ(lost, 0u);
    EXPECT_EQ(tally_->duplicates, 0u);
    EXPECT_EQ(tally_->reordered, 0u);
    EXPECT_EQ(tally_->corrupted, 0u);
    EXPECT_FALSE(tally_->receiver_closed);
  }

  void lossy(bool p2p) {
    // 200-byte messages at 2,000 a second for 10 s: far below what the path carries, so
    // what is missing was lost on the wire, not dropped for being late.
    constexpr std::uint32_t kCount = 20'000;
    tally_ = std::make_unique<Tally>(kCount, 200);
    join_both(p2p);
    if (HasFatalFailure()) return;
    if (p2p) start_direct();
    if (HasFatalFailure()) return;
    auto sender =
        alice_->dataChannel().createSender({.channelId = 1001, .reliability = Reliability::Lossy});
    ASSERT_TRUE(sender.ok()) << sender.error().message;

    const auto start = Clock::now();
    std::vector<std::uint32_t> delivered_by_second;
    std::uint32_t sent = 0;
    for (; sent < kCount; ++sent) {
      const auto due = start + std::chrono::microseconds(500) * sent;
      std::this_thread::sleep_until(due);
      auto seq = (*sender)->sendMessage(message(sent, 200));
      ASSERT_TRUE(seq.ok()) << "lossy send " << sent << ": " << seq.error().message;
      if (sent % 2000 == 1999) {
        std::lock_guard lock(tally_->mutex);
        delivered_by_second.push_back(tally_->delivered);
      }
    }
    std::this_thread::sleep_for(std::chrono::seconds(2));  // what is in flight lands
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    const std::uint32_t lost = tally_->lost();
    std::lock_guard lock(tally_->mutex);
    const double share = static_cast<double>(tally_->delivered) / kCount;
    // One lossy hop on the direct path, two (alice -> server -> bob) through the server.
    const double kept = 1.0 - loss_percent() / 100.0;
    const double expected = p2p ? kept : kept * kept;
    std::string per_second;
    std::uint32_t before = 0;
    std::uint32_t quiet_seconds = 0;
    for (const auto d : delivered_by_second) {
      per_second += " " + std::to_string(d - before);
      if (d == before) ++quiet_seconds;
      before = d;
    }
    std::printf(
        "packet-loss: lossy %s, %d%% loss: sent %u, delivered %u (%.1f%%, a lossless wire "
        "%.1f%%), lost %u, duplicates %u, reordered %u, corrupted %u, %.1f s, delivered per "
        "second:%s, longest gap %lld ms\n",
        p2p ? "p2p" : "server", loss_percent(), sent, tally_->delivered, share * 100,
        expected * 100, lost, tally_->duplicates, tally_->reordered, tally_->corrupted, seconds,
        per_second.c_str(), static_cast<long long>(tally_->longest_gap.count()));
    EXPECT_EQ(quiet_seconds, 0u) << "a second of sending with nothing delivered: a stall\n"
                                 << diagnostics();
    EXPECT_LT(tally_->longest_gap, std::chrono::milliseconds(1000));
    // The share is reported, not asserted. Above what the wire keeps: packet redundancy
    // sends copies of each packet once the association sees the loss (lossy messages are
    // still never retransmitted: SctpTransport's unit tests check that). Below: the SDK
    // drops lossy messages that wait past the latency target, by design.
    EXPECT_EQ(tally_->duplicates, 0u);
    EXPECT_EQ(tally_->corrupted, 0u);
    EXPECT_GT(std::count_if(tally_->seen.end() - 100, tally_->seen.end(),
                            [](std::uint8_t n) { return n > 0; }),
              0)
        << "none of the last 100 messages arrived";
  }

  void TearDown() override {
    if (alice_) alice_->leave();
    if (bob_) bob_->leave();
    IntegrationTest::TearDown();
  }

  // Declared before the clients, so destroyed after them (their callbacks use these).
  std::unique_ptr<Server> server_;
  std::unique_ptr<Tally> tally_;
  std::atomic<int> transport_changes_{0};
  std::atomic<bool> went_direct_{false};
  std::mutex receivers_mutex_;
  std::vector<std::string> receivers_created_;  // by bob's SDK: "'identity' on channel N"
  std::string call_id_;
  CallClient alice_client_;
  CallClient bob_client_;
  std::shared_ptr<Call> alice_;
  std::shared_ptr<Call> bob_;
  std::shared_ptr<DataChannelReceiver> receiver_;
};

TEST_F(PacketLoss, DurableThroughTheServerLosesDuplicatesAndReordersNothing) {
  durable(false);
}
TEST_F(PacketLoss, DurablePeerToPeerLosesDuplicatesAndReordersNothing) {
  durable(true);
}
TEST_F(PacketLoss, LossyThroughTheServerKeepsDeliveringWhileSending) {
  lossy(false);
}
TEST_F(PacketLoss, LossyPeerToPeerKeepsDeliveringWhileSending) {
  lossy(true);
}

}  // namespace
}  // namespace switchboard::integration
