#pragma once

// End-to-end encryption of whole DataChannel messages with AES-256-GCM (OpenSSL).
// Byte layout, associated data and nonces: docs/protocol.md, "End-to-end encryption".
//
//   sealed = u8 version 0x01 | u32 key id | 12-byte nonce | ciphertext | 16-byte tag
//   AAD    = "switchboard-e2ee-v1" | u8 version | u32 key id | u16 len + call id
//            | u16 channel id | u32 sequence number | u16 len + sender identity
//   nonce  = 8 random bytes per sealing context | u32 counter

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include <switchboard/e2ee.hpp>

#include "core/bytes.hpp"
#include "core/payload_cipher.hpp"

namespace switchboard::client {

inline constexpr std::uint8_t kE2eeVersion = 1;
inline constexpr std::size_t kE2eeNonceSize = 12;
inline constexpr std::size_t kE2eeTagSize = 16;
inline constexpr std::size_t kE2eeHeaderSize = 1 + 4 + kE2eeNonceSize;
inline constexpr std::string_view kE2eeLabel = "switchboard-e2ee-v1";

using E2eeNonce = std::array<std::uint8_t, kE2eeNonceSize>;

// What a sealed message is bound to besides its key.
struct SealBinding {
  std::string_view call_id;
  std::uint16_t channel_id = 0;
  std::uint32_t sequence = 0;
  std::string_view sender;  // the sender's identity
};

// The associated data of a message sealed with `key_id`. INVALID_ARGUMENT when the call id
// or identity is longer than 65535 bytes.
Result<Bytes> e2ee_associated_data(std::uint32_t key_id, const SealBinding& binding);
// Pure functions of their inputs: the nonce is the caller's, and must never repeat for
// `key` (E2eeCipher sees to that).
Result<Bytes> e2ee_seal(const E2eeKey& key, const E2eeNonce& nonce, const SealBinding& binding,
                        ByteView plaintext);
// DECRYPTION_FAILED saying why: not sealed (version), truncated, a key id `keys` lacks, or
// a tag that does not match (wrong key, or altered, or bound to another call, channel,
// sequence number or sender).
Result<Bytes> e2ee_open(const E2eeKeys& keys, const SealBinding& binding, ByteView sealed);

// One participant's sealing context in one call: its keys, its identity, and the nonce
// state. The 8-byte nonce prefix is drawn at random when the context starts, when the
// sealing key changes, and when the 32-bit counter is used up; the counter then restarts
// at 0. Not thread-safe: the SDK calls it under its lock.
class E2eeCipher final : public core::PayloadCipher {
 public:
  // `first_counter`: where the counter starts (tests of the wrap; otherwise 0).
  E2eeCipher(E2eeKeys keys, std::string call_id, Identity self, std::uint32_t first_counter = 0);

  // New keys for the messages sealed and opened from now on.
  void set_keys(E2eeKeys keys);
  const E2eeKeys& keys() const { return keys_; }

  std::size_t overhead() const override { return kE2eeOverhead; }
  Result<Bytes> seal(std::uint16_t channel_id, std::uint32_t sequence, ByteView plaintext) override;
  Result<Bytes> open(const Identity& sender, std::uint16_t channel_id, std::uint32_t sequence,
                     ByteView sealed) const override;

 private:
  void fresh_prefix();

  E2eeKeys keys_;
  std::string call_id_;
  Identity self_;
  std::array<std::uint8_t, 8> prefix_{};
  std::uint64_t counter_ = 0;  // the next one; 2^32 = used up
};

}  // namespace switchboard::client
