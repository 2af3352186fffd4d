#include "webrtc/negotiation.hpp"

#include <openssl/rand.h>

namespace switchboard::webrtc {

DtlsRole answerer_dtls_role(DtlsSetup offer_setup) {
  return offer_setup == DtlsSetup::Passive ? DtlsRole::Client : DtlsRole::Server;
}

SessionDescription make_lite_answer(const SessionDescription& offer, const IceCredentials& ice,
                                    const Certificate& certificate, const SocketAddress& address,
                                    std::size_t max_message_size) {
  SessionDescription answer;
  answer.ice_ufrag = ice.ufrag;
  answer.ice_pwd = ice.pwd;
  answer.ice_lite = true;
  answer.fingerprint = certificate.fingerprint();
  answer.setup =
      answerer_dtls_role(offer.setup) == DtlsRole::Server ? DtlsSetup::Passive : DtlsSetup::Active;
  answer.mid = offer.mid;
  answer.sctp_port = 5000;
  answer.max_message_size = max_message_size;
  IceCandidate host;
  host.foundation = "1";
  host.component = 1;
  host.transport = "udp";
  // RFC 8445 §5.1.2.1 with type preference 126 (host), one local preference, component 1.
  host.priority = (126u << 24) | (65535u << 8) | 255u;
  host.address = address.ip_string();
  host.port = address.port();
  host.type = "host";
  answer.candidates.push_back(std::move(host));
  answer.end_of_candidates = true;
  RAND_bytes(reinterpret_cast<unsigned char*>(&answer.session_id), sizeof(answer.session_id));
  answer.session_id &= 0x7fffffffffffffffULL;  // SDP wants a positive 63-bit number
  answer.session_version = 1;
  return answer;
}

}  // namespace switchboard::webrtc
