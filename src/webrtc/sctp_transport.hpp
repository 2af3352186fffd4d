#pragma once

// WebRTC data channels (RFC 8831) on one SCTP association, carried inside DTLS.
// Wire details, stream ids, PPIDs and tuning: docs/protocol.md, "SCTP".

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/bytes.hpp"
#include "switchboard/result.hpp"

struct socket;  // usrsctp's socket, opaque here

namespace switchboard::webrtc {

enum class SctpReliability : std::uint8_t {
  Reliable,        // every message arrives
  MaxRetransmits,  // give up after reliability_value retransmissions (0: send once)
  MaxLifetime,     // give up reliability_value ms after send()
};

struct ChannelParams {
  std::string label;
  std::string protocol;
  bool ordered = true;
  SctpReliability reliability = SctpReliability::Reliable;
  std::uint32_t reliability_value = 0;  // retransmissions or milliseconds
  std::uint16_t priority = 256;         // DCEP priority (RFC 8832 §6.4); higher is sent first
  bool negotiated = false;              // agreed out of band: no DCEP, `stream` required
  std::optional<std::uint16_t> stream;  // unset: the lowest free id of our parity
};

// Streams we offer each way. The association uses the smaller of ours and the peer's
// (Chromium offers 65535), so stream ids are below this.
inline constexpr std::uint16_t kSctpMaxStreams = 1024;

// The largest SCTP packet we emit: 1280 (IPv6 minimum MTU) - 40 (IPv6) - 8 (UDP)
// - 37 (DTLS 1.2 record with AES-GCM) - 4 (TURN ChannelData), as Chromium does.
inline constexpr std::size_t kSctpMaxPacketSize = 1191;

enum class SctpState : std::uint8_t { New, Connecting, Connected, Failed };

// One SCTP association in usrsctp, with no I/O and no threads of its own: the owner feeds it
// decrypted SCTP packets (handle_packet), takes the packets it emits (send_packet), and
// calls the static handle_timers() every ~10 ms for all transports of the process.
//
// Threading: every SctpTransport of a process and handle_timers() must be used from one
// thread (usrsctp's timers and our instance registry are process-wide).
//
// Callbacks run synchronously on that thread:
//  - send_packet may run inside any call (start, handle_packet, handle_timers, open_channel,
//    send, close_channel) while usrsctp is mid-operation: it must only hand the bytes on
//    (DtlsTransport::send or a copy), never call back into any SctpTransport.
//  - connected, channel_opened, message, channel_closed, buffered_amount_low and failed run
//    only from handle_packet and handle_timers, after usrsctp has returned. They may call
//    open_channel, send, close_channel, buffered_amount and the threshold setter; they must
//    not call start/handle_packet/handle_timers and must not destroy the transport (defer
//    that to the event loop).
// Views passed to callbacks are valid only during the call.
class SctpTransport {
 public:
  struct Config {
    std::uint16_t local_port = 5000;   // SDP a=sctp-port
    std::uint16_t remote_port = 5000;  // the peer's a=sctp-port
    // What the peer accepts (its SDP a=max-message-size); send() refuses larger messages.
    std::size_t max_message_size = 262144;
    // What we accept (our a=max-message-size); a larger incoming message is dropped and its
    // channel closed. Keep it at most half the receive buffer: larger messages are delivered
    // in parts, which usrsctp mishandles on partially reliable channels.
    std::size_t max_receive_message_size = 262144;
    // DTLS client opens channels on even stream ids, the server on odd ones (RFC 8832 §6).
    bool dtls_client = true;
    // The send buffer bounds buffered_amount(); the receive buffer is the window the peer
    // may fill. 8 MiB each keeps a long fat path busy (docs/protocol.md, "SCTP").
    std::size_t send_buffer = std::size_t{8} * 1024 * 1024;
    std::size_t receive_buffer = std::size_t{8} * 1024 * 1024;
  };

  struct Callbacks {
    std::function<void(ByteView)> send_packet;  // one SCTP packet → DTLS
    std::function<void()> connected;            // the association is up
    // The peer opened a channel (we acknowledged it), or acknowledged one we opened. Not
    // called for negotiated channels: they are usable once `connected` has run.
    std::function<void(std::uint16_t stream, const ChannelParams&)> channel_opened;
    // One whole message (pieces are reassembled); binary false means UTF-8 text.
    std::function<void(std::uint16_t stream, ByteView data, bool binary)> message;
    // The stream is reset both ways (either side closed it); its id may be reused.
    std::function<void(std::uint16_t stream)> channel_closed;
    // buffered_amount() fell from above the threshold to at or below it.
    std::function<void()> buffered_amount_low;
    // The association failed or was aborted; the transport is dead.
    std::function<void(const Error&)> failed;
  };

  SctpTransport(Config config, Callbacks callbacks);
  // Aborts the association without telling the peer (the owner tears DTLS down anyway) and
  // drops any packet or callback usrsctp still has for this transport.
  ~SctpTransport();
  SctpTransport(const SctpTransport&) = delete;
  SctpTransport& operator=(const SctpTransport&) = delete;

  // Sends INIT. Both sides may start: SCTP resolves the collision. Fails only when usrsctp
  // could not set the socket up.
  Result<void> start();
  // One decrypted SCTP packet. Starts the transport if start() was not called yet.
  void handle_packet(ByteView packet);

  // Opens a channel and returns its stream id. Unless negotiated, sends DCEP OPEN (queued
  // until the association is up). Messages may follow at once: until the peer's ACK they
  // are sent ordered, so they arrive after the OPEN (RFC 8832 §6).
  // InvalidChannelId: stream in use, out of range or (negotiated) missing.
  // NoAvailableChannelId: no free stream of our parity. InvalidArgument: label or protocol
  // longer than 65535 bytes.
  Result<std::uint16_t> open_channel(const ChannelParams& params);
  // Queues one whole message. MessageTooLarge above max_message_size; BufferFull when the
  // send buffer cannot take it now (wait for buffered_amount_low); NotConnected before the
  // association is up or after failure; InvalidChannelId for an unknown stream;
  // SenderClosed once close_channel was called.
  Result<void> send(std::uint16_t stream, ByteView data, bool binary = true);
  // Resets the outgoing stream once queued data is sent (RFC 8831 §6.7); channel_closed
  // follows when the peer has reset its side. Unknown streams are ignored.
  void close_channel(std::uint16_t stream);

  // Bytes handed to SCTP and not yet acknowledged (with SCTP's 16-byte chunk header for
  // data already split into chunks), for all channels.
  std::size_t buffered_amount() const;
  void set_buffered_amount_low_threshold(std::size_t bytes);

  // While paused nothing is read from the association, so its receive window fills and
  // the peer is pushed back (flow control for a receiver over its unread bound). On
  // resume, what waits is read on the next handle_timers() call, so callbacks still run
  // only from handle_packet and handle_timers.
  void set_receive_paused(bool paused);
  bool receive_paused() const { return receive_paused_; }

  SctpState state() const { return state_; }

  // Advances usrsctp's clock for every transport of the process and runs what fell due
  // (retransmissions, delayed SACKs, heartbeats), then delivers the resulting callbacks.
  // `elapsed_ms` must be the real time since the previous call: usrsctp also reads the wall
  // clock, and only resends chunks that are a retransmission timeout old by it.
  static void handle_timers(std::uint32_t elapsed_ms);

 private:
  struct Usrsctp;  // the C callbacks usrsctp calls into; defined in the .cpp
  friend struct Usrsctp;

  struct Channel {
    ChannelParams params;
    bool open_sent = true;        // our DCEP OPEN went to SCTP (else it waits in control_)
    bool awaiting_ack = false;    // our OPEN is not acknowledged yet: send ordered
    bool closing = false;         // close_channel called or the peer reset its side
    bool outgoing_reset = false;  // our side of the stream is reset
    bool incoming_reset = false;  // the peer's side is reset
    int reset_attempts = 0;
  };

  // A message being reassembled from pieces usrsctp delivered without MSG_EOR.
  struct Partial {
    Bytes data;
    bool oversized = false;  // over max_receive_message_size: discard until MSG_EOR
  };

  struct Control {
    std::uint16_t stream;
    Bytes dcep;
  };

  Result<void> setup_socket();
  void service();
  void read_socket();
  void handle_notification(ByteView notification);
  void handle_assoc_change(ByteView notification);
  void handle_stream_reset(ByteView notification);
  void handle_data(std::uint16_t stream, std::uint32_t ppid, ByteView data, bool end);
  void handle_message(std::uint16_t stream, std::uint32_t ppid, ByteView data);
  void handle_dcep(std::uint16_t stream, ByteView data);
  void deliver(std::uint16_t stream, std::uint32_t ppid, ByteView data);
  void acknowledge(std::uint16_t stream, Channel& channel);
  void finish_close(std::uint16_t stream);
  void on_connected(std::uint16_t outbound_streams, std::uint16_t inbound_streams);
  void fail(const Error& error);
  void flush_control();
  void request_resets();
  void check_buffered_low();
  void set_stream_priority(std::uint16_t stream, std::uint16_t priority);
  Result<void> send_raw(std::uint16_t stream, std::uint32_t ppid, ByteView data, bool unordered,
                        SctpReliability reliability, std::uint32_t reliability_value);
  // usrsctp wants a pointer but only compares it: the id stands in, never dereferenced.
  // NOLINTNEXTLINE(performance-no-int-to-ptr)
  void* address() const { return reinterpret_cast<void*>(id_); }

  Config config_;
  Callbacks callbacks_;
  std::uintptr_t id_;  // our usrsctp address; never reused, so stale callbacks find nothing
  struct socket* socket_ = nullptr;
  std::optional<Error> setup_error_;  // reported by start(): the constructor cannot fail
  SctpState state_ = SctpState::New;
  std::uint16_t stream_limit_ = kSctpMaxStreams;

  std::unordered_map<std::uint16_t, Channel> channels_;
  std::unordered_map<std::uint16_t, Partial> partials_;
  std::deque<Control> control_;        // DCEP messages waiting for the association or space
  std::vector<std::uint16_t> resets_;  // outgoing stream resets usrsctp has not taken yet
  Bytes notification_;                 // a notification delivered in pieces

  std::size_t low_threshold_ = 0;
  bool low_armed_ = false;  // buffered_amount() went above the threshold since the last call
  bool receive_paused_ = false;
  bool pending_ = false;    // usrsctp signalled readiness; service on the next timer tick
  bool servicing_ = false;  // inside service(): a nested call only asks for another pass
  bool service_again_ = false;
};

}  // namespace switchboard::webrtc
