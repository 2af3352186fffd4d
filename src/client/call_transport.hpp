#pragma once

// A participant's whole data path: the ServerLink, and in a 1:1 call the direct PeerLink
// to the other participant beside it (docs/protocol.md, "Peer-to-peer").
//
// When the server asks for it (signaling `p2p`), the link to the peer is set up; once it
// is up and the call still has exactly the two of us, our frames go direct, and they go
// back through the server when a third participant joins, the peer leaves, or the direct
// connection fails. core::DirectSendLog and core::DirectReceiveLog make every switch lose,
// duplicate and reorder no durable message:
//   - entering the direct path, SWITCH frames go through the server first, and the peer
//     holds our direct messages until they arrive;
//   - on the direct path the peer acknowledges what it took in; leaving it, everything
//     not acknowledged goes again through the server (RESENT) before anything new, and
//     the peer takes in each message once, whichever path brings it first.
//
// When the connection to the server is lost after the call was up, the transport joins
// again by itself (docs/protocol.md, "Reconnecting and resuming"): with backoff, for
// ServerLinkConfig's reconnect window, resuming the session when the server still holds
// it. On a resumable link both sides count the durable transport messages they took in
// and acknowledge them (`ack`); core::DirectSendLog keeps what the server has not
// confirmed, and a resumed link sends that again first, so nothing is lost or doubled.
//
// Threads: the Transport contract (io_context thread only).

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "client/peer_link.hpp"
#include "client/server_link.hpp"
#include "client/transport.hpp"
#include "core/frame.hpp"
#include "core/path_switch.hpp"

namespace switchboard::client {

class CallTransport final : public Transport {
 public:
  // Durable messages sent directly and not yet acknowledged, at most: past it, send()
  // says BUFFER_FULL until acknowledgements come.
  static constexpr std::size_t kMaxUnacked = std::size_t{8} * 1024 * 1024;
  // Held direct messages of a peer's session, at most (the peer's own bound plus a
  // message); more is a broken peer, and its direct path is closed.
  static constexpr std::size_t kMaxHeld = std::size_t{16} * 1024 * 1024;
  // While the direct connection is up, each side acknowledges at least this often, even
  // with nothing new taken in; a side that hears nothing on the control stream for
  // kDirectSilence takes the direct path for dead and goes back to the server. This is the
  // direct path's consent: the ICE agent runs none (webrtc::IceAgent says why).
  static constexpr std::chrono::milliseconds kAckInterval{1000};
  static constexpr std::chrono::milliseconds kDirectSilence{5000};
  // Reconnecting: the first retry after this, doubling up to kMaxBackoff.
  static constexpr std::chrono::milliseconds kFirstBackoff{250};
  static constexpr std::chrono::milliseconds kMaxBackoff{2000};
  // A resumable link acknowledges what it took in at most this often.
  static constexpr std::chrono::milliseconds kServerAckDelay{50};
  // Keep-alive of a link that reconnects: the loss of a silent network is noticed in
  // kSilenceLimit plus at most one ping interval.
  static constexpr std::chrono::milliseconds kPingInterval{1000};
  static constexpr std::chrono::milliseconds kSilenceLimit{3000};

  CallTransport(boost::asio::io_context& io, ServerLinkConfig config, Callbacks callbacks);
  ~CallTransport() override;

  void start() override;
  Result<void> send(core::TrafficClass cls, ByteView message) override;
  std::size_t buffered_amount() const override;
  void set_receive_paused(bool paused) override;
  void leave() override;

 private:
  // The direct session being set up or used.
  struct Direct {
    core::ParticipantId peer;
    std::uint32_t session;
    std::unique_ptr<PeerLink> link;
    bool up;  // SCTP up
  };

  // ServerLink events.
  std::unique_ptr<ServerLink> make_link();
  void on_link_connected();
  void on_link_closed(const Error& error);
  void retry();
  void on_rejoined(const signaling::Joined& joined);
  void on_server_ack(const signaling::DurableCounts& received);
  void on_durable_received(std::size_t cls);
  void send_server_ack();
  Result<void> send_to_server(core::TrafficClass cls, ByteView message);
  void on_joined(const signaling::Joined& joined);
  void on_participant_joined(const signaling::ParticipantInfo& info);
  void on_participant_left(const signaling::ParticipantLeft& left);
  void on_server_data(ByteView data);
  void on_server_writable();
  void on_p2p(const signaling::P2p& p2p);
  void on_peer_signal(const signaling::Message& message);

  // PeerLink events.
  void on_direct_up(std::uint32_t session);
  void on_direct_message(std::uint32_t session, std::uint16_t stream, ByteView message);
  void on_direct_failed(std::uint32_t session, const Error& error);

  // The path.
  bool direct_allowed() const;
  void enter_direct();
  // Back to the server path; the peer's unacknowledged messages go again unless it left.
  void leave_direct(bool peer_present);
  void close_direct();
  void flush_pending();
  void on_control_frame(const core::DecodedFrame& frame);
  core::DirectReceiveLog& receive_log(core::ParticipantId peer, std::uint32_t session);
  void deliver_direct(core::ParticipantId peer, ByteView message);
  void post_ack();
  void send_ack();
  void arm_heartbeat();
  void on_heartbeat();
  void post_writable();

  boost::asio::io_context& io_;
  ServerLinkConfig config_;
  Callbacks callbacks_;
  std::unique_ptr<ServerLink> link_;
  // Links that closed inside their own callbacks, destroyed on the next turn.
  std::vector<std::unique_ptr<ServerLink>> dead_links_;
  bool left_ = false;
  bool ever_connected_ = false;  // the first data connection came up: losses reconnect

  // Reconnecting (config_.reconnect_window > 0).
  bool reconnecting_ = false;
  core::TimePoint reconnect_started_{};
  std::chrono::milliseconds backoff_ = kFirstBackoff;
  boost::asio::steady_timer retry_timer_;
  // The server path's acknowledgements, on a resumable link (the server gave a token):
  // our durable transport messages it has not confirmed, and the ones we took in.
  std::optional<std::string> resume_token_;
  core::DirectSendLog server_log_{0};
  signaling::DurableCounts server_received_{};
  bool server_ack_armed_ = false;
  bool blocked_on_server_ = false;
  boost::asio::steady_timer server_ack_timer_;
  // Sent before the connection was lost and not confirmed: a resumed link sends them
  // again first (they stay in server_log_).
  std::deque<std::pair<core::TrafficClass, Bytes>> replay_;
  bool joined_ = false;
  bool server_connected_ = false;  // the server link's data connection is up
  core::ParticipantId self_ = core::kNoParticipant;
  std::set<core::ParticipantId> others_;
  webrtc::IceServerConfig ice_;
  std::size_t max_message_size_ = 0;
  bool receive_paused_ = false;

  std::optional<Direct> direct_;
  // Set while our frames go direct (direct_ is up).
  std::optional<core::DirectSendLog> send_log_;
  // SWITCH and RESENT frames for the server path; nothing new goes to the server before
  // them.
  std::deque<std::pair<core::TrafficClass, Bytes>> pending_;
  std::size_t pending_bytes_ = 0;
  bool blocked_on_unacked_ = false;
  // The peers' sessions, for holding and for dropping what arrives twice; a few recent
  // sessions are kept (a RESENT may trail its session).
  std::map<std::pair<core::ParticipantId, std::uint32_t>, core::DirectReceiveLog> receive_logs_;
  bool ack_posted_ = false;
  bool writable_posted_ = false;
  boost::asio::steady_timer heartbeat_timer_;
  core::TimePoint last_control_{};   // when the peer's control stream last spoke
  core::TimePoint last_ack_sent_{};  // when ours last did
  // Links closed inside their own callbacks, destroyed on the next turn.
  std::vector<std::unique_ptr<PeerLink>> graveyard_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace switchboard::client
