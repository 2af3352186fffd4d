// Access tokens: any text verifies to claims or an Unauthorized error, never a crash; a
// token minted from fuzzed claims verifies back to the same claims when they are valid.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "signaling/token.hpp"

using namespace switchboard;
using namespace switchboard::signaling;

namespace {

constexpr std::int64_t kNow = 1'800'000'000;

// Printable ASCII so every claim survives JSON as-is.
std::string take_string(const std::uint8_t*& data, std::size_t& size) {
  if (size == 0) return {};
  std::size_t length = std::min<std::size_t>(data[0], size - 1);
  std::string out;
  for (std::size_t i = 0; i < length; ++i)
    out.push_back(static_cast<char>(0x20 + data[1 + i] % 95));
  data += length + 1;
  size -= length + 1;
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  auto verified = verify_token(input, kDevelopmentSecret, kNow, "call-1");
  if (!verified && verified.error().code != ErrorCode::Unauthorized) std::abort();
  if (verified) {
    if (verified->sub.empty() || verified->exp <= kNow) std::abort();
    if (verified->call != "call-1" && verified->call != "*") std::abort();
  }

  const std::uint8_t* cursor = data;
  std::size_t left = size;
  TokenClaims claims;
  claims.sub = take_string(cursor, left);
  claims.call = take_string(cursor, left);
  claims.name = take_string(cursor, left);
  // Up to a year either side of now.
  std::int64_t offset = 0;
  for (std::size_t i = 0; i < 4 && i < left; ++i) offset = offset * 256 + cursor[i];
  offset = offset % (2 * 31'536'000) - 31'536'000;
  claims.exp = kNow + offset;
  claims.iat = kNow - offset;
  const auto token = mint_token(claims, kDevelopmentSecret);
  auto back = verify_token(token, kDevelopmentSecret, kNow, claims.call);
  const bool valid = !claims.sub.empty() && claims.sub.size() <= kMaxIdentitySize &&
                     !claims.call.empty() && claims.call.size() <= kMaxCallIdSize &&
                     claims.name.size() <= kMaxDisplayNameSize && claims.exp > kNow &&
                     token.size() <= kMaxTokenSize;
  if (valid != back.ok()) std::abort();
  if (back && *back != claims) std::abort();
  return 0;
}
