#include "server/dev_token.hpp"

#include <optional>

#include "server/http_target.hpp"
#include "signaling/token.hpp"

namespace switchboard::server {
namespace {

Error invalid(std::string message) {
  return {ErrorCode::InvalidArgument, std::move(message)};
}

bool has_control_character(std::string_view text) {
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7F) return true;
  }
  return false;
}

Result<void> check(const std::optional<std::string>& value, std::string_view name, std::size_t min,
                   std::size_t max) {
  const std::string_view text = value ? std::string_view(*value) : std::string_view{};
  if (text.size() < min || text.size() > max) {
    return invalid("'" + std::string(name) + "' must be " + std::to_string(min) + ".." +
                   std::to_string(max) + " bytes" + (min > 0 && !value ? " (it is required)" : ""));
  }
  if (!is_valid_utf8(text) || has_control_character(text)) {
    return invalid("'" + std::string(name) + "' must be UTF-8 text without control characters");
  }
  return {};
}

}  // namespace

Result<std::string> dev_token_for_query(std::string_view query, std::string_view secret,
                                        std::int64_t now_unix) {
  auto parameters = parse_query(query);
  if (!parameters) return invalid("the query has a '%' that is not followed by two hex digits");
  std::optional<std::string> user, call, name;
  for (auto& [key, value] : *parameters) {
    std::optional<std::string>* slot = key == "user"   ? &user
                                       : key == "call" ? &call
                                       : key == "name" ? &name
                                                       : nullptr;
    if (slot == nullptr) {
      return invalid("unknown parameter '" + key + "' (expected user, call and name)");
    }
    if (*slot) return invalid("'" + key + "' is given twice");
    *slot = std::move(value);
  }
  if (auto r = check(user, "user", 1, signaling::kMaxIdentitySize); !r) return r.error();
  if (auto r = check(call, "call", 1, signaling::kMaxCallIdSize); !r) return r.error();
  if (auto r = check(name, "name", 0, signaling::kMaxDisplayNameSize); !r) return r.error();
  signaling::TokenClaims claims;
  claims.sub = *user;
  claims.call = *call;
  claims.name = name.value_or("");
  claims.iat = now_unix;
  claims.exp = now_unix + kDevTokenLifetime.count();
  return signaling::mint_token(claims, secret);
}

}  // namespace switchboard::server
