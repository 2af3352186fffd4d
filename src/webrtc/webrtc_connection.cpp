#include "webrtc/webrtc_connection.hpp"

#include <algorithm>
#include <map>
#include <mutex>

namespace switchboard::webrtc {
namespace {

namespace asio = boost::asio;
constexpr auto kSctpTick = std::chrono::milliseconds(10);

SctpTransport::Config sctp_config(const WebRtcConnection::Config& c) {
  SctpTransport::Config s;
  s.local_port = c.local_sctp_port;
  s.remote_port = c.remote_sctp_port;
  s.max_message_size = c.remote_max_message_size;
  s.max_receive_message_size = c.local_max_message_size;
  s.dtls_client = c.dtls_role == DtlsRole::Client;
  return s;
}

}  // namespace

std::shared_ptr<SctpTimerDriver> SctpTimerDriver::acquire(asio::io_context& io) {
  static std::mutex mutex;
  static std::map<asio::io_context*, std::weak_ptr<SctpTimerDriver>> drivers;
  std::lock_guard lock(mutex);
  std::erase_if(drivers, [](const auto& entry) { return entry.second.expired(); });
  auto& slot = drivers[&io];
  if (auto driver = slot.lock()) return driver;
  auto driver = std::make_shared<SctpTimerDriver>(io);
  slot = driver;
  driver->tick();
  return driver;
}

SctpTimerDriver::SctpTimerDriver(asio::io_context& io)
    : timer_(io), last_(std::chrono::steady_clock::now()) {}

void SctpTimerDriver::tick() {
  timer_.expires_after(kSctpTick);
  timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
    auto self = weak.lock();
    if (ec || !self) return;
    const auto now = std::chrono::steady_clock::now();
    const auto elapsed =
        std::chrono::duration_cast<std::chrono::milliseconds>(now - self->last_).count();
    if (elapsed > 0) {
      self->last_ += std::chrono::milliseconds(elapsed);
      SctpTransport::handle_timers(static_cast<std::uint32_t>(elapsed));
    }
    self->tick();
  });
}

WebRtcConnection::WebRtcConnection(asio::io_context& io, Config config, Callbacks callbacks)
    : config_(std::move(config)),
      callbacks_(std::move(callbacks)),
      sctp_timers_(SctpTimerDriver::acquire(io)),
      dtls_(config_.certificate, config_.dtls_role, config_.remote_fingerprint,
            DtlsTransport::Callbacks{
                .send_datagram =
                    [this](ByteView d) {
                      const int copies =
                          connected_ ? copies_
                                     : std::max(copies_, PacketRedundancy::kHandshakeCopies);
                      for (int i = 0; i < copies; ++i) callbacks_.send_datagram(d);
                    },
                .connected = [this] { on_dtls_connected(); },
                .app_data =
                    [this](ByteView packet) {
                      redundancy_.on_receive(packet, core::Clock::now());
                      sctp_.handle_packet(packet);
                    },
                .failed = [this](const Error& e) { fail(e); },
                .closed =
                    [this] {
                      fail({ErrorCode::NotConnected, "the peer closed DTLS"});
                    },
            }),
      sctp_(sctp_config(config_),
            SctpTransport::Callbacks{
                .send_packet =
                    [this](ByteView packet) {
                      // One SCTP packet is one DTLS record is one datagram, sent this often.
                      copies_ = redundancy_.on_send(packet, core::Clock::now());
                      (void)dtls_.send(packet);
                      copies_ = 1;
                    },
                .connected =
                    [this] {
                      connected_ = true;
                      if (callbacks_.connected) callbacks_.connected();
                    },
                .channel_opened =
                    [this](std::uint16_t stream, const ChannelParams& params) {
                      if (callbacks_.channel_opened) callbacks_.channel_opened(stream, params);
                    },
                .message =
                    [this](std::uint16_t stream, ByteView data, bool binary) {
                      if (callbacks_.message) callbacks_.message(stream, data, binary);
                    },
                .channel_closed =
                    [this](std::uint16_t stream) {
                      if (callbacks_.channel_closed) callbacks_.channel_closed(stream);
                    },
                .buffered_amount_low =
                    [this] {
                      if (callbacks_.buffered_amount_low) callbacks_.buffered_amount_low();
                    },
                .failed = [this](const Error& e) { fail(e); },
            }),
      dtls_timer_(io) {}

WebRtcConnection::~WebRtcConnection() {
  *alive_ = false;
}

void WebRtcConnection::start() {
  dtls_.start(core::Clock::now());
  arm_dtls_timer();
}

void WebRtcConnection::handle_datagram(ByteView datagram) {
  if (failed_ || !looks_like_dtls(datagram)) return;
  dtls_.handle_datagram(datagram, core::Clock::now());
  if (!connected_) arm_dtls_timer();
}

void WebRtcConnection::on_dtls_connected() {
  dtls_timer_.cancel();
  if (auto started = sctp_.start(); !started) fail(started.error());
}

Result<std::uint16_t> WebRtcConnection::open_channel(const ChannelParams& params) {
  return sctp_.open_channel(params);
}

Result<void> WebRtcConnection::send(std::uint16_t stream, ByteView data, bool binary) {
  if (failed_) return Error{ErrorCode::NotConnected, "the WebRTC connection has failed"};
  return sctp_.send(stream, data, binary);
}

void WebRtcConnection::close_channel(std::uint16_t stream) {
  sctp_.close_channel(stream);
}

void WebRtcConnection::fail(const Error& error) {
  if (failed_) return;
  failed_ = true;
  connected_ = false;
  dtls_timer_.cancel();
  if (callbacks_.failed) callbacks_.failed(error);
}

void WebRtcConnection::arm_dtls_timer() {
  auto at = dtls_.next_timeout();
  if (!at || failed_) return;
  dtls_timer_.expires_at(*at);
  dtls_timer_.async_wait([this, alive = alive_](boost::system::error_code ec) {
    if (ec || !*alive) return;
    dtls_.handle_timeout(core::Clock::now());
    if (!connected_) arm_dtls_timer();
  });
}

}  // namespace switchboard::webrtc
