#pragma once

// Where the command-line participant gets its access token and the token command its
// signing secret (docs/protocol.md, "Access tokens").

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "switchboard/result.hpp"

namespace switchboard::cli {

// "1h", "30m", "3600s" or plain seconds "3600"; positive, at most a year.
Result<std::chrono::seconds> parse_ttl(std::string_view text);

// The signing secret: the development secret with `dev`, else the content of
// `secret_file` (trailing whitespace and newlines trimmed), else $SWITCHBOARD_SECRET.
Result<std::string> resolve_secret(bool dev, const std::string& secret_file);

// A token for `user` in `call`, valid from `now_unix` for `ttl`.
Result<std::string> mint_access_token(std::string_view user, std::string_view call,
                                      std::string_view name, std::chrono::seconds ttl,
                                      std::string_view secret, std::int64_t now_unix);

// The token a participant joins with: `token` when given, else (with `dev`) one minted
// for an hour with the development secret; INVALID_ARGUMENT when neither is there.
Result<std::string> join_token(const std::string& token, bool dev, std::string_view user,
                               std::string_view call, std::string_view name);

std::int64_t unix_now();

}  // namespace switchboard::cli
