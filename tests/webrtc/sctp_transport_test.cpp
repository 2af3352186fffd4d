#include "webrtc/sctp_transport.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace switchboard::webrtc {
namespace {

constexpr std::size_t kKiB = 1024;

// What one side saw, in order.
struct Events {
  bool connected = false;
  std::vector<std::pair<std::uint16_t, ChannelParams>> opened;
  struct Message {
    std::uint16_t stream;
    Bytes data;
    bool binary;
  };
  std::vector<Message> messages;
  std::vector<std::uint16_t> closed;
  int low = 0;
  std::optional<Error> failure;
  // When set, messages go here instead of `messages` (bulk tests check them on the fly).
  std::function<void(std::uint16_t, ByteView, bool)> on_message;

  bool has_opened(std::uint16_t stream) const {
    return std::any_of(opened.begin(), opened.end(),
                       [&](const auto& o) { return o.first == stream; });
  }
  bool has_closed(std::uint16_t stream) const {
    return std::find(closed.begin(), closed.end(), stream) != closed.end();
  }
  std::size_t count_on(std::uint16_t stream) const {
    return static_cast<std::size_t>(std::count_if(
        messages.begin(), messages.end(), [&](const Message& m) { return m.stream == stream; }));
  }
};

// Two transports wired back to back through in-memory queues. Packets are only ever handed
// over by step(), never from inside a callback; `loss` drops packets with a seeded PRNG.
class Pair {
 public:
  explicit Pair(SctpTransport::Config client_config = {},
                SctpTransport::Config server_config = {}) {
    client_config.dtls_client = true;
    server_config.dtls_client = false;
    client = std::make_unique<SctpTransport>(client_config, callbacks(client_events, to_server));
    server = std::make_unique<SctpTransport>(server_config, callbacks(server_events, to_client));
  }
  Pair(const Pair&) = delete;
  Pair& operator=(const Pair&) = delete;

  // Hands every queued packet to its receiver, then gives usrsctp the real time that has
  // passed, as an event loop would. (Virtual time won't do: on a retransmission timeout
  // usrsctp resends only chunks that are an RTO old by the wall clock.)
  void step() {
    const bool idle = to_server.empty() && to_client.empty();
    deliver(to_server, server.get());
    deliver(to_client, client.get());
    if (idle) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    const auto now = std::chrono::steady_clock::now();
    const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(now - last_tick_);
    if (elapsed.count() > 0) {
      SctpTransport::handle_timers(static_cast<std::uint32_t>(elapsed.count()));
      last_tick_ += elapsed;
    }
  }

  // Steps until `done`; false if it isn't done within a generous wall-clock bound (a
  // stall, not a performance limit).
  bool run_until(const std::function<bool()>& done,
                 std::chrono::seconds limit = std::chrono::seconds(60)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done() && std::chrono::steady_clock::now() < deadline) step();
    return done();
  }

  void run_for(std::chrono::milliseconds duration) {
    const auto end = std::chrono::steady_clock::now() + duration;
    while (std::chrono::steady_clock::now() < end) step();
  }

  bool connect() {
    EXPECT_TRUE(client->start());
    EXPECT_TRUE(server->start());
    return run_until([&] { return client_events.connected && server_events.connected; });
  }

  // Opens a channel from `from` and waits until both ends report it open.
  std::uint16_t open(bool from_client, const ChannelParams& params) {
    auto& opener = from_client ? *client : *server;
    const std::size_t client_before = client_events.opened.size();
    const std::size_t server_before = server_events.opened.size();
    auto opened = opener.open_channel(params);
    EXPECT_TRUE(opened) << (opened ? "" : opened.error().message);
    if (!opened) return 0;
    EXPECT_TRUE(run_until([&] {
      return client_events.opened.size() > client_before &&
             server_events.opened.size() > server_before;
    }));
    EXPECT_EQ(client_events.opened.back().first, *opened);
    EXPECT_EQ(server_events.opened.back().first, *opened);
    return *opened;
  }

  // Sends, stepping while the send buffer is full.
  void send_paced(SctpTransport& from, std::uint16_t stream, ByteView data, bool binary = true) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
      auto sent = from.send(stream, data, binary);
      if (sent) return;
      ASSERT_EQ(sent.error().code, ErrorCode::BufferFull) << sent.error().message;
      step();
    }
    FAIL() << "the send buffer never drained";
  }

  std::unique_ptr<SctpTransport> client;
  std::unique_ptr<SctpTransport> server;
  Events client_events;
  Events server_events;
  std::deque<Bytes> to_client;
  std::deque<Bytes> to_server;
  double loss = 0.0;
  std::function<bool(bool to_server, const Bytes& packet)> drop;  // picks packets to lose
  std::size_t largest_packet = 0;

 private:
  SctpTransport::Callbacks callbacks(Events& events, std::deque<Bytes>& out) {
    SctpTransport::Callbacks cb;
    cb.send_packet = [this, &out](ByteView packet) {
      largest_packet = std::max(largest_packet, packet.size());
      out.emplace_back(packet.begin(), packet.end());
    };
    cb.connected = [&events] { events.connected = true; };
    cb.channel_opened = [&events](std::uint16_t stream, const ChannelParams& params) {
      events.opened.emplace_back(stream, params);
    };
    cb.message = [&events](std::uint16_t stream, ByteView data, bool binary) {
      if (events.on_message) {
        events.on_message(stream, data, binary);
      } else {
        events.messages.push_back({stream, Bytes(data.begin(), data.end()), binary});
      }
    };
    cb.channel_closed = [&events](std::uint16_t stream) { events.closed.push_back(stream); };
    cb.buffered_amount_low = [&events] { ++events.low; };
    cb.failed = [&events](const Error& error) { events.failure = error; };
    return cb;
  }

  void deliver(std::deque<Bytes>& queue, SctpTransport* to) {
    std::deque<Bytes> batch;
    batch.swap(queue);
    for (const Bytes& packet : batch) {
      if (loss > 0 && std::uniform_real_distribution<double>(0, 1)(rng_) < loss) continue;
      if (drop && drop(to == server.get(), packet)) continue;
      if (to != nullptr) to->handle_packet(packet);
    }
  }

  std::mt19937 rng_{20240611};
  std::chrono::steady_clock::time_point last_tick_ = std::chrono::steady_clock::now();
};

// Message `index` of `size` bytes, reproducible from the index alone.
Bytes pattern(std::uint32_t index, std::size_t size) {
  Bytes out(size);
  std::uint32_t x = index * 2654435761u + 1;
  for (auto& b : out) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    b = static_cast<std::uint8_t>(x);
  }
  return out;
}

// The index a pattern() message carries in its first four bytes (bulk tests prefix it).
Bytes numbered(std::uint32_t index, std::size_t size) {
  Bytes out = pattern(index, std::max<std::size_t>(size, 4));
  out[0] = static_cast<std::uint8_t>(index >> 24);
  out[1] = static_cast<std::uint8_t>(index >> 16);
  out[2] = static_cast<std::uint8_t>(index >> 8);
  out[3] = static_cast<std::uint8_t>(index);
  return out;
}
std::uint32_t number_of(ByteView data) {
  return data.size() < 4 ? 0xffffffff : load_u32(data.data());
}

ChannelParams reliable(std::string label) {
  ChannelParams p;
  p.label = std::move(label);
  return p;
}

ChannelParams lossy(std::string label) {
  ChannelParams p;
  p.label = std::move(label);
  p.ordered = false;
  p.reliability = SctpReliability::MaxRetransmits;
  p.reliability_value = 0;
  return p;
}

TEST(SctpTransport, ConnectsAndOpensChannelsFromBothSidesWithRoleParity) {
  Pair pair;
  ASSERT_TRUE(pair.connect());
  EXPECT_EQ(pair.client->state(), SctpState::Connected);

  ChannelParams params;
  params.label = "chat";
  params.protocol = "json";
  params.ordered = false;
  params.reliability = SctpReliability::MaxRetransmits;
  params.reliability_value = 3;
  params.priority = 512;
  const std::uint16_t from_client = pair.open(true, params);
  EXPECT_EQ(from_client % 2, 0) << "the DTLS client opens even streams";
  ASSERT_EQ(pair.server_events.opened.size(), 1u);
  const ChannelParams& seen = pair.server_events.opened[0].second;
  EXPECT_EQ(seen.label, "chat");
  EXPECT_EQ(seen.protocol, "json");
  EXPECT_FALSE(seen.ordered);
  EXPECT_EQ(seen.reliability, SctpReliability::MaxRetransmits);
  EXPECT_EQ(seen.reliability_value, 3u);
  EXPECT_EQ(seen.priority, 512);

  const std::uint16_t from_server = pair.open(false, reliable("state"));
  EXPECT_EQ(from_server % 2, 1) << "the DTLS server opens odd streams";
  EXPECT_EQ(pair.client_events.opened.back().second.label, "state");

  // Both channels carry data both ways.
  ASSERT_TRUE(pair.client->send(from_server, as_bytes("to server"), false));
  ASSERT_TRUE(pair.server->send(from_client, as_bytes("to client"), true));
  ASSERT_TRUE(pair.run_until([&] {
    return pair.server_events.messages.size() == 1 && pair.client_events.messages.size() == 1;
  }));
  EXPECT_EQ(as_string(pair.server_events.messages[0].data), "to server");
  EXPECT_FALSE(pair.server_events.messages[0].binary);
  EXPECT_EQ(pair.client_events.messages[0].stream, from_client);
  EXPECT_TRUE(pair.client_events.messages[0].binary);
}

TEST(SctpTransport, OpensChannelsRequestedBeforeTheAssociationIsUp) {
  Pair pair;
  auto stream = pair.client->open_channel(reliable("early"));
  ASSERT_TRUE(stream);
  EXPECT_EQ(pair.client->send(*stream, as_bytes("x")).error().code, ErrorCode::NotConnected);
  ASSERT_TRUE(pair.connect());
  ASSERT_TRUE(pair.run_until([&] { return pair.server_events.has_opened(*stream); }));
  EXPECT_EQ(pair.server_events.opened[0].second.label, "early");
}

TEST(SctpTransport, NegotiatedChannelsSkipDcep) {
  Pair pair;
  ASSERT_TRUE(pair.connect());
  ChannelParams params = reliable("side-band");
  params.negotiated = true;
  EXPECT_EQ(pair.client->open_channel(params).error().code, ErrorCode::InvalidChannelId);
  params.stream = 7;
  ASSERT_TRUE(pair.client->open_channel(params));
  ASSERT_TRUE(pair.server->open_channel(params));
  EXPECT_EQ(pair.client->open_channel(params).error().code, ErrorCode::InvalidChannelId);
  ASSERT_TRUE(pair.client->send(7, as_bytes("hello")));
  ASSERT_TRUE(pair.run_until([&] { return pair.server_events.messages.size() == 1; }));
  EXPECT_EQ(as_string(pair.server_events.messages[0].data), "hello");
  EXPECT_TRUE(pair.server_events.opened.empty()) << "no DCEP OPEN for negotiated channels";
}

TEST(SctpTransport, DeliversReliableMessagesIntactAndInOrder) {
  Pair pair;
  ASSERT_TRUE(pair.connect());
  const std::uint16_t stream = pair.open(true, reliable("bulk"));

  // Sizes log-uniform over 1 B..256 KiB, so both tiny and multi-packet messages are common,
  // with both extremes forced in.
  constexpr int kCount = 2000;
  std::mt19937 rng(42);
  std::uniform_real_distribution<double> log_size(0.0, std::log(262144.0));
  std::vector<std::size_t> sizes(kCount);
  for (auto& s : sizes)
    s = std::clamp<std::size_t>(std::lround(std::exp(log_size(rng))), 1, 262144);
  sizes[0] = 1;
  sizes[1] = 262144;
  sizes[2] = 262144;

  std::uint32_t next = 0;
  int bad = 0;
  pair.server_events.on_message = [&](std::uint16_t s, ByteView data, bool binary) {
    if (s != stream || !binary || next >= kCount || data.size() != sizes[next] ||
        !std::equal(data.begin(), data.end(), pattern(next, sizes[next]).begin())) {
      ++bad;
    }
    ++next;
  };
  for (std::uint32_t i = 0; i < kCount; ++i) {
    pair.send_paced(*pair.client, stream, pattern(i, sizes[i]));
  }
  ASSERT_TRUE(pair.run_until([&] { return next == kCount; }));
  EXPECT_EQ(bad, 0) << "messages arrived damaged or out of order";
  EXPECT_LE(pair.largest_packet, kSctpMaxPacketSize);
}

TEST(SctpTransport, UnorderedUnreliableChannelDeliversEverythingWithoutLoss) {
  Pair pair;
  ASSERT_TRUE(pair.connect());
  const std::uint16_t stream = pair.open(true, lossy("fast"));
  constexpr std::uint32_t kCount = 300;
  for (std::uint32_t i = 0; i < kCount; ++i) {
    pair.send_paced(*pair.client, stream, numbered(i, 100 + i * 10));
  }
  ASSERT_TRUE(pair.run_until([&] { return pair.server_events.messages.size() == kCount; }));
  std::set<std::uint32_t> seen;
  for (const auto& m : pair.server_events.messages) {
    const std::uint32_t i = number_of(m.data);
    ASSERT_LT(i, kCount);
    EXPECT_EQ(m.data, numbered(i, 100 + i * 10));
    seen.insert(i);
  }
  EXPECT_EQ(seen.size(), kCount);
}

TEST(SctpTransport, ReliableChannelSurvivesLossWhileLossyChannelDropsWithoutStallingIt) {
  Pair pair;
  ASSERT_TRUE(pair.connect());
  const std::uint16_t sure = pair.open(true, reliable("sure"));
  const std::uint16_t quick = pair.open(true, lossy("quick"));
  pair.loss = 0.2;

  constexpr std::uint32_t kCount = 400;
  for (std::uint32_t i = 0; i < kCount; ++i) {
    pair.send_paced(*pair.client, sure, numbered(i, 300));
    pair.send_paced(*pair.client, quick, numbered(i, 300));
    if (i % 8 == 0) pair.step();  // spread the traffic out so losses hit both channels
  }
  ASSERT_TRUE(pair.run_until([&] { return pair.server_events.count_on(sure) == kCount; }))
      << "the reliable channel stalled";
  ASSERT_FALSE(pair.server_events.failure);

  std::uint32_t expected = 0;
  std::size_t quick_count = 0;
  for (const auto& m : pair.server_events.messages) {
    const std::uint32_t i = number_of(m.data);
    ASSERT_LT(i, kCount);
    EXPECT_EQ(m.data, numbered(i, 300));
    if (m.stream == sure) {
      EXPECT_EQ(i, expected++) << "reliable messages out of order";
    } else {
      ++quick_count;
    }
  }
  std::printf("[          ] lossy channel delivered %zu of %u at 20%% packet loss\n", quick_count,
              kCount);
  EXPECT_GT(quick_count, 0u);
  EXPECT_LT(quick_count, kCount) << "max-retransmits=0 messages were retransmitted";
}

TEST(SctpTransport, TimedChannelAbandonsMessagesThatOutliveTheirLifetime) {
  Pair pair;
  ASSERT_TRUE(pair.connect());
  ChannelParams params = reliable("timed");
  params.reliability = SctpReliability::MaxLifetime;
  params.reliability_value = 100;  // ms, well under the 300 ms minimum retransmission timeout
  const std::uint16_t stream = pair.open(true, params);

  // The first message is lost on the wire; by the time SCTP would retransmit it, it's stale.
  pair.loss = 1.0;
  ASSERT_TRUE(pair.client->send(stream, numbered(0, 100)));
  pair.run_for(std::chrono::milliseconds(700));
  pair.loss = 0.0;
  ASSERT_TRUE(pair.client->send(stream, numbered(1, 100)));
  ASSERT_TRUE(pair.run_until([&] { return !pair.server_events.messages.empty(); }));
  EXPECT_EQ(number_of(pair.server_events.messages[0].data), 1u)
      << "the expired message was retransmitted";
  pair.run_for(std::chrono::milliseconds(50));
  EXPECT_EQ(pair.server_events.messages.size(), 1u);
  EXPECT_FALSE(pair.server_events.failure);
}

TEST(SctpTransport, ReassemblesMessagesReadInPieces) {
  // Larger than one read of the socket, so usrsctp hands the message over without MSG_EOR
  // several times.
  SctpTransport::Config config;
  config.max_message_size = 1024 * kKiB;
  config.max_receive_message_size = 1024 * kKiB;
  Pair pair(config, config);
  ASSERT_TRUE(pair.connect());
  const std::uint16_t stream = pair.open(true, reliable("big"));
  const std::uint16_t other = pair.open(true, reliable("small"));
  ASSERT_TRUE(pair.client->send(stream, pattern(1, 1024 * kKiB)));
  ASSERT_TRUE(pair.client->send(other, pattern(2, 10)));
  ASSERT_TRUE(pair.client->send(stream, pattern(3, 700 * kKiB)));
  ASSERT_TRUE(pair.run_until([&] { return pair.server_events.messages.size() == 3; }));
  std::vector<Bytes> big;
  for (const auto& m : pair.server_events.messages) {
    if (m.stream == other) {
      EXPECT_EQ(m.data, pattern(2, 10));
    } else {
      big.push_back(m.data);
    }
  }
  ASSERT_EQ(big.size(), 2u);
  EXPECT_TRUE(big[0] == pattern(1, 1024 * kKiB));
  EXPECT_TRUE(big[1] == pattern(3, 700 * kKiB));
}

TEST(SctpTransport, AbandonedLargeMessageDoesNotStallItsOrderedStream) {
  Pair pair;
  ASSERT_TRUE(pair.connect());
  ChannelParams params = reliable("once");
  params.reliability = SctpReliability::MaxRetransmits;
  params.reliability_value = 0;
  const std::uint16_t stream = pair.open(true, params);

  // Lose one DATA packet in the middle of a large message, which is then abandoned. (With
  // usrsctp's partial delivery on, its head would already be out and the stream would stall
  // for good.)
  int data_packets = 0;
  pair.drop = [&](bool to_server, const Bytes& packet) {
    return to_server && packet.size() > 12 && packet[12] == 0 /* DATA */ && ++data_packets == 60;
  };
  ASSERT_TRUE(pair.client->send(stream, numbered(1, 200 * kKiB)));
  ASSERT_TRUE(pair.run_until([&] { return pair.client->buffered_amount() == 0; }));
  pair.drop = nullptr;
  ASSERT_TRUE(pair.client->send(stream, numbered(2, 10 * kKiB)));
  ASSERT_TRUE(pair.run_until([&] { return !pair.server_events.messages.empty(); }));
  pair.run_for(std::chrono::milliseconds(50));
  ASSERT_EQ(pair.server_events.messages.size(), 1u);
  EXPECT_EQ(pair.server_events.messages[0].data, numbered(2, 10 * kKiB))
      << "the next message arrived damaged";
}

TEST(SctpTransport, RefusesMessagesOverThePeersMaximum) {
  SctpTransport::Config config;
  config.max_message_size = 1000;
  Pair pair(config);
  ASSERT_TRUE(pair.connect());
  const std::uint16_t stream = pair.open(true, reliable("small"));
  Bytes big(1001, 1);
  auto refused = pair.client->send(stream, big);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::MessageTooLarge);
  big.pop_back();
  EXPECT_TRUE(pair.client->send(stream, big));
}

TEST(SctpTransport, DropsIncomingMessagesOverOurMaximumAndClosesTheChannel) {
  SctpTransport::Config server_config;
  server_config.max_receive_message_size = 64 * kKiB;
  Pair pair({}, server_config);
  ASSERT_TRUE(pair.connect());
  const std::uint16_t bad = pair.open(true, reliable("bad"));
  const std::uint16_t good = pair.open(true, reliable("good"));
  ASSERT_TRUE(pair.client->send(bad, pattern(1, 200 * kKiB)));
  ASSERT_TRUE(pair.run_until(
      [&] { return pair.server_events.has_closed(bad) && pair.client_events.has_closed(bad); }));
  EXPECT_EQ(pair.server_events.count_on(bad), 0u) << "the oversized message was delivered";

  // The association and other channels carry on.
  ASSERT_TRUE(pair.client->send(good, pattern(3, 64 * kKiB)));
  ASSERT_TRUE(pair.run_until([&] { return pair.server_events.count_on(good) == 1; }));
  EXPECT_EQ(pair.server_events.messages.back().data, pattern(3, 64 * kKiB));
}

TEST(SctpTransport, BufferedAmountRisesThenDrainsAndFiresLowCallback) {
  Pair pair;
  ASSERT_TRUE(pair.connect());
  const std::uint16_t stream = pair.open(true, reliable("bulk"));
  EXPECT_EQ(pair.client->buffered_amount(), 0u);
  pair.client->set_buffered_amount_low_threshold(128 * kKiB);

  constexpr std::size_t kMessages = 32;
  for (std::uint32_t i = 0; i < kMessages; ++i) {
    ASSERT_TRUE(pair.client->send(stream, pattern(i, 64 * kKiB)));
  }
  // Nothing is acknowledged until the peer sees it.
  EXPECT_GE(pair.client->buffered_amount(), kMessages * 64 * kKiB);
  EXPECT_EQ(pair.client_events.low, 0);

  ASSERT_TRUE(pair.run_until([&] { return pair.client_events.low > 0; }));
  EXPECT_LE(pair.client->buffered_amount(), 128 * kKiB);
  ASSERT_TRUE(pair.run_until([&] { return pair.client->buffered_amount() == 0; }));
  ASSERT_TRUE(pair.run_until([&] { return pair.server_events.messages.size() == kMessages; }));
  EXPECT_EQ(pair.client_events.low, 1) << "fires once per crossing";
}

TEST(SctpTransport, FullSendBufferRefusesUntilLowCallbackThenAcceptsAgain) {
  SctpTransport::Config config;
  config.send_buffer = 256 * kKiB;
  Pair pair(config);
  ASSERT_TRUE(pair.connect());
  const std::uint16_t stream = pair.open(true, reliable("bulk"));
  pair.client->set_buffered_amount_low_threshold(0);

  std::uint32_t accepted = 0;
  Result<void> last;
  while ((last = pair.client->send(stream, pattern(accepted, 16 * kKiB)))) ++accepted;
  EXPECT_EQ(last.error().code, ErrorCode::BufferFull);
  EXPECT_GT(accepted, 0u);
  EXPECT_LE(16 * kKiB * accepted, 256 * kKiB);

  ASSERT_TRUE(pair.run_until([&] { return pair.client_events.low > 0; }));
  EXPECT_EQ(pair.client->buffered_amount(), 0u);
  EXPECT_TRUE(pair.client->send(stream, pattern(accepted, 16 * kKiB)));
  ASSERT_TRUE(pair.run_until([&] { return pair.server_events.messages.size() == accepted + 1; }));
}

TEST(SctpTransport, PausedReceiverPushesThePeerBackAndDeliversEverythingOnResume) {
  SctpTransport::Config receiver;
  receiver.receive_buffer = 128 * kKiB;
  receiver.max_receive_message_size = 32 * kKiB;
  Pair pair({}, receiver);
  ASSERT_TRUE(pair.connect());
  const std::uint16_t stream = pair.open(true, reliable("bulk"));
  pair.server->set_receive_paused(true);

  constexpr std::uint32_t kMessages = 64;  // 1 MiB: eight times the paused window
  for (std::uint32_t i = 0; i < kMessages; ++i) {
    ASSERT_TRUE(pair.client->send(stream, numbered(i, 16 * kKiB)));
  }
  pair.run_for(std::chrono::milliseconds(500));
  EXPECT_TRUE(pair.server_events.messages.empty());
  // The window stopped the sender: most of what it sent is still unacknowledged.
  EXPECT_GE(pair.client->buffered_amount(), kMessages * 16 * kKiB - 256 * kKiB);

  pair.server->set_receive_paused(false);
  EXPECT_TRUE(pair.server_events.messages.empty()) << "resume reads on the next tick";
  ASSERT_TRUE(pair.run_until([&] { return pair.server_events.messages.size() == kMessages; }));
  for (std::uint32_t i = 0; i < kMessages; ++i) {
    EXPECT_EQ(pair.server_events.messages[i].data, numbered(i, 16 * kKiB));
  }
  ASSERT_TRUE(pair.run_until([&] { return pair.client->buffered_amount() == 0; }));
}

TEST(SctpTransport, ClosingAChannelClosesItAtThePeerAndFreesTheStream) {
  Pair pair;
  ASSERT_TRUE(pair.connect());
  const std::uint16_t stream = pair.open(true, reliable("short-lived"));
  ASSERT_TRUE(pair.client->send(stream, as_bytes("last words")));
  pair.client->close_channel(stream);
  EXPECT_EQ(pair.client->send(stream, as_bytes("too late")).error().code, ErrorCode::SenderClosed);
  ASSERT_TRUE(pair.run_until([&] {
    return pair.server_events.has_closed(stream) && pair.client_events.has_closed(stream);
  }));
  ASSERT_EQ(pair.server_events.messages.size(), 1u) << "data queued before close arrives";
  EXPECT_EQ(as_string(pair.server_events.messages[0].data), "last words");
  EXPECT_EQ(pair.server->send(stream, as_bytes("x")).error().code, ErrorCode::InvalidChannelId);

  // The id is free again, and a reopened channel works.
  const std::uint16_t again = pair.open(true, reliable("reborn"));
  EXPECT_EQ(again, stream);
  ASSERT_TRUE(pair.server->send(again, as_bytes("welcome back")));
  ASSERT_TRUE(pair.run_until([&] { return pair.client_events.messages.size() == 1; }));
}

TEST(SctpTransport, PeerInitiatedCloseIsReportedOnBothSides) {
  Pair pair;
  ASSERT_TRUE(pair.connect());
  const std::uint16_t stream = pair.open(true, reliable("chat"));
  pair.server->close_channel(stream);
  ASSERT_TRUE(pair.run_until([&] {
    return pair.server_events.has_closed(stream) && pair.client_events.has_closed(stream);
  }));
  EXPECT_EQ(pair.client->send(stream, as_bytes("x")).error().code, ErrorCode::InvalidChannelId);
}

TEST(SctpTransport, EmptyMessagesRoundTrip) {
  Pair pair;
  ASSERT_TRUE(pair.connect());
  const std::uint16_t stream = pair.open(true, reliable("empty"));
  ASSERT_TRUE(pair.client->send(stream, {}, true));
  ASSERT_TRUE(pair.client->send(stream, {}, false));
  ASSERT_TRUE(pair.client->send(stream, as_bytes("x"), true));
  ASSERT_TRUE(pair.run_until([&] { return pair.server_events.messages.size() == 3; }));
  EXPECT_TRUE(pair.server_events.messages[0].data.empty());
  EXPECT_TRUE(pair.server_events.messages[0].binary);
  EXPECT_TRUE(pair.server_events.messages[1].data.empty());
  EXPECT_FALSE(pair.server_events.messages[1].binary);
  EXPECT_EQ(pair.server_events.messages[2].data.size(), 1u);
}

TEST(SctpTransport, HigherPriorityChannelIsServedFirst) {
  Pair pair;
  ASSERT_TRUE(pair.connect());
  ChannelParams low = reliable("low");
  low.priority = 128;
  ChannelParams high = reliable("high");
  high.priority = 1024;
  const std::uint16_t low_stream = pair.open(true, low);
  const std::uint16_t high_stream = pair.open(true, high);

  // Queue the low channel first; a round-robin or first-come scheduler would interleave or
  // finish it before the high one.
  constexpr std::size_t kEach = 30;
  for (std::uint32_t i = 0; i < kEach; ++i) {
    ASSERT_TRUE(pair.client->send(low_stream, numbered(i, 16 * kKiB)));
  }
  for (std::uint32_t i = 0; i < kEach; ++i) {
    ASSERT_TRUE(pair.client->send(high_stream, numbered(i, 16 * kKiB)));
  }
  std::size_t high_seen = 0;
  std::size_t low_seen = 0;
  std::size_t low_before_high_done = 0;
  pair.server_events.on_message = [&](std::uint16_t stream, ByteView, bool) {
    if (stream == high_stream && ++high_seen == kEach) low_before_high_done = low_seen;
    if (stream == low_stream) ++low_seen;
  };
  ASSERT_TRUE(pair.run_until([&] { return high_seen + low_seen == 2 * kEach; }));
  // Only what was already on the wire before the high channel's data was queued (the
  // initial congestion window) may overtake it.
  EXPECT_LE(low_before_high_done, 3u);
}

TEST(SctpTransport, DestroyedTransportDropsWhatUsrsctpStillHasForIt) {
  Pair pair;
  ASSERT_TRUE(pair.connect());
  const std::uint16_t stream = pair.open(true, reliable("doomed"));
  for (std::uint32_t i = 0; i < 8; ++i) {
    ASSERT_TRUE(pair.client->send(stream, pattern(i, 32 * kKiB)));
    ASSERT_TRUE(pair.server->send(stream, pattern(i, 32 * kKiB)));
  }
  pair.step();
  pair.to_server.clear();
  // Mid-transfer: data, retransmission timers and an abort are all pending in usrsctp.
  pair.client.reset();
  EXPECT_TRUE(pair.to_server.empty()) << "the dead transport's callback still ran";

  // The server keeps sending into the void (its packets to the client are dropped by the
  // Pair) and usrsctp keeps running timers for both associations.
  pair.run_for(std::chrono::milliseconds(1500));
  EXPECT_TRUE(pair.to_server.empty()) << "the dead transport's callback still ran";
  EXPECT_FALSE(pair.server_events.failure) << "nobody told the server";
  EXPECT_EQ(pair.server->state(), SctpState::Connected);
}

// Not a pass/fail figure: prints the in-memory ballpark for the lead.
TEST(SctpTransport, ReportsThroughputOf64KiBMessages) {
  Pair pair;
  ASSERT_TRUE(pair.connect());
  const std::uint16_t stream = pair.open(true, reliable("throughput"));
  constexpr std::uint32_t kCount = 1024;  // 64 MiB
  const Bytes message = pattern(0, 64 * kKiB);
  std::uint32_t received = 0;
  pair.server_events.on_message = [&](std::uint16_t, ByteView data, bool) {
    if (data.size() == message.size()) ++received;
  };
  const auto start = std::chrono::steady_clock::now();
  for (std::uint32_t i = 0; i < kCount; ++i) pair.send_paced(*pair.client, stream, message);
  ASSERT_TRUE(pair.run_until([&] { return received == kCount; }));
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("[          ] 64 KiB messages, in-memory pair: %.0f MB/s (%.0f msg/s)\n",
              kCount * 65536.0 / seconds / 1e6, kCount / seconds);
  EXPECT_LE(pair.largest_packet, kSctpMaxPacketSize);
}

}  // namespace
}  // namespace switchboard::webrtc
