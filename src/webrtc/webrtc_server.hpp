#pragma once

// The server's side of ICE: ONE UDP port shared by every participant's connection
// (ICE-lite, RFC 8445 §2.5). STUN connectivity checks are answered here; every other
// datagram goes to the session whose ICE check validated its source address.

#include <functional>
#include <memory>
#include <unordered_map>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "core/bytes.hpp"
#include "switchboard/result.hpp"
#include "webrtc/ice_lite.hpp"
#include "webrtc/udp_batch.hpp"

namespace switchboard::webrtc {

SocketAddress to_socket_address(const boost::asio::ip::udp::endpoint& endpoint);
boost::asio::ip::udp::endpoint to_endpoint(const SocketAddress& address);

// Fresh ICE credentials: a 8-character ufrag and a 24-character password from ice-chars.
IceCredentials random_ice_credentials();

class WebRtcServer {
 public:
  using SessionId = IceLiteServer::SessionId;

  struct SessionHandlers {
    std::function<void(ByteView)> datagram;  // a non-STUN datagram from the session's peer
    std::function<void()> consent_lost;      // no valid check for 30 s: close the connection
  };

  struct Stats {
    std::uint64_t datagrams_in = 0;
    std::uint64_t datagrams_out = 0;
    std::uint64_t stun_requests = 0;
    std::uint64_t stun_ignored = 0;    // STUN for no session (unknown ufrag, malformed): unanswered
    std::uint64_t unknown_source = 0;  // neither STUN nor from a validated address: dropped
    std::uint64_t send_errors = 0;
  };

  explicit WebRtcServer(boost::asio::io_context& io);
  ~WebRtcServer();
  WebRtcServer(const WebRtcServer&) = delete;
  WebRtcServer& operator=(const WebRtcServer&) = delete;

  Result<void> listen(const boost::asio::ip::udp::endpoint& bind);
  std::uint16_t port() const;

  // The caller answers the peer's offer with `local` credentials; the peer's checks must
  // name `remote_ufrag`.
  SessionId add_session(IceCredentials local, std::string remote_ufrag, SessionHandlers handlers);
  void remove_session(SessionId id);
  // To the session's selected address; false while ICE has not validated one.
  bool send(SessionId id, ByteView datagram);

  const Stats& stats() const { return stats_; }

 private:
  void wait_readable();
  void drain();
  void handle(ByteView datagram, const SocketAddress& from);
  void queue(const SocketAddress& to, ByteView datagram);
  void flush();
  void schedule_consent_check();

  boost::asio::ip::udp::socket socket_;
  boost::asio::steady_timer consent_timer_;
  IceLiteServer ice_;
  std::unordered_map<SessionId, SessionHandlers> sessions_;
  SessionId next_session_ = 1;
  std::unique_ptr<std::uint8_t[]> buffer_;
  DatagramBatch outgoing_;  // written at the end of the current turn of the loop
  bool flush_posted_ = false;
  Stats stats_;
  // Guards callbacks that outlive the server inside asio's queue.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace switchboard::webrtc
