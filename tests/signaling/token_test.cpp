#include "signaling/token.hpp"

#include <string>

#include <gtest/gtest.h>

namespace switchboard::signaling {
namespace {

constexpr std::int64_t kNow = 1'800'000'000;
constexpr std::string_view kSecret = "test-secret";

TokenClaims alice() {
  return TokenClaims{"alice", "call-1", "Alice A.", kNow + 3600, kNow};
}

std::string encode(std::string_view text) {
  return base64url_encode(as_bytes(text));
}

// An unsigned token with the given header and payload JSON, as an attacker would send.
std::string forge(std::string_view header, std::string_view payload) {
  return encode(header) + "." + encode(payload) + ".";
}

void expect_unauthorized(const Result<TokenClaims>& result, std::string_view reason) {
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::Unauthorized);
  EXPECT_NE(result.error().message.find(reason), std::string::npos) << result.error().message;
}

TEST(TokenBase64Url, EncodesRfc4648VectorsWithoutPadding) {
  EXPECT_EQ(encode(""), "");
  EXPECT_EQ(encode("f"), "Zg");
  EXPECT_EQ(encode("fo"), "Zm8");
  EXPECT_EQ(encode("foo"), "Zm9v");
  EXPECT_EQ(encode("foob"), "Zm9vYg");
  EXPECT_EQ(encode("fooba"), "Zm9vYmE");
  EXPECT_EQ(encode("foobar"), "Zm9vYmFy");
  const Bytes high{0xFB, 0xFF, 0xBF};
  EXPECT_EQ(base64url_encode(high), "-_-_");
}

TEST(TokenBase64Url, DecodesWhatItEncodes) {
  Bytes all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<std::uint8_t>(i));
  for (std::size_t n = 0; n <= all.size(); n += 7) {
    const ByteView prefix(all.data(), n);
    auto decoded = base64url_decode(base64url_encode(prefix));
    ASSERT_TRUE(decoded.ok()) << n;
    EXPECT_EQ(*decoded, Bytes(prefix.begin(), prefix.end()));
  }
}

TEST(TokenBase64Url, RejectsPaddingForeignCharactersBadLengthAndTrailingBits) {
  EXPECT_FALSE(base64url_decode("Zg==").ok());
  EXPECT_FALSE(base64url_decode("Zm9v+A").ok());  // standard alphabet, not url
  EXPECT_FALSE(base64url_decode("Zm9v/A").ok());
  EXPECT_FALSE(base64url_decode("Zm9 v").ok());
  EXPECT_FALSE(base64url_decode("Zm9vY").ok());  // 5 characters cannot be
  EXPECT_FALSE(base64url_decode("Zh").ok());     // "f" is Zg; h sets a trailing bit
  EXPECT_TRUE(base64url_decode("Zg").ok());
}

TEST(Token, MintedTokenVerifiesToTheSameClaims) {
  const auto token = mint_token(alice(), kSecret);
  auto claims = verify_token(token, kSecret, kNow, "call-1");
  ASSERT_TRUE(claims.ok()) << claims.error().message;
  EXPECT_EQ(*claims, alice());
}

TEST(Token, TokenWithoutNameVerifiesWithEmptyName) {
  auto claims_in = alice();
  claims_in.name.clear();
  auto claims = verify_token(mint_token(claims_in, kSecret), kSecret, kNow, "call-1");
  ASSERT_TRUE(claims.ok());
  EXPECT_EQ(*claims, claims_in);
}

TEST(Token, TokenIsThreeBase64UrlParts) {
  const auto token = mint_token(alice(), kSecret);
  const auto dot1 = token.find('.');
  const auto dot2 = token.find('.', dot1 + 1);
  ASSERT_NE(dot2, std::string::npos);
  EXPECT_EQ(token.find('.', dot2 + 1), std::string::npos);
  auto header = base64url_decode(token.substr(0, dot1));
  ASSERT_TRUE(header.ok());
  EXPECT_EQ(as_string(*header), R"({"alg":"HS256","typ":"JWT"})");
}

TEST(Token, FlippedSignatureByteIsRejected) {
  const auto token = mint_token(alice(), kSecret);
  const auto dot2 = token.rfind('.');
  auto signature = *base64url_decode(token.substr(dot2 + 1));
  signature[5] ^= 0x01;
  const auto altered = token.substr(0, dot2 + 1) + base64url_encode(signature);
  expect_unauthorized(verify_token(altered, kSecret, kNow, "call-1"), "bad signature");
}

TEST(Token, AlteredPayloadIsRejected) {
  const auto token = mint_token(alice(), kSecret);
  const auto dot1 = token.find('.');
  const auto dot2 = token.rfind('.');
  auto claims = alice();
  claims.sub = "mallory";
  const auto other = mint_token(claims, kSecret);
  const auto other_payload =
      other.substr(other.find('.') + 1, other.rfind('.') - other.find('.') - 1);
  const auto altered = token.substr(0, dot1 + 1) + other_payload + token.substr(dot2);
  expect_unauthorized(verify_token(altered, kSecret, kNow, "call-1"), "bad signature");
}

TEST(Token, OtherSecretIsRejected) {
  const auto token = mint_token(alice(), "another-secret");
  expect_unauthorized(verify_token(token, kSecret, kNow, "call-1"), "bad signature");
}

TEST(Token, AlgNoneIsRejected) {
  const auto token =
      forge(R"({"alg":"none","typ":"JWT"})", R"({"sub":"alice","call":"*","exp":9999999999})");
  expect_unauthorized(verify_token(token, kSecret, kNow, "call-1"), "alg");
}

TEST(Token, OtherAlgorithmsAndMissingAlgAreRejected) {
  const auto token = mint_token(alice(), kSecret);
  const auto rest = token.substr(token.find('.'));
  for (const auto* header : {R"({"alg":"HS512"})", R"({"alg":"RS256"})", R"({"alg":"hs256"})",
                             R"({"typ":"JWT"})", R"({"alg":256})"}) {
    expect_unauthorized(verify_token(encode(header) + rest, kSecret, kNow, "call-1"), "alg");
  }
}

TEST(Token, ExpiredTokenIsRejectedFromItsExpirySecond) {
  const auto token = mint_token(alice(), kSecret);
  EXPECT_TRUE(verify_token(token, kSecret, alice().exp - 1, "call-1").ok());
  expect_unauthorized(verify_token(token, kSecret, alice().exp, "call-1"), "expired");
}

TEST(Token, TokenForAnotherCallIsRejected) {
  const auto token = mint_token(alice(), kSecret);
  expect_unauthorized(verify_token(token, kSecret, kNow, "call-2"), "call-1");
}

TEST(Token, WildcardCallIsAcceptedForAnyCall) {
  auto claims = alice();
  claims.call = "*";
  const auto token = mint_token(claims, kSecret);
  EXPECT_TRUE(verify_token(token, kSecret, kNow, "call-1").ok());
  EXPECT_TRUE(verify_token(token, kSecret, kNow, "anything").ok());
}

TEST(Token, MissingOrOversizeSubIsRejected) {
  auto claims = alice();
  claims.sub = "";
  expect_unauthorized(verify_token(mint_token(claims, kSecret), kSecret, kNow, "call-1"), "sub");
  claims.sub = std::string(129, 'a');
  expect_unauthorized(verify_token(mint_token(claims, kSecret), kSecret, kNow, "call-1"), "sub");
  claims.sub = std::string(128, 'a');
  EXPECT_TRUE(verify_token(mint_token(claims, kSecret), kSecret, kNow, "call-1").ok());
}

TEST(Token, GarbageIsRejectedAsMalformed) {
  for (const auto* garbage : {"", "abc", "a.b", "a.b.c.d", "...", "!!.??.##", "e30.e30.e30"}) {
    expect_unauthorized(verify_token(garbage, kSecret, kNow, "call-1"), "");
  }
  expect_unauthorized(verify_token("abc", kSecret, kNow, "call-1"), "malformed");
  expect_unauthorized(verify_token(encode("not json") + ".e30.", kSecret, kNow, "call-1"),
                      "malformed");
}

TEST(Token, TokenLongerThan4KiBIsRejected) {
  auto claims = alice();
  claims.name = std::string(kMaxDisplayNameSize, 'n');
  claims.call = "*";
  std::string token = mint_token(claims, kSecret);
  ASSERT_LT(token.size(), kMaxTokenSize);
  token += std::string(kMaxTokenSize - token.size() + 1, 'A');
  expect_unauthorized(verify_token(token, kSecret, kNow, "call-1"), "longer than 4096");
}

TEST(Token, DevelopmentSecretMintsUsableTokens) {
  const auto token = mint_token(alice(), kDevelopmentSecret);
  EXPECT_TRUE(verify_token(token, kDevelopmentSecret, kNow, "call-1").ok());
  EXPECT_FALSE(verify_token(token, kSecret, kNow, "call-1").ok());
}

}  // namespace
}  // namespace switchboard::signaling
