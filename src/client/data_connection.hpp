#pragma once

// What every data connection of a client shares, toward the server (ServerLink) or
// straight to a peer (PeerLink): the process's DTLS certificate, the negotiated channels
// of the traffic classes, and the SDP session ids (docs/protocol.md, "The data path").

#include <array>
#include <cstdint>
#include <memory>

#include "switchboard/result.hpp"
#include "webrtc/certificate.hpp"
#include "webrtc/sctp_transport.hpp"

namespace switchboard::client {

// One certificate per process serves every connection (its fingerprint goes in each
// offer or answer); generated when the first connection needs it, dropped when the last
// one is gone. Thread-safe.
Result<std::shared_ptr<const webrtc::Certificate>> shared_certificate();

// The four negotiated channels of the traffic classes, streams 0..3 (see stream_of).
std::array<webrtc::ChannelParams, 4> negotiated_channels();

// A random SDP session id (o= line), well inside a signed 64-bit range.
std::uint64_t random_session_id();

}  // namespace switchboard::client
