#pragma once

// GET /v1/dev-token?user=U&call=C&name=N in --dev mode: an access token for the Web demo,
// signed with the server's (public, development) secret. Pure: the secret and the clock
// are arguments.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "switchboard/result.hpp"

namespace switchboard::server {

inline constexpr std::chrono::seconds kDevTokenLifetime = std::chrono::hours(1);

// `query` is the request's query string, still percent-encoded. `user` (1..128 bytes) and
// `call` (1..128 bytes, "*" for any call) are required, `name` (at most 256 bytes) is
// optional; all UTF-8 without control characters. Unknown or repeated parameters are
// errors, so a typo does not silently mint a token for something else.
Result<std::string> dev_token_for_query(std::string_view query, std::string_view secret,
                                        std::int64_t now_unix);

}  // namespace switchboard::server
