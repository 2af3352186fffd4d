#pragma once

// The client's side of ICE: a full agent (RFC 8445, libnice in RFC 5245 mode) for one
// UDP data component, with trickle. It gathers host, server-reflexive (STUN) and relay
// (TURN/UDP) candidates, checks pairs with the peer and carries datagrams (DTLS) over
// the selected pair. Against the server, which is ICE-lite, it is the controlling agent.
// Candidates, nomination and configuration: docs/protocol.md, "ICE on the client".
//
// Single-threaded: construct, call and destroy it on the thread that runs `io`. libnice
// runs on a private GLib context driven from `io` (GlibLoopBridge), so every callback
// runs on that thread too, from inside io.run(); never from inside a call into this
// class (events raised by a call are delivered right after it, in order).

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "core/bytes.hpp"
#include "switchboard/result.hpp"

namespace switchboard::webrtc {

struct IceServerConfig {
  // "host:port" or "host" (port 3478); "[v6]:port" for IPv6. libnice queries one STUN
  // server: the first that resolves.
  std::vector<std::string> stun_servers;
  struct Turn {
    std::string host;
    std::uint16_t port = 3478;
    std::string username;
    std::string password;
  };
  // Each allocates one relay candidate over UDP.
  std::vector<Turn> turn_servers;
  // Only relay candidates are gathered and used (libnice's "force-relay"): the peer never
  // learns our addresses, and every datagram goes through a TURN server. With no
  // turn_servers nothing can connect.
  bool force_relay = false;
};

class IceAgent {
 public:
  struct Callbacks {
    // A local candidate as an SDP attribute value ("candidate:..."), to trickle.
    std::function<void(std::string candidate)> local_candidate;
    // Every local candidate has been reported (send end-of-candidates).
    std::function<void()> gathering_done;
    // A pair is selected: send() works from now on. Called once.
    std::function<void()> connected;
    // A datagram from the peer. The view is valid only during the call.
    std::function<void(ByteView)> datagram;
    // ICE failed (no pair worked, or the selected one died). Called once; the agent is
    // then useless and should be destroyed.
    std::function<void(const Error&)> failed;
  };

  // `local_addresses`: IP literals to gather host candidates on; empty means every
  // interface (tests pass {"127.0.0.1"}).
  IceAgent(boost::asio::io_context& io, bool controlling, IceServerConfig servers,
           Callbacks callbacks, const std::vector<std::string>& local_addresses = {});
  // Stops all callbacks at once; safe from inside any callback of this agent.
  ~IceAgent();
  IceAgent(const IceAgent&) = delete;
  IceAgent& operator=(const IceAgent&) = delete;

  // Ours, for the SDP (a=ice-ufrag, a=ice-pwd). Fixed for the agent's lifetime.
  std::string local_ufrag() const;
  std::string local_pwd() const;

  // The peer's, from its SDP. Remote candidates given earlier wait for these.
  void set_remote_credentials(const std::string& ufrag, const std::string& pwd);
  // "candidate:..." or "a=candidate:...". TCP candidates are accepted and ignored (we
  // gather none); a malformed one, or one for another component, is INVALID_ARGUMENT.
  Result<void> add_remote_candidate(std::string_view candidate);
  // The peer sent end-of-candidates: ICE may now fail if no pair works.
  void remote_gathering_done();

  // Starts gathering; candidates arrive through local_candidate. Call once.
  void gather();

  // Sends one datagram on the selected pair. NOT_CONNECTED before `connected` (or after
  // `failed`). When our side of the pair is a host socket, the datagram is queued and the
  // datagrams of one loop turn leave together (UDP GSO) at the end of it; what a full
  // socket buffer refuses then is dropped, as the network would. Through a TURN relay it
  // goes at once, and BUFFER_FULL says the socket's buffer was full (dropped; retry later).
  Result<void> send(ByteView datagram);

  // "127.0.0.1:5000 -> 127.0.0.1:6000 (host)", for logs and tests; nullopt before a
  // pair is selected.
  std::optional<std::string> selected_pair() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace switchboard::webrtc
