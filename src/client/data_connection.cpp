#include "client/data_connection.hpp"

#include <mutex>

#include <openssl/rand.h>

namespace switchboard::client {

using webrtc::ChannelParams;
using webrtc::SctpReliability;

Result<std::shared_ptr<const webrtc::Certificate>> shared_certificate() {
  static std::mutex mutex;
  static std::weak_ptr<const webrtc::Certificate> cached;
  std::lock_guard lock(mutex);
  if (auto certificate = cached.lock()) return certificate;
  auto generated = webrtc::Certificate::generate();
  if (!generated) {
    return Error{ErrorCode::Internal,
                 "cannot create a DTLS certificate: " + generated.error().message};
  }
  cached = *generated;
  return *generated;
}

std::array<ChannelParams, 4> negotiated_channels() {
  auto channel = [](const char* label, std::uint16_t stream, bool lossy, std::uint16_t priority) {
    ChannelParams p;
    p.label = label;
    p.ordered = !lossy;
    p.reliability = lossy ? SctpReliability::MaxRetransmits : SctpReliability::Reliable;
    p.reliability_value = 0;
    p.priority = priority;
    p.negotiated = true;
    p.stream = stream;
    return p;
  };
  return {channel("switchboard-durable", 0, false, 256),
          channel("switchboard-durable-high", 1, false, 512),
          channel("switchboard-lossy", 2, true, 256),
          channel("switchboard-lossy-high", 3, true, 512)};
}

std::uint64_t random_session_id() {
  std::uint64_t id = 0;
  RAND_bytes(reinterpret_cast<unsigned char*>(&id), sizeof(id));
  return id >> 2;
}

webrtc::SessionDescription local_description(webrtc::IceCredentials ice,
                                             const webrtc::Certificate& certificate,
                                             webrtc::DtlsSetup setup,
                                             std::size_t max_message_size) {
  webrtc::SessionDescription d;
  d.ice_ufrag = std::move(ice.ufrag);
  d.ice_pwd = std::move(ice.pwd);
  d.fingerprint = certificate.fingerprint();
  d.setup = setup;
  d.mid = "0";
  d.sctp_port = webrtc::kSdpDefaultSctpPort;
  d.max_message_size = max_message_size;
  d.session_id = random_session_id();
  d.session_version = 1;
  return d;
}

std::unique_ptr<webrtc::WebRtcConnection> make_data_connection(
    boost::asio::io_context& io, const webrtc::SessionDescription& remote,
    DataConnectionSettings settings, webrtc::WebRtcConnection::Callbacks callbacks) {
  auto connection = std::make_unique<webrtc::WebRtcConnection>(
      io,
      webrtc::WebRtcConnection::Config{
          .certificate = std::move(settings.certificate),
          .dtls_role = settings.role,
          .remote_fingerprint = remote.fingerprint,
          .local_sctp_port = webrtc::kSdpDefaultSctpPort,
          .remote_sctp_port = remote.sctp_port,
          .remote_max_message_size = remote.max_message_size,
          .local_max_message_size = settings.local_max_message_size,
      },
      std::move(callbacks));
  connection->set_buffered_amount_low_threshold(kLowWaterMark);
  if (settings.receive_paused) connection->set_receive_paused(true);
  return connection;
}

Result<void> open_negotiated_channels(webrtc::WebRtcConnection& connection,
                                      std::span<const ChannelParams> extra) {
  auto open = [&connection](const ChannelParams& params) -> Result<void> {
    if (auto opened = connection.open_channel(params); !opened) {
      return Error{ErrorCode::Internal,
                   "cannot open channel " + params.label + ": " + opened.error().message};
    }
    return {};
  };
  for (const ChannelParams& params : negotiated_channels()) {
    if (auto opened = open(params); !opened) return opened;
  }
  for (const ChannelParams& params : extra) {
    if (auto opened = open(params); !opened) return opened;
  }
  return {};
}

}  // namespace switchboard::client
