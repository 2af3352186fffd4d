#pragma once

// A direct WebRTC data connection between the two participants of a 1:1 call
// (docs/protocol.md, "Peer-to-peer"): full ICE on both sides (libnice: host, srflx and
// relay candidates), offer/answer and trickled candidates through the server's signaling,
// then DTLS and SCTP with the four negotiated channels of the server link plus a fifth,
// "switchboard-control", for the direct path's acknowledgements.
//
// The offerer is the controlling ICE agent and offers `a=setup:actpass`; the answerer
// answers `a=setup:active` and is the DTLS client. The peer's certificate must match the
// fingerprint of its description.
//
// Runs on the io_context's thread: construct, call and destroy it there. Callbacks run on
// that thread from inside io.run(), never from inside a call into PeerLink. A callback may
// call into the link (close() included) but must not destroy it (post the destruction).

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "core/bytes.hpp"
#include "signaling/messages.hpp"
#include "switchboard/result.hpp"
#include "webrtc/ice_agent.hpp"

namespace switchboard::client {

// The direct path's streams: 0..3 are the traffic classes' (stream_of), 4 carries control.
inline constexpr std::uint16_t kPeerControlStream = 4;
inline constexpr std::uint16_t kPeerStreamCount = 5;

struct PeerLinkConfig {
  std::uint32_t peer = 0;       // the other participant's id
  std::uint32_t session = 0;    // the direct session (signaling::P2p::session)
  bool offerer = false;         // signaling::P2p::offer: we offer and control ICE
  webrtc::IceServerConfig ice;  // from joined.iceServers (to_ice_config)
  // IP literals to gather host candidates on; empty = every interface.
  std::vector<std::string> local_addresses;
  // Announced as a=max-message-size: the largest message we take from the peer.
  std::size_t max_message_size = std::size_t{262144} + 65536;
  // From start() to SCTP up on every stream; failed() past it.
  std::chrono::milliseconds connect_timeout{15000};
};

class PeerLink {
 public:
  struct Callbacks {
    // An offer, answer or candidate for the server to forward to the peer; `peer` and
    // `session` are set. End-of-candidates is a candidate with an empty `candidate`.
    std::function<void(signaling::Message)> signal;
    // SCTP is up with all five streams: send() works from now on. Called once.
    std::function<void()> connected;
    // One message from the peer on stream 0..4. The view is valid only during the call.
    std::function<void(std::uint16_t stream, ByteView message)> message;
    // buffered_amount() fell to the low-water mark (1 MiB): send more.
    std::function<void()> writable;
    // The connection did not come up within connect_timeout, the peer's description was
    // unusable, or ICE, DTLS or SCTP died. Called at most once, never after close().
    std::function<void(const Error&)> failed;
  };

  PeerLink(boost::asio::io_context& io, PeerLinkConfig config, Callbacks callbacks);
  ~PeerLink();
  PeerLink(const PeerLink&) = delete;
  PeerLink& operator=(const PeerLink&) = delete;

  // The offerer gathers candidates and sends its offer; the answerer waits for the offer.
  // Either way the connect_timeout starts now. Call once.
  void start();

  // Signaling from the peer. Only messages of this link's session should reach these;
  // what does not fit the state (an offer to the offerer, a second answer, anything
  // before start() or after close()) is ignored. An answer or offer whose SDP cannot be
  // used fails the link.
  void handle(const signaling::Offer& offer);
  void handle(const signaling::Answer& answer);
  void handle(const signaling::Candidate& candidate);

  // One message on stream 0..4. NOT_CONNECTED before `connected` or after `failed` or
  // close(); BUFFER_FULL when the SCTP send buffer is full (wait for `writable`);
  // INVALID_ARGUMENT for another stream.
  Result<void> send(std::uint16_t stream, ByteView message);
  std::size_t buffered_amount() const;

  // While paused, nothing more is read from the peer, so SCTP's window pushes it back.
  void set_receive_paused(bool paused);

  // "127.0.0.1:5000 -> 127.0.0.1:6000 (host)", for logs; nullopt before ICE selects one.
  std::optional<std::string> selected_pair() const;

  // Closes the connection. No callback runs after it; safe inside our callbacks.
  void close();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace switchboard::client
