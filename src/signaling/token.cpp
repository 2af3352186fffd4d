#include "signaling/token.hpp"

#include <array>
#include <limits>

#include <nlohmann/json.hpp>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace switchboard::signaling {
namespace {

using nlohmann::json;

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr std::size_t kSignatureSize = 32;  // SHA-256

// The header every token carries; verification reads only `alg`.
constexpr std::string_view kHeader = R"({"alg":"HS256","typ":"JWT"})";

int decode_char(char c) noexcept {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

std::array<std::uint8_t, kSignatureSize> sign(std::string_view signing_input,
                                              std::string_view secret) {
  std::array<std::uint8_t, kSignatureSize> mac{};
  unsigned int length = 0;
  // An empty key is valid for HMAC; OpenSSL wants a non-null pointer for it.
  static const char kEmpty = 0;
  HMAC(EVP_sha256(), secret.empty() ? &kEmpty : secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size(),
       mac.data(), &length);
  return mac;
}

Error unauthorized(std::string message) {
  return Error{ErrorCode::Unauthorized, "access token rejected: " + std::move(message)};
}

json parse_object(std::string_view part) {
  auto decoded = base64url_decode(part);
  if (!decoded) return json::value_t::discarded;
  return json::parse(as_string(*decoded), nullptr, /*allow_exceptions=*/false);
}

}  // namespace

std::string base64url_encode(ByteView data) {
  std::string out;
  out.reserve((data.size() * 4 + 2) / 3);
  std::size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    const std::uint32_t v = (std::uint32_t{data[i]} << 16) | (std::uint32_t{data[i + 1]} << 8) |
                            std::uint32_t{data[i + 2]};
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    out.push_back(kAlphabet[v & 63]);
  }
  const std::size_t rest = data.size() - i;
  if (rest == 1) {
    const std::uint32_t v = std::uint32_t{data[i]} << 16;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
  } else if (rest == 2) {
    const std::uint32_t v = (std::uint32_t{data[i]} << 16) | (std::uint32_t{data[i + 1]} << 8);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
  }
  return out;
}

Result<Bytes> base64url_decode(std::string_view text) {
  if (text.size() % 4 == 1) {
    return Error{ErrorCode::InvalidArgument, "base64url text has an impossible length"};
  }
  Bytes out;
  out.reserve(text.size() * 3 / 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (const char c : text) {
    const int v = decode_char(c);
    if (v < 0) {
      return Error{ErrorCode::InvalidArgument,
                   "base64url text has a character outside the alphabet (or padding)"};
    }
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<std::uint8_t>((acc >> bits) & 0xFF));
    }
  }
  // Leftover bits must be zero, else two texts would decode to the same bytes.
  if ((acc & ((1U << bits) - 1)) != 0) {
    return Error{ErrorCode::InvalidArgument, "base64url text has non-zero trailing bits"};
  }
  return out;
}

std::string mint_token(const TokenClaims& claims, std::string_view secret) {
  json payload = json::object();
  payload["sub"] = claims.sub;
  payload["call"] = claims.call;
  if (!claims.name.empty()) payload["name"] = claims.name;
  payload["iat"] = claims.iat;
  payload["exp"] = claims.exp;
  const std::string body = payload.dump(-1, ' ', false, json::error_handler_t::replace);

  std::string token = base64url_encode(as_bytes(kHeader));
  token += '.';
  token += base64url_encode(as_bytes(body));
  const auto mac = sign(token, secret);
  token += '.';
  token += base64url_encode(mac);
  return token;
}

Result<TokenClaims> verify_token(std::string_view token, std::string_view secret,
                                 std::int64_t now_unix, std::string_view call_id) {
  if (token.size() > kMaxTokenSize) {
    return unauthorized("longer than " + std::to_string(kMaxTokenSize) + " bytes");
  }
  const auto dot1 = token.find('.');
  const auto dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return unauthorized("malformed: expected three base64url parts separated by '.'");
  }
  const auto header_part = token.substr(0, dot1);
  const auto payload_part = token.substr(dot1 + 1, dot2 - dot1 - 1);
  const auto signature_part = token.substr(dot2 + 1);

  const json header = parse_object(header_part);
  if (!header.is_object()) return unauthorized("malformed: the header is not a JSON object");
  const auto alg = header.find("alg");
  if (alg == header.end() || !alg->is_string() || alg->get_ref<const std::string&>() != "HS256") {
    return unauthorized("the header's alg must be \"HS256\"");
  }

  // The signature is checked before the payload is read at all.
  auto signature = base64url_decode(signature_part);
  if (!signature) return unauthorized("malformed: the signature is not base64url");
  const auto expected = sign(token.substr(0, dot2), secret);
  if (signature->size() != expected.size() ||
      CRYPTO_memcmp(signature->data(), expected.data(), expected.size()) != 0) {
    return unauthorized("bad signature (signed with another secret, or altered)");
  }

  const json payload = parse_object(payload_part);
  if (!payload.is_object()) return unauthorized("malformed: the payload is not a JSON object");

  TokenClaims claims;
  const auto sub = payload.find("sub");
  if (sub == payload.end() || !sub->is_string()) return unauthorized("sub is missing");
  claims.sub = sub->get<std::string>();
  if (claims.sub.empty() || claims.sub.size() > kMaxIdentitySize) {
    return unauthorized("sub must be 1.." + std::to_string(kMaxIdentitySize) + " characters");
  }
  const auto call = payload.find("call");
  if (call == payload.end() || !call->is_string()) return unauthorized("call is missing");
  claims.call = call->get<std::string>();
  if (claims.call.empty() || claims.call.size() > kMaxCallIdSize) {
    return unauthorized("call must be 1.." + std::to_string(kMaxCallIdSize) + " characters");
  }
  if (const auto name = payload.find("name"); name != payload.end()) {
    if (!name->is_string() || name->get_ref<const std::string&>().size() > kMaxDisplayNameSize) {
      return unauthorized("name must be a string of at most " +
                          std::to_string(kMaxDisplayNameSize) + " characters");
    }
    claims.name = name->get<std::string>();
  }
  const auto exp = payload.find("exp");
  if (exp == payload.end() || !exp->is_number_integer()) {
    return unauthorized("exp must be an integer (unix seconds)");
  }
  if (exp->is_number_unsigned() &&
      exp->get<std::uint64_t>() > std::uint64_t{std::numeric_limits<std::int64_t>::max()}) {
    return unauthorized("exp is out of range");
  }
  claims.exp = exp->get<std::int64_t>();
  if (const auto iat = payload.find("iat"); iat != payload.end()) {
    if (!iat->is_number_integer() ||
        (iat->is_number_unsigned() &&
         iat->get<std::uint64_t>() > std::uint64_t{std::numeric_limits<std::int64_t>::max()})) {
      return unauthorized("iat must be an integer (unix seconds)");
    }
    claims.iat = iat->get<std::int64_t>();
  }

  if (now_unix >= claims.exp) {
    return unauthorized("expired at " + std::to_string(claims.exp) + " (now " +
                        std::to_string(now_unix) + "); ask for a new token");
  }
  if (claims.call != kAnyCall && claims.call != call_id) {
    return unauthorized("issued for call \"" + claims.call + "\", not \"" + std::string(call_id) +
                        "\"");
  }
  return claims;
}

}  // namespace switchboard::signaling
