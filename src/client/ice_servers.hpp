#pragma once

// The ICE servers a `joined` message lists (RFC 7064 stun: and RFC 7065 turn: URIs), as
// the libnice agent of a direct connection takes them.

#include <vector>

#include "signaling/messages.hpp"
#include "webrtc/ice_agent.hpp"

namespace switchboard::client {

// stun:host[:port] → a STUN server; turn:host[:port][?transport=udp] with the entry's
// username and credential → a TURN server over UDP. What libnice cannot use here is
// skipped: stuns:/turns: (TLS), ?transport=tcp, a turn: URI without credentials. A URI
// that does not parse is INVALID_ARGUMENT, naming it.
Result<webrtc::IceServerConfig> to_ice_config(const std::vector<signaling::IceServer>& servers);

}  // namespace switchboard::client
