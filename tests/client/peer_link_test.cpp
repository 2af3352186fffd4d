#include "client/peer_link.hpp"

#include <chrono>
#include <ctime>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <boost/asio.hpp>
#include <gtest/gtest.h>

#include "../webrtc/coturn.hpp"
#include "server/turn_credentials.hpp"
#include "webrtc/sdp.hpp"

namespace switchboard::client {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

constexpr std::uint32_t kAlice = 1;  // the offerer
constexpr std::uint32_t kBob = 2;
constexpr std::uint32_t kSession = 3;

bool run_until(asio::io_context& io, const std::function<bool()>& done,
               std::chrono::steady_clock::duration limit = 20s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    io.run_for(10ms);
    if (io.stopped()) io.restart();
  }
  return done();
}

void run_for(asio::io_context& io, std::chrono::steady_clock::duration d) {
  io.run_for(d);
  if (io.stopped()) io.restart();
}

Bytes numbered(std::uint32_t n, std::size_t size) {
  Bytes out;
  put_u32(out, n);
  out.resize(std::max<std::size_t>(size, 4), static_cast<std::uint8_t>(n * 7));
  return out;
}

// One participant's link and everything its callbacks saw.
struct Side {
  std::uint32_t id = 0;
  std::unique_ptr<PeerLink> link;
  std::vector<signaling::Message> signalled;
  int connected = 0;
  int writable = 0;
  std::vector<std::optional<Error>> failures;
  std::vector<std::pair<std::uint16_t, Bytes>> received;
  std::function<void(std::uint16_t, ByteView)> on_message;

  bool failed() const { return !failures.empty(); }
};

// Two links in one process; what one signals reaches the other through the loop, as the
// server would forward it (peer rewritten to the sender). `filter` may change or drop
// (return false) a message on its way.
class Pair {
 public:
  using Filter = std::function<bool(std::uint32_t from, signaling::Message&)>;

  explicit Pair(Filter filter = {}, std::chrono::milliseconds timeout = 10000ms,
                const webrtc::IceServerConfig& ice = {})
      : filter_(std::move(filter)) {
    alice_.id = kAlice;
    bob_.id = kBob;
    make(alice_, bob_, true, timeout, ice);
    make(bob_, alice_, false, timeout, ice);
  }

  ~Pair() {
    *alive_ = false;
    alice_.link.reset();
    bob_.link.reset();
  }

  Pair(const Pair&) = delete;
  Pair& operator=(const Pair&) = delete;

  asio::io_context& io() { return io_; }
  Side& alice() { return alice_; }
  Side& bob() { return bob_; }

  void start() {
    alice_.link->start();
    bob_.link->start();
  }

  ::testing::AssertionResult connect() {
    start();
    const bool done = run_until(io_, [&] {
      return (alice_.connected != 0 && bob_.connected != 0) || alice_.failed() || bob_.failed();
    });
    for (const Side* side : {&alice_, &bob_}) {
      if (side->failed()) {
        return ::testing::AssertionFailure()
               << "participant " << side->id << " failed: " << side->failures[0]->message;
      }
    }
    if (!done) return ::testing::AssertionFailure() << "not connected within the deadline";
    return ::testing::AssertionSuccess();
  }

 private:
  void make(Side& side, Side& other, bool offerer, std::chrono::milliseconds timeout,
            const webrtc::IceServerConfig& ice) {
    PeerLinkConfig config;
    config.peer = other.id;
    config.session = kSession;
    config.offerer = offerer;
    config.ice = ice;
    config.local_addresses = {"127.0.0.1"};
    config.connect_timeout = timeout;
    side.link = std::make_unique<PeerLink>(
        io_, config,
        PeerLink::Callbacks{
            .signal =
                [this, &side, &other](signaling::Message message) {
                  side.signalled.push_back(message);
                  asio::post(io_, [this, alive = alive_, from = side.id, &other,
                                   message = std::move(message)]() mutable {
                    if (!*alive) return;
                    if (filter_ && !filter_(from, message)) return;
                    deliver(other, from, message);
                  });
                },
            .connected = [&side] { ++side.connected; },
            .message =
                [&side](std::uint16_t stream, ByteView data) {
                  side.received.emplace_back(stream, Bytes(data.begin(), data.end()));
                  if (side.on_message) side.on_message(stream, data);
                },
            .writable = [&side] { ++side.writable; },
            .failed = [&side](const Error& e) { side.failures.emplace_back(e); },
        });
  }

  static void deliver(Side& to, std::uint32_t from, signaling::Message& message) {
    if (!to.link) return;
    std::visit(
        [&](auto& m) {
          using M = std::decay_t<decltype(m)>;
          if constexpr (std::is_same_v<M, signaling::Offer> ||
                        std::is_same_v<M, signaling::Answer> ||
                        std::is_same_v<M, signaling::Candidate>) {
            m.peer = from;
            to.link->handle(m);
          }
        },
        message);
  }

  asio::io_context io_;
  Filter filter_;
  Side alice_;
  Side bob_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

template <typename M>
std::vector<M> all_of(const std::vector<signaling::Message>& messages) {
  std::vector<M> out;
  for (const auto& m : messages) {
    if (const auto* typed = std::get_if<M>(&m)) out.push_back(*typed);
  }
  return out;
}

// Sends `messages` in order on `stream`, waiting for `writable` when SCTP's buffer is full.
::testing::AssertionResult send_all(Pair& pair, Side& side, std::uint16_t stream,
                                    const std::vector<Bytes>& messages) {
  std::size_t next = 0;
  const bool done = run_until(pair.io(), [&] {
    while (next < messages.size()) {
      auto sent = side.link->send(stream, messages[next]);
      if (!sent) {
        if (sent.error().code == ErrorCode::BufferFull) return false;
        ADD_FAILURE() << "send " << next << ": " << sent.error().message;
        next = messages.size();
        return true;
      }
      ++next;
    }
    return true;
  });
  if (!done) return ::testing::AssertionFailure() << "sent only " << next << " messages";
  return ::testing::AssertionSuccess();
}

std::vector<Bytes> on_stream(const Side& side, std::uint16_t stream) {
  std::vector<Bytes> out;
  for (const auto& [s, data] : side.received) {
    if (s == stream) out.push_back(data);
  }
  return out;
}

TEST(PeerLink, OffererSignalsAnActpassOfferThenTrickledCandidatesAndEndOfCandidates) {
  Pair pair;
  ASSERT_TRUE(pair.connect());
  const auto& signalled = pair.alice().signalled;
  ASSERT_FALSE(signalled.empty());
  const auto* offer = std::get_if<signaling::Offer>(&signalled.front());
  ASSERT_NE(offer, nullptr) << "the offer goes before any candidate";
  EXPECT_EQ(offer->peer, kBob);
  EXPECT_EQ(offer->session, kSession);
  auto sdp = webrtc::parse_sdp(offer->sdp);
  ASSERT_TRUE(sdp) << sdp.error().message;
  EXPECT_EQ(sdp->setup, webrtc::DtlsSetup::ActPass);
  EXPECT_TRUE(sdp->trickle);
  EXPECT_EQ(sdp->max_message_size, std::size_t{262144 + 65536});

  const auto candidates = all_of<signaling::Candidate>(signalled);
  ASSERT_GE(candidates.size(), 2u);
  for (const auto& c : candidates) {
    EXPECT_EQ(c.peer, kBob);
    EXPECT_EQ(c.session, kSession);
  }
  EXPECT_NE(candidates.front().candidate.find("127.0.0.1"), std::string::npos)
      << candidates.front().candidate;
  EXPECT_EQ(candidates.back().candidate, "") << "end-of-candidates comes last";
  EXPECT_TRUE(all_of<signaling::Answer>(signalled).empty());
}

TEST(PeerLink, AnswererAnswersActiveSoItIsTheDtlsClient) {
  Pair pair;
  ASSERT_TRUE(pair.connect());
  const auto& signalled = pair.bob().signalled;
  ASSERT_FALSE(signalled.empty());
  const auto* answer = std::get_if<signaling::Answer>(&signalled.front());
  ASSERT_NE(answer, nullptr) << "the answer goes before any candidate";
  EXPECT_EQ(answer->peer, kAlice);
  EXPECT_EQ(answer->session, kSession);
  auto sdp = webrtc::parse_sdp(answer->sdp);
  ASSERT_TRUE(sdp) << sdp.error().message;
  EXPECT_EQ(sdp->setup, webrtc::DtlsSetup::Active);
  EXPECT_TRUE(all_of<signaling::Offer>(signalled).empty());
  EXPECT_EQ(all_of<signaling::Candidate>(signalled).back().candidate, "");
}

TEST(PeerLink, ConnectsOverLoopbackOnAHostPair) {
  Pair pair;
  ASSERT_TRUE(pair.connect());
  EXPECT_EQ(pair.alice().connected, 1);
  EXPECT_EQ(pair.bob().connected, 1);
  for (Side* side : {&pair.alice(), &pair.bob()}) {
    const auto selected = side->link->selected_pair();
    ASSERT_TRUE(selected.has_value());
    EXPECT_NE(selected->find("127.0.0.1"), std::string::npos) << *selected;
    EXPECT_TRUE(selected->ends_with("(host)")) << *selected;
  }
  // Stays up: no late failure once connected.
  run_for(pair.io(), 300ms);
  EXPECT_FALSE(pair.alice().failed());
  EXPECT_FALSE(pair.bob().failed());
  EXPECT_EQ(pair.alice().connected, 1);
}

TEST(PeerLink, AThousandDurableMessagesEachWayAndControlMessagesArriveIntactAndInOrder) {
  Pair pair;
  ASSERT_TRUE(pair.connect());
  constexpr std::uint32_t kCount = 1000;
  constexpr std::uint32_t kControl = 50;
  std::vector<Bytes> durable;
  std::vector<Bytes> control;
  for (std::uint32_t i = 0; i < kCount; ++i) durable.push_back(numbered(i, 1 + (i * 97) % 4000));
  for (std::uint32_t i = 0; i < kControl; ++i) control.push_back(numbered(i, 13));
  // Large ones too: several times the DTLS record size, below the announced maximum.
  durable[500] = numbered(500, std::size_t{200} * 1024);

  ASSERT_TRUE(send_all(pair, pair.alice(), 0, durable));
  ASSERT_TRUE(send_all(pair, pair.alice(), kPeerControlStream, control));
  ASSERT_TRUE(send_all(pair, pair.bob(), 0, durable));
  ASSERT_TRUE(send_all(pair, pair.bob(), kPeerControlStream, control));
  ASSERT_TRUE(run_until(pair.io(),
                        [&] {
                          return pair.alice().received.size() == kCount + kControl &&
                                 pair.bob().received.size() == kCount + kControl;
                        }))
      << "alice got " << pair.alice().received.size() << ", bob " << pair.bob().received.size();
  for (Side* side : {&pair.alice(), &pair.bob()}) {
    EXPECT_EQ(on_stream(*side, 0), durable) << "participant " << side->id;
    EXPECT_EQ(on_stream(*side, kPeerControlStream), control) << "participant " << side->id;
  }
  EXPECT_FALSE(pair.alice().failed());
  EXPECT_FALSE(pair.bob().failed());
}

TEST(PeerLink, EveryStreamCarriesMessagesAndAFifthIsRefused) {
  Pair pair;
  ASSERT_TRUE(pair.connect());
  for (std::uint16_t stream = 0; stream < kPeerStreamCount; ++stream) {
    ASSERT_TRUE(pair.alice().link->send(stream, numbered(stream, 100)).ok()) << stream;
  }
  ASSERT_TRUE(run_until(pair.io(), [&] { return pair.bob().received.size() == 5; }));
  for (std::uint16_t stream = 0; stream < kPeerStreamCount; ++stream) {
    EXPECT_EQ(on_stream(pair.bob(), stream), std::vector<Bytes>{numbered(stream, 100)});
  }
  const auto refused = pair.alice().link->send(kPeerStreamCount, numbered(0, 10));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::InvalidArgument);
}

TEST(PeerLink, SendBeforeConnectedIsNotConnected) {
  Pair pair;
  const auto before_start = pair.alice().link->send(0, numbered(0, 10));
  ASSERT_FALSE(before_start.ok());
  EXPECT_EQ(before_start.error().code, ErrorCode::NotConnected);
  pair.start();
  const auto negotiating = pair.bob().link->send(0, numbered(0, 10));
  ASSERT_FALSE(negotiating.ok());
  EXPECT_EQ(negotiating.error().code, ErrorCode::NotConnected);
  EXPECT_EQ(pair.alice().link->buffered_amount(), 0u);
  EXPECT_FALSE(pair.alice().link->selected_pair().has_value());
}

TEST(PeerLink, WritableFiresWhenAFullBufferDrains) {
  Pair pair;
  ASSERT_TRUE(pair.connect());
  const Bytes big = numbered(1, std::size_t{64} * 1024);
  std::size_t sent = 0;
  while (pair.alice().link->send(0, big).ok()) ++sent;
  ASSERT_GT(pair.alice().link->buffered_amount(), std::size_t{1} << 20);
  ASSERT_TRUE(run_until(pair.io(), [&] { return pair.alice().writable > 0; }));
  EXPECT_LE(pair.alice().link->buffered_amount(), std::size_t{1} << 20);
  ASSERT_TRUE(run_until(pair.io(), [&] { return on_stream(pair.bob(), 0).size() == sent; }));
}

TEST(PeerLink, PausedReceiverGetsNothingUntilResumed) {
  Pair pair;
  ASSERT_TRUE(pair.connect());
  pair.bob().link->set_receive_paused(true);
  for (std::uint32_t i = 0; i < 10; ++i) ASSERT_TRUE(pair.alice().link->send(0, numbered(i, 100)));
  run_for(pair.io(), 300ms);
  EXPECT_TRUE(pair.bob().received.empty());
  pair.bob().link->set_receive_paused(false);
  ASSERT_TRUE(run_until(pair.io(), [&] { return pair.bob().received.size() == 10; }));
}

TEST(PeerLink, TamperedFingerprintInTheAnswerFailsTheOfferer) {
  Pair pair([](std::uint32_t from, signaling::Message& message) {
    if (from != kBob) return true;
    if (auto* answer = std::get_if<signaling::Answer>(&message)) {
      auto sdp = webrtc::parse_sdp(answer->sdp);
      EXPECT_TRUE(sdp);
      sdp->fingerprint[5] ^= 0x01;
      answer->sdp = webrtc::write_sdp(*sdp);
    }
    return true;
  });
  pair.start();
  // Well before the connect timeout: DTLS refuses the certificate.
  ASSERT_TRUE(run_until(
      pair.io(), [&] { return pair.alice().failed(); }, 8s));
  EXPECT_EQ(pair.alice().connected, 0);
  EXPECT_EQ(pair.bob().connected, 0);
  ASSERT_EQ(pair.alice().failures.size(), 1u);
  EXPECT_EQ(pair.alice().failures[0]->code, ErrorCode::NotConnected);
  EXPECT_NE(pair.alice().failures[0]->message.find("fingerprint"), std::string::npos)
      << pair.alice().failures[0]->message;
  const auto refused = pair.alice().link->send(0, numbered(0, 10));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::NotConnected);
}

TEST(PeerLink, OffererFailsWithinTheTimeoutWhenTheAnswererNeverAnswers) {
  Pair pair(
      [](std::uint32_t from, signaling::Message&) {
        return from != kBob;  // nothing of Bob's gets through
      },
      1000ms);
  const auto started = std::chrono::steady_clock::now();
  pair.start();
  ASSERT_TRUE(run_until(
      pair.io(), [&] { return pair.alice().failed(); }, 5s));
  const auto took = std::chrono::steady_clock::now() - started;
  EXPECT_GE(took, 900ms);
  EXPECT_LT(took, 3s);
  EXPECT_EQ(pair.alice().failures[0]->code, ErrorCode::NotConnected);
  EXPECT_NE(pair.alice().failures[0]->message.find("did not come up"), std::string::npos)
      << pair.alice().failures[0]->message;
  // Reported once.
  run_for(pair.io(), 300ms);
  EXPECT_EQ(pair.alice().failures.size(), 1u);
}

TEST(PeerLink, AnOfferThatIsNotSdpFailsTheAnswerer) {
  Pair pair([](std::uint32_t from, signaling::Message& message) {
    if (auto* offer = std::get_if<signaling::Offer>(&message); offer && from == kAlice) {
      offer->sdp = "v=0\r\nnonsense\r\n";
    }
    return true;
  });
  pair.start();
  ASSERT_TRUE(run_until(
      pair.io(), [&] { return pair.bob().failed(); }, 5s));
  EXPECT_NE(pair.bob().failures[0]->message.find("not valid SDP"), std::string::npos)
      << pair.bob().failures[0]->message;
}

TEST(PeerLink, CloseInsideAMessageCallbackSilencesEveryCallback) {
  Pair pair;
  ASSERT_TRUE(pair.connect());
  Side& bob = pair.bob();
  bob.on_message = [&](std::uint16_t, ByteView) { bob.link->close(); };
  for (std::uint32_t i = 0; i < 20; ++i) ASSERT_TRUE(pair.alice().link->send(0, numbered(i, 100)));
  ASSERT_TRUE(run_until(pair.io(), [&] { return !bob.received.empty(); }));
  const std::size_t writable = bob.writable;
  run_for(pair.io(), 500ms);
  EXPECT_EQ(bob.received.size(), 1u) << "nothing after close()";
  EXPECT_FALSE(bob.failed());
  EXPECT_EQ(bob.writable, writable);
  const auto refused = bob.link->send(0, numbered(0, 10));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::NotConnected);
  EXPECT_FALSE(bob.link->selected_pair().has_value());
  bob.link->close();  // twice is fine
}

TEST(PeerLink, CloseBeforeConnectingSilencesTheTimeoutAndSignaling) {
  Pair pair({}, 300ms);
  pair.start();
  pair.alice().link->close();
  pair.bob().link->close();
  run_for(pair.io(), 800ms);
  EXPECT_TRUE(pair.alice().signalled.empty()) << "the offer was still pending: not sent";
  EXPECT_FALSE(pair.alice().failed());
  EXPECT_FALSE(pair.bob().failed());
  EXPECT_EQ(pair.alice().connected, 0);
}

TEST(PeerLink, DestroyingAConnectedLinkWhileTheLoopRunsIsSafe) {
  Pair pair;
  ASSERT_TRUE(pair.connect());
  for (std::uint32_t i = 0; i < 100; ++i) (void)pair.alice().link->send(0, numbered(i, 8000));
  pair.bob().link.reset();
  run_for(pair.io(), 300ms);
  pair.alice().link.reset();
  run_for(pair.io(), 100ms);
}

TEST(PeerLink, ForcedRelayLinksConnectThroughCoturnAndCarryMessages) {
  webrtc::testing::Coturn coturn;
  ASSERT_TRUE(coturn.start());
  const auto credentials = server::mint_turn_credentials(webrtc::testing::kCoturnSecret, "pair",
                                                         std::time(nullptr), 600);
  webrtc::IceServerConfig relay_only;
  relay_only.turn_servers.push_back({.host = "127.0.0.1",
                                     .port = coturn.port(),
                                     .username = credentials.username,
                                     .password = credentials.credential});
  relay_only.force_relay = true;
  Pair pair({}, 10000ms, relay_only);
  ASSERT_TRUE(pair.connect()) << coturn.log_text();
  for (Side* side : {&pair.alice(), &pair.bob()}) {
    const auto selected = side->link->selected_pair();
    ASSERT_TRUE(selected.has_value());
    EXPECT_TRUE(selected->ends_with("(relay)")) << *selected;
    for (const auto& c : all_of<signaling::Candidate>(side->signalled)) {
      if (!c.candidate.empty()) EXPECT_NE(c.candidate.find("typ relay"), std::string::npos);
    }
  }
  std::vector<Bytes> messages;
  for (std::uint32_t i = 0; i < 200; ++i) messages.push_back(numbered(i, 1 + (i * 331) % 3000));
  messages[100] = numbered(100, std::size_t{100} * 1024);
  ASSERT_TRUE(send_all(pair, pair.alice(), 0, messages));
  ASSERT_TRUE(send_all(pair, pair.bob(), 0, messages));
  ASSERT_TRUE(run_until(pair.io(), [&] {
    return pair.alice().received.size() == messages.size() &&
           pair.bob().received.size() == messages.size();
  }));
  EXPECT_EQ(on_stream(pair.alice(), 0), messages);
  EXPECT_EQ(on_stream(pair.bob(), 0), messages);
}

}  // namespace
}  // namespace switchboard::client
