#pragma once

// The server's ICE agent: ICE-lite (RFC 8445 section 2.5), always in the controlled role,
// with consent freshness (RFC 7675) judged from the checks the peer keeps sending.
// Behaviour and wire details: docs/protocol.md, "STUN and ICE-lite".
//
// Every participant's connection shares one UDP port, so this class demultiplexes by
// USERNAME for STUN and by source address for everything else. It holds no socket: the
// caller passes each received datagram with its source, and sends what comes back.
// Single-threaded: call it from the event loop that owns the socket.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/bytes.hpp"
#include "core/clock.hpp"
#include "webrtc/socket_address.hpp"

namespace switchboard::webrtc {

struct IceCredentials {
  std::string ufrag;
  std::string pwd;
};

class IceLiteServer {
 public:
  using SessionId = std::uint64_t;

  // At most this many source addresses are remembered per session, so a flood of valid
  // checks from new ports cannot grow memory; the least recently used one is forgotten.
  static constexpr std::size_t kMaxAddressesPerSession = 8;

  explicit IceLiteServer(core::Duration consent_timeout = std::chrono::seconds(30));

  // Registers a connection: our credentials (as put in our SDP answer) and the peer's ufrag
  // (from its offer; empty accepts any). The consent clock starts at the first expire()
  // call that sees the session. False, and nothing changes, when `id` is already
  // registered, another session uses the same local ufrag, or a local credential is empty.
  bool add_session(SessionId id, IceCredentials local, std::string remote_ufrag);
  void remove_session(SessionId id);

  struct StunOutcome {
    // The session the datagram was for, when it authenticated (also for 487 and 420).
    std::optional<SessionId> session;
    // Send this back to `from`; empty means send nothing.
    Bytes response;
    // The check nominated `from` (USE-CANDIDATE) and it differs from the previously
    // nominated address: selected_address(session) is now `from`.
    bool nominated = false;
  };

  // For a datagram that looks_like_stun. A valid Binding request earns a success response
  // and refreshes consent; a wrong password earns 401. Anything not provably from a
  // registered peer (unknown ufrag, malformed, no FINGERPRINT) gets no answer at all, so
  // the port cannot be used to reflect traffic at third parties.
  StunOutcome handle_stun(ByteView datagram, const SocketAddress& from, core::TimePoint now);

  // The session a non-STUN datagram (DTLS) from `from` belongs to: any address that
  // passed a check for it. Chromium starts DTLS on the first pair that succeeds, which
  // may be before that pair is nominated.
  std::optional<SessionId> session_for(const SocketAddress& from) const;
  // Where to send: the nominated address, or before any nomination the address of the
  // most recent valid check.
  std::optional<SocketAddress> selected_address(SessionId id) const;

  // Sessions that went consent_timeout without a valid check, each reported once. The
  // caller closes them (remove_session); until then their checks get no answer.
  std::vector<SessionId> expire(core::TimePoint now);

  std::size_t session_count() const noexcept { return sessions_.size(); }

 private:
  struct KnownAddress {
    SocketAddress address;
    core::TimePoint last_valid;
  };
  struct Session {
    IceCredentials local;
    std::string remote_ufrag;
    std::vector<KnownAddress> addresses;
    std::optional<SocketAddress> nominated;
    std::optional<SocketAddress> latest;
    // The last valid check; set by expire() for a session that has had none yet.
    std::optional<core::TimePoint> consent_since;
    bool expired = false;
  };

  // Lets the ufrag map be searched with a string_view taken from the datagram.
  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };

  void record_valid_check(SessionId id, Session& session, const SocketAddress& from,
                          core::TimePoint now);
  void forget_address(Session& session, const SocketAddress& address);

  core::Duration consent_timeout_;
  std::unordered_map<SessionId, Session> sessions_;
  std::unordered_map<std::string, SessionId, StringHash, std::equal_to<>> by_ufrag_;
  std::unordered_map<SocketAddress, SessionId> by_address_;
};

}  // namespace switchboard::webrtc
