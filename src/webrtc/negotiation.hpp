#pragma once

// The offer/answer rules (JSEP, RFC 8829) for our data-only sessions.

#include "webrtc/certificate.hpp"
#include "webrtc/dtls_transport.hpp"
#include "webrtc/ice_lite.hpp"
#include "webrtc/sdp.hpp"
#include "webrtc/socket_address.hpp"

namespace switchboard::webrtc {

// The answer side takes the DTLS role the offer leaves it: an `actpass` or `active`
// offerer makes us the DTLS server (we answer `passive`); a `passive` one makes us client.
DtlsRole answerer_dtls_role(DtlsSetup offer_setup);

// What an ICE-lite endpoint reachable at `address` answers to `offer`: our credentials,
// certificate fingerprint, one host candidate, and the SCTP parameters we accept.
SessionDescription make_lite_answer(const SessionDescription& offer, const IceCredentials& ice,
                                    const Certificate& certificate, const SocketAddress& address,
                                    std::size_t max_message_size);

}  // namespace switchboard::webrtc
