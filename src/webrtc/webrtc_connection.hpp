#pragma once

// One WebRTC data connection above ICE: DTLS, then SCTP, then data channels — the chain
// every connection is made of. ICE belongs to the owner (the server's shared ICE-lite
// port, or a client's libnice agent): it hands in received datagrams and puts on the wire
// what this connection emits. Runs on the io_context's thread; not thread-safe.

#include <functional>
#include <memory>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "core/bytes.hpp"
#include "switchboard/result.hpp"
#include "webrtc/certificate.hpp"
#include "webrtc/dtls_transport.hpp"
#include "webrtc/packet_redundancy.hpp"
#include "webrtc/sctp_transport.hpp"

namespace switchboard::webrtc {

class SctpTimerDriver;

class WebRtcConnection {
 public:
  struct Config {
    std::shared_ptr<const Certificate> certificate;
    DtlsRole dtls_role = DtlsRole::Client;
    Fingerprint remote_fingerprint{};  // from the peer's SDP, received over signaling
    std::uint16_t local_sctp_port = 5000;
    std::uint16_t remote_sctp_port = 5000;
    std::size_t remote_max_message_size = 262144;  // the peer's a=max-message-size
    std::size_t local_max_message_size = 262144;   // ours, as announced in our SDP
  };

  // All run on the io_context thread, from inside handle_datagram, a timer, or a call
  // into this connection. A callback may call back into the connection, but must not
  // destroy it; post the destruction instead.
  struct Callbacks {
    std::function<void(ByteView)> send_datagram;
    std::function<void()> connected;  // DTLS verified and SCTP association up
    std::function<void(std::uint16_t stream, const ChannelParams&)> channel_opened;
    std::function<void(std::uint16_t stream, ByteView data, bool binary)> message;
    std::function<void(std::uint16_t stream)> channel_closed;
    std::function<void()> buffered_amount_low;
    std::function<void(const Error&)> failed;  // DTLS or SCTP failure; the connection is dead
  };

  WebRtcConnection(boost::asio::io_context& io, Config config, Callbacks callbacks);
  ~WebRtcConnection();
  WebRtcConnection(const WebRtcConnection&) = delete;
  WebRtcConnection& operator=(const WebRtcConnection&) = delete;

  // Starts DTLS: as client, sends the ClientHello; as server, waits for it.
  void start();
  void handle_datagram(ByteView datagram);

  Result<std::uint16_t> open_channel(const ChannelParams& params);
  Result<void> send(std::uint16_t stream, ByteView data, bool binary = true);
  void close_channel(std::uint16_t stream);
  std::size_t buffered_amount() const { return sctp_.buffered_amount(); }
  void set_buffered_amount_low_threshold(std::size_t bytes) {
    sctp_.set_buffered_amount_low_threshold(bytes);
  }
  // While paused, received data stays in SCTP and its window pushes the peer back.
  void set_receive_paused(bool paused) { sctp_.set_receive_paused(paused); }
  bool is_connected() const { return connected_; }
  std::size_t max_message_size() const { return config_.remote_max_message_size; }
  // How many copies of each packet go out, and what that measured (packet_redundancy.hpp).
  const PacketRedundancy& redundancy() const { return redundancy_; }

 private:
  void on_dtls_connected();
  void fail(const Error& error);
  void arm_dtls_timer();

  Config config_;
  Callbacks callbacks_;
  PacketRedundancy redundancy_{core::Clock::now()};
  int copies_ = 1;  // of the datagram DTLS is about to emit
  std::shared_ptr<SctpTimerDriver> sctp_timers_;
  DtlsTransport dtls_;
  SctpTransport sctp_;
  boost::asio::steady_timer dtls_timer_;
  bool connected_ = false;
  bool failed_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

// usrsctp keeps one set of timers for the whole process; one driver per io_context ticks
// them while any connection lives.
class SctpTimerDriver : public std::enable_shared_from_this<SctpTimerDriver> {
 public:
  static std::shared_ptr<SctpTimerDriver> acquire(boost::asio::io_context& io);
  explicit SctpTimerDriver(boost::asio::io_context& io);

 private:
  void tick();

  boost::asio::steady_timer timer_;
  std::chrono::steady_clock::time_point last_;
};

}  // namespace switchboard::webrtc
