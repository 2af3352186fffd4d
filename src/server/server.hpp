#pragma once

// The Switchboard call server: HTTP and WebSocket signaling on a TCP port, every
// participant's WebRTC data on the UDP port of the same number, and the relay between
// them. One io_context thread runs all of it (docs/architecture.md).

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "server/address_limits.hpp"
#include "server/call_registry.hpp"
#include "server/cluster.hpp"
#include "server/config.hpp"
#include "server/frame_trace.hpp"
#include "server/metrics.hpp"
#include "server/relay.hpp"
#include "signaling/messages.hpp"
#include "signaling/token.hpp"
#include "webrtc/certificate.hpp"
#include "webrtc/webrtc_server.hpp"

namespace switchboard::server {

class SignalingSession;

class Server {
 public:
  Server(boost::asio::io_context& io, ServerConfig config);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds the TCP and UDP ports and starts accepting. Port 0 picks one free for both.
  // With tls_cert and tls_key, reads them first (INVALID_ARGUMENT naming a bad file).
  Result<void> start();
  std::uint16_t port() const { return port_; }
  // The TCP port speaks TLS (https://, wss://).
  bool tls() const { return tls_ != nullptr; }
  const ServerConfig& config() const { return config_; }
  const Metrics& metrics() const { return metrics_; }
  std::string metrics_text() const;

  // Stops accepting; every participant gets `disconnect {reason}` and its WebSocket is
  // closed. `done` runs once every signaling connection is closed (or after a few seconds).
  void shutdown(std::string reason, std::function<void()> done);

  // Used by the connections.
  void session_opened(const std::shared_ptr<SignalingSession>& session);
  void handle_message(const std::shared_ptr<SignalingSession>& session, signaling::Message message);
  void session_closed(SignalingSession& session);
  bool shutting_down() const { return shutting_down_; }
  void count_refusal(RefusalReason reason) { metrics_.refuse(reason); }
  // A join of this session waits for the cluster to place its call.
  bool placing(const SignalingSession& session) const { return placing_.contains(&session); }

 private:
  void accept();
  // HTTP on the socket, after the TLS handshake when the port speaks TLS.
  void serve(boost::asio::ip::tcp::socket socket, std::unique_ptr<AddressLimits::Slot> slot);
  void handle_join(const std::shared_ptr<SignalingSession>& session, signaling::Join join);
  // In a cluster, a join of a call not running here asks Redis where it lives first:
  // here (admit), elsewhere (`redirect`), or nowhere for now (refused).
  void place_then_admit(const std::shared_ptr<SignalingSession>& session, signaling::Join join,
                        signaling::TokenClaims claims, std::string call_id);
  void admit(const std::shared_ptr<SignalingSession>& session, const signaling::Join& join,
             const signaling::TokenClaims& claims, const std::string& call_id);
  ClusterNode::LocalState cluster_state() const;
  void handle_offer(const std::shared_ptr<SignalingSession>& session,
                    const signaling::Offer& offer);
  // Removes the participant from its call, tells the others, tears its data path down.
  // `pair_remaining`: false when a join follows at once (a re-joining identity), so that
  // the two it may leave behind are not paired for an instant.
  void leave(const std::shared_ptr<Participant>& participant, bool pair_remaining = true);
  // Leave, after telling the participant why, and close its WebSocket.
  void disconnect(const std::shared_ptr<Participant>& participant, const std::string& reason,
                  bool pair_remaining = true);
  // After a membership change: when the call now holds exactly two participants that both
  // allow it, each gets `p2p` naming the other, with the call's next direct session.
  // `retry`: a try after `p2p_failed`, which keeps the backoff; any other pairing (a
  // membership change, a resume) starts it over.
  void pair_if_one_to_one(Call& call, bool retry = false);
  // A participant says its direct connection of `failed.session` failed: the two are
  // paired again after a backoff (docs/protocol.md, "Peer-to-peer").
  void on_p2p_failed(Participant& participant, const signaling::P2pFailed& failed);
  void post_disconnect(const std::weak_ptr<Participant>& participant, std::string reason);
  void open_channels(Participant& participant);
  void close_data_path(const std::shared_ptr<Participant>& participant);
  void forward_to_peer(Participant& from, signaling::Message message, std::uint32_t peer,
                       const std::optional<std::string>& req);
  void finish_shutdown();
  // Resuming (docs/protocol.md, "Reconnecting and resuming").
  signaling::Joined make_joined(const Participant& participant, const Call& call,
                                const std::optional<std::string>& req) const;
  bool resume(const std::shared_ptr<SignalingSession>& session, const signaling::Join& join,
              const std::string& identity, const std::string& call_id);
  // The participant's connection died without `leave`: suspend it when it may resume,
  // else disconnect it.
  void lose(const std::shared_ptr<Participant>& participant, const std::string& reason);
  void suspend(const std::shared_ptr<Participant>& participant, const std::string& reason);
  void note_received(const std::shared_ptr<Participant>& participant, StreamIndex stream);
  void send_acks();
  void arm_sweep();
  void sweep();
  void refuse(Participant& participant, ErrorCode code, std::uint16_t channel, std::string message);
  void update_gauges();
  void check_shutdown_done();
  // Drops the participant's data path when it is not up within data_connect_timeout_s.
  void start_data_connect_timer(const std::shared_ptr<Participant>& participant,
                                webrtc::WebRtcServer::SessionId ice_session);

  boost::asio::io_context& io_;
  ServerConfig config_;
  Metrics metrics_;
  std::unique_ptr<FrameTrace> trace_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::shared_ptr<boost::asio::ssl::context> tls_;  // null: plain TCP
  std::unique_ptr<webrtc::WebRtcServer> webrtc_;
  std::shared_ptr<const webrtc::Certificate> certificate_;
  CallRegistry calls_;
  std::shared_ptr<AddressLimits> address_limits_;
  Relay relay_;
  std::unique_ptr<ClusterNode> cluster_;  // with --redis only
  // Sessions whose join waits for its placement (a second join on them is refused).
  std::unordered_set<const SignalingSession*> placing_;
  std::uint16_t port_ = 0;
  webrtc::SocketAddress public_address_;
  std::vector<std::weak_ptr<SignalingSession>> sessions_;
  bool shutting_down_ = false;
  std::string shutdown_reason_;
  std::function<void()> shutdown_done_;
  boost::asio::steady_timer shutdown_timer_;
  boost::asio::steady_timer accept_timer_;
  // Resume tokens of the resumable participants in calls (suspended ones included).
  std::unordered_map<std::string, std::weak_ptr<Participant>> resume_tokens_;
  // Tokens of participants the server sent away (slow consumer, replaced, shutting down)
  // and why: resuming with one is answered with that `disconnect`, as the connection would
  // have been had it been up. The oldest go first past kMaxRevokedTokens.
  std::unordered_map<std::string, std::string> revoked_tokens_;
  std::deque<std::string> revoked_order_;
  // Participants that took in durable messages since their last `ack`, acknowledged
  // together kAckDelay after the first.
  std::vector<std::weak_ptr<Participant>> ack_due_;
  boost::asio::steady_timer ack_timer_;
  bool ack_armed_ = false;
  // Ends grace periods and suspends resumable participants whose signaling went silent.
  boost::asio::steady_timer sweep_timer_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace switchboard::server
