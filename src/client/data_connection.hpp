#pragma once

// What every data connection of a client shares, toward the server (ServerLink) or
// straight to a peer (PeerLink): the process's DTLS certificate, the negotiated channels
// of the traffic classes, our data-only description, and how the WebRtcConnection is set
// up (docs/protocol.md, "The data path").

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include <boost/asio/io_context.hpp>

#include "switchboard/result.hpp"
#include "webrtc/certificate.hpp"
#include "webrtc/ice_lite.hpp"
#include "webrtc/sctp_transport.hpp"
#include "webrtc/sdp.hpp"
#include "webrtc/webrtc_connection.hpp"

namespace switchboard::client {

// A link's `writable` fires when buffered_amount() falls to this.
inline constexpr std::size_t kLowWaterMark = std::size_t{1} * 1024 * 1024;

// One certificate per process serves every connection (its fingerprint goes in each
// offer or answer); generated when the first connection needs it, dropped when the last
// one is gone. Thread-safe. INTERNAL when it cannot be generated.
Result<std::shared_ptr<const webrtc::Certificate>> shared_certificate();

// The four negotiated channels of the traffic classes, streams 0..3 (see stream_of).
std::array<webrtc::ChannelParams, 4> negotiated_channels();

// A random SDP session id (o= line), well inside a signed 64-bit range.
std::uint64_t random_session_id();

// Our offer or answer: one data section (mid "0", the default SCTP port) with a fresh
// session id.
webrtc::SessionDescription local_description(webrtc::IceCredentials ice,
                                             const webrtc::Certificate& certificate,
                                             webrtc::DtlsSetup setup, std::size_t max_message_size);

// What the data connection needs beyond the other side's description.
struct DataConnectionSettings {
  std::shared_ptr<const webrtc::Certificate> certificate;
  webrtc::DtlsRole role = webrtc::DtlsRole::Client;
  std::size_t local_max_message_size = 0;  // ours, as announced in our description
  bool receive_paused = false;
};

// The data connection toward the side that sent `remote`, writable at kLowWaterMark.
// Open its channels (open_negotiated_channels) before starting it.
std::unique_ptr<webrtc::WebRtcConnection> make_data_connection(
    boost::asio::io_context& io, const webrtc::SessionDescription& remote,
    DataConnectionSettings settings, webrtc::WebRtcConnection::Callbacks callbacks);

// Opens the traffic classes' channels, then `extra`. Before the association is up, so
// nothing of the other side's can arrive on a stream we do not know yet.
Result<void> open_negotiated_channels(webrtc::WebRtcConnection& connection,
                                      std::span<const webrtc::ChannelParams> extra = {});

}  // namespace switchboard::client
