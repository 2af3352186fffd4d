#include "webrtc/stun.hpp"

#include <string>
#include <unordered_set>

#include <gtest/gtest.h>

#include "webrtc/socket_address.hpp"

namespace switchboard::webrtc {
namespace {

Bytes from_hex(std::string_view hex) {
  Bytes out;
  int high = -1;
  for (char c : hex) {
    int v = -1;
    if (c >= '0' && c <= '9') v = c - '0';
    if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    if (v < 0) continue;
    if (high < 0) {
      high = v;
    } else {
      out.push_back(static_cast<std::uint8_t>(high * 16 + v));
      high = -1;
    }
  }
  return out;
}

// RFC 5769 test vectors. Their padding bytes are spaces (0x20), which the MAC covers.
const char* const kPassword = "VOkJxbRl1RmTxUk/WvJxBt";

const Bytes kSampleRequest = from_hex(
    "00 01 00 58  21 12 a4 42  b7 e7 a7 01  bc 34 d6 86  fa 87 df ae"
    "80 22 00 10  53 54 55 4e  20 74 65 73  74 20 63 6c  69 65 6e 74"
    "00 24 00 04  6e 00 01 ff"
    "80 29 00 08  93 2f f9 b1  51 26 3b 36"
    "00 06 00 09  65 76 74 6a  3a 68 36 76  59 20 20 20"
    "00 08 00 14  9a ea a7 0c  bf d8 cb 56  78 1e f2 b5  b2 d3 f2 49  c1 b5 71 a2"
    "80 28 00 04  e5 7a 3b cf");

const Bytes kIpv4Response = from_hex(
    "01 01 00 3c  21 12 a4 42  b7 e7 a7 01  bc 34 d6 86  fa 87 df ae"
    "80 22 00 0b  74 65 73 74  20 76 65 63  74 6f 72 20"
    "00 20 00 08  00 01 a1 47  e1 12 a6 43"
    "00 08 00 14  2b 91 f5 99  fd 9e 90 c3  8c 74 89 f9  2a f9 ba 53  f0 6b e7 d7"
    "80 28 00 04  c0 7d 4c 96");

const Bytes kIpv6Response = from_hex(
    "01 01 00 48  21 12 a4 42  b7 e7 a7 01  bc 34 d6 86  fa 87 df ae"
    "80 22 00 0b  74 65 73 74  20 76 65 63  74 6f 72 20"
    "00 20 00 14  00 02 a1 47  01 13 a9 fa  a5 d3 f1 79  bc 25 f4 b5  be d2 b9 d9"
    "00 08 00 14  a3 82 95 4e  4b e6 7b f1  17 84 c9 7c  82 92 c2 75  bf e3 ed 41"
    "80 28 00 04  c8 fb 0b 4c");

const StunTransactionId kVectorTransactionId = {0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34,
                                                0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae};

StunMessage parse_ok(ByteView raw) {
  auto parsed = parse_stun(raw);
  EXPECT_TRUE(parsed.ok()) << (parsed.ok() ? "" : parsed.error().message);
  return parsed.ok() ? *parsed : StunMessage{};
}

void set_length(Bytes& message) {
  const std::size_t length = message.size() - kStunHeaderSize;
  message[2] = static_cast<std::uint8_t>(length >> 8);
  message[3] = static_cast<std::uint8_t>(length);
}

TEST(Crc32, MatchesTheStandardCheckValue) {
  EXPECT_EQ(crc32(as_bytes("123456789")), 0xCBF43926u);
}

TEST(Stun, LooksLikeStunAcceptsStunAndRejectsDtlsAndShortData) {
  EXPECT_TRUE(looks_like_stun(kSampleRequest));
  EXPECT_TRUE(looks_like_stun(kIpv4Response));
  Bytes dtls = kSampleRequest;
  dtls[0] = 22;  // a DTLS handshake record
  EXPECT_FALSE(looks_like_stun(dtls));
  Bytes no_cookie = kSampleRequest;
  no_cookie[4] = 0;
  EXPECT_FALSE(looks_like_stun(no_cookie));
  EXPECT_FALSE(looks_like_stun(ByteView(kSampleRequest).first(19)));
}

TEST(Stun, ParsesRfc5769SampleRequest) {
  const StunMessage m = parse_ok(kSampleRequest);
  EXPECT_EQ(m.method, kStunBindingMethod);
  EXPECT_EQ(m.cls, StunClass::Request);
  EXPECT_EQ(m.transaction_id, kVectorTransactionId);
  EXPECT_EQ(m.username, "evtj:h6vY");
  EXPECT_EQ(m.software, "STUN test client");
  EXPECT_EQ(m.priority, 0x6e0001ffu);
  EXPECT_EQ(m.ice_controlled, 0x932ff9b151263b36ull);
  EXPECT_FALSE(m.ice_controlling);
  EXPECT_FALSE(m.use_candidate);
  EXPECT_TRUE(m.unknown_required.empty());
  EXPECT_EQ(m.integrity_offset, std::optional<std::size_t>(76));
  EXPECT_EQ(m.fingerprint_offset, std::optional<std::size_t>(100));
}

TEST(Stun, VerifiesRfc5769SampleRequestCredentials) {
  const StunMessage m = parse_ok(kSampleRequest);
  EXPECT_TRUE(verify_fingerprint(kSampleRequest, m));
  EXPECT_TRUE(verify_integrity(kSampleRequest, m, kPassword));
  EXPECT_FALSE(verify_integrity(kSampleRequest, m, "VOkJxbRl1RmTxUk/WvJxBu"));
}

TEST(Stun, ParsesAndVerifiesRfc5769Ipv4Response) {
  const StunMessage m = parse_ok(kIpv4Response);
  EXPECT_EQ(m.cls, StunClass::SuccessResponse);
  EXPECT_EQ(m.method, kStunBindingMethod);
  EXPECT_EQ(m.software, "test vector");
  EXPECT_EQ(m.xor_mapped_address, SocketAddress::parse("192.0.2.1", 32853));
  EXPECT_TRUE(verify_fingerprint(kIpv4Response, m));
  EXPECT_TRUE(verify_integrity(kIpv4Response, m, kPassword));
}

TEST(Stun, ParsesAndVerifiesRfc5769Ipv6Response) {
  const StunMessage m = parse_ok(kIpv6Response);
  EXPECT_EQ(m.cls, StunClass::SuccessResponse);
  EXPECT_EQ(m.xor_mapped_address,
            SocketAddress::parse("2001:db8:1234:5678:11:2233:4455:6677", 32853));
  EXPECT_TRUE(verify_fingerprint(kIpv6Response, m));
  EXPECT_TRUE(verify_integrity(kIpv6Response, m, kPassword));
}

TEST(Stun, WriterLaysOutRfc5769Ipv4ResponseByteForByte) {
  // The vector pads with a space where we pad with zero; with that byte made zero, every
  // byte before the MAC must match, and the MAC and CRC must verify.
  Bytes expected = kIpv4Response;
  expected[20 + 4 + 11] = 0;
  const Bytes written =
      StunWriter(kStunBindingMethod, StunClass::SuccessResponse, kVectorTransactionId)
          .add_software("test vector")
          .add_xor_mapped_address(*SocketAddress::parse("192.0.2.1", 32853))
          .finish(kPassword);
  ASSERT_EQ(written.size(), expected.size());
  const std::size_t mac_start = 20 + 16 + 12 + 4;
  EXPECT_EQ(Bytes(written.begin(), written.begin() + mac_start),
            Bytes(expected.begin(), expected.begin() + mac_start));
  const StunMessage m = parse_ok(written);
  EXPECT_TRUE(verify_integrity(written, m, kPassword));
  EXPECT_TRUE(verify_fingerprint(written, m));
}

TEST(Stun, WriterXorsIpv6AddressWithTransactionId) {
  const Bytes written =
      StunWriter(kStunBindingMethod, StunClass::SuccessResponse, kVectorTransactionId)
          .add_xor_mapped_address(
              *SocketAddress::parse("2001:db8:1234:5678:11:2233:4455:6677", 32853))
          .finish(std::nullopt, false);
  // The attribute as it appears in the RFC 5769 IPv6 response.
  const Bytes attribute =
      from_hex("00 20 00 14  00 02 a1 47  01 13 a9 fa  a5 d3 f1 79  bc 25 f4 b5  be d2 b9 d9");
  EXPECT_EQ(Bytes(written.begin() + 20, written.end()), attribute);
}

TEST(Stun, WriterRoundTripsAnIceCheck) {
  const StunTransactionId id = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  const Bytes written = StunWriter(kStunBindingMethod, StunClass::Request, id)
                            .add_username("abcd:efgh")
                            .add_priority(0x7e7f00ff)
                            .add_use_candidate()
                            .add_ice_controlling(0x0102030405060708ull)
                            .finish("secret");
  const StunMessage m = parse_ok(written);
  EXPECT_EQ(m.transaction_id, id);
  EXPECT_EQ(m.cls, StunClass::Request);
  EXPECT_EQ(m.username, "abcd:efgh");
  EXPECT_EQ(m.priority, 0x7e7f00ffu);
  EXPECT_TRUE(m.use_candidate);
  EXPECT_EQ(m.ice_controlling, 0x0102030405060708ull);
  EXPECT_FALSE(m.ice_controlled);
  EXPECT_TRUE(verify_integrity(written, m, "secret"));
  EXPECT_FALSE(verify_integrity(written, m, "secreT"));
  EXPECT_TRUE(verify_fingerprint(written, m));
}

TEST(Stun, WriterRoundTripsErrorResponse) {
  const std::uint16_t unknown[] = {0x7777, 0x0031};
  const Bytes written =
      StunWriter(kStunBindingMethod, StunClass::ErrorResponse, kVectorTransactionId)
          .add_error_code(420, "Unknown Attribute")
          .add_unknown_attributes(unknown)
          .finish("pw");
  const StunMessage m = parse_ok(written);
  EXPECT_EQ(m.cls, StunClass::ErrorResponse);
  EXPECT_EQ(m.error_code, std::optional<std::uint16_t>(420));
  EXPECT_EQ(m.error_reason, "Unknown Attribute");
  EXPECT_EQ(m.unknown_attributes, (std::vector<std::uint16_t>{0x7777, 0x0031}));
}

TEST(Stun, EncodesMethodAndClassBitsApart) {
  // Method 0xABC as an indication: M11..M7 C1 M6..M4 C0 M3..M0 = 10101 0 011 1 1100.
  const Bytes written =
      StunWriter(0x0ABC, StunClass::Indication, kVectorTransactionId).finish(std::nullopt, false);
  const StunMessage m = parse_ok(written);
  EXPECT_EQ(m.method, 0x0ABC);
  EXPECT_EQ(m.cls, StunClass::Indication);
  EXPECT_EQ(written[0], 0x2A);
  EXPECT_EQ(written[1], 0x7C);
}

TEST(Stun, MessageWithoutCredentialsVerifiesNeither) {
  const Bytes written = StunWriter(kStunBindingMethod, StunClass::Request, kVectorTransactionId)
                            .finish(std::nullopt, false);
  const StunMessage m = parse_ok(written);
  EXPECT_FALSE(m.has_message_integrity());
  EXPECT_FALSE(m.has_fingerprint());
  EXPECT_FALSE(verify_integrity(written, m, kPassword));
  EXPECT_FALSE(verify_fingerprint(written, m));
}

TEST(Stun, RejectsTruncatedHeader) {
  EXPECT_FALSE(parse_stun(ByteView(kSampleRequest).first(19)).ok());
  EXPECT_FALSE(parse_stun({}).ok());
}

TEST(Stun, RejectsTruncatedMessage) {
  EXPECT_FALSE(parse_stun(ByteView(kSampleRequest).first(kSampleRequest.size() - 4)).ok());
}

TEST(Stun, RejectsLengthThatDisagreesWithDatagram) {
  Bytes longer = kSampleRequest;
  longer.insert(longer.end(), {0, 0, 0, 0});
  EXPECT_FALSE(parse_stun(longer).ok());
}

TEST(Stun, RejectsLengthNotMultipleOfFour) {
  Bytes odd = kSampleRequest;
  odd.push_back(0);
  set_length(odd);
  EXPECT_FALSE(parse_stun(odd).ok());
}

TEST(Stun, RejectsBadMagicCookie) {
  Bytes bad = kSampleRequest;
  bad[7] ^= 1;
  EXPECT_FALSE(parse_stun(bad).ok());
}

TEST(Stun, RejectsNonZeroTopBits) {
  Bytes bad = kSampleRequest;
  bad[0] |= 0x80;
  EXPECT_FALSE(parse_stun(bad).ok());
}

TEST(Stun, RejectsAttributeRunningPastTheEnd) {
  Bytes bad = kSampleRequest;
  bad[22] = 0x00;  // SOFTWARE length 0x10 -> 0x70
  bad[23] = 0x70;
  EXPECT_FALSE(parse_stun(bad).ok());
}

TEST(Stun, RejectsAttributeAfterFingerprint) {
  Bytes bad = kSampleRequest;
  bad.insert(bad.end(), {0x00, 0x25, 0x00, 0x00});  // USE-CANDIDATE
  set_length(bad);
  EXPECT_FALSE(parse_stun(bad).ok());
}

TEST(Stun, RejectsFixedSizeAttributeOfWrongSize) {
  const Bytes bad = StunWriter(kStunBindingMethod, StunClass::Request, kVectorTransactionId)
                        .add_raw(stun_attr::kPriority, from_hex("01 02 03"))
                        .finish(std::nullopt, false);
  EXPECT_FALSE(parse_stun(bad).ok());
}

TEST(Stun, RejectsUnknownAddressFamily) {
  const Bytes bad = StunWriter(kStunBindingMethod, StunClass::SuccessResponse, kVectorTransactionId)
                        .add_raw(stun_attr::kXorMappedAddress, from_hex("00 03 a1 47 e1 12 a6 43"))
                        .finish(std::nullopt, false);
  EXPECT_FALSE(parse_stun(bad).ok());
}

TEST(Stun, RejectsBadFingerprint) {
  Bytes bad = kSampleRequest;
  bad.back() ^= 0x01;
  const StunMessage m = parse_ok(bad);
  EXPECT_FALSE(verify_fingerprint(bad, m));
  EXPECT_TRUE(verify_integrity(bad, m, kPassword));  // the MAC does not cover FINGERPRINT
}

TEST(Stun, RejectsBadIntegrity) {
  Bytes bad = kSampleRequest;
  bad[30] ^= 0x01;  // inside SOFTWARE, covered by the MAC
  const StunMessage m = parse_ok(bad);
  EXPECT_FALSE(verify_integrity(bad, m, kPassword));
  EXPECT_FALSE(verify_fingerprint(bad, m));
}

TEST(Stun, IgnoresAttributesAfterIntegrityButStillVerifies) {
  Bytes message = StunWriter(kStunBindingMethod, StunClass::Request, kVectorTransactionId)
                      .add_username("a:b")
                      .finish("pw", false);
  // An attacker appending attributes after MESSAGE-INTEGRITY must not get them read.
  message.insert(message.end(), {0x00, 0x24, 0x00, 0x04, 0xff, 0xff, 0xff, 0xff});
  message.insert(message.end(), {0x00, 0x25, 0x00, 0x00});
  set_length(message);
  const StunMessage m = parse_ok(message);
  EXPECT_FALSE(m.priority);
  EXPECT_FALSE(m.use_candidate);
  EXPECT_TRUE(verify_integrity(message, m, "pw"));
}

TEST(Stun, ListsUnknownComprehensionRequiredAttributesOnly) {
  const Bytes message = StunWriter(kStunBindingMethod, StunClass::Request, kVectorTransactionId)
                            .add_raw(0x7777, from_hex("01"))
                            .add_raw(0xC001, from_hex("02"))
                            .add_raw(0x7777, from_hex("03"))
                            .add_raw(0x0031, {})
                            .finish(std::nullopt);
  const StunMessage m = parse_ok(message);
  EXPECT_EQ(m.unknown_required, (std::vector<std::uint16_t>{0x7777, 0x0031}));
}

TEST(Stun, FirstOfDuplicateAttributesWins) {
  const Bytes message = StunWriter(kStunBindingMethod, StunClass::Request, kVectorTransactionId)
                            .add_username("first")
                            .add_username("second")
                            .add_priority(1)
                            .add_priority(2)
                            .finish(std::nullopt);
  const StunMessage m = parse_ok(message);
  EXPECT_EQ(m.username, "first");
  EXPECT_EQ(m.priority, 1u);
}

TEST(SocketAddress, ParsesAndPrintsIpv4) {
  const auto a = SocketAddress::parse("192.0.2.1", 5000);
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->is_v4());
  EXPECT_EQ(a->port(), 5000);
  EXPECT_EQ(a->to_string(), "192.0.2.1:5000");
  EXPECT_EQ(Bytes(a->ip_bytes().begin(), a->ip_bytes().end()), from_hex("c0 00 02 01"));
}

TEST(SocketAddress, ParsesAndPrintsIpv6WithOrWithoutBrackets) {
  const auto a = SocketAddress::parse("::1", 443);
  const auto b = SocketAddress::parse("[::1]", 443);
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->is_v6());
  EXPECT_EQ(a, b);
  EXPECT_EQ(a->to_string(), "[::1]:443");
}

TEST(SocketAddress, RejectsWhatIsNotAnAddress) {
  EXPECT_FALSE(SocketAddress::parse("", 1));
  EXPECT_FALSE(SocketAddress::parse("256.0.0.1", 1));
  EXPECT_FALSE(SocketAddress::parse("example.com", 1));
  EXPECT_FALSE(SocketAddress::parse("1.2.3.4:5", 1));
  EXPECT_FALSE(SocketAddress::parse("[::1", 1));
}

TEST(SocketAddress, EqualityAndHashSeePortAndFamily) {
  const auto a = *SocketAddress::parse("10.0.0.1", 1);
  const auto b = *SocketAddress::parse("10.0.0.1", 2);
  const auto mapped = *SocketAddress::parse("::ffff:10.0.0.1", 1);
  EXPECT_NE(a, b);
  EXPECT_NE(a, mapped);
  EXPECT_EQ(a, *SocketAddress::parse("10.0.0.1", 1));
  std::unordered_set<SocketAddress> set{a, b, mapped, a};
  EXPECT_EQ(set.size(), 3u);
  EXPECT_TRUE(set.contains(*SocketAddress::parse("10.0.0.1", 2)));
}

}  // namespace
}  // namespace switchboard::webrtc
