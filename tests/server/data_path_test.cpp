// Frames through the server: raw participants connect over WebRTC to the server's UDP port
// and exchange DataChannel frames; everything runs on one io_context.
#include <cstdio>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include "data_client.hpp"
#include "server/server.hpp"

namespace switchboard::server::testing {
namespace {

std::string payload_of(const core::DecodedFrame& f) {
  return std::string(as_string(f.payload));
}

class DataPath : public ::testing::Test {
 protected:
  void start(ServerConfig config) {
    spdlog::set_level(spdlog::level::warn);
    server_ = std::make_unique<Server>(io_, std::move(config));
    auto started = server_->start();
    ASSERT_TRUE(started) << started.error().message;
  }
  void start() {
    ServerConfig config;
    config.port = 0;
    config.dev = true;
    ASSERT_TRUE(validate(config));
    start(config);
  }

  // Starts a server that writes its frame trace to a fresh temporary file, named after
  // `name`; that file's path.
  std::string start_tracing(const std::string& name) {
    std::string path = ::testing::TempDir() + name + "-" + std::to_string(::getpid());
    std::remove(path.c_str());
    ServerConfig config;
    config.port = 0;
    config.dev = true;
    config.trace_frames = path;
    EXPECT_TRUE(validate(config));
    start(config);
    return path;
  }

  // The trace's lines so far; the file is removed.
  static std::vector<std::string> take_trace(const std::string& path) {
    std::ifstream in(path);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    std::remove(path.c_str());
    return lines;
  }

  DataClient& add(const std::string& user, const std::string& call = "d") {
    clients_.push_back(std::make_unique<DataClient>(io_, server_->port(), user, call,
                                                    signaling::kDevelopmentSecret));
    EXPECT_TRUE(clients_.back()->connect()) << user << " did not connect";
    return *clients_.back();
  }

  // Until every client has seen the roster settle (participant_joined of later ones).
  void settle() {
    run_until(
        io_, [] { return false; }, std::chrono::milliseconds(50));
  }

  void TearDown() override {
    if (!server_) return;
    bool done = false;
    server_->shutdown("server shutting down", [&] { done = true; });
    run_until(
        io_, [&] { return done; }, std::chrono::seconds(5));
    clients_.clear();
    server_.reset();
  }

  asio::io_context io_;
  std::unique_ptr<Server> server_;
  std::vector<std::unique_ptr<DataClient>> clients_;
};

TEST_F(DataPath, BroadcastReachesEveryoneElseStampedWithTheSender) {
  start();
  DataClient& alice = add("alice");
  DataClient& bob = add("bob");
  DataClient& carol = add("carol");
  settle();

  ASSERT_TRUE(alice.send(0, client_frame(7, 1, "hello")));
  ASSERT_TRUE(run_until(io_, [&] { return !bob.received.empty() && !carol.received.empty(); }));
  for (DataClient* c : {&bob, &carol}) {
    std::vector<std::uint16_t> streams;
    auto frames = frames_of(c->received, &streams);
    ASSERT_EQ(frames.size(), 1u);
    EXPECT_EQ(streams[0], 0);
    EXPECT_EQ(frames[0].header.from, std::optional<core::ParticipantId>(1));
    EXPECT_TRUE(frames[0].to.empty());
    EXPECT_EQ(frames[0].header.channel_id, 7);
    EXPECT_EQ(frames[0].header.sequence, 1u);
    EXPECT_EQ(payload_of(frames[0]), "hello");
  }
  settle();
  EXPECT_TRUE(alice.received.empty());  // never back to the sender
  EXPECT_EQ(server_->metrics().relayed_messages, 2u);
  EXPECT_EQ(server_->metrics().relayed_bytes, 10u);
}

TEST_F(DataPath, DirectedFrameReachesOnlyItsRecipientInItsClass) {
  start();
  DataClient& alice = add("alice");
  DataClient& bob = add("bob");
  DataClient& carol = add("carol");
  settle();

  ASSERT_TRUE(
      alice.send(3, client_frame(9, 4, "to carol", {3}, Reliability::Lossy, Priority::High)));
  ASSERT_TRUE(alice.send(0, client_frame(9, 5, "to all")));
  ASSERT_TRUE(run_until(io_, [&] {
    return frames_of(carol.received).size() == 2 && frames_of(bob.received).size() == 1;
  }));
  std::vector<std::uint16_t> streams;
  auto carols = frames_of(carol.received, &streams);
  bool saw_directed = false;
  for (std::size_t i = 0; i < carols.size(); ++i) {
    if (payload_of(carols[i]) != "to carol") continue;
    saw_directed = true;
    EXPECT_EQ(streams[i], 3);
    EXPECT_EQ(carols[i].header.reliability, Reliability::Lossy);
    EXPECT_EQ(carols[i].header.priority, Priority::High);
    EXPECT_EQ(carols[i].header.from, std::optional<core::ParticipantId>(1));
  }
  EXPECT_TRUE(saw_directed);
  auto bobs = frames_of(bob.received);
  ASSERT_EQ(bobs.size(), 1u);
  EXPECT_EQ(payload_of(bobs[0]), "to all");
}

TEST_F(DataPath, ForgedSenderIsDroppedAndTheSenderToldOnce) {
  start();
  DataClient& alice = add("alice");
  DataClient& bob = add("bob");
  settle();

  Bytes batch = client_frame(11, 1, "i am bob", {}, Reliability::Durable, Priority::Normal, 2);
  Bytes more = client_frame(11, 2, "i am bob too", {}, Reliability::Durable, Priority::Normal, 2);
  batch.insert(batch.end(), more.begin(), more.end());
  Bytes honest = client_frame(11, 3, "honest", {}, Reliability::Durable, Priority::Normal, 1);
  batch.insert(batch.end(), honest.begin(), honest.end());
  ASSERT_TRUE(alice.send(0, batch));

  ASSERT_TRUE(run_until(io_, [&] { return !bob.received.empty(); }));
  std::optional<json> error;
  ASSERT_TRUE(run_until(io_, [&] { return (error = alice.signal.take("error")).has_value(); }));
  EXPECT_EQ((*error)["code"], "INVALID_ARGUMENT");
  EXPECT_EQ((*error)["channelId"], 11);
  settle();
  auto bobs = frames_of(bob.received);
  ASSERT_EQ(bobs.size(), 1u);  // only the frame that told the truth
  EXPECT_EQ(payload_of(bobs[0]), "honest");
  EXPECT_EQ(bobs[0].header.from, std::optional<core::ParticipantId>(1));
  EXPECT_FALSE(alice.signal.take("error").has_value());  // at most one per second
  EXPECT_EQ(server_->metrics().dropped_for(DropReason::ForgedSender), 2u);
}

TEST_F(DataPath, MalformedFrameDropsTheRestOfItsTransportMessage) {
  start();
  DataClient& alice = add("alice");
  DataClient& bob = add("bob");
  settle();
  Bytes batch = client_frame(5, 1, "first");
  batch.push_back(0x07);  // not a frame
  Bytes after = client_frame(5, 2, "lost");
  batch.insert(batch.end(), after.begin(), after.end());
  ASSERT_TRUE(alice.send(0, batch));
  ASSERT_TRUE(alice.send(0, client_frame(5, 3, "next")));
  ASSERT_TRUE(run_until(io_, [&] { return frames_of(bob.received).size() >= 2; }));
  settle();
  auto bobs = frames_of(bob.received);
  ASSERT_EQ(bobs.size(), 2u);
  EXPECT_EQ(payload_of(bobs[0]), "first");
  EXPECT_EQ(payload_of(bobs[1]), "next");
  EXPECT_EQ(server_->metrics().dropped_for(DropReason::Malformed), 1u);
}

TEST_F(DataPath, TooLargeAndRateLimitedAreRefusedWithTheirCodes) {
  ServerConfig config;
  config.port = 0;
  config.dev = true;
  config.max_message_size = 100;
  config.rate_limit_messages_per_second = 3;
  ASSERT_TRUE(validate(config));
  start(config);
  DataClient& alice = add("alice");
  DataClient& bob = add("bob");
  settle();

  ASSERT_TRUE(alice.send(0, client_frame(20, 1, std::string(101, 'x'))));
  std::optional<json> error;
  ASSERT_TRUE(run_until(io_, [&] { return (error = alice.signal.take("error")).has_value(); }));
  EXPECT_EQ((*error)["code"], "MESSAGE_TOO_LARGE");
  EXPECT_EQ((*error)["channelId"], 20);

  // 3 messages/s with the server's burst of 4 s: 12 pass at once, the rest is refused.
  Bytes batch;
  for (std::uint32_t seq = 1; seq <= 15; ++seq) {
    Bytes f = client_frame(21, seq, "m");
    batch.insert(batch.end(), f.begin(), f.end());
  }
  ASSERT_TRUE(alice.send(0, batch));
  ASSERT_TRUE(run_until(io_, [&] { return (error = alice.signal.take("error")).has_value(); }));
  EXPECT_EQ((*error)["code"], "TRAFFIC_LIMITED");
  EXPECT_EQ((*error)["channelId"], 21);
  settle();
  EXPECT_EQ(frames_of(bob.received).size(), 12u);
  EXPECT_EQ(server_->metrics().dropped_for(DropReason::TooLarge), 1u);
  EXPECT_EQ(server_->metrics().dropped_for(DropReason::TrafficLimited), 3u);
}

TEST_F(DataPath, TraceFileGetsOneLinePerFramePerRecipient) {
  const std::string path = start_tracing("sb-trace");
  DataClient& alice = add("alice", "tc");
  DataClient& bob = add("bob", "tc");
  DataClient& carol = add("carol", "tc");
  settle();
  ASSERT_TRUE(alice.send(0, client_frame(3, 8, "hi")));
  ASSERT_TRUE(run_until(io_, [&] { return !bob.received.empty() && !carol.received.empty(); }));
  std::vector<std::string> lines;
  for (const std::string& line : take_trace(path)) lines.push_back(line.substr(line.find(' ') + 1));
  std::sort(lines.begin(), lines.end());
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "call=tc from=alice to=bob channel=3 seq=8 type=data payload=6869");
  EXPECT_EQ(lines[1], "call=tc from=alice to=carol channel=3 seq=8 type=data payload=6869");
}

TEST_F(DataPath, SlowConsumerIsDisconnectedWhileOthersKeepReceiving) {
  ServerConfig config;
  config.port = 0;
  config.dev = true;
  config.durable_queue_bytes = 512 * 1024;
  config.rate_limit_bytes_per_second = 0;
  config.rate_limit_messages_per_second = 0;
  ASSERT_TRUE(validate(config));
  start(config);
  DataClient& alice = add("alice");
  DataClient& bob = add("bob");
  DataClient& slow = add("slow");
  settle();
  // The slow one stops reading its UDP socket entirely: its SCTP window fills, then the
  // server's queue for it.
  slow.connection.reset();
  const std::string chunk(8000, 'd');
  std::uint32_t seq = 0;
  std::optional<json> bye;
  const bool cut_off = run_until(
      io_,
      [&] {
        // Paced so that a reader that keeps up (bob) does keep up on this shared thread.
        if (alice.connection->buffered_amount() < 128 * 1024) {
          for (int i = 0; i < 4; ++i) {
            if (!alice.send(0, client_frame(30, seq + 1, chunk))) break;
            ++seq;
          }
        }
        bye = slow.signal.take("disconnect");
        return bye.has_value();
      },
      std::chrono::seconds(60));
  ASSERT_TRUE(cut_off);
  EXPECT_EQ((*bye)["reason"], "slow consumer");
  std::optional<json> left;
  ASSERT_TRUE(
      run_until(io_, [&] { return (left = bob.signal.take("participant_left")).has_value(); }));
  EXPECT_EQ((*left)["identity"], "slow");
  // Bob got every message so far, in order, and keeps getting new ones.
  const std::uint32_t sent = seq;
  ASSERT_TRUE(run_until(
      io_, [&] { return frames_of(bob.received).size() == sent; }, std::chrono::seconds(30)));
  auto bobs = frames_of(bob.received);
  for (std::uint32_t i = 0; i < sent; ++i) ASSERT_EQ(bobs[i].header.sequence, i + 1);
  EXPECT_GT(server_->metrics().dropped_for(DropReason::SlowConsumer), 0u);
}

TEST_F(DataPath, SmallFramesAreCoalescedIntoTransportMessagesOfAtMost64KiB) {
  start();
  DataClient& alice = add("alice");
  DataClient& bob = add("bob");
  settle();
  const std::string payload(100, 'p');
  std::uint32_t seq = 0;
  for (int m = 0; m < 10; ++m) {
    Bytes batch;
    for (int i = 0; i < 400; ++i) {
      Bytes f = client_frame(50, ++seq, payload);
      batch.insert(batch.end(), f.begin(), f.end());
    }
    ASSERT_TRUE(alice.send(0, batch));
  }
  ASSERT_TRUE(run_until(io_, [&] { return frames_of(bob.received).size() == seq; }));
  for (const auto& m : bob.received) EXPECT_LE(m.data.size(), 64u * 1024);
  EXPECT_LT(bob.received.size(), 100u);  // not one transport message per frame
  auto frames = frames_of(bob.received);
  for (std::uint32_t i = 0; i < seq; ++i) ASSERT_EQ(frames[i].header.sequence, i + 1);
  EXPECT_EQ(server_->metrics().relayed_messages, seq);
  EXPECT_EQ(server_->metrics().relayed_bytes, seq * 100u);
}

TEST_F(DataPath, StaleLossyFramesToAStalledRecipientAreDroppedWithoutCuttingItOff) {
  ServerConfig config;
  config.port = 0;
  config.dev = true;
  config.latency_target_ms = 20;
  config.durable_queue_bytes = 512 * 1024;
  config.rate_limit_bytes_per_second = 0;
  config.rate_limit_messages_per_second = 0;
  ASSERT_TRUE(validate(config));
  start(config);
  DataClient& alice = add("alice");
  DataClient& bob = add("bob");
  DataClient& stalled = add("stalled");
  settle();
  stalled.connection.reset();  // reads nothing from now on
  const std::string chunk(8000, 'l');
  std::uint32_t seq = 0;
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(1500);
  run_until(io_, [&] {
    if (alice.connection->buffered_amount() < 128 * 1024) {
      for (int i = 0; i < 4; ++i) {
        if (!alice.send(2, client_frame(60, seq + 1, chunk, {}, Reliability::Lossy))) break;
        ++seq;
      }
    }
    return std::chrono::steady_clock::now() > until;
  });
  settle();
  // Far more than the SCTP buffer and the durable bound went its way, all lossy: dropped for
  // age, and the recipient is still in the call.
  EXPECT_GT(std::size_t{seq} * chunk.size(), 4u * 1024 * 1024);
  EXPECT_GT(server_->metrics().dropped_for(DropReason::Latency), 0u);
  EXPECT_EQ(server_->metrics().dropped_for(DropReason::SlowConsumer), 0u);
  EXPECT_FALSE(stalled.signal.take("disconnect").has_value());
  EXPECT_EQ(server_->metrics().participants, 3u);
  EXPECT_GT(frames_of(bob.received).size(), 0u);
}

TEST_F(DataPath, RandomBytesNeverReachOthersOrHurtTheServer) {
  start();
  DataClient& alice = add("alice");
  DataClient& bob = add("bob");
  settle();
  std::mt19937 rng(1234);
  for (int i = 0; i < 300; ++i) {
    Bytes junk(1 + rng() % 300);
    for (auto& b : junk) b = static_cast<std::uint8_t>(rng());
    if (i % 3 == 0) junk[0] = core::kFrameVersion;  // get past the first check sometimes
    (void)alice.send(static_cast<std::uint16_t>(i % 4), junk);
  }
  ASSERT_TRUE(alice.send(0, client_frame(42, 1, "still here")));
  ASSERT_TRUE(run_until(io_, [&] {
    for (const auto& f : frames_of(bob.received)) {
      if (payload_of(f) == "still here") return true;
    }
    return false;
  }));
  for (const auto& f : frames_of(bob.received)) {
    EXPECT_EQ(f.header.from, std::optional<core::ParticipantId>(1));
  }
  EXPECT_GT(server_->metrics().dropped_for(DropReason::Malformed), 0u);
}

// Checks that one client receives frames of one channel in sequence order, without gaps.
struct InOrderReader {
  explicit InOrderReader(DataClient& client) {
    client.on_frame = [this](const core::DecodedFrame& f) {
      if (f.header.sequence != frames + 1) in_order = false;
      ++frames;
      bytes += f.payload.size();
    };
  }
  std::uint32_t frames = 0;
  std::size_t bytes = 0;
  bool in_order = true;
};

// Durable frames of `payload` bytes from `sender`, 4 to a transport message, as fast as its
// SCTP takes them (kept a few MiB ahead), until `total` frames went out. Returns the count.
std::uint32_t push_unpaced(DataClient& sender, std::uint32_t sent, std::uint32_t total,
                           const std::string& payload) {
  while (sent < total && sender.connection->buffered_amount() < 4u * 1024 * 1024) {
    Bytes batch;
    std::uint32_t seq = sent;
    for (int i = 0; i < 4 && seq < total; ++i) {
      Bytes f = client_frame(70, ++seq, payload);
      batch.insert(batch.end(), f.begin(), f.end());
    }
    if (!sender.send(0, batch)) break;
    sent = seq;
  }
  return sent;
}

ServerConfig flow_control_config(std::size_t durable_bound) {
  ServerConfig config;
  config.port = 0;
  config.dev = true;
  config.durable_queue_bytes = durable_bound;
  config.rate_limit_bytes_per_second = 0;
  config.rate_limit_messages_per_second = 0;
  return config;
}

TEST_F(DataPath, UnpacedBroadcastPausesTheSenderInsteadOfCuttingOffReadersThatKeepUp) {
  ServerConfig config = flow_control_config(2u * 1024 * 1024);
  ASSERT_TRUE(validate(config));
  start(config);
  DataClient& alice = add("alice");
  DataClient& bob = add("bob");
  DataClient& carol = add("carol");
  settle();
  InOrderReader bobs(bob);
  InOrderReader carols(carol);
  const std::string payload(16000, 'b');
  const std::uint32_t total = 24u * 1024 * 1024 / 16000 + 1;  // 24 MiB
  std::uint32_t sent = 0;
  const bool delivered = run_until(
      io_,
      [&] {
        sent = push_unpaced(alice, sent, total, payload);
        return (bobs.frames == total && carols.frames == total) || bob.signal.closed ||
               carol.signal.closed;
      },
      std::chrono::seconds(120));
  EXPECT_FALSE(bob.signal.take("disconnect").has_value());
  EXPECT_FALSE(carol.signal.take("disconnect").has_value());
  EXPECT_EQ(server_->metrics().dropped_for(DropReason::SlowConsumer), 0u);
  ASSERT_TRUE(delivered) << "bob " << bobs.frames << ", carol " << carols.frames << " of " << total;
  EXPECT_TRUE(bobs.in_order);
  EXPECT_TRUE(carols.in_order);
  EXPECT_EQ(bobs.bytes, std::size_t{total} * payload.size());
  EXPECT_EQ(carols.bytes, std::size_t{total} * payload.size());
  EXPECT_GT(server_->metrics().sender_pauses, 0u);
  EXPECT_EQ(server_->metrics().participants, 3u);
  settle();
  EXPECT_EQ(server_->metrics().paused_senders, 0u);  // resumed once they caught up
  EXPECT_NE(server_->metrics_text().find("switchboard_sender_pauses_total "), std::string::npos);
}

TEST_F(DataPath, OneToOneTransferIsPacedToASlowSteadyReaderInsteadOfCuttingItOff) {
  ServerConfig config = flow_control_config(2u * 1024 * 1024);
  ASSERT_TRUE(validate(config));
  start(config);
  DataClient& alice = add("alice");
  DataClient& bob = add("bob");
  settle();
  InOrderReader bobs(bob);
  const std::string payload(16000, 's');
  const std::uint32_t total = 8u * 1024 * 1024 / 16000 + 1;  // 8 MiB
  // Bob reads at most 3 MiB/s: he stops reading as soon as he is ahead of that rate, and
  // his SCTP window holds the server back.
  constexpr double kReadBytesPerSecond = 3.0 * 1024 * 1024;
  const auto begin = std::chrono::steady_clock::now();
  auto ahead = [&] {
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
    return static_cast<double>(bobs.bytes) > elapsed * kReadBytesPerSecond;
  };
  bob.on_frame = [&, count = bob.on_frame](const core::DecodedFrame& f) {
    count(f);
    if (ahead()) bob.connection->set_receive_paused(true);
  };
  std::uint32_t sent = 0;
  const bool delivered = run_until(
      io_,
      [&] {
        sent = push_unpaced(alice, sent, total, payload);
        if (!ahead()) bob.connection->set_receive_paused(false);
        return bobs.frames == total || bob.signal.closed;
      },
      std::chrono::seconds(60));
  EXPECT_FALSE(bob.signal.take("disconnect").has_value());
  EXPECT_EQ(server_->metrics().dropped_for(DropReason::SlowConsumer), 0u);
  ASSERT_TRUE(delivered) << "bob " << bobs.frames << " of " << total;
  EXPECT_TRUE(bobs.in_order);
  EXPECT_EQ(bobs.bytes, std::size_t{total} * payload.size());
  EXPECT_GT(server_->metrics().sender_pauses, 0u);
  // He really was slow: the transfer took about as long as his rate allows.
  EXPECT_GT(std::chrono::steady_clock::now() - begin, std::chrono::milliseconds(2000));
}

TEST_F(DataPath, UnpacedSenderStillCutsOffTheOneStalledRecipientWhileTheOtherGetsEverything) {
  ServerConfig config = flow_control_config(2u * 1024 * 1024);
  ASSERT_TRUE(validate(config));
  start(config);
  DataClient& alice = add("alice");
  DataClient& bob = add("bob");
  DataClient& stalled = add("stalled");
  settle();
  InOrderReader bobs(bob);
  stalled.connection->set_receive_paused(true);  // reads nothing from now on
  const std::string payload(16000, 'u');
  const std::uint32_t total = 16u * 1024 * 1024 / 16000 + 1;  // 16 MiB
  std::uint32_t sent = 0;
  std::optional<json> bye;
  const bool done = run_until(
      io_,
      [&] {
        sent = push_unpaced(alice, sent, total, payload);
        if (!bye) bye = stalled.signal.take("disconnect");
        return bye.has_value() && bobs.frames == total;
      },
      std::chrono::seconds(60));
  ASSERT_TRUE(bye.has_value()) << "the stalled recipient was never cut off";
  EXPECT_EQ((*bye)["reason"], "slow consumer");
  ASSERT_TRUE(done) << "bob " << bobs.frames << " of " << total;
  EXPECT_TRUE(bobs.in_order);
  EXPECT_FALSE(bob.signal.take("disconnect").has_value());
  EXPECT_GT(server_->metrics().dropped_for(DropReason::SlowConsumer), 0u);
}

// A reader that takes at most `rate` bytes per second and never makes up for lost time (a
// process busy with other work), and now and then stalls for 100-250 ms. Two of them are
// equally fast on average, but which one is ahead keeps changing, by more than the pause
// mark each time.
struct JitteryReader {
  JitteryReader(DataClient& c, double rate_, std::uint32_t seed)
      : client(c), reader(c), rate(rate_), rng(seed) {
    client.on_frame = [this, count = client.on_frame](const core::DecodedFrame& f) {
      count(f);
      credit -= static_cast<double>(f.payload.size());
      if (credit < 0) pause(true);
    };
  }
  void tick() {
    const auto now = std::chrono::steady_clock::now();
    const double elapsed = std::chrono::duration<double>(now - last).count();
    last = now;
    if (now >= next_stall) {
      stalled_until = now + std::chrono::milliseconds(100 + rng() % 150);
      next_stall = stalled_until + std::chrono::milliseconds(200 + rng() % 600);
    }
    if (now < stalled_until) {
      pause(true);
      return;
    }
    credit = std::min(credit + elapsed * rate, 256.0 * 1024);
    pause(credit < 0);
  }
  void pause(bool on) {
    if (on == paused) return;
    paused = on;
    client.connection->set_receive_paused(on);
  }

  DataClient& client;
  InOrderReader reader;
  double rate;
  std::mt19937 rng;
  double credit = 0;
  bool paused = false;
  std::chrono::steady_clock::time_point last = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point stalled_until{};
  std::chrono::steady_clock::time_point next_stall =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(300);
};

// With a 1 MiB bound the pause mark is 256 KiB. A sender that ran at whichever of two
// equally fast readers is ahead would push the other one's lag, stall by stall, to the
// bound. The one that starts lagging gets its grace period to catch up instead, so
// nobody is cut off.
TEST_F(DataPath, UnpacedBroadcastToTwoEquallyFastReadersWaitsForTheOneBehind) {
  ServerConfig config = flow_control_config(1024u * 1024);
  ASSERT_TRUE(validate(config));
  start(config);
  DataClient& alice = add("alice");
  DataClient& bob = add("bob");
  DataClient& carol = add("carol");
  settle();
  constexpr double kRate = 12.0 * 1024 * 1024;
  JitteryReader bobs(bob, kRate, 11);
  JitteryReader carols(carol, kRate, 29);
  const std::string payload(16000, 'e');
  const std::uint32_t total = 24u * 1024 * 1024 / 16000 + 1;  // 24 MiB
  std::uint32_t sent = 0;
  const bool delivered = run_until(
      io_,
      [&] {
        sent = push_unpaced(alice, sent, total, payload);
        bobs.tick();
        carols.tick();
        return (bobs.reader.frames == total && carols.reader.frames == total) ||
               bob.signal.closed || carol.signal.closed;
      },
      std::chrono::seconds(120));
  EXPECT_FALSE(bob.signal.take("disconnect").has_value());
  EXPECT_FALSE(carol.signal.take("disconnect").has_value());
  EXPECT_EQ(server_->metrics().dropped_for(DropReason::SlowConsumer), 0u);
  ASSERT_TRUE(delivered) << "bob " << bobs.reader.frames << ", carol " << carols.reader.frames
                         << " of " << total;
  EXPECT_TRUE(bobs.reader.in_order);
  EXPECT_TRUE(carols.reader.in_order);
  EXPECT_EQ(bobs.reader.bytes, std::size_t{total} * payload.size());
  EXPECT_EQ(carols.reader.bytes, std::size_t{total} * payload.size());
  EXPECT_EQ(server_->metrics().participants, 3u);
  EXPECT_GT(server_->metrics().sender_pauses, 0u);
  settle();
  EXPECT_EQ(server_->metrics().paused_senders, 0u);
}

// A recipient that stops reading holds the sender back for its grace period (2 s); then the
// sender goes on at the fast reader's rate and the stalled one reaches the bound and is
// cut off. (Its SCTP window may still take what waited for it once, after the first pause:
// then it was back under the resume mark and gets a second grace period; it is cut off
// after 2.4 or 4.4 s here.) A sender paused for it for good would never cut it off.
TEST_F(DataPath, StalledReaderAmongFastOnesIsCutOffSoonAfterItsGracePeriod) {
  ServerConfig config = flow_control_config(1024u * 1024);
  ASSERT_TRUE(validate(config));
  start(config);
  DataClient& alice = add("alice");
  DataClient& bob = add("bob");
  DataClient& stalled = add("stalled");
  settle();
  InOrderReader bobs(bob);
  stalled.connection->set_receive_paused(true);  // reads nothing from now on
  const std::string payload(16000, 'g');
  const std::uint32_t total = 24u * 1024 * 1024 / 16000 + 1;  // 24 MiB
  std::uint32_t sent = 0;
  std::optional<json> bye;
  const auto begin = std::chrono::steady_clock::now();
  auto cut_after = std::chrono::steady_clock::duration::max();
  const bool done = run_until(
      io_,
      [&] {
        sent = push_unpaced(alice, sent, total, payload);
        if (!bye) {
          bye = stalled.signal.take("disconnect");
          if (bye) cut_after = std::chrono::steady_clock::now() - begin;
        }
        return bye.has_value() && bobs.frames == total;
      },
      std::chrono::seconds(60));
  ASSERT_TRUE(bye.has_value()) << "the stalled recipient was never cut off";
  EXPECT_EQ((*bye)["reason"], "slow consumer");
  std::printf("the stalled recipient was cut off after %lld ms\n",
              static_cast<long long>(
                  std::chrono::duration_cast<std::chrono::milliseconds>(cut_after).count()));
  EXPECT_LT(cut_after, std::chrono::seconds(7)) << "the stalled recipient held the sender back";
  ASSERT_TRUE(done) << "bob " << bobs.frames << " of " << total;
  EXPECT_TRUE(bobs.in_order);
  EXPECT_EQ(bobs.bytes, std::size_t{total} * payload.size());
  EXPECT_FALSE(bob.signal.take("disconnect").has_value());
  EXPECT_GT(server_->metrics().dropped_for(DropReason::SlowConsumer), 0u);
}

TEST_F(DataPath, PausedSenderResumesWhenTheRecipientHoldingItBackLeaves) {
  ServerConfig config = flow_control_config(2u * 1024 * 1024);
  ASSERT_TRUE(validate(config));
  start(config);
  DataClient& alice = add("alice");
  DataClient& bob = add("bob");
  settle();
  bob.connection->set_receive_paused(true);  // reads nothing
  const std::string payload(16000, 'h');
  std::uint32_t sent = 0;
  // Until alice stays paused: the first pauses end as soon as bob's SCTP buffer takes what
  // waited for him; once his window is full, nothing drains.
  bool held = false;
  for (int attempt = 0; attempt < 50 && !held; ++attempt) {
    ASSERT_TRUE(run_until(io_, [&] {
      sent = push_unpaced(alice, sent, 2000, payload);
      return server_->metrics().paused_senders == 1;
    }));
    settle();
    held = server_->metrics().paused_senders == 1;
  }
  ASSERT_TRUE(held);
  // Held back, not cut off: alice's only recipient is the bottleneck.
  EXPECT_FALSE(bob.signal.take("disconnect").has_value());
  EXPECT_EQ(server_->metrics().dropped_for(DropReason::SlowConsumer), 0u);
  const auto pauses = server_->metrics().sender_pauses;
  bob.signal.send(json{{"type", "leave"}});
  ASSERT_TRUE(run_until(io_, [&] { return server_->metrics().participants == 1; }));
  EXPECT_EQ(server_->metrics().paused_senders, 0u);
  settle();
  EXPECT_EQ(server_->metrics().paused_senders, 0u);
  EXPECT_EQ(server_->metrics().sender_pauses, pauses);
}

// A path-control frame as a client sends it through the server: channel 0, durable, the
// class in its HIGH flag, sequence = the direct session, TO = the peer.
Bytes path_control_frame(core::FrameType type, Priority priority, std::uint32_t session,
                         core::ParticipantId peer, const Bytes& payload = {}) {
  core::FrameHeader h;
  h.type = type;
  h.priority = priority;
  h.channel_id = 0;
  h.sequence = session;
  Bytes out;
  const std::vector<core::ParticipantId> to{peer};
  core::encode_frame(h, to, payload, out);
  return out;
}

// A RESENT payload: the u32 index of the direct transport message, then that message.
Bytes resent_payload(std::uint32_t index, const Bytes& message) {
  Bytes out{static_cast<std::uint8_t>(index >> 24), static_cast<std::uint8_t>(index >> 16),
            static_cast<std::uint8_t>(index >> 8), static_cast<std::uint8_t>(index)};
  out.insert(out.end(), message.begin(), message.end());
  return out;
}

TEST_F(DataPath, SwitchAndResentReachOnlyTheNamedPeerRestampedOnTheDurableStreamOfTheirClass) {
  const std::string path = start_tracing("sb-trace-p2p");
  DataClient& alice = add("alice");
  DataClient& bob = add("bob");
  DataClient& carol = add("carol");
  settle();

  const Bytes resent = resent_payload(5, client_frame(9, 12, "again"));
  // Sent on the normal durable stream: the HIGH flag alone decides the class.
  Bytes batch = path_control_frame(core::FrameType::Switch, Priority::Normal, 3, 2);
  Bytes more = path_control_frame(core::FrameType::Switch, Priority::High, 3, 2);
  batch.insert(batch.end(), more.begin(), more.end());
  more = path_control_frame(core::FrameType::Resent, Priority::High, 3, 2, resent);
  batch.insert(batch.end(), more.begin(), more.end());
  ASSERT_TRUE(alice.send(0, batch));
  // Then DATA to everyone: once carol has it, she would have had the others before.
  ASSERT_TRUE(alice.send(0, client_frame(9, 13, "to all")));
  ASSERT_TRUE(run_until(
      io_, [&] { return frames_of(bob.received).size() == 4 && !carol.received.empty(); }));
  settle();

  std::vector<std::uint16_t> streams;
  auto bobs = frames_of(bob.received, &streams);
  ASSERT_EQ(bobs.size(), 4u);
  int switches = 0;
  for (std::size_t i = 0; i < bobs.size(); ++i) {
    const auto& f = bobs[i];
    EXPECT_EQ(f.header.from, std::optional<core::ParticipantId>(1));
    EXPECT_TRUE(f.to.empty());
    if (f.header.type == core::FrameType::Data) continue;
    EXPECT_EQ(f.header.channel_id, 0);
    EXPECT_EQ(f.header.sequence, 3u);
    EXPECT_EQ(f.header.reliability, Reliability::Durable);
    EXPECT_EQ(streams[i], f.header.priority == Priority::High ? 1 : 0);
    if (f.header.type == core::FrameType::Switch) {
      ++switches;
      EXPECT_TRUE(f.payload.empty());
    } else {
      EXPECT_EQ(f.header.type, core::FrameType::Resent);
      EXPECT_EQ(Bytes(f.payload.begin(), f.payload.end()), resent);
    }
  }
  EXPECT_EQ(switches, 2);
  auto carols = frames_of(carol.received);
  ASSERT_EQ(carols.size(), 1u);
  EXPECT_EQ(carols[0].header.type, core::FrameType::Data);
  EXPECT_TRUE(alice.received.empty());
  // Path control is not a message: only the DATA frame counts, once per recipient.
  EXPECT_EQ(server_->metrics().relayed_messages, 2u);
  EXPECT_EQ(server_->metrics().relayed_bytes, 12u);

  std::vector<std::string> types;
  for (const std::string& line : take_trace(path)) {
    if (line.find("to=bob") == std::string::npos) continue;
    types.push_back(line.substr(line.find("type=")));
  }
  ASSERT_EQ(types.size(), 4u);
  EXPECT_EQ(types[0], "type=switch payload=");
  EXPECT_EQ(types[1], "type=switch payload=");
  EXPECT_EQ(types[2].substr(0, 28), "type=resent payload=00000005");
  EXPECT_EQ(types[3].substr(0, 9), "type=data");
}

TEST_F(DataPath, PathControlFramesAreNotChargedToTheRateLimitAndSwitchIsNeverLimited) {
  ServerConfig config;
  config.port = 0;
  config.dev = true;
  config.rate_limit_messages_per_second = 1;  // a burst of 4 messages
  ASSERT_TRUE(validate(config));
  start(config);
  DataClient& alice = add("alice");
  DataClient& bob = add("bob");
  settle();

  Bytes batch;
  for (std::uint32_t i = 0; i < 30; ++i) {
    Bytes f = i % 2 == 0 ? path_control_frame(core::FrameType::Switch, Priority::Normal, 1, 2)
                         : path_control_frame(core::FrameType::Resent, Priority::Normal, 1, 2,
                                              resent_payload(i, client_frame(4, i, "r")));
    batch.insert(batch.end(), f.begin(), f.end());
  }
  ASSERT_TRUE(alice.send(0, batch));
  ASSERT_TRUE(run_until(io_, [&] { return frames_of(bob.received).size() == 30; }));
  // The message allowance is still whole: 4 of 6 DATA messages pass.
  batch.clear();
  for (std::uint32_t seq = 1; seq <= 6; ++seq) {
    Bytes f = client_frame(21, seq, "m");
    batch.insert(batch.end(), f.begin(), f.end());
  }
  ASSERT_TRUE(alice.send(0, batch));
  ASSERT_TRUE(run_until(io_, [&] { return alice.signal.take("error").has_value(); }));
  settle();
  EXPECT_EQ(frames_of(bob.received).size(), 34u);
  EXPECT_EQ(server_->metrics().dropped_for(DropReason::TrafficLimited), 2u);
  EXPECT_EQ(server_->metrics().dropped_for(DropReason::ResendLimited), 0u);
}

TEST_F(DataPath, ResentFloodPastTheResendAllowanceIsDroppedCountedAndRefused) {
  ServerConfig config = flow_control_config(64u * 1024 * 1024);
  config.rate_limit_bytes_per_second = 100'000;  // the allowance then refills slowly
  ASSERT_TRUE(validate(config));
  start(config);
  DataClient& alice = add("alice");
  DataClient& bob = add("bob");
  settle();
  std::uint32_t resents = 0;
  std::size_t resent_bytes = 0;
  bob.on_frame = [&](const core::DecodedFrame& f) {
    if (f.header.type != core::FrameType::Resent) return;
    ++resents;
    resent_bytes += f.payload.size();
  };

  // 24 MiB of RESENT, 192 KiB a frame: past the 16 MiB allowance.
  const Bytes payload = resent_payload(0, client_frame(4, 1, std::string(192 * 1024 - 32, 'r')));
  const std::uint32_t total = 128;
  std::uint32_t sent = 0;
  std::optional<json> error;
  const bool done = run_until(
      io_,
      [&] {
        while (sent < total && alice.connection->buffered_amount() < 4u * 1024 * 1024) {
          if (!alice.send(0, path_control_frame(core::FrameType::Resent, Priority::Normal, 1, 2,
                                                payload))) {
            break;
          }
          ++sent;
        }
        if (!error) error = alice.signal.take("error");
        const auto dropped = server_->metrics().dropped_for(DropReason::ResendLimited);
        return sent == total && resents + dropped == total;
      },
      std::chrono::seconds(60));
  ASSERT_TRUE(done) << "sent " << sent << ", bob got " << resents;
  ASSERT_TRUE(run_until(io_, [&] { return error || (error = alice.signal.take("error")); }));
  EXPECT_EQ((*error)["code"], "TRAFFIC_LIMITED");
  EXPECT_EQ((*error)["channelId"], 0);
  // 16 MiB pass at once, and what 100 kB/s adds while the rest arrives.
  const std::size_t allowance = 16u * 1024 * 1024;
  EXPECT_GE(resent_bytes, allowance - payload.size());
  EXPECT_LT(resent_bytes, allowance + 8 * payload.size());
  EXPECT_GE(server_->metrics().dropped_for(DropReason::ResendLimited), total - 90);
  EXPECT_EQ(server_->metrics().relayed_messages, 0u);
  EXPECT_NE(server_->metrics_text().find("reason=\"resend_limited\"}"), std::string::npos);
  EXPECT_FALSE(bob.signal.take("disconnect").has_value());
}

}  // namespace
}  // namespace switchboard::server::testing
