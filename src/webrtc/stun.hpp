#pragma once

// STUN messages (RFC 8489), the subset ICE connectivity checks use (RFC 8445, RFC 7675).
// Byte layout and the attributes we read and write: docs/protocol.md, "STUN and ICE-lite".
//
// parse_stun is a pure function from bytes to a message or an error. It checks the
// structure only; credentials are checked afterwards with verify_fingerprint and
// verify_integrity against the same bytes.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.hpp"
#include "switchboard/result.hpp"
#include "webrtc/socket_address.hpp"

namespace switchboard::webrtc {

inline constexpr std::uint32_t kStunMagicCookie = 0x2112A442;
inline constexpr std::size_t kStunHeaderSize = 20;
inline constexpr std::uint16_t kStunBindingMethod = 0x0001;

using StunTransactionId = std::array<std::uint8_t, 12>;

enum class StunClass : std::uint8_t {
  Request = 0,
  Indication = 1,
  SuccessResponse = 2,
  ErrorResponse = 3,
};

namespace stun_attr {
inline constexpr std::uint16_t kMappedAddress = 0x0001;
inline constexpr std::uint16_t kUsername = 0x0006;
inline constexpr std::uint16_t kMessageIntegrity = 0x0008;
inline constexpr std::uint16_t kErrorCode = 0x0009;
inline constexpr std::uint16_t kUnknownAttributes = 0x000A;
inline constexpr std::uint16_t kXorMappedAddress = 0x0020;
inline constexpr std::uint16_t kPriority = 0x0024;
inline constexpr std::uint16_t kUseCandidate = 0x0025;
inline constexpr std::uint16_t kSoftware = 0x8022;
inline constexpr std::uint16_t kFingerprint = 0x8028;
inline constexpr std::uint16_t kIceControlled = 0x8029;
inline constexpr std::uint16_t kIceControlling = 0x802A;
}  // namespace stun_attr

namespace stun_error {
inline constexpr std::uint16_t kBadRequest = 400;
inline constexpr std::uint16_t kUnauthorized = 401;
inline constexpr std::uint16_t kUnknownAttribute = 420;
inline constexpr std::uint16_t kRoleConflict = 487;
}  // namespace stun_error

struct StunMessage {
  std::uint16_t method = kStunBindingMethod;
  StunClass cls = StunClass::Request;
  StunTransactionId transaction_id{};

  std::optional<std::string> username;
  std::optional<std::string> software;
  std::optional<std::uint32_t> priority;
  bool use_candidate = false;
  // The tie-breakers: which role the sender believes it has (RFC 8445 section 7.1.3).
  std::optional<std::uint64_t> ice_controlling;
  std::optional<std::uint64_t> ice_controlled;
  std::optional<SocketAddress> mapped_address;
  std::optional<SocketAddress> xor_mapped_address;
  // ERROR-CODE: 300..699 and the reason phrase.
  std::optional<std::uint16_t> error_code;
  std::string error_reason;
  // The contents of an UNKNOWN-ATTRIBUTES attribute (in a 420 response).
  std::vector<std::uint16_t> unknown_attributes;

  // Comprehension-required attributes (type < 0x8000) we do not understand, before
  // MESSAGE-INTEGRITY. A request listing any must be answered with 420 (RFC 8489
  // section 6.3.1); in other classes they are only noted.
  std::vector<std::uint16_t> unknown_required;

  // Byte offsets of the attribute headers, for verify_integrity and verify_fingerprint.
  std::optional<std::size_t> integrity_offset;
  std::optional<std::size_t> fingerprint_offset;

  bool has_message_integrity() const noexcept { return integrity_offset.has_value(); }
  bool has_fingerprint() const noexcept { return fingerprint_offset.has_value(); }
};

// RFC 7983 demultiplexing on a shared port: STUN starts with 0..3, is at least a header
// long, and carries the magic cookie. Everything else goes to DTLS.
bool looks_like_stun(ByteView datagram) noexcept;

// Structure only: header, bounds, padding, attribute sizes. Duplicate attributes after the
// first are ignored, as are attributes after MESSAGE-INTEGRITY other than FINGERPRINT;
// anything after FINGERPRINT is an error.
Result<StunMessage> parse_stun(ByteView datagram);

// `raw` must be the bytes `message` was parsed from. False when there is no FINGERPRINT.
bool verify_fingerprint(ByteView raw, const StunMessage& message) noexcept;
// Short-term credentials: `key` is the password (ICE passwords are ASCII, so the
// OpaqueString profile leaves them unchanged). False when there is no MESSAGE-INTEGRITY.
bool verify_integrity(ByteView raw, const StunMessage& message, std::string_view key) noexcept;

// The CRC-32 of ISO 3309 / zlib, as FINGERPRINT uses it (before the XOR).
std::uint32_t crc32(ByteView data) noexcept;

// Builds one message. Attributes are written in the order they are added, each padded with
// zeros to 4 bytes; finish() appends MESSAGE-INTEGRITY and FINGERPRINT.
class StunWriter {
 public:
  StunWriter(std::uint16_t method, StunClass cls, const StunTransactionId& transaction_id);

  StunWriter& add_username(std::string_view username);
  StunWriter& add_software(std::string_view software);
  StunWriter& add_priority(std::uint32_t priority);
  StunWriter& add_use_candidate();
  StunWriter& add_ice_controlling(std::uint64_t tie_breaker);
  StunWriter& add_ice_controlled(std::uint64_t tie_breaker);
  StunWriter& add_xor_mapped_address(const SocketAddress& address);
  // `code` must be 300..699.
  StunWriter& add_error_code(std::uint16_t code, std::string_view reason);
  StunWriter& add_unknown_attributes(std::span<const std::uint16_t> types);
  // Any attribute, for tests and for types this writer has no helper for.
  StunWriter& add_raw(std::uint16_t type, ByteView value);

  // The finished message. Call once: the writer is empty afterwards.
  Bytes finish(std::optional<std::string_view> integrity_key, bool fingerprint = true);

 private:
  void set_length(std::size_t attributes_end);

  Bytes out_;
};

}  // namespace switchboard::webrtc
