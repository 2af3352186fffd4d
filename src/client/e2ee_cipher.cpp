#include "client/e2ee_cipher.hpp"

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <memory>
#include <string>

#include <openssl/evp.h>
#include <openssl/rand.h>

namespace switchboard::client {
namespace {

constexpr std::uint64_t kCounterLimit = std::uint64_t{1} << 32;

using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

Error failed(std::string why) {
  return Error{ErrorCode::DecryptionFailed, std::move(why)};
}

bool put_string16(Bytes& out, std::string_view s) {
  if (s.size() > std::numeric_limits<std::uint16_t>::max()) return false;
  put_u16(out, static_cast<std::uint16_t>(s.size()));
  put_bytes(out, as_bytes(s));
  return true;
}

int int_size(std::size_t n) {
  return static_cast<int>(n);
}

}  // namespace

Result<Bytes> e2ee_associated_data(std::uint32_t key_id, const SealBinding& b) {
  Bytes aad;
  aad.reserve(kE2eeLabel.size() + 19 + b.call_id.size() + b.sender.size());
  put_bytes(aad, as_bytes(kE2eeLabel));
  put_u8(aad, kE2eeVersion);
  put_u32(aad, key_id);
  if (!put_string16(aad, b.call_id)) {
    return Error{ErrorCode::InvalidArgument, "the call id is longer than 65535 bytes"};
  }
  put_u16(aad, b.channel_id);
  put_u32(aad, b.sequence);
  if (!put_string16(aad, b.sender)) {
    return Error{ErrorCode::InvalidArgument, "the sender identity is longer than 65535 bytes"};
  }
  return aad;
}

Result<Bytes> e2ee_seal(const E2eeKey& key, const E2eeNonce& nonce, const SealBinding& binding,
                        ByteView plaintext) {
  auto aad = e2ee_associated_data(key.id, binding);
  if (!aad) return std::move(aad).error();
  if (plaintext.size() > static_cast<std::size_t>(std::numeric_limits<int>::max()) - 64) {
    return Error{ErrorCode::MessageTooLarge, "message too large to seal"};
  }
  Bytes out;
  out.reserve(kE2eeHeaderSize + plaintext.size() + kE2eeTagSize);
  put_u8(out, kE2eeVersion);
  put_u32(out, key.id);
  put_bytes(out, nonce);
  const std::size_t body = out.size();
  out.resize(body + plaintext.size() + kE2eeTagSize);

  CipherCtx ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  int len = 0;
  int final_len = 0;
  const bool ok =
      ctx && EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, int_size(kE2eeNonceSize), nullptr) ==
          1 &&
      EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, key.key.data(), nonce.data()) == 1 &&
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, aad->data(), int_size(aad->size())) == 1 &&
      EVP_EncryptUpdate(ctx.get(), out.data() + body, &len, plaintext.data(),
                        int_size(plaintext.size())) == 1 &&
      EVP_EncryptFinal_ex(ctx.get(), out.data() + body + len, &final_len) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, int_size(kE2eeTagSize),
                          out.data() + body + plaintext.size()) == 1;
  if (!ok) return Error{ErrorCode::Internal, "AES-256-GCM sealing failed in OpenSSL"};
  return out;
}

Result<Bytes> e2ee_open(const E2eeKeys& keys, const SealBinding& binding, ByteView sealed) {
  if (sealed.empty() || sealed[0] != kE2eeVersion) {
    return failed(
        "it is not a sealed message (the first byte is not the version 0x01): "
        "is the sender using end-to-end encryption?");
  }
  if (sealed.size() <= kE2eeOverhead) {
    return failed("it is truncated (" + std::to_string(sealed.size()) +
                  " bytes; a sealed message has at least " + std::to_string(kE2eeOverhead + 1) +
                  ")");
  }
  const std::uint32_t key_id = load_u32(sealed.data() + 1);
  const E2eeKey* key = keys.find(key_id);
  if (key == nullptr) {
    std::string held;
    for (const auto& k : keys.keys()) held += (held.empty() ? "" : ", ") + std::to_string(k.id);
    return failed("it was sealed with key id " + std::to_string(key_id) +
                  ", which this participant does not hold (it holds " + held + ")");
  }
  auto aad = e2ee_associated_data(key_id, binding);
  if (!aad) return failed(aad.error().message);
  const ByteView nonce = sealed.subspan(5, kE2eeNonceSize);
  const std::size_t size = sealed.size() - kE2eeOverhead;
  const ByteView ciphertext = sealed.subspan(kE2eeHeaderSize, size);
  Bytes tag(sealed.end() - kE2eeTagSize, sealed.end());  // OpenSSL wants it writable
  Bytes plaintext(size);

  CipherCtx ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  int len = 0;
  int final_len = 0;
  const bool ready =
      ctx && EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, int_size(kE2eeNonceSize), nullptr) ==
          1 &&
      EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, key->key.data(), nonce.data()) == 1 &&
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, aad->data(), int_size(aad->size())) == 1 &&
      EVP_DecryptUpdate(ctx.get(), plaintext.data(), &len, ciphertext.data(),
                        int_size(ciphertext.size())) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, int_size(kE2eeTagSize), tag.data()) == 1;
  if (!ready) return Error{ErrorCode::Internal, "AES-256-GCM opening failed in OpenSSL"};
  if (EVP_DecryptFinal_ex(ctx.get(), plaintext.data() + len, &final_len) != 1) {
    return failed("its authentication tag does not match: the sender's key " +
                  std::to_string(key_id) +
                  " differs from ours, or the message was altered on the way");
  }
  return plaintext;
}

E2eeCipher::E2eeCipher(E2eeKeys keys, std::string call_id, Identity self,
                       std::uint32_t first_counter)
    : keys_(std::move(keys)), call_id_(std::move(call_id)), self_(std::move(self)) {
  fresh_prefix();
  counter_ = first_counter;
}

void E2eeCipher::set_keys(E2eeKeys keys) {
  const bool new_sealing_key = !(keys.sealingKey() == keys_.sealingKey());
  keys_ = std::move(keys);
  if (new_sealing_key) fresh_prefix();
}

void E2eeCipher::fresh_prefix() {
  // Without randomness no nonce could be trusted: better to stop than to repeat one.
  if (RAND_bytes(prefix_.data(), static_cast<int>(prefix_.size())) != 1) std::abort();
  counter_ = 0;
}

Result<Bytes> E2eeCipher::seal(std::uint16_t channel_id, std::uint32_t sequence,
                               ByteView plaintext) {
  if (counter_ >= kCounterLimit) fresh_prefix();
  E2eeNonce nonce{};
  std::copy(prefix_.begin(), prefix_.end(), nonce.begin());
  const auto counter = static_cast<std::uint32_t>(counter_++);
  nonce[8] = static_cast<std::uint8_t>(counter >> 24);
  nonce[9] = static_cast<std::uint8_t>(counter >> 16);
  nonce[10] = static_cast<std::uint8_t>(counter >> 8);
  nonce[11] = static_cast<std::uint8_t>(counter);
  return e2ee_seal(keys_.sealingKey(), nonce, {call_id_, channel_id, sequence, self_}, plaintext);
}

Result<Bytes> E2eeCipher::open(const Identity& sender, std::uint16_t channel_id,
                               std::uint32_t sequence, ByteView sealed) const {
  auto opened = e2ee_open(keys_, {call_id_, channel_id, sequence, sender}, sealed);
  if (opened) return opened;
  Error error = std::move(opened).error();
  error.message = "message " + std::to_string(sequence) + " on channel " +
                  std::to_string(channel_id) + " from " + sender +
                  " could not be opened: " + error.message;
  return error;
}

}  // namespace switchboard::client
