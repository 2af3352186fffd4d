#include "credentials.hpp"

#include <charconv>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "signaling/token.hpp"

namespace switchboard::cli {

Result<std::chrono::seconds> parse_ttl(std::string_view text) {
  const auto bad = [&] {
    return Error{ErrorCode::InvalidArgument,
                 "bad --ttl \"" + std::string(text) + "\": use e.g. 1h, 30m or 3600s"};
  };
  if (text.empty()) return bad();
  std::string_view digits = text;
  std::int64_t unit = 1;
  switch (text.back()) {
    case 'h':
      unit = 3600;
      break;
    case 'm':
      unit = 60;
      break;
    case 's':
      unit = 1;
      break;
    default:
      break;
  }
  if (text.back() == 'h' || text.back() == 'm' || text.back() == 's') digits.remove_suffix(1);
  std::int64_t value = 0;
  const auto* end = digits.data() + digits.size();
  const auto [ptr, ec] = std::from_chars(digits.data(), end, value);
  if (digits.empty() || ec != std::errc{} || ptr != end || value <= 0) return bad();
  constexpr std::int64_t kYear = 366LL * 24 * 3600;
  if (value > kYear / unit) return bad();
  return std::chrono::seconds{value * unit};
}

Result<std::string> resolve_secret(bool dev, const std::string& secret_file) {
  if (dev) return std::string(signaling::kDevelopmentSecret);
  std::string secret;
  if (!secret_file.empty()) {
    std::ifstream in(secret_file, std::ios::binary);
    if (!in) {
      return Error{ErrorCode::InvalidArgument, "cannot read the secret file " + secret_file};
    }
    std::ostringstream content;
    content << in.rdbuf();
    secret = content.str();
    while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r' ||
                               secret.back() == ' ' || secret.back() == '\t')) {
      secret.pop_back();
    }
    if (secret.empty()) {
      return Error{ErrorCode::InvalidArgument, "the secret file " + secret_file + " is empty"};
    }
    return secret;
  }
  if (const char* env = std::getenv("SWITCHBOARD_SECRET"); env != nullptr && *env != '\0') {
    return std::string(env);
  }
  return Error{ErrorCode::InvalidArgument,
               "no signing secret: pass --dev, --secret-file FILE or set SWITCHBOARD_SECRET"};
}

Result<std::string> mint_access_token(std::string_view user, std::string_view call,
                                      std::string_view name, std::chrono::seconds ttl,
                                      std::string_view secret, std::int64_t now_unix) {
  if (user.empty() || user.size() > signaling::kMaxIdentitySize) {
    return Error{ErrorCode::InvalidArgument, "the user identity must be 1..128 bytes"};
  }
  if (call.empty() || call.size() > signaling::kMaxCallIdSize) {
    return Error{ErrorCode::InvalidArgument, "the call id must be 1..128 bytes (or \"*\")"};
  }
  if (name.size() > signaling::kMaxDisplayNameSize) {
    return Error{ErrorCode::InvalidArgument, "the display name must be at most 256 bytes"};
  }
  signaling::TokenClaims claims;
  claims.sub = user;
  claims.call = call;
  claims.name = name;
  claims.iat = now_unix;
  claims.exp = now_unix + ttl.count();
  return signaling::mint_token(claims, secret);
}

Result<std::string> join_token(const std::string& token, bool dev, std::string_view user,
                               std::string_view call, std::string_view name) {
  if (!token.empty()) return token;
  if (!dev) {
    return Error{ErrorCode::InvalidArgument,
                 "no access token: pass --token JWT (see `switchboard token`) or --dev"};
  }
  return mint_access_token(user, call, name, std::chrono::hours{1}, signaling::kDevelopmentSecret,
                           unix_now());
}

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace switchboard::cli
