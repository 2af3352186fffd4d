#pragma once

// Short-lived TURN credentials in the "TURN REST API" convention that coturn implements
// with `use-auth-secret` + `static-auth-secret` (draft-uberti-behave-turn-rest-00): the
// server and the TURN relay share a secret; the server mints, per client,
//   username   = "<unix expiry>:<identity>"
//   credential = base64(HMAC-SHA1(secret, username))   (standard alphabet, padded)
// and the relay recomputes the HMAC and refuses the username once its expiry has passed.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "server/config.hpp"
#include "signaling/messages.hpp"

namespace switchboard::server {

struct TurnCredentials {
  std::string username;
  std::string credential;
  bool operator==(const TurnCredentials&) const = default;
};

// Valid until now_unix + ttl_s. Pure: same inputs, same output.
TurnCredentials mint_turn_credentials(std::string_view secret, std::string_view identity,
                                      std::int64_t now_unix, std::int64_t ttl_s);

// Standard base64 (RFC 4648 section 4) with '=' padding.
std::string base64_encode(std::string_view data);

// What `joined.iceServers` carries for `identity`: the static `ice_servers` of the config,
// then one entry with every `stun_urls` url (no credentials), then one entry with every
// `turn_urls` url and credentials minted now (when a TURN secret is configured). Empty
// url lists add no entry.
std::vector<signaling::IceServer> ice_servers_for(const ServerConfig& config,
                                                  std::string_view identity, std::int64_t now_unix);

}  // namespace switchboard::server
