// Opening E2EE messages (src/client/e2ee_cipher.cpp), what a receiver does with every byte
// string a peer or the server hands it: any bytes open to a plaintext or a
// DECRYPTION_FAILED error, never a crash. Bytes the fuzzer did not seal never open (the
// GCM tag), and whatever the fuzzer's plaintext is, sealing then opening gives it back,
// while sealing then changing one byte, or opening for another binding, fails.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <switchboard/e2ee.hpp>

#include "client/e2ee_cipher.hpp"

using namespace switchboard;
using namespace switchboard::client;

namespace {

const E2eeKeys& test_keys() {
  static const E2eeKeys keys = [] {
    E2eeKey one{1, {}};
    E2eeKey two{7, {}};
    for (std::size_t i = 0; i < kE2eeKeySize; ++i) {
      one.key[i] = static_cast<std::uint8_t>(i);
      two.key[i] = static_cast<std::uint8_t>(0xA0 + i);
    }
    return *E2eeKeys::fromKeys({one, two});
  }();
  return keys;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteView input(data, size);
  // The binding's numbers come from the first bytes, so the fuzzer varies them too.
  SealBinding binding{.call_id = "call-1", .channel_id = 1000, .sequence = 1, .sender = "alice"};
  if (size >= 6) {
    binding.channel_id = static_cast<std::uint16_t>(data[0] << 8 | data[1]);
    binding.sequence = static_cast<std::uint32_t>(data[2]) << 24 |
                       static_cast<std::uint32_t>(data[3]) << 16 |
                       static_cast<std::uint32_t>(data[4]) << 8 | data[5];
  }

  auto opened = e2ee_open(test_keys(), binding, input);
  if (opened) std::abort();  // forging a GCM tag is not something a fuzzer does
  if (opened.error().code != ErrorCode::DecryptionFailed || opened.error().message.empty()) {
    std::abort();
  }

  // Round trip with the input as plaintext (messages are never empty: MESSAGE_EMPTY).
  if (size == 0) return 0;
  E2eeNonce nonce{};
  for (std::size_t i = 0; i < nonce.size() && i < size; ++i) nonce[i] = data[i];
  const auto& key = test_keys().sealingKey();
  auto sealed = e2ee_seal(key, nonce, binding, input);
  if (!sealed || sealed->size() != size + kE2eeOverhead) std::abort();
  auto back = e2ee_open(test_keys(), binding, *sealed);
  if (!back || *back != Bytes(input.begin(), input.end())) std::abort();

  // One byte changed anywhere, or another sequence number: refused.
  Bytes altered = *sealed;
  altered[size % altered.size()] ^= 0x01;
  auto tampered = e2ee_open(test_keys(), binding, altered);
  if (tampered || tampered.error().code != ErrorCode::DecryptionFailed) std::abort();
  SealBinding other = binding;
  other.sequence += 1;
  auto rebound = e2ee_open(test_keys(), other, *sealed);
  if (rebound || rebound.error().code != ErrorCode::DecryptionFailed) std::abort();

  // The cipher object the SDK uses opens what it seals, with any sender name.
  E2eeCipher cipher(test_keys(), "call-1", "alice");
  auto via_cipher = cipher.seal(binding.channel_id, binding.sequence, input);
  if (!via_cipher) std::abort();
  auto via_open = cipher.open("alice", binding.channel_id, binding.sequence, *via_cipher);
  if (!via_open || *via_open != Bytes(input.begin(), input.end())) std::abort();
  return 0;
}
