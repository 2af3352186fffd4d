#pragma once

// The checks of the scale-out settings (redis, node_id, public_url), kept beside the
// cluster code; config.cpp's validate() runs them.

#include "server/config.hpp"
#include "switchboard/result.hpp"

namespace switchboard::server {

// Without redis, node_id and public_url must be unset; with it, node_id is required and
// public_url (when given) must be a ws:// or wss:// URL.
Result<void> validate_cluster_settings(const ServerConfig& config);

}  // namespace switchboard::server
