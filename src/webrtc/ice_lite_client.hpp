#pragma once

// The client's side of ICE toward an ICE-lite server (RFC 8445 §2.5, the Switchboard
// server's single UDP port): we are the controlling agent, on a UDP socket of our own,
// and nominate the server's candidate with our first check (aggressive nomination, as a
// lite peer only ever answers). Checks repeat every 100 ms until the data connection is
// up, then every 5 s as consent freshness (RFC 7675). Non-STUN datagrams are the data
// connection's (DTLS), carried with GSO sends flushed at the end of the loop turn and
// GRO receives (udp_batch.hpp).
//
// Runs on the io_context's thread; not thread-safe. Callbacks run from the loop, never
// from inside a call into this class; they may call into it but must not destroy it.

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "core/bytes.hpp"
#include "core/clock.hpp"
#include "switchboard/result.hpp"
#include "webrtc/ice_lite.hpp"
#include "webrtc/socket_address.hpp"
#include "webrtc/stun.hpp"
#include "webrtc/udp_batch.hpp"

namespace switchboard::webrtc {

class IceLiteClient {
 public:
  struct Config {
    // Where the socket binds (an IP address); empty = the wildcard address of the family
    // of the server's first candidate.
    std::string local_address;
    core::Duration check_interval = std::chrono::milliseconds(100);
    core::Duration consent_interval = std::chrono::seconds(5);
    // A consent check not answered within this is sent again (a STUN transaction's
    // retransmission), until one is answered: on a path dropping 40% of datagrams a lone
    // check every 5 s goes unanswered six times in a row once every 15 checks or so.
    core::Duration consent_retransmit = std::chrono::milliseconds(500);
    // No success response this long after start(): failed.
    core::Duration connect_timeout = std::chrono::seconds(10);
    // No success response this long once connected: consent lost, failed.
    core::Duration consent_timeout = std::chrono::seconds(30);
  };

  struct Callbacks {
    std::function<void()> connected;           // the first success response; once
    std::function<void(ByteView)> datagram;    // a non-STUN datagram from the server
    std::function<void(const Error&)> failed;  // no answer in time, or consent lost; once
  };

  struct Stats {
    std::uint64_t checks_sent = 0;
    std::uint64_t responses = 0;  // authenticated success responses
    std::uint64_t datagrams_in = 0;
    std::uint64_t datagrams_out = 0;
    std::uint64_t send_errors = 0;
  };

  // Our credentials (for the offer) are drawn here.
  IceLiteClient(boost::asio::io_context& io, Config config, Callbacks callbacks);
  ~IceLiteClient();
  IceLiteClient(const IceLiteClient&) = delete;
  IceLiteClient& operator=(const IceLiteClient&) = delete;

  const IceCredentials& local_credentials() const { return local_; }

  // Opens the socket and starts checking `candidates` (the server's, from its answer)
  // with its credentials. InvalidArgument when no candidate is usable; Internal when the
  // socket cannot be opened. Call once.
  Result<void> start(IceCredentials remote, const std::vector<SocketAddress>& candidates);

  // The data connection above is up: checks slow down to consent keep-alives.
  void set_data_connected();

  // Queues one datagram to the selected candidate (before a success response, the
  // first); written at the end of the loop turn.
  void send(ByteView datagram);

  // Stops checks and closes the socket; no callback runs after it.
  void close();

  bool is_connected() const { return connected_; }
  std::optional<SocketAddress> selected() const;
  // The socket's local address once started (tests).
  std::optional<SocketAddress> local_address() const;
  const Stats& stats() const { return stats_; }

 private:
  struct Pending {
    StunTransactionId id;
    std::size_t candidate;
  };

  void wait_readable();
  void drain();
  void handle_stun(ByteView datagram, const SocketAddress& from);
  void send_checks();
  void schedule(core::Duration after);
  void on_timer();
  void flush();
  void fail(const Error& error);

  boost::asio::io_context& io_;
  Config config_;
  Callbacks callbacks_;
  IceCredentials local_;
  IceCredentials remote_;
  std::vector<SocketAddress> candidates_;
  std::optional<std::size_t> selected_;
  std::uint64_t tie_breaker_ = 0;
  boost::asio::ip::udp::socket socket_;
  boost::asio::steady_timer timer_;
  std::unique_ptr<std::uint8_t[]> buffer_;
  DatagramBatch outgoing_;
  bool flush_posted_ = false;
  std::deque<Pending> pending_;  // recent checks awaiting an answer, oldest first
  core::TimePoint started_at_{};
  core::TimePoint last_response_{};
  core::TimePoint last_check_sent_{};
  core::TimePoint last_check_{};
  bool started_ = false;
  bool connected_ = false;
  bool data_connected_ = false;
  bool done_ = false;  // failed or closed
  Stats stats_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace switchboard::webrtc
