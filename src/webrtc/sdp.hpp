#pragma once

// Session descriptions for data-only WebRTC sessions: one m=application section carrying
// SCTP over DTLS (RFC 8841), with ICE (RFC 8839) and a sha-256 certificate fingerprint
// (RFC 8122). What we read and what we write: docs/protocol.md, "SDP for data-only sessions".

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "switchboard/options.hpp"
#include "switchboard/result.hpp"

namespace switchboard::webrtc {

// Larger descriptions are refused before any parsing; a data-only session needs ~1 KiB.
inline constexpr std::size_t kMaxSdpSize = std::size_t{64} * 1024;
inline constexpr std::size_t kMaxSdpCandidates = 64;
// RFC 8841 §6: a peer that omits a=max-message-size can receive 64 KiB.
inline constexpr std::size_t kSdpDefaultMaxMessageSize = 65536;
// a=max-message-size:0 means "no limit"; larger advertised sizes are clamped to this too,
// since no Switchboard message is ever bigger.
inline constexpr std::size_t kSdpUnlimitedMaxMessageSize = kLargestMaxMessageSize;
inline constexpr std::uint16_t kSdpDefaultSctpPort = 5000;

enum class DtlsSetup : std::uint8_t { ActPass, Active, Passive };

// "actpass", "active", "passive".
std::string_view to_string(DtlsSetup setup) noexcept;

// One ICE candidate (RFC 8839 §5.1). `transport` and `type` are lower-case; callers skip
// candidates whose transport they cannot use (e.g. "tcp").
struct IceCandidate {
  std::string foundation;
  std::uint32_t component = 1;
  std::string transport = "udp";
  std::uint32_t priority = 0;
  std::string address;  // an IP address or an mDNS name such as "<uuid>.local"
  std::uint16_t port = 0;
  std::string type = "host";  // host | srflx | prflx | relay
  std::optional<std::string> related_address;
  std::optional<std::uint16_t> related_port;
  std::string tcp_type;  // RFC 6544 "active" | "passive" | "so"; empty when absent

  bool operator==(const IceCandidate&) const = default;
};

// Accepts "candidate:..." (as trickled by RTCIceCandidate.candidate) or "a=candidate:...".
// Extension attributes other than tcptype (generation, network-id, ufrag, ...) are skipped.
Result<IceCandidate> parse_candidate(std::string_view line);
// "candidate:..." without "a=" and without extension attributes other than tcptype.
std::string write_candidate(const IceCandidate& candidate);

using Fingerprint = std::array<std::uint8_t, 32>;

// "7B:8B:...:08": 32 upper-case hex pairs joined by ':'.
std::string format_fingerprint(std::span<const std::uint8_t, 32> digest);
// Accepts upper- or lower-case hex; exactly 32 pairs.
Result<Fingerprint> parse_fingerprint(std::string_view text);

struct SessionDescription {
  std::string ice_ufrag;  // 4..256 ice-chars
  std::string ice_pwd;    // 22..256 ice-chars
  bool ice_lite = false;
  bool trickle = false;       // a=ice-options includes "trickle"
  Fingerprint fingerprint{};  // sha-256 of the DTLS certificate
  DtlsSetup setup = DtlsSetup::ActPass;
  std::string mid = "0";
  std::uint16_t sctp_port = kSdpDefaultSctpPort;
  std::size_t max_message_size = kSdpDefaultMaxMessageSize;
  std::vector<IceCandidate> candidates;
  bool end_of_candidates = false;
  std::uint64_t session_id = 0;
  std::uint64_t session_version = 0;

  bool operator==(const SessionDescription&) const = default;
};

// Parses an offer or answer. Accepts CRLF or LF line endings. Anything we cannot honour
// (audio/video, several m= sections, a fingerprint that is not sha-256, ...) is an
// InvalidArgument error whose message names the offending line.
Result<SessionDescription> parse_sdp(std::string_view text);

// Writes CRLF-terminated SDP with one m=application section. Expects a description that
// parse_sdp would accept (valid ufrag/pwd/mid, max_message_size >= 1).
std::string write_sdp(const SessionDescription& description);

}  // namespace switchboard::webrtc
