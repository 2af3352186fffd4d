#pragma once

// One participant's connection to a Switchboard server: the signaling WebSocket and the
// WebRTC data connection beside it (docs/protocol.md, "The data path"). It carries
// transport messages (batches of DataChannel frames of one traffic class) both ways and
// reports the call's roster changes; the DataChannel rules live above it, in
// core::DataChannelEndpoint.
//
// Runs on the io_context's thread: construct, call and destroy it there. Callbacks run on
// that thread from inside io.run(), never from inside a call into ServerLink. A callback
// may call into the link but must not destroy it (post the destruction).

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>

#include "core/bytes.hpp"
#include "core/sender_channel.hpp"
#include "signaling/messages.hpp"
#include "switchboard/result.hpp"

namespace switchboard::client {

struct ServerLinkConfig {
  std::string url;    // "ws://host:port" (the link appends /v1/signal), wss://, or a full URL
  std::string call;   // the call id
  std::string token;  // the access token
  std::optional<std::string> display_name;
  bool p2p = true;
  // wss://: PEM file of the authorities trusted instead of the system's (empty = system).
  std::string ca_file;
  // Where the data connection's UDP socket binds; empty = the wildcard address of the
  // server's family.
  std::string local_address;
  // Keep-alive: a `ping` this often; with a silence limit, the link is lost when nothing
  // at all came from the server for that long (the server answers every ping).
  std::chrono::milliseconds ping_interval{15000};
  std::chrono::milliseconds silence_limit{0};  // 0: never
  // After the call was up, a lost connection is re-established for this long (by
  // client::CallTransport, with backoff); 0: a loss ends the call.
  std::chrono::milliseconds reconnect_window{0};
  // Join as a resumable participant (join.resumable), or resume a session (join.resume).
  bool resumable = false;
  std::optional<signaling::ResumeRequest> resume;
};

class ServerLink {
 public:
  struct Callbacks {
    // The server admitted us. The data connection is not up yet.
    std::function<void(const signaling::Joined&)> joined;
    // The data connection is up: send() works from now on. Called once.
    std::function<void()> connected;
    std::function<void(const signaling::ParticipantInfo&)> participant_joined;
    std::function<void(const signaling::ParticipantLeft&)> participant_left;
    // One transport message from the server (frames stamped with their sender).
    std::function<void(ByteView)> data;
    // Right before `data`, when that transport message came on a durable stream: its
    // class (0 normal, 1 high), for the counts a resumable client acknowledges.
    std::function<void(std::size_t durable_class)> durable_received;
    // The server's `ack`: what it took in from us so far.
    std::function<void(const signaling::DurableCounts&)> ack;
    // The server refused something after the join (with channel_id: frames of that
    // channel were not relayed).
    std::function<void(const signaling::ErrorReply&)> error;
    // buffered_amount() fell to the low-water mark: send more.
    std::function<void()> writable;
    // The server asks for a direct connection to another participant (peer-to-peer).
    std::function<void(const signaling::P2p&)> p2p;
    // An offer, answer or candidate from that participant (`peer` names it).
    std::function<void(const signaling::Message&)> peer_signal;
    // The link is over: the join was refused (error.code says why: UNAUTHORIZED,
    // CALL_FULL, INVALID_ARGUMENT, NOT_CONNECTED), the server disconnected us
    // (error.message is its reason, e.g. "slow consumer"), or the connection failed.
    // Called at most once, and never after leave().
    std::function<void(const Error&)> closed;
  };

  ServerLink(boost::asio::io_context& io, ServerLinkConfig config, Callbacks callbacks);
  ~ServerLink();
  ServerLink(const ServerLink&) = delete;
  ServerLink& operator=(const ServerLink&) = delete;

  // Connects, joins, then sets up the data connection.
  void start();

  // One transport message on the stream of its class. NOT_CONNECTED before `connected`
  // or after `closed`; BUFFER_FULL when the SCTP send buffer is full (wait for writable).
  Result<void> send(core::TrafficClass cls, ByteView message);
  std::size_t buffered_amount() const;

  // While paused, no more data is read from the server, so SCTP flow control pushes back
  // (a receiver over its unread bound).
  void set_receive_paused(bool paused);

  // An offer, answer or candidate for a peer (with `peer` set), through the server.
  // Dropped unless joined.
  void signal(const signaling::Message& message);

  // `ack` with our counts (a resumable link, once joined).
  void send_ack(const signaling::DurableCounts& received);

  // After `closed`: true when the connection was lost (network, timeouts, the server
  // gone), false when the server refused the join or sent us away (`disconnect`).
  bool lost() const;

  // Sends `leave` and closes both connections. No callback runs after it.
  void leave();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// The SCTP stream of a traffic class on every data connection (docs/protocol.md).
constexpr std::uint16_t stream_of(core::TrafficClass cls) {
  return static_cast<std::uint16_t>((cls.reliability == Reliability::Lossy ? 2 : 0) +
                                    (cls.priority == Priority::High ? 1 : 0));
}

}  // namespace switchboard::client
