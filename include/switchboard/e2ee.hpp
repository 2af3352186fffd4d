#pragma once
// End-to-end encryption of DataChannel messages (docs/protocol.md, "End-to-end
// encryption"): opt-in per call, with keys the participants share out of band. Each
// message is sealed with AES-256-GCM before it leaves and opened before it becomes
// readable, bound to the call, channel, sequence number and sender, so the server relays
// bytes it can neither read nor alter unnoticed.
//
//   auto keys = switchboard::E2eeKeys::fromFile("call.keys", "call-1");
//   if (!keys) { std::cerr << keys.error().message; return 1; }
//   auto call = client.join(url, "call-1", token, {.e2ee = *keys});
//
// Every participant of the call needs the same keys: a message sealed with a key the
// receiver lacks reaches its receiver's onError (DECRYPTION_FAILED), never its messages. A
// participant without E2EE sees sealed messages as opaque bytes.
//
// Key file: one key per line, `KEYID:BASE64` (32 random bytes, standard padded base64,
// e.g. `openssl rand -base64 32`) or `KEYID:passphrase:TEXT` (stretched with
// PBKDF2-HMAC-SHA256, 600,000 iterations, salt "switchboard-e2ee-v1|" + call id). KEYID
// is a decimal number 0..4294967295. Lines are trimmed of surrounding spaces and tabs;
// blank lines and lines starting with '#' are ignored.
//
// Rotation: the highest key id seals, every listed id opens. Add the new id to everyone's
// file (and Call::setE2eeKeys or rejoin), then drop the old one once nobody seals with it.
#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "switchboard/result.hpp"

namespace switchboard {

inline constexpr std::size_t kE2eeKeySize = 32;
// What sealing adds to every message: version (1), key id (4), nonce (12), GCM tag (16).
// A sender's maxMessageSizeInBytes() is the call's limit less this.
inline constexpr std::size_t kE2eeOverhead = 33;
inline constexpr std::uint32_t kE2eePassphraseIterations = 600000;

struct E2eeKey {
  std::uint32_t id = 0;
  std::array<std::uint8_t, kE2eeKeySize> key{};
  bool operator==(const E2eeKey&) const = default;
};

class E2eeKeys {
 public:
  // Reads a key file (format above). Passphrases are stretched for `callId`, which join()
  // then requires. Errors: INVALID_ARGUMENT naming the file and line (unreadable file,
  // malformed line, a key that is not 32 bytes, a repeated key id, no key at all).
  static Result<E2eeKeys> fromFile(const std::filesystem::path& path, std::string_view callId);
  // The same from the file's text.
  static Result<E2eeKeys> parse(std::string_view text, std::string_view callId);
  // Keys given directly; usable in any call. INVALID_ARGUMENT when empty or an id repeats.
  static Result<E2eeKeys> fromKeys(std::vector<E2eeKey> keys);
  // PBKDF2-HMAC-SHA256(passphrase, "switchboard-e2ee-v1|" + callId, 600,000 iterations):
  // slow on purpose (a few hundred milliseconds).
  static E2eeKey deriveKey(std::uint32_t id, std::string_view passphrase, std::string_view callId);

  // The key that seals: the highest id.
  const E2eeKey& sealingKey() const { return keys_.back(); }
  // Ascending by id; never empty.
  const std::vector<E2eeKey>& keys() const { return keys_; }
  const E2eeKey* find(std::uint32_t id) const;
  // The call the passphrase keys were derived for (fromFile/parse with a passphrase line);
  // empty when no key depends on the call.
  const std::string& callId() const { return call_id_; }

 private:
  E2eeKeys(std::vector<E2eeKey> keys, std::string call_id);
  std::vector<E2eeKey> keys_;
  std::string call_id_;
};

}  // namespace switchboard
