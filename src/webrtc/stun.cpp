#include "webrtc/stun.hpp"

#include <algorithm>
#include <cassert>
#include <string>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

namespace switchboard::webrtc {
namespace {

// FINGERPRINT is the CRC-32 XORed with "STUN", so a STUN CRC never equals the CRC a
// multiplexed protocol would carry (RFC 8489 section 14.7).
constexpr std::uint32_t kFingerprintXor = 0x5354554e;
constexpr std::size_t kIntegritySize = 20;  // HMAC-SHA1
constexpr std::size_t kIntegrityAttributeSize = 4 + kIntegritySize;
constexpr std::size_t kFingerprintAttributeSize = 8;
// A 420 answer lists what we did not understand; capping the list keeps both parsing and
// the answer small whatever a request holds.
constexpr std::size_t kMaxUnknownRequired = 16;

Error malformed(const std::string& what) {
  return {ErrorCode::InvalidArgument, "malformed STUN message: " + what};
}

std::string hex16(std::uint16_t v) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string s = "0x";
  for (int shift = 12; shift >= 0; shift -= 4) s += kDigits[(v >> shift) & 0xF];
  return s;
}

std::size_t padded(std::size_t n) noexcept {
  return (n + 3) & ~std::size_t{3};
}

std::uint16_t load_u16(const std::uint8_t* p) noexcept {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}

std::uint64_t load_u64(const std::uint8_t* p) noexcept {
  return (std::uint64_t{load_u32(p)} << 32) | load_u32(p + 4);
}

// The message type interleaves the class bits C1 C0 into the 12 method bits:
// M11..M7 C1 M6..M4 C0 M3..M0 (RFC 8489 section 5).
std::uint16_t encode_type(std::uint16_t method, StunClass cls) noexcept {
  const auto c = static_cast<unsigned>(cls);
  const unsigned m = method;
  return static_cast<std::uint16_t>((m & 0x000Fu) | ((m & 0x0070u) << 1) | ((m & 0x0F80u) << 2) |
                                    ((c & 1u) << 4) | ((c & 2u) << 7));
}

void decode_type(std::uint16_t type, std::uint16_t& method, StunClass& cls) noexcept {
  method = static_cast<std::uint16_t>((type & 0x000Fu) | ((type >> 1) & 0x0070u) |
                                      ((type >> 2) & 0x0F80u));
  cls = static_cast<StunClass>(((type >> 4) & 1u) | ((type >> 7) & 2u));
}

// The XOR mask for an address: the magic cookie, then (IPv6 only) the transaction id.
std::array<std::uint8_t, 16> xor_mask(const StunTransactionId& transaction_id) noexcept {
  std::array<std::uint8_t, 16> mask{};
  mask[0] = static_cast<std::uint8_t>(kStunMagicCookie >> 24);
  mask[1] = static_cast<std::uint8_t>(kStunMagicCookie >> 16);
  mask[2] = static_cast<std::uint8_t>(kStunMagicCookie >> 8);
  mask[3] = static_cast<std::uint8_t>(kStunMagicCookie);
  std::copy(transaction_id.begin(), transaction_id.end(), mask.begin() + 4);
  return mask;
}

// MAPPED-ADDRESS and XOR-MAPPED-ADDRESS share one layout: reserved, family, port, address.
Result<SocketAddress> parse_address(ByteView value, const StunTransactionId* xor_with) {
  if (value.size() < 4) return malformed("address attribute too short");
  const std::uint8_t family = value[1];
  std::uint16_t port = load_u16(value.data() + 2);
  std::array<std::uint8_t, 16> mask{};
  if (xor_with != nullptr) {
    mask = xor_mask(*xor_with);
    port ^= static_cast<std::uint16_t>(kStunMagicCookie >> 16);
  }
  if (family == 0x01) {
    if (value.size() != 8) return malformed("IPv4 address attribute must be 8 bytes");
    std::array<std::uint8_t, 4> ip{};
    for (std::size_t i = 0; i < 4; ++i) ip[i] = value[4 + i] ^ mask[i];
    return SocketAddress::v4(ip, port);
  }
  if (family == 0x02) {
    if (value.size() != 20) return malformed("IPv6 address attribute must be 20 bytes");
    std::array<std::uint8_t, 16> ip{};
    for (std::size_t i = 0; i < 16; ++i) ip[i] = value[4 + i] ^ mask[i];
    return SocketAddress::v6(ip, port);
  }
  return malformed("unknown address family " + std::to_string(family));
}

bool expect_size(ByteView value, std::size_t size) noexcept {
  return value.size() == size;
}

// Fills in one understood attribute, or notes it as unknown. Only the first of each type
// counts (RFC 8489 section 14: later duplicates may be ignored).
Result<void> read_attribute(std::uint16_t type, ByteView value, StunMessage& m) {
  switch (type) {
    case stun_attr::kMappedAddress:
    case stun_attr::kXorMappedAddress: {
      const bool xored = type == stun_attr::kXorMappedAddress;
      auto& slot = xored ? m.xor_mapped_address : m.mapped_address;
      if (slot) return {};
      auto address = parse_address(value, xored ? &m.transaction_id : nullptr);
      if (!address) return std::move(address).error();
      slot = *address;
      return {};
    }
    case stun_attr::kUsername:
      if (!m.username) m.username = std::string(as_string(value));
      return {};
    case stun_attr::kSoftware:
      if (!m.software) m.software = std::string(as_string(value));
      return {};
    case stun_attr::kErrorCode: {
      if (value.size() < 4) return malformed("ERROR-CODE too short");
      if (m.error_code) return {};
      const unsigned hundreds = value[2] & 0x07u;
      const unsigned number = value[3];
      if (hundreds < 3 || hundreds > 6 || number > 99) {
        return malformed("ERROR-CODE " + std::to_string(hundreds) + "/" + std::to_string(number) +
                         " outside 300..699");
      }
      m.error_code = static_cast<std::uint16_t>(hundreds * 100 + number);
      m.error_reason = std::string(as_string(value.subspan(4)));
      return {};
    }
    case stun_attr::kUnknownAttributes:
      if (value.size() % 2 != 0) return malformed("UNKNOWN-ATTRIBUTES of odd length");
      if (!m.unknown_attributes.empty()) return {};
      for (std::size_t i = 0; i < value.size(); i += 2) {
        m.unknown_attributes.push_back(load_u16(value.data() + i));
      }
      return {};
    case stun_attr::kPriority:
      if (!expect_size(value, 4)) return malformed("PRIORITY must be 4 bytes");
      if (!m.priority) m.priority = load_u32(value.data());
      return {};
    case stun_attr::kUseCandidate:
      if (!expect_size(value, 0)) return malformed("USE-CANDIDATE must be empty");
      m.use_candidate = true;
      return {};
    case stun_attr::kIceControlled:
    case stun_attr::kIceControlling: {
      if (!expect_size(value, 8))
        return malformed("ICE-CONTROLLED/ICE-CONTROLLING must be 8 bytes");
      auto& slot = type == stun_attr::kIceControlled ? m.ice_controlled : m.ice_controlling;
      if (!slot) slot = load_u64(value.data());
      return {};
    }
    default:
      // 0x8000-0xFFFF are comprehension-optional: ignoring them is what the sender expects.
      if (type < 0x8000 && m.unknown_required.size() < kMaxUnknownRequired &&
          std::find(m.unknown_required.begin(), m.unknown_required.end(), type) ==
              m.unknown_required.end()) {
        m.unknown_required.push_back(type);
      }
      return {};
  }
}

// HMAC-SHA1 over `head` then `body`, so the header with its rewritten length need not be
// copied together with the rest of the message.
bool hmac_sha1(std::string_view key, ByteView head, ByteView body,
               std::array<std::uint8_t, kIntegritySize>& out) noexcept {
  static EVP_MAC* const mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  if (mac == nullptr) return false;
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(mac);
  if (ctx == nullptr) return false;
  char digest[] = "SHA1";
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_end(),
  };
  // OpenSSL treats a null key as "no key"; an empty password is still a key.
  static const std::uint8_t kEmpty = 0;
  const auto* key_bytes = key.empty() ? &kEmpty : reinterpret_cast<const std::uint8_t*>(key.data());
  std::size_t written = 0;
  const bool ok = EVP_MAC_init(ctx, key_bytes, key.size(), params) == 1 &&
                  EVP_MAC_update(ctx, head.data(), head.size()) == 1 &&
                  EVP_MAC_update(ctx, body.data(), body.size()) == 1 &&
                  EVP_MAC_final(ctx, out.data(), &written, out.size()) == 1 &&
                  written == out.size();
  EVP_MAC_CTX_free(ctx);
  return ok;
}

constexpr std::array<std::uint32_t, 256> make_crc_table() noexcept {
  std::array<std::uint32_t, 256> table{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int bit = 0; bit < 8; ++bit) c = (c & 1u) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    table[i] = c;
  }
  return table;
}

constexpr std::array<std::uint32_t, 256> kCrcTable = make_crc_table();

}  // namespace

std::uint32_t crc32(ByteView data) noexcept {
  std::uint32_t c = 0xFFFFFFFFu;
  for (std::uint8_t b : data) c = kCrcTable[(c ^ b) & 0xFFu] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

bool looks_like_stun(ByteView datagram) noexcept {
  return datagram.size() >= kStunHeaderSize && datagram[0] <= 3 &&
         load_u32(datagram.data() + 4) == kStunMagicCookie;
}

Result<StunMessage> parse_stun(ByteView datagram) {
  ByteReader r(datagram);
  std::uint16_t type = 0;
  std::uint16_t length = 0;
  std::uint32_t cookie = 0;
  ByteView transaction_id;
  if (!r.u16(type) || !r.u16(length) || !r.u32(cookie) || !r.bytes(12, transaction_id)) {
    return malformed("shorter than the 20-byte header");
  }
  if ((type & 0xC000u) != 0) return malformed("top two bits of the type are not zero");
  if (cookie != kStunMagicCookie) return malformed("wrong magic cookie");
  if (length % 4 != 0)
    return malformed("length " + std::to_string(length) + " not a multiple of 4");
  if (length != r.remaining()) {
    return malformed("header says " + std::to_string(length) +
                     " bytes of attributes, datagram has " + std::to_string(r.remaining()));
  }

  StunMessage m;
  decode_type(type, m.method, m.cls);
  std::copy(transaction_id.begin(), transaction_id.end(), m.transaction_id.begin());

  while (r.remaining() > 0) {
    const std::size_t offset = r.position();
    std::uint16_t attr_type = 0;
    std::uint16_t attr_length = 0;
    ByteView value;
    if (!r.u16(attr_type) || !r.u16(attr_length)) return malformed("truncated attribute header");
    if (!r.bytes(attr_length, value) || !r.skip(padded(attr_length) - attr_length)) {
      return malformed("attribute " + hex16(attr_type) + " runs past the end");
    }
    if (m.fingerprint_offset) return malformed("attribute after FINGERPRINT");

    if (attr_type == stun_attr::kFingerprint) {
      if (value.size() != 4) return malformed("FINGERPRINT must be 4 bytes");
      m.fingerprint_offset = offset;
    } else if (m.integrity_offset) {
      // Not covered by the integrity check, so not to be trusted (RFC 8489 section 14.5).
      continue;
    } else if (attr_type == stun_attr::kMessageIntegrity) {
      if (value.size() != kIntegritySize) return malformed("MESSAGE-INTEGRITY must be 20 bytes");
      m.integrity_offset = offset;
    } else {
      auto read = read_attribute(attr_type, value, m);
      if (!read) return std::move(read).error();
    }
  }
  return m;
}

bool verify_fingerprint(ByteView raw, const StunMessage& message) noexcept {
  if (!message.fingerprint_offset) return false;
  const std::size_t offset = *message.fingerprint_offset;
  if (raw.size() < offset + kFingerprintAttributeSize) return false;
  // FINGERPRINT is last, so the header length already counts it, as the CRC requires.
  const std::uint32_t expected = crc32(raw.first(offset)) ^ kFingerprintXor;
  return load_u32(raw.data() + offset + 4) == expected;
}

bool verify_integrity(ByteView raw, const StunMessage& message, std::string_view key) noexcept {
  if (!message.integrity_offset) return false;
  const std::size_t offset = *message.integrity_offset;
  if (offset < kStunHeaderSize || raw.size() < offset + kIntegrityAttributeSize) return false;
  // The HMAC covers the message as if it ended with MESSAGE-INTEGRITY: the header length
  // is rewritten to stop there, hiding any FINGERPRINT that follows.
  std::array<std::uint8_t, kStunHeaderSize> header{};
  std::copy_n(raw.begin(), kStunHeaderSize, header.begin());
  const std::size_t covered = offset + kIntegrityAttributeSize - kStunHeaderSize;
  header[2] = static_cast<std::uint8_t>(covered >> 8);
  header[3] = static_cast<std::uint8_t>(covered);
  std::array<std::uint8_t, kIntegritySize> mac{};
  if (!hmac_sha1(key, header, raw.subspan(kStunHeaderSize, offset - kStunHeaderSize), mac)) {
    return false;
  }
  return CRYPTO_memcmp(mac.data(), raw.data() + offset + 4, kIntegritySize) == 0;
}

StunWriter::StunWriter(std::uint16_t method, StunClass cls,
                       const StunTransactionId& transaction_id) {
  out_.reserve(128);
  put_u16(out_, encode_type(method, cls));
  put_u16(out_, 0);
  put_u32(out_, kStunMagicCookie);
  put_bytes(out_, transaction_id);
}

StunWriter& StunWriter::add_raw(std::uint16_t type, ByteView value) {
  assert(value.size() <= 0xFFFF);
  put_u16(out_, type);
  put_u16(out_, static_cast<std::uint16_t>(value.size()));
  put_bytes(out_, value);
  out_.resize(out_.size() + (padded(value.size()) - value.size()), 0);
  return *this;
}

StunWriter& StunWriter::add_username(std::string_view username) {
  return add_raw(stun_attr::kUsername, as_bytes(username));
}

StunWriter& StunWriter::add_software(std::string_view software) {
  return add_raw(stun_attr::kSoftware, as_bytes(software));
}

StunWriter& StunWriter::add_priority(std::uint32_t priority) {
  Bytes value;
  put_u32(value, priority);
  return add_raw(stun_attr::kPriority, value);
}

StunWriter& StunWriter::add_use_candidate() {
  return add_raw(stun_attr::kUseCandidate, {});
}

StunWriter& StunWriter::add_ice_controlling(std::uint64_t tie_breaker) {
  Bytes value;
  put_u32(value, static_cast<std::uint32_t>(tie_breaker >> 32));
  put_u32(value, static_cast<std::uint32_t>(tie_breaker));
  return add_raw(stun_attr::kIceControlling, value);
}

StunWriter& StunWriter::add_ice_controlled(std::uint64_t tie_breaker) {
  Bytes value;
  put_u32(value, static_cast<std::uint32_t>(tie_breaker >> 32));
  put_u32(value, static_cast<std::uint32_t>(tie_breaker));
  return add_raw(stun_attr::kIceControlled, value);
}

StunWriter& StunWriter::add_xor_mapped_address(const SocketAddress& address) {
  StunTransactionId transaction_id{};
  std::copy_n(out_.begin() + 8, transaction_id.size(), transaction_id.begin());
  const auto mask = xor_mask(transaction_id);
  Bytes value;
  put_u8(value, 0);
  put_u8(value, address.is_v4() ? 0x01 : 0x02);
  put_u16(value, static_cast<std::uint16_t>(address.port() ^ (kStunMagicCookie >> 16)));
  const ByteView ip = address.ip_bytes();
  for (std::size_t i = 0; i < ip.size(); ++i) put_u8(value, ip[i] ^ mask[i]);
  return add_raw(stun_attr::kXorMappedAddress, value);
}

StunWriter& StunWriter::add_error_code(std::uint16_t code, std::string_view reason) {
  assert(code >= 300 && code <= 699);
  Bytes value;
  put_u16(value, 0);
  put_u8(value, static_cast<std::uint8_t>(code / 100));
  put_u8(value, static_cast<std::uint8_t>(code % 100));
  put_bytes(value, as_bytes(reason));
  return add_raw(stun_attr::kErrorCode, value);
}

StunWriter& StunWriter::add_unknown_attributes(std::span<const std::uint16_t> types) {
  Bytes value;
  for (std::uint16_t t : types) put_u16(value, t);
  return add_raw(stun_attr::kUnknownAttributes, value);
}

void StunWriter::set_length(std::size_t message_end) {
  const std::size_t length = message_end - kStunHeaderSize;
  out_[2] = static_cast<std::uint8_t>(length >> 8);
  out_[3] = static_cast<std::uint8_t>(length);
}

Bytes StunWriter::finish(std::optional<std::string_view> integrity_key, bool fingerprint) {
  if (integrity_key) {
    set_length(out_.size() + kIntegrityAttributeSize);
    std::array<std::uint8_t, kIntegritySize> mac{};
    const ByteView whole = out_;
    // Only an OpenSSL allocation failure lands here; a zero MAC then fails verification
    // at the peer, the same as a lost datagram.
    (void)hmac_sha1(*integrity_key, whole.first(kStunHeaderSize), whole.subspan(kStunHeaderSize),
                    mac);
    add_raw(stun_attr::kMessageIntegrity, mac);
  }
  if (fingerprint) {
    set_length(out_.size() + kFingerprintAttributeSize);
    Bytes value;
    put_u32(value, crc32(out_) ^ kFingerprintXor);
    add_raw(stun_attr::kFingerprint, value);
  }
  set_length(out_.size());
  return std::move(out_);
}

}  // namespace switchboard::webrtc
