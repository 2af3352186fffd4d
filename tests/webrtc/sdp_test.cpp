#include "webrtc/sdp.hpp"

#include <string>

#include <gtest/gtest.h>

namespace switchboard::webrtc {
namespace {

// An offer from Chromium's RTCPeerConnection with one data channel, CRLF-terminated.
std::string chromium_offer() {
  return "v=0\r\n"
         "o=- 4215775240449105457 2 IN IP4 127.0.0.1\r\n"
         "s=-\r\n"
         "t=0 0\r\n"
         "a=group:BUNDLE 0\r\n"
         "a=extmap-allow-mixed\r\n"
         "a=msid-semantic: WMS\r\n"
         "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"
         "c=IN IP4 0.0.0.0\r\n"
         "a=candidate:1467250027 1 udp 2122260223 192.168.1.5 46243 typ host generation 0 "
         "network-id 1\r\n"
         "a=ice-ufrag:Kx3b\r\n"
         "a=ice-pwd:3F7vPnJp2h6Zo0Zw9s1qRbD8\r\n"
         "a=ice-options:trickle\r\n"
         "a=fingerprint:sha-256 "
         "7B:8B:F0:65:5F:78:E2:51:3B:AC:6F:F3:3F:46:1B:35:DC:B8:5F:64:1A:24:C2:43:F0:A1:58:D0:A1:"
         "2C:19:08\r\n"
         "a=setup:actpass\r\n"
         "a=mid:0\r\n"
         "a=sctp-port:5000\r\n"
         "a=max-message-size:262144\r\n";
}

constexpr std::string_view kFingerprintText =
    "7B:8B:F0:65:5F:78:E2:51:3B:AC:6F:F3:3F:46:1B:35:DC:B8:5F:64:1A:24:C2:43:F0:A1:58:D0:A1:2C:"
    "19:08";

std::string lower_hex(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string replace(std::string text, std::string_view from, std::string_view to) {
  const auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

std::string remove_line(std::string text, std::string_view prefix) {
  const auto at = text.find(prefix);
  EXPECT_NE(at, std::string::npos) << prefix;
  if (at == std::string::npos) return text;
  return text.erase(at, text.find("\r\n", at) + 2 - at);
}

// The error message of a description that must be rejected.
std::string rejection(const std::string& text) {
  auto result = parse_sdp(text);
  EXPECT_FALSE(result) << text;
  if (result) return "";
  EXPECT_EQ(result.error().code, ErrorCode::InvalidArgument);
  return result.error().message;
}

SessionDescription server_answer() {
  SessionDescription d;
  d.ice_ufrag = "srvU";
  d.ice_pwd = "abcdefghijklmnopqrstuv+/";
  d.ice_lite = true;
  d.trickle = false;
  for (std::size_t i = 0; i < d.fingerprint.size(); ++i) {
    d.fingerprint[i] = static_cast<std::uint8_t>(i * 7 + 1);
  }
  d.setup = DtlsSetup::Passive;
  d.mid = "data";
  d.sctp_port = 5001;
  d.max_message_size = 262144;
  IceCandidate host;
  host.foundation = "1";
  host.priority = 2130706431;
  host.address = "203.0.113.7";
  host.port = 3478;
  d.candidates.push_back(host);
  d.end_of_candidates = true;
  d.session_id = 1234567890123456789u;
  d.session_version = 3;
  return d;
}

TEST(Sdp, ParsesChromiumDataOnlyOffer) {
  auto parsed = parse_sdp(chromium_offer());
  ASSERT_TRUE(parsed) << parsed.error().message;
  const SessionDescription& d = *parsed;
  EXPECT_EQ(d.session_id, 4215775240449105457u);
  EXPECT_EQ(d.session_version, 2u);
  EXPECT_EQ(d.ice_ufrag, "Kx3b");
  EXPECT_EQ(d.ice_pwd, "3F7vPnJp2h6Zo0Zw9s1qRbD8");
  EXPECT_FALSE(d.ice_lite);
  EXPECT_TRUE(d.trickle);
  EXPECT_EQ(format_fingerprint(d.fingerprint), kFingerprintText);
  EXPECT_EQ(d.setup, DtlsSetup::ActPass);
  EXPECT_EQ(d.mid, "0");
  EXPECT_EQ(d.sctp_port, 5000);
  EXPECT_EQ(d.max_message_size, 262144u);
  EXPECT_FALSE(d.end_of_candidates);
  ASSERT_EQ(d.candidates.size(), 1u);
  const IceCandidate& c = d.candidates[0];
  EXPECT_EQ(c.foundation, "1467250027");
  EXPECT_EQ(c.component, 1u);
  EXPECT_EQ(c.transport, "udp");
  EXPECT_EQ(c.priority, 2122260223u);
  EXPECT_EQ(c.address, "192.168.1.5");
  EXPECT_EQ(c.port, 46243);
  EXPECT_EQ(c.type, "host");
  EXPECT_FALSE(c.related_address);
  EXPECT_FALSE(c.related_port);
}

TEST(Sdp, ParsesFirefoxStyleOffer) {
  // Firefox: LF here, session-level lower-case fingerprint and ice-options, a 1 GiB
  // max-message-size, and the media-level attributes in a different order.
  const std::string text =
      "v=0\n"
      "o=mozilla...THIS_IS_SDPARTA-99.0 5219165225785532352 0 IN IP4 0.0.0.0\n"
      "s=-\n"
      "t=0 0\n"
      "a=fingerprint:sha-256 " +
      lower_hex(kFingerprintText) +
      "\n"
      "a=group:BUNDLE 0\n"
      "a=ice-options:trickle\n"
      "a=msid-semantic:WMS *\n"
      "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\n"
      "c=IN IP4 0.0.0.0\n"
      "a=sendrecv\n"
      "a=ice-pwd:9b6d2c6e3e0f4a8b7c1d2e3f4a5b6c7d\n"
      "a=ice-ufrag:1a2b3c4d\n"
      "a=mid:0\n"
      "a=setup:actpass\n"
      "a=sctp-port:5000\n"
      "a=max-message-size:1073741823\n";
  auto d = parse_sdp(text);
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_EQ(d->session_id, 5219165225785532352u);
  EXPECT_EQ(d->ice_ufrag, "1a2b3c4d");
  EXPECT_TRUE(d->trickle);
  EXPECT_EQ(format_fingerprint(d->fingerprint), kFingerprintText);
  EXPECT_EQ(d->max_message_size, kSdpUnlimitedMaxMessageSize);
  EXPECT_TRUE(d->candidates.empty());
}

TEST(Sdp, AcceptsLfLineEndingsAndMissingFinalNewline) {
  std::string text = chromium_offer();
  std::string lf;
  for (char c : text) {
    if (c != '\r') lf += c;
  }
  auto with_lf = parse_sdp(lf);
  ASSERT_TRUE(with_lf) << with_lf.error().message;
  lf.pop_back();
  auto unterminated = parse_sdp(lf);
  ASSERT_TRUE(unterminated) << unterminated.error().message;
  EXPECT_EQ(*with_lf, *parse_sdp(text));
  EXPECT_EQ(*unterminated, *with_lf);
}

TEST(Sdp, WriteThenParseRoundTrips) {
  const SessionDescription original = server_answer();
  const std::string text = write_sdp(original);
  auto parsed = parse_sdp(text);
  ASSERT_TRUE(parsed) << parsed.error().message << "\n" << text;
  EXPECT_EQ(*parsed, original);
}

TEST(Sdp, RoundTripsChromiumOffer) {
  auto first = parse_sdp(chromium_offer());
  ASSERT_TRUE(first);
  auto second = parse_sdp(write_sdp(*first));
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_EQ(*second, *first);
}

TEST(Sdp, WritesCrlfLinesWithBundleAndIceLite) {
  const std::string text = write_sdp(server_answer());
  EXPECT_TRUE(text.starts_with("v=0\r\n"));
  EXPECT_TRUE(text.ends_with("\r\n"));
  EXPECT_EQ(text.find("\n\n"), std::string::npos);
  for (std::size_t at = text.find('\n'); at != std::string::npos; at = text.find('\n', at + 1)) {
    EXPECT_EQ(text[at - 1], '\r') << "bare LF at " << at;
  }
  // ice-lite is session-level: it must come before the m= line.
  const auto lite = text.find("a=ice-lite\r\n");
  const auto media = text.find("m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n");
  ASSERT_NE(lite, std::string::npos);
  ASSERT_NE(media, std::string::npos);
  EXPECT_LT(lite, media);
  EXPECT_NE(text.find("a=group:BUNDLE data\r\n"), std::string::npos);
  EXPECT_NE(text.find("a=candidate:1 1 udp 2130706431 203.0.113.7 3478 typ host\r\n"),
            std::string::npos);
  EXPECT_NE(text.find("a=end-of-candidates\r\n"), std::string::npos);
  EXPECT_NE(text.find("a=setup:passive\r\n"), std::string::npos);
  EXPECT_EQ(text.find("a=ice-options"), std::string::npos);
}

TEST(Sdp, OmitsIceLiteAndEndOfCandidatesWhenUnset) {
  SessionDescription d = server_answer();
  d.ice_lite = false;
  d.end_of_candidates = false;
  d.trickle = true;
  const std::string text = write_sdp(d);
  EXPECT_EQ(text.find("ice-lite"), std::string::npos);
  EXPECT_EQ(text.find("end-of-candidates"), std::string::npos);
  EXPECT_NE(text.find("a=ice-options:trickle\r\n"), std::string::npos);
}

TEST(Sdp, DefaultsSctpPortAndMaxMessageSizeWhenAbsent) {
  std::string text = remove_line(chromium_offer(), "a=sctp-port");
  text = remove_line(text, "a=max-message-size");
  auto d = parse_sdp(text);
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_EQ(d->sctp_port, 5000);
  EXPECT_EQ(d->max_message_size, 65536u);
}

TEST(Sdp, MaxMessageSizeZeroMeansUnlimited) {
  auto d = parse_sdp(replace(chromium_offer(), "max-message-size:262144", "max-message-size:0"));
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_EQ(d->max_message_size, kSdpUnlimitedMaxMessageSize);
}

TEST(Sdp, ClampsFirefoxSizedMaxMessageSize) {
  auto d = parse_sdp(
      replace(chromium_offer(), "max-message-size:262144", "max-message-size:1073741823"));
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_EQ(d->max_message_size, kSdpUnlimitedMaxMessageSize);
}

TEST(Sdp, SessionLevelIceAndDtlsAttributesApply) {
  std::string text = chromium_offer();
  for (std::string_view prefix :
       {"a=ice-ufrag", "a=ice-pwd", "a=fingerprint", "a=setup", "a=ice-options"}) {
    text = remove_line(text, prefix);
  }
  text = replace(text, "m=application",
                 "a=ice-ufrag:sEsS\r\na=ice-pwd:0123456789012345678901\r\n"
                 "a=fingerprint:SHA-256 " +
                     std::string(kFingerprintText) +
                     "\r\na=setup:active\r\na=ice-options:trickle\r\nm=application");
  auto d = parse_sdp(text);
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_EQ(d->ice_ufrag, "sEsS");
  EXPECT_EQ(d->ice_pwd, "0123456789012345678901");
  EXPECT_EQ(format_fingerprint(d->fingerprint), kFingerprintText);
  EXPECT_EQ(d->setup, DtlsSetup::Active);
  EXPECT_TRUE(d->trickle);
}

TEST(Sdp, MediaLevelAttributesWinOverSessionLevel) {
  const std::string text =
      replace(chromium_offer(), "m=application",
              "a=ice-ufrag:sEsS\r\na=ice-pwd:0123456789012345678901\r\n"
              "a=setup:passive\r\na=ice-options:ice2\r\na=fingerprint:sha-256 " +
                  format_fingerprint(Fingerprint{}) + "\r\nm=application");
  auto d = parse_sdp(text);
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_EQ(d->ice_ufrag, "Kx3b");
  EXPECT_EQ(d->ice_pwd, "3F7vPnJp2h6Zo0Zw9s1qRbD8");
  EXPECT_EQ(d->setup, DtlsSetup::ActPass);
  EXPECT_TRUE(d->trickle);
  EXPECT_EQ(format_fingerprint(d->fingerprint), kFingerprintText);
}

TEST(Sdp, IceLiteAtSessionLevelIsRead) {
  auto d = parse_sdp(replace(chromium_offer(), "a=group", "a=ice-lite\r\na=group"));
  ASSERT_TRUE(d);
  EXPECT_TRUE(d->ice_lite);
}

TEST(Sdp, UsesSha256WhenOtherFingerprintsAreAlsoPresent) {
  auto d =
      parse_sdp(replace(chromium_offer(), "a=setup", "a=fingerprint:sha-1 00:11:22\r\na=setup"));
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_EQ(format_fingerprint(d->fingerprint), kFingerprintText);
}

TEST(Sdp, IgnoresUnknownAttributesAndLines) {
  auto d = parse_sdp(replace(chromium_offer(), "a=mid:0",
                             "a=mid:0\r\na=x-custom:whatever\r\nb=AS:30\r\na=sendrecv"));
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_EQ(*d, *parse_sdp(chromium_offer()));
}

TEST(Sdp, ReadsEndOfCandidates) {
  auto d = parse_sdp(chromium_offer() + "a=end-of-candidates\r\n");
  ASSERT_TRUE(d);
  EXPECT_TRUE(d->end_of_candidates);
}

TEST(Sdp, RejectsOversizedText) {
  std::string text = chromium_offer();
  while (text.size() <= kMaxSdpSize) text += "a=x-padding:0123456789012345678901234567890\r\n";
  EXPECT_NE(rejection(text).find("exceeds"), std::string::npos);
}

TEST(Sdp, RejectsEmptyText) {
  EXPECT_NE(rejection("").find("empty"), std::string::npos);
}

TEST(Sdp, RejectsMissingVersionLine) {
  EXPECT_NE(rejection(remove_line(chromium_offer(), "v=0")).find("v=0"), std::string::npos);
  EXPECT_NE(rejection(replace(chromium_offer(), "v=0", "v=1")).find("v=0"), std::string::npos);
}

TEST(Sdp, RejectsLineNotOfTypeEqualsValueForm) {
  const std::string message = rejection(replace(chromium_offer(), "s=-", "this is not sdp"));
  EXPECT_NE(message.find("line 3"), std::string::npos) << message;
  EXPECT_NE(message.find("<letter>=<value>"), std::string::npos) << message;
  rejection(replace(chromium_offer(), "s=-", "S=-"));
  rejection(replace(chromium_offer(), "s=-\r\n", "s=-\r\n\r\n"));
  rejection(replace(chromium_offer(), "s=-", "s=-\rx"));
  rejection(replace(chromium_offer(), "s=-", std::string("s=\0", 3)));
}

TEST(Sdp, RejectsMissingOrigin) {
  EXPECT_NE(rejection(remove_line(chromium_offer(), "o=")).find("o="), std::string::npos);
  rejection(replace(chromium_offer(), "o=- 4215775240449105457 2", "o=- abc 2"));
}

TEST(Sdp, RejectsMissingMediaLine) {
  std::string text = chromium_offer();
  text = text.substr(0, text.find("m=application"));
  EXPECT_NE(rejection(text).find("no m= line"), std::string::npos);
}

TEST(Sdp, RejectsAudioAndVideoWithDataOnlyMessage) {
  const std::string audio =
      replace(chromium_offer(), "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
              "m=audio 9 UDP/TLS/RTP/SAVPF 111");
  EXPECT_NE(rejection(audio).find("only data sessions are supported"), std::string::npos);
  const std::string video = chromium_offer() + "m=video 9 UDP/TLS/RTP/SAVPF 96\r\n";
  EXPECT_NE(rejection(video).find("only data sessions are supported"), std::string::npos);
}

TEST(Sdp, RejectsLegacyAndOtherProtocols) {
  const std::string legacy =
      replace(chromium_offer(), "UDP/DTLS/SCTP webrtc-datachannel", "DTLS/SCTP 5000");
  EXPECT_NE(rejection(legacy).find("legacy"), std::string::npos);
  rejection(replace(chromium_offer(), "UDP/DTLS/SCTP", "TCP/DTLS/SCTP"));
  rejection(replace(chromium_offer(), "webrtc-datachannel", "webrtc-datachannel extra"));
  rejection(replace(chromium_offer(), "webrtc-datachannel", "other"));
  rejection(replace(chromium_offer(), "m=application 9", "m=application x"));
}

TEST(Sdp, RejectsRejectedMediaSection) {
  EXPECT_NE(
      rejection(replace(chromium_offer(), "m=application 9", "m=application 0")).find("port 0"),
      std::string::npos);
}

TEST(Sdp, RejectsSecondMediaSection) {
  const std::string text =
      chromium_offer() + "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:1\r\n";
  EXPECT_NE(rejection(text).find("only one m=application"), std::string::npos);
}

TEST(Sdp, RejectsMissingIceUfrag) {
  EXPECT_NE(rejection(remove_line(chromium_offer(), "a=ice-ufrag")).find("missing a=ice-ufrag"),
            std::string::npos);
}

TEST(Sdp, RejectsMissingIcePwd) {
  EXPECT_NE(rejection(remove_line(chromium_offer(), "a=ice-pwd")).find("missing a=ice-pwd"),
            std::string::npos);
}

TEST(Sdp, RejectsMissingFingerprint) {
  EXPECT_NE(rejection(remove_line(chromium_offer(), "a=fingerprint")).find("missing a=fingerprint"),
            std::string::npos);
}

TEST(Sdp, RejectsMissingSetup) {
  EXPECT_NE(rejection(remove_line(chromium_offer(), "a=setup")).find("missing a=setup"),
            std::string::npos);
}

TEST(Sdp, RejectsMissingMid) {
  EXPECT_NE(rejection(remove_line(chromium_offer(), "a=mid")).find("a=mid"), std::string::npos);
}

TEST(Sdp, RejectsUnsupportedSetupRole) {
  EXPECT_NE(
      rejection(replace(chromium_offer(), "setup:actpass", "setup:holdconn")).find("holdconn"),
      std::string::npos);
}

TEST(Sdp, RejectsUfragOutsideFourTo256IceChars) {
  rejection(replace(chromium_offer(), "ice-ufrag:Kx3b", "ice-ufrag:Kx3"));
  rejection(replace(chromium_offer(), "ice-ufrag:Kx3b", "ice-ufrag:" + std::string(257, 'a')));
  rejection(replace(chromium_offer(), "ice-ufrag:Kx3b", "ice-ufrag:Kx-b"));
  rejection(replace(chromium_offer(), "ice-ufrag:Kx3b", "ice-ufrag:"));
  EXPECT_TRUE(
      parse_sdp(replace(chromium_offer(), "ice-ufrag:Kx3b", "ice-ufrag:" + std::string(256, 'a'))));
}

TEST(Sdp, RejectsPwdOutside22To256IceChars) {
  rejection(replace(chromium_offer(), "ice-pwd:3F7vPnJp2h6Zo0Zw9s1qRbD8",
                    "ice-pwd:3F7vPnJp2h6Zo0Zw9s1qR"));
  rejection(replace(chromium_offer(), "ice-pwd:3F7vPnJp2h6Zo0Zw9s1qRbD8",
                    "ice-pwd:" + std::string(257, 'a')));
  rejection(replace(chromium_offer(), "ice-pwd:3F7vPnJp2h6Zo0Zw9s1qRbD8",
                    "ice-pwd:3F7vPnJp2h6Zo0Zw9s1q RbD8"));
  EXPECT_TRUE(parse_sdp(replace(chromium_offer(), "ice-pwd:3F7vPnJp2h6Zo0Zw9s1qRbD8",
                                "ice-pwd:" + std::string(22, 'a'))));
}

TEST(Sdp, RejectsDuplicateCredentials) {
  rejection(replace(chromium_offer(), "a=ice-pwd", "a=ice-ufrag:abcd\r\na=ice-pwd"));
}

TEST(Sdp, RejectsFingerprintThatIsNotSha256) {
  const std::string text = replace(chromium_offer(), "fingerprint:sha-256", "fingerprint:sha-1");
  EXPECT_NE(rejection(text).find("sha-256"), std::string::npos);
}

TEST(Sdp, RejectsMalformedSha256Fingerprint) {
  rejection(replace(chromium_offer(), ":19:08\r\n", ":19\r\n"));
  rejection(replace(chromium_offer(), ":19:08\r\n", ":19:0G\r\n"));
  rejection(replace(chromium_offer(), ":19:08\r\n", ":19:08:AA\r\n"));
  rejection(replace(chromium_offer(), "sha-256 7B:8B", "sha-256 7B-8B"));
  rejection(replace(chromium_offer(), "sha-256 7B", "sha-2567B"));
}

TEST(Sdp, RejectsBadSctpPort) {
  rejection(replace(chromium_offer(), "sctp-port:5000", "sctp-port:five"));
  rejection(replace(chromium_offer(), "sctp-port:5000", "sctp-port:65536"));
  rejection(replace(chromium_offer(), "sctp-port:5000", "sctp-port:0"));
  rejection(replace(chromium_offer(), "sctp-port:5000", "sctp-port:-1"));
  rejection(replace(chromium_offer(), "sctp-port:5000", "sctp-port:"));
}

TEST(Sdp, RejectsBadMaxMessageSize) {
  EXPECT_NE(rejection(replace(chromium_offer(), "max-message-size:262144", "max-message-size:big"))
                .find("number"),
            std::string::npos);
  EXPECT_NE(rejection(replace(chromium_offer(), "max-message-size:262144",
                              "max-message-size:99999999999999999999999"))
                .find("out of range"),
            std::string::npos);
}

TEST(Sdp, RejectsMediaOnlyAttributeAtSessionLevel) {
  rejection(replace(chromium_offer(), "a=group", "a=sctp-port:5000\r\na=group"));
}

TEST(Sdp, RejectsMoreThan64Candidates) {
  std::string extra;
  for (int i = 0; i < 64; ++i) {
    extra += "a=candidate:" + std::to_string(i) + " 1 udp 1 10.0.0.1 " + std::to_string(1000 + i) +
             " typ host\r\n";
  }
  // 1 + 63 candidates is the limit; 1 + 64 is one too many.
  const std::string limit = extra.substr(0, extra.rfind("a=candidate"));
  auto ok = parse_sdp(replace(chromium_offer(), "a=ice-ufrag", limit + "a=ice-ufrag"));
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok->candidates.size(), kMaxSdpCandidates);
  EXPECT_NE(rejection(replace(chromium_offer(), "a=ice-ufrag", extra + "a=ice-ufrag"))
                .find("more than 64 candidates"),
            std::string::npos);
}

TEST(Sdp, RejectsMalformedCandidateLine) {
  const std::string message =
      rejection(replace(chromium_offer(), "typ host generation", "typ hostile generation"));
  EXPECT_NE(message.find("line 10"), std::string::npos) << message;
  EXPECT_NE(message.find("candidate"), std::string::npos) << message;
}

TEST(SdpCandidate, ParsesServerReflexiveWithRelatedAddress) {
  auto c = parse_candidate(
      "candidate:842163049 1 udp 1677729535 198.51.100.4 61345 typ srflx raddr 192.168.1.5 "
      "rport 46243 generation 0 network-cost 999");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->foundation, "842163049");
  EXPECT_EQ(c->priority, 1677729535u);
  EXPECT_EQ(c->address, "198.51.100.4");
  EXPECT_EQ(c->port, 61345);
  EXPECT_EQ(c->type, "srflx");
  EXPECT_EQ(c->related_address, "192.168.1.5");
  EXPECT_EQ(c->related_port, 46243);
  EXPECT_EQ(write_candidate(*c),
            "candidate:842163049 1 udp 1677729535 198.51.100.4 61345 typ srflx raddr 192.168.1.5 "
            "rport 46243");
}

TEST(SdpCandidate, AcceptsAttributePrefix) {
  auto c = parse_candidate("a=candidate:1 1 udp 2122260223 10.0.0.2 5000 typ host");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->address, "10.0.0.2");
}

TEST(SdpCandidate, ParsesMdnsAndIpv6Addresses) {
  auto mdns = parse_candidate(
      "candidate:1 1 udp 2122260223 5d0c6b4e-8c7b-4b1e-9a0f-4f3a2b1c0d9e.local 54400 typ host");
  ASSERT_TRUE(mdns) << mdns.error().message;
  EXPECT_EQ(mdns->address, "5d0c6b4e-8c7b-4b1e-9a0f-4f3a2b1c0d9e.local");
  auto v6 = parse_candidate("candidate:2 1 udp 2122262783 2001:db8::1 54401 typ host");
  ASSERT_TRUE(v6) << v6.error().message;
  EXPECT_EQ(v6->address, "2001:db8::1");
}

TEST(SdpCandidate, KeepsTcpCandidatesSoCallersCanSkipThem) {
  auto c = parse_candidate("candidate:3 1 TCP 1518280447 192.168.1.5 9 typ host tcptype active");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->transport, "tcp");
  EXPECT_EQ(c->tcp_type, "active");
  EXPECT_EQ(write_candidate(*c),
            "candidate:3 1 tcp 1518280447 192.168.1.5 9 typ host tcptype active");
}

TEST(SdpCandidate, WriteThenParseRoundTrips) {
  IceCandidate relay;
  relay.foundation = "abc+/";
  relay.component = 2;
  relay.priority = 41885439;
  relay.address = "192.0.2.9";
  relay.port = 3479;
  relay.type = "relay";
  relay.related_address = "198.51.100.4";
  relay.related_port = 61345;
  auto parsed = parse_candidate(write_candidate(relay));
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(*parsed, relay);
}

TEST(SdpCandidate, RejectsMalformedCandidates) {
  const char* bad[] = {
      "",
      "1 1 udp 1 10.0.0.1 5000 typ host",                       // no "candidate:"
      "candidate:1 1 udp 1 10.0.0.1 5000 typ",                  // too few fields
      "candidate:1 0 udp 1 10.0.0.1 5000 typ host",             // component 0
      "candidate:1 257 udp 1 10.0.0.1 5000 typ host",           // component too big
      "candidate:1 1 udp 4294967296 10.0.0.1 5000 typ host",    // priority overflow
      "candidate:1 1 udp x 10.0.0.1 5000 typ host",             // priority not a number
      "candidate:1 1 udp 1 10.0.0.1 65536 typ host",            // port overflow
      "candidate:1 1 udp 1 10.0.0.1 5000 type host",            // not "typ"
      "candidate:1 1 udp 1 10.0.0.1 5000 typ bogus",            // unknown type
      "candidate:1 1 udp 1 10.0.0.1 5000 typ host generation",  // attribute without value
      "candidate:1 1 udp 1 10.0.0.1 5000 typ srflx raddr 10.0.0.2 rport x",
      "candidate:1 1 udp 1 10.0.0.1 5000 typ srflx raddr bad<addr rport 1",
      "candidate:1 1 udp 1 10.0.0.1 5000 typ host tcptype sideways",
      "candidate:1 1 udp 1 10.0.0.1\t5000 typ host",   // control character
      "candidate:f-o 1 udp 1 10.0.0.1 5000 typ host",  // foundation not ice-chars
      "candidate:1 1 udp 1 bad/addr 5000 typ host",
  };
  for (const char* line : bad) {
    auto c = parse_candidate(line);
    EXPECT_FALSE(c) << line;
    if (!c) EXPECT_EQ(c.error().code, ErrorCode::InvalidArgument);
  }
}

TEST(SdpFingerprint, FormatsUpperCaseColonSeparated) {
  Fingerprint digest{};
  digest[0] = 0x7b;
  digest[1] = 0x0a;
  digest[31] = 0xff;
  const std::string text = format_fingerprint(digest);
  EXPECT_EQ(text.size(), 95u);
  EXPECT_TRUE(text.starts_with("7B:0A:00:")) << text;
  EXPECT_TRUE(text.ends_with(":00:FF")) << text;
}

TEST(SdpFingerprint, ParsesUpperAndLowerCase) {
  auto upper = parse_fingerprint(kFingerprintText);
  ASSERT_TRUE(upper) << upper.error().message;
  EXPECT_EQ((*upper)[0], 0x7b);
  EXPECT_EQ((*upper)[31], 0x08);
  const std::string lower_text = lower_hex(kFingerprintText);
  auto lower = parse_fingerprint(lower_text);
  ASSERT_TRUE(lower);
  EXPECT_EQ(*lower, *upper);
  EXPECT_EQ(format_fingerprint(*upper), kFingerprintText);
}

TEST(SdpFingerprint, RejectsWrongLengthOrSeparators) {
  EXPECT_FALSE(parse_fingerprint(""));
  EXPECT_FALSE(parse_fingerprint(kFingerprintText.substr(0, 92)));
  EXPECT_FALSE(parse_fingerprint(std::string(kFingerprintText) + ":00"));
  std::string dashes(kFingerprintText);
  dashes[2] = '-';
  EXPECT_FALSE(parse_fingerprint(dashes));
  std::string not_hex(kFingerprintText);
  not_hex[0] = 'Z';
  EXPECT_FALSE(parse_fingerprint(not_hex));
}

}  // namespace
}  // namespace switchboard::webrtc
