#pragma once

// Access tokens: HS256 JSON Web Tokens (RFC 7519, RFC 7515) that admit one participant
// to one call (or to any call, "*"). Format: docs/protocol.md ("Signaling protocol").
//
// verify_token is a pure function: the clock and the secret are arguments, so the
// server, the tests and the fuzzer all call it the same way.

#include <cstdint>
#include <string>
#include <string_view>

#include "core/bytes.hpp"
#include "switchboard/result.hpp"

namespace switchboard::signaling {

// The fixed secret the development server and the samples share so a call works with no
// configuration. Anyone can mint tokens for it: never use it in production.
inline constexpr std::string_view kDevelopmentSecret =
    "switchboard-development-secret-do-not-use-in-production";

inline constexpr std::size_t kMaxTokenSize = 4096;
inline constexpr std::size_t kMaxIdentitySize = 128;
inline constexpr std::size_t kMaxCallIdSize = 128;
inline constexpr std::size_t kMaxDisplayNameSize = 256;
// A token's `call` claim that admits its holder to every call.
inline constexpr std::string_view kAnyCall = "*";

struct TokenClaims {
  std::string sub;       // participant identity, 1..128 characters
  std::string call;      // call id, or "*" for any call
  std::string name;      // display name; empty when absent
  std::int64_t exp = 0;  // expiry, unix seconds: rejected at and after this second
  std::int64_t iat = 0;  // issued at, unix seconds

  bool operator==(const TokenClaims&) const = default;
};

// header.payload.signature, each base64url without padding, signed with HMAC-SHA256.
std::string mint_token(const TokenClaims& claims, std::string_view secret);

// The claims of a token signed with `secret`, unexpired at `now_unix` and valid for
// `call_id`; Unauthorized, saying why, otherwise.
Result<TokenClaims> verify_token(std::string_view token, std::string_view secret,
                                 std::int64_t now_unix, std::string_view call_id);

// RFC 4648 section 5 alphabet, no padding.
std::string base64url_encode(ByteView data);
// Strict inverse of base64url_encode: rejects padding, characters outside the alphabet,
// impossible lengths and non-zero trailing bits, so every byte string has one encoding.
Result<Bytes> base64url_decode(std::string_view text);

}  // namespace switchboard::signaling
