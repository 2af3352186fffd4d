#include "webrtc/dtls_transport.hpp"

#include <deque>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "webrtc/certificate.hpp"

namespace switchboard::webrtc {
namespace {

using core::Clock;
using core::TimePoint;

std::shared_ptr<const Certificate> make_certificate() {
  auto cert = Certificate::generate();
  EXPECT_TRUE(cert) << (cert ? "" : cert.error().message);
  return cert ? *cert : nullptr;
}

Bytes pattern(std::size_t size, std::uint8_t seed) {
  Bytes out(size);
  for (std::size_t i = 0; i < size; ++i) out[i] = static_cast<std::uint8_t>(seed + i * 31);
  return out;
}

std::string describe(const std::vector<Error>& failures) {
  std::string out;
  for (const Error& e : failures) out += "[" + e.message + "] ";
  return out;
}

// ---- Certificate ------------------------------------------------------------------------

TEST(Certificate, FingerprintIsSha256OfTheDerEncoding) {
  auto cert = make_certificate();
  ASSERT_TRUE(cert);
  unsigned char* der = nullptr;
  const int der_length = i2d_X509(cert->x509(), &der);
  ASSERT_GT(der_length, 0);
  Fingerprint expected{};
  unsigned int digest_length = 0;
  ASSERT_EQ(EVP_Digest(der, static_cast<std::size_t>(der_length), expected.data(), &digest_length,
                       EVP_sha256(), nullptr),
            1);
  OPENSSL_free(der);
  ASSERT_EQ(digest_length, 32u);
  EXPECT_EQ(cert->fingerprint(), expected);
  EXPECT_EQ(fingerprint_of(cert->x509()), expected);
}

TEST(Certificate, FingerprintStringIsUppercaseHexPairsJoinedByColons) {
  auto cert = make_certificate();
  ASSERT_TRUE(cert);
  const std::string text = cert->fingerprint_string();
  ASSERT_EQ(text.size(), 32u * 3 - 1);
  const Fingerprint bytes = cert->fingerprint();
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    EXPECT_EQ(text[i * 3], kHex[bytes[i] >> 4]) << "pair " << i;
    EXPECT_EQ(text[i * 3 + 1], kHex[bytes[i] & 0xf]) << "pair " << i;
    if (i + 1 < bytes.size()) EXPECT_EQ(text[i * 3 + 2], ':') << "after pair " << i;
  }
  Fingerprint known{};
  known[0] = 0xab;
  known[1] = 0x0c;
  known[31] = 0xff;
  EXPECT_EQ(to_fingerprint_string(known).substr(0, 6), "AB:0C:");
  EXPECT_EQ(to_fingerprint_string(known).substr(93), "FF");
}

TEST(Certificate, IsSelfSignedEcdsaP256NamedSwitchboardAndValidNow) {
  auto cert = make_certificate();
  ASSERT_TRUE(cert);
  X509* x = cert->x509();
  EXPECT_EQ(X509_verify(x, cert->key()), 1) << "not signed by its own key";
  EXPECT_EQ(X509_check_private_key(x, cert->key()), 1);
  EXPECT_TRUE(EVP_PKEY_is_a(cert->key(), "EC"));
  char group[64] = {};
  std::size_t group_length = 0;
  ASSERT_EQ(EVP_PKEY_get_group_name(cert->key(), group, sizeof group, &group_length), 1);
  EXPECT_STREQ(group, "prime256v1");
  char common_name[64] = {};
  ASSERT_GT(X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, common_name,
                                      sizeof common_name),
            0);
  EXPECT_STREQ(common_name, "switchboard");
  EXPECT_EQ(X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)), 0);

  int days = 0;
  int seconds = 0;
  ASSERT_EQ(ASN1_TIME_diff(&days, &seconds, nullptr, X509_get0_notBefore(x)), 1);
  EXPECT_EQ(days, -1) << "valid from one day ago";
  ASSERT_EQ(ASN1_TIME_diff(&days, &seconds, X509_get0_notBefore(x), X509_get0_notAfter(x)), 1);
  EXPECT_EQ(days, 30);
}

TEST(Certificate, EachGenerationHasItsOwnKeySerialAndFingerprint) {
  auto a = make_certificate();
  auto b = make_certificate();
  ASSERT_TRUE(a && b);
  EXPECT_NE(a->fingerprint(), b->fingerprint());
  EXPECT_NE(ASN1_INTEGER_cmp(X509_get0_serialNumber(a->x509()), X509_get0_serialNumber(b->x509())),
            0);
  EXPECT_NE(EVP_PKEY_eq(a->key(), b->key()), 1);
}

TEST(Certificate, FingerprintOfNullIsAllZeros) {
  EXPECT_EQ(fingerprint_of(nullptr), Fingerprint{});
}

// ---- looks_like_dtls ----------------------------------------------------------------------

TEST(DtlsDemux, OnlyFirstBytes20To63AreDtls) {
  const auto first_byte = [](std::uint8_t b) {
    const std::uint8_t datagram[] = {b, 0xfe, 0xfd};
    return looks_like_dtls(datagram);
  };
  EXPECT_FALSE(first_byte(0));  // STUN
  EXPECT_FALSE(first_byte(19));
  EXPECT_TRUE(first_byte(20));  // change_cipher_spec
  EXPECT_TRUE(first_byte(22));  // handshake
  EXPECT_TRUE(first_byte(23));  // application_data
  EXPECT_TRUE(first_byte(63));
  EXPECT_FALSE(first_byte(64));   // TURN channel
  EXPECT_FALSE(first_byte(128));  // RTP/RTCP
  EXPECT_FALSE(looks_like_dtls(ByteView{}));
}

// ---- DtlsTransport ------------------------------------------------------------------------

// One end of an in-memory link: what its transport emitted and reported.
struct Side {
  std::shared_ptr<const Certificate> certificate;
  std::unique_ptr<DtlsTransport> transport;
  std::deque<Bytes> outbox;  // datagrams on their way to the other side
  std::vector<Bytes> received;
  std::vector<Error> failures;
  int connected = 0;
  int closed = 0;
  std::function<void(ByteView)> on_app_data;  // extra behaviour, run after recording

  DtlsTransport::Callbacks callbacks() {
    return {
        .send_datagram = [this](ByteView d) { outbox.emplace_back(d.begin(), d.end()); },
        .connected = [this] { ++connected; },
        .app_data =
            [this](ByteView d) {
              received.emplace_back(d.begin(), d.end());
              if (on_app_data) on_app_data(d);
            },
        .failed = [this](const Error& e) { failures.push_back(e); },
        .closed = [this] { ++closed; },
    };
  }
};

// Two transports joined by FIFO queues. Datagrams are delivered from pump(), never from
// inside a callback, as a real event loop would.
class DtlsPair {
 public:
  // `a` takes `role_of_a`, `b` the other. Each trusts the other's real fingerprint, unless
  // `a_expects_wrong`.
  explicit DtlsPair(DtlsRole role_of_a, bool a_expects_wrong = false)
      : a_is_client_(role_of_a == DtlsRole::Client) {
    a.certificate = make_certificate();
    b.certificate = make_certificate();
    Fingerprint a_expects = b.certificate->fingerprint();
    const Fingerprint b_expects = a.certificate->fingerprint();
    if (a_expects_wrong) a_expects[7] ^= 0x01;
    const DtlsRole role_of_b = role_of_a == DtlsRole::Client ? DtlsRole::Server : DtlsRole::Client;
    a.transport =
        std::make_unique<DtlsTransport>(a.certificate, role_of_a, a_expects, a.callbacks());
    b.transport =
        std::make_unique<DtlsTransport>(b.certificate, role_of_b, b_expects, b.callbacks());
  }

  Side& client() { return a_is_client_ ? a : b; }
  Side& server() { return a_is_client_ ? b : a; }

  void start(TimePoint now) {
    a.transport->start(now);
    b.transport->start(now);
  }

  // Delivers queued datagrams, alternating directions, until both queues are empty.
  void pump(TimePoint now) {
    for (int step = 0; step < 10000 && !(a.outbox.empty() && b.outbox.empty()); ++step) {
      deliver_one(a, b, now);
      deliver_one(b, a, now);
    }
    ASSERT_TRUE(a.outbox.empty() && b.outbox.empty()) << "datagrams still bouncing";
  }

  void connect(TimePoint now) {
    start(now);
    pump(now);
    ASSERT_EQ(a.connected, 1);
    ASSERT_EQ(b.connected, 1);
  }

  Side a;
  Side b;

 private:
  static void deliver_one(Side& from, Side& to, TimePoint now) {
    if (from.outbox.empty()) return;
    Bytes datagram = std::move(from.outbox.front());
    from.outbox.pop_front();
    to.transport->handle_datagram(datagram, now);
  }

  bool a_is_client_;
};

std::unique_ptr<DtlsPair> make_pair(DtlsRole role_of_a, bool a_expects_wrong = false) {
  return std::make_unique<DtlsPair>(role_of_a, a_expects_wrong);
}

TEST(DtlsTransport, HandshakeCompletesWithEitherEndpointAsClient) {
  for (DtlsRole role : {DtlsRole::Client, DtlsRole::Server}) {
    SCOPED_TRACE(role == DtlsRole::Client ? "a is client" : "a is server");
    auto pair = make_pair(role);
    const TimePoint now = Clock::now();
    EXPECT_EQ(pair->a.transport->state(), DtlsState::New);
    pair->start(now);
    EXPECT_EQ(pair->a.transport->state(), DtlsState::Connecting);
    EXPECT_EQ(pair->client().outbox.size(), 1u) << "the client opens with one ClientHello";
    EXPECT_TRUE(pair->server().outbox.empty()) << "the server waits";
    pair->pump(now);
    for (Side* side : {&pair->a, &pair->b}) {
      EXPECT_EQ(side->connected, 1);
      EXPECT_TRUE(side->failures.empty());
      EXPECT_EQ(side->transport->state(), DtlsState::Connected);
      EXPECT_EQ(side->transport->cipher(), "ECDHE-ECDSA-AES128-GCM-SHA256");
    }
  }
}

TEST(DtlsTransport, ApplicationDataFlowsBothWaysOneRecordPerSend) {
  auto pair = make_pair(DtlsRole::Client);
  const TimePoint now = Clock::now();
  ASSERT_NO_FATAL_FAILURE(pair->connect(now));
  const std::vector<Bytes> messages = {pattern(1, 1), pattern(1200, 2),
                                       pattern(kMaxDtlsRecordPlaintext, 3)};
  for (const Bytes& m : messages) {
    ASSERT_TRUE(pair->a.transport->send(m));
    ASSERT_TRUE(pair->b.transport->send(m));
  }
  pair->pump(now);
  EXPECT_EQ(pair->a.received, messages);
  EXPECT_EQ(pair->b.received, messages);
}

TEST(DtlsTransport, SeveralRecordsInOneDatagramAreAllDelivered) {
  auto pair = make_pair(DtlsRole::Server);
  const TimePoint now = Clock::now();
  ASSERT_NO_FATAL_FAILURE(pair->connect(now));
  ASSERT_TRUE(pair->a.transport->send(pattern(100, 4)));
  ASSERT_TRUE(pair->a.transport->send(pattern(200, 5)));
  ASSERT_EQ(pair->a.outbox.size(), 2u);
  Bytes combined = pair->a.outbox[0];
  combined.insert(combined.end(), pair->a.outbox[1].begin(), pair->a.outbox[1].end());
  pair->a.outbox.clear();
  pair->b.transport->handle_datagram(combined, now);
  EXPECT_EQ(pair->b.received, (std::vector<Bytes>{pattern(100, 4), pattern(200, 5)}));
}

TEST(DtlsTransport, CallbacksMaySendOnTheSameTransport) {
  auto pair = make_pair(DtlsRole::Client);
  const TimePoint now = Clock::now();
  // The server greets from inside `connected` and echoes from inside `app_data`.
  Side& server = pair->server();
  server.transport.reset();
  server.transport = std::make_unique<DtlsTransport>(
      server.certificate, DtlsRole::Server, pair->client().certificate->fingerprint(), [&] {
        auto callbacks = server.callbacks();
        callbacks.connected = [&] {
          ++server.connected;
          ASSERT_TRUE(server.transport->send(pattern(10, 9)));
        };
        return callbacks;
      }());
  server.on_app_data = [&](ByteView d) { ASSERT_TRUE(server.transport->send(d)); };
  ASSERT_NO_FATAL_FAILURE(pair->connect(now));
  ASSERT_TRUE(pair->client().transport->send(pattern(50, 6)));
  pair->pump(now);
  EXPECT_EQ(pair->client().received, (std::vector<Bytes>{pattern(10, 9), pattern(50, 6)}));
}

TEST(DtlsTransport, SendBeforeConnectedFailsWithNotConnected) {
  auto pair = make_pair(DtlsRole::Client);
  auto before_start = pair->a.transport->send(pattern(10, 1));
  ASSERT_FALSE(before_start);
  EXPECT_EQ(before_start.error().code, ErrorCode::NotConnected);
  pair->start(Clock::now());
  auto during_handshake = pair->a.transport->send(pattern(10, 1));
  ASSERT_FALSE(during_handshake);
  EXPECT_EQ(during_handshake.error().code, ErrorCode::NotConnected);
}

TEST(DtlsTransport, SendAboveOneRecordFailsWithMessageTooLargeAndEmptyWithInvalidArgument) {
  auto pair = make_pair(DtlsRole::Client);
  const TimePoint now = Clock::now();
  ASSERT_NO_FATAL_FAILURE(pair->connect(now));
  auto too_big = pair->a.transport->send(pattern(kMaxDtlsRecordPlaintext + 1, 1));
  ASSERT_FALSE(too_big);
  EXPECT_EQ(too_big.error().code, ErrorCode::MessageTooLarge);
  auto empty = pair->a.transport->send(ByteView{});
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().code, ErrorCode::InvalidArgument);
  EXPECT_TRUE(pair->a.outbox.empty());
  EXPECT_EQ(pair->a.transport->state(), DtlsState::Connected) << "a refused send is not fatal";
}

void expect_fingerprint_rejection(DtlsPair& pair, Side& verifier, Side& other) {
  pair.start(Clock::now());
  pair.pump(Clock::now());
  EXPECT_EQ(verifier.transport->state(), DtlsState::Failed);
  ASSERT_EQ(verifier.failures.size(), 1u);
  EXPECT_EQ(verifier.failures[0].code, ErrorCode::Unauthorized);
  EXPECT_EQ(verifier.failures[0].message,
            "remote DTLS certificate fingerprint does not match the SDP fingerprint");
  // The bad_certificate alert brings the other side down too.
  EXPECT_EQ(other.transport->state(), DtlsState::Failed);
  EXPECT_EQ(other.failures.size(), 1u);
  for (Side* side : {&verifier, &other}) {
    EXPECT_EQ(side->connected, 0);
    EXPECT_FALSE(side->transport->send(pattern(10, 1)));
  }
  pair.pump(Clock::now());
  EXPECT_TRUE(verifier.received.empty());
  EXPECT_TRUE(other.received.empty());
}

TEST(DtlsTransport, ClientRejectsServerWhoseFingerprintDiffersFromSdp) {
  auto pair = make_pair(DtlsRole::Client, /*a_expects_wrong=*/true);
  expect_fingerprint_rejection(*pair, pair->a, pair->b);
}

TEST(DtlsTransport, ServerRejectsClientWhoseFingerprintDiffersFromSdp) {
  auto pair = make_pair(DtlsRole::Server, /*a_expects_wrong=*/true);
  expect_fingerprint_rejection(*pair, pair->a, pair->b);
}

// Waits (really: OpenSSL's retransmission timer reads the real clock) until `side` is due.
void wait_until_due(Side& side) {
  auto due = side.transport->next_timeout();
  ASSERT_TRUE(due.has_value());
  std::this_thread::sleep_until(*due + std::chrono::milliseconds(20));
  side.transport->handle_timeout(Clock::now());
}

TEST(DtlsTransport, LostClientHelloIsRetransmittedAfterTheTimeout) {
  auto pair = make_pair(DtlsRole::Client);
  pair->start(Clock::now());
  Side& client = pair->client();
  ASSERT_EQ(client.outbox.size(), 1u);
  client.outbox.clear();  // the first flight is lost
  pair->pump(Clock::now());
  EXPECT_EQ(pair->server().transport->state(), DtlsState::Connecting);

  wait_until_due(client);
  ASSERT_EQ(client.outbox.size(), 1u) << "ClientHello sent again";
  pair->pump(Clock::now());
  EXPECT_EQ(pair->a.connected, 1);
  EXPECT_EQ(pair->b.connected, 1);
}

TEST(DtlsTransport, LostFinalServerFlightIsRecoveredByTheClientRetransmitting) {
  auto pair = make_pair(DtlsRole::Client);
  Side& client = pair->client();
  Side& server = pair->server();
  pair->start(Clock::now());
  // Run the handshake by hand until the server has sent its ChangeCipherSpec + Finished.
  for (int step = 0; step < 100 && server.connected == 0; ++step) {
    while (!client.outbox.empty()) {
      Bytes d = std::move(client.outbox.front());
      client.outbox.pop_front();
      server.transport->handle_datagram(d, Clock::now());
    }
    if (server.connected) break;
    while (!server.outbox.empty()) {
      Bytes d = std::move(server.outbox.front());
      server.outbox.pop_front();
      client.transport->handle_datagram(d, Clock::now());
    }
  }
  ASSERT_EQ(server.connected, 1);
  ASSERT_FALSE(server.outbox.empty());
  server.outbox.clear();  // the final flight is lost
  EXPECT_EQ(client.transport->state(), DtlsState::Connecting);

  wait_until_due(client);
  ASSERT_FALSE(client.outbox.empty()) << "client's last flight sent again";
  pair->pump(Clock::now());
  EXPECT_EQ(client.connected, 1);
  ASSERT_TRUE(client.transport->send(pattern(30, 7)));
  pair->pump(Clock::now());
  EXPECT_EQ(server.received, std::vector<Bytes>{pattern(30, 7)});
}

TEST(DtlsTransport, HandshakeWithoutAnswerFailsAfterThirtySeconds) {
  auto pair = make_pair(DtlsRole::Client);
  const TimePoint start = Clock::now();
  Side& client = pair->client();
  client.transport->start(start);
  auto due = client.transport->next_timeout();
  ASSERT_TRUE(due.has_value());
  EXPECT_LE(*due, start + std::chrono::seconds(30));

  client.transport->handle_timeout(start + std::chrono::seconds(29));
  EXPECT_EQ(client.transport->state(), DtlsState::Connecting);
  client.transport->handle_timeout(start + std::chrono::seconds(30));
  EXPECT_EQ(client.transport->state(), DtlsState::Failed);
  ASSERT_EQ(client.failures.size(), 1u);
  EXPECT_EQ(client.failures[0].code, ErrorCode::NotConnected);
  EXPECT_FALSE(client.transport->next_timeout().has_value());
}

// A DTLS 1.2 record: content type, version, epoch, sequence number, `length` filler bytes.
Bytes record(std::uint8_t type, std::uint16_t epoch, std::size_t length, std::uint8_t fill = 7) {
  Bytes r = {type,
             0xfe,
             0xfd,
             static_cast<std::uint8_t>(epoch >> 8),
             static_cast<std::uint8_t>(epoch),
             0,
             0,
             0,
             0,
             0,
             50,
             static_cast<std::uint8_t>(length >> 8),
             static_cast<std::uint8_t>(length)};
  r.resize(r.size() + length, fill);
  return r;
}

// Datagrams that pass the demux rule but hold invalid records. Several of them make
// OpenSSL 3.0 abort the association if it ever sees them.
std::vector<Bytes> garbage_datagrams() {
  return {
      {22},                                                  // a lone content type
      {22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff},  // header, body missing
      pattern(1500, 22),                                     // nonsense version
      pattern(20000, 21),                                    // longer than any record
      record(23, 1, 8),                                      // shorter than a GCM tag
      record(23, 1, 23),                                     // shorter than nonce + tag
      record(21, 1, 10),                                     // short encrypted alert
      record(23, 1, 40),                                     // fails authentication
      record(23, 5, 40),                                     // unknown epoch
      record(23, 0, 5),                                      // unencrypted app data
      record(24, 0, 10),                                     // heartbeat
      record(30, 0, 10),                                     // unknown type
      record(21, 0, 3, 1),                                   // alert of 3 bytes
      record(21, 0, 2, 9),                                   // alert level 9
      record(20, 0, 1, 2),                                   // ChangeCipherSpec of 2
      record(22, 0, 5),                                      // handshake header cut short
      {22, 0xfe, 0xfd, 0,   0, 0, 0, 0, 0, 0, 9, 0,  12,     // ClientHello fragment
       1,  0,    0,    200, 0, 0, 0, 0, 0, 0, 0, 200},       // longer than its record
  };
}

void feed_garbage(DtlsPair& pair, TimePoint now) {
  for (const Bytes& g : garbage_datagrams()) {
    pair.a.transport->handle_datagram(g, now);
    pair.b.transport->handle_datagram(g, now);
  }
}

TEST(DtlsTransport, GarbageBeforeAndDuringTheHandshakeIsIgnored) {
  auto pair = make_pair(DtlsRole::Client);
  const TimePoint now = Clock::now();
  for (const Bytes& g : garbage_datagrams()) pair->server().transport->handle_datagram(g, now);
  pair->start(now);
  // Garbage ahead of every genuine datagram, both ways.
  for (int step = 0; step < 100 && !(pair->a.outbox.empty() && pair->b.outbox.empty()); ++step) {
    for (Side* from : {&pair->a, &pair->b}) {
      Side* to = from == &pair->a ? &pair->b : &pair->a;
      if (from->outbox.empty()) continue;
      feed_garbage(*pair, now);
      Bytes d = std::move(from->outbox.front());
      from->outbox.pop_front();
      to->transport->handle_datagram(d, now);
    }
  }
  EXPECT_EQ(pair->a.connected, 1);
  EXPECT_EQ(pair->b.connected, 1);
  EXPECT_TRUE(pair->a.failures.empty()) << describe(pair->a.failures);
  EXPECT_TRUE(pair->b.failures.empty()) << describe(pair->b.failures);
  ASSERT_TRUE(pair->a.transport->send(pattern(64, 8))) << describe(pair->a.failures);
  pair->pump(now);
  EXPECT_EQ(pair->b.received, std::vector<Bytes>{pattern(64, 8)});
}

TEST(DtlsTransport, GarbageAfterTheHandshakeIsDroppedWithoutHarm) {
  auto pair = make_pair(DtlsRole::Client);
  const TimePoint now = Clock::now();
  ASSERT_NO_FATAL_FAILURE(pair->connect(now));
  feed_garbage(*pair, now);
  EXPECT_TRUE(pair->a.outbox.empty() && pair->b.outbox.empty()) << "garbage got an answer";
  ASSERT_TRUE(pair->a.transport->send(pattern(64, 8))) << describe(pair->a.failures);
  ASSERT_TRUE(pair->b.transport->send(pattern(65, 9))) << describe(pair->b.failures);
  pair->pump(now);
  EXPECT_EQ(pair->b.received, std::vector<Bytes>{pattern(64, 8)});
  EXPECT_EQ(pair->a.received, std::vector<Bytes>{pattern(65, 9)});
  EXPECT_TRUE(pair->a.failures.empty()) << describe(pair->a.failures);
  EXPECT_TRUE(pair->b.failures.empty()) << describe(pair->b.failures);
}

TEST(DtlsTransport, CloseSendsCloseNotifyAndThePeerReportsClosed) {
  auto pair = make_pair(DtlsRole::Client);
  const TimePoint now = Clock::now();
  ASSERT_NO_FATAL_FAILURE(pair->connect(now));
  pair->a.transport->close();
  EXPECT_EQ(pair->a.transport->state(), DtlsState::Closed);
  ASSERT_EQ(pair->a.outbox.size(), 1u) << "close_notify";
  pair->pump(now);
  EXPECT_EQ(pair->b.closed, 1);
  EXPECT_EQ(pair->b.transport->state(), DtlsState::Closed);
  EXPECT_EQ(pair->a.closed, 0) << "closed reports the peer closing, not our own close()";
  EXPECT_TRUE(pair->a.failures.empty()) << describe(pair->a.failures);
  EXPECT_TRUE(pair->b.failures.empty()) << describe(pair->b.failures);
  auto after = pair->b.transport->send(pattern(5, 1));
  ASSERT_FALSE(after);
  EXPECT_EQ(after.error().code, ErrorCode::NotConnected);
}

TEST(DtlsTransport, MissingCertificateFailsOnStart) {
  Side side;
  side.transport =
      std::make_unique<DtlsTransport>(nullptr, DtlsRole::Client, Fingerprint{}, side.callbacks());
  side.transport->start(Clock::now());
  EXPECT_EQ(side.transport->state(), DtlsState::Failed);
  ASSERT_EQ(side.failures.size(), 1u);
  EXPECT_EQ(side.failures[0].code, ErrorCode::InvalidArgument);
  EXPECT_TRUE(side.outbox.empty());
}

}  // namespace
}  // namespace switchboard::webrtc
