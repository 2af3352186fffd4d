#pragma once

// A hook on whole message payloads: sealed after the sender's checks and before the
// message is queued (so it knows its sequence number), opened after reassembly and before
// the message becomes readable. End-to-end encryption implements it
// (client/e2ee_cipher.hpp); the core itself does no cryptography.

#include <cstddef>
#include <cstdint>

#include "core/bytes.hpp"
#include "switchboard/options.hpp"
#include "switchboard/result.hpp"

namespace switchboard::core {

class PayloadCipher {
 public:
  virtual ~PayloadCipher() = default;

  // Bytes seal() adds to every message.
  virtual std::size_t overhead() const = 0;
  // This participant's message `sequence` on `channel_id`.
  virtual Result<Bytes> seal(std::uint16_t channel_id, std::uint32_t sequence,
                             ByteView plaintext) = 0;
  // A message from `sender`; an error (DECRYPTION_FAILED) keeps it from being delivered.
  virtual Result<Bytes> open(const Identity& sender, std::uint16_t channel_id,
                             std::uint32_t sequence, ByteView sealed) const = 0;
};

}  // namespace switchboard::core
