#pragma once

// The signaling protocol, version 1: JSON text messages over the WebSocket at /v1/signal.
// Every message and one example of each: docs/protocol.md ("Signaling protocol").
//
// parse_message is a pure function from text to a message or an InvalidArgument error that
// names the offending field; serialize is its inverse. Neither throws.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "switchboard/error.hpp"
#include "switchboard/result.hpp"

namespace switchboard::signaling {

inline constexpr std::size_t kMaxSignalingMessageSize = std::size_t{64} * 1024;
// What a client accepts from the server: a `joined` roster of 10,000 participants needs
// more than 64 KiB.
inline constexpr std::size_t kMaxServerMessageSize = std::size_t{2} * 1024 * 1024;
inline constexpr std::size_t kMaxSdpSize = std::size_t{32} * 1024;
inline constexpr std::size_t kMaxCandidateSize = 1024;
inline constexpr std::size_t kMaxParticipants = 10'000;
inline constexpr std::size_t kMaxIceServers = 16;
inline constexpr std::size_t kMaxIceUrls = 16;
// Bounds of the strings with no bound of their own: req, token, names, urls, credentials.
inline constexpr std::size_t kMaxReqSize = 128;
inline constexpr std::size_t kMaxShortStringSize = 4096;

// One participant as the server announces it.
struct ParticipantInfo {
  std::uint32_t participant_id = 0;
  std::string identity;
  std::string display_name;
  bool operator==(const ParticipantInfo&) const = default;
};

struct IceServer {
  std::vector<std::string> urls;  // "stun:host:port", "turn:host:port?transport=udp", ...
  std::optional<std::string> username;
  std::optional<std::string> credential;
  bool operator==(const IceServer&) const = default;
};

// Every message may carry `req`, a client's request id the server echoes in its reply.

// Durable transport messages taken in per durable class (normal, high) on the server path,
// counted since the participant joined (docs/protocol.md, "Reconnecting and resuming").
using DurableCounts = std::array<std::uint32_t, 2>;

// Picking up a session after the connection was lost: the token from `joined`, and what
// this client took in from the server so far.
struct ResumeRequest {
  std::string token;
  DurableCounts received{};
  bool operator==(const ResumeRequest&) const = default;
};

// Client to server.
struct Join {
  std::optional<std::string> req;
  std::string token;
  std::optional<std::string> display_name;
  std::optional<bool> p2p;
  // The call to join; absent = the token's `call` (which must not then be "*").
  std::optional<std::string> call;
  // The client acknowledges durable messages (`ack`) and can resume: the server keeps it
  // suspended for a grace period when its connection dies without `leave`.
  std::optional<bool> resumable;
  std::optional<ResumeRequest> resume;
  bool operator==(const Join&) const = default;
};
struct Leave {
  std::optional<std::string> req;
  bool operator==(const Leave&) const = default;
};
struct Ping {
  std::optional<std::string> req;
  bool operator==(const Ping&) const = default;
};

// Both directions; `peer` names the other participant when relayed peer to peer.
struct Offer {
  std::optional<std::string> req;
  std::string sdp;
  std::optional<std::uint32_t> peer;
  std::optional<std::uint32_t> session;  // the direct session (see P2p), peer to peer only
  bool operator==(const Offer&) const = default;
};
struct Answer {
  std::optional<std::string> req;
  std::string sdp;
  std::optional<std::uint32_t> peer;
  std::optional<std::uint32_t> session;  // the direct session (see P2p), peer to peer only
  bool operator==(const Answer&) const = default;
};
struct Candidate {
  std::optional<std::string> req;
  std::string candidate;  // an a=candidate value, or empty for end-of-candidates
  std::optional<std::uint32_t> peer;
  std::optional<std::uint32_t> session;
  bool operator==(const Candidate&) const = default;
};

// Server to client.
struct Joined {
  std::optional<std::string> req;
  std::uint32_t participant_id = 0;
  std::string identity;
  std::string display_name;
  std::string call;
  std::vector<ParticipantInfo> participants;  // the others already in the call
  std::vector<IceServer> ice_servers;
  std::uint32_t max_message_size = 0;
  // The server's per-participant rate limit; absent = unlimited. A client holds its own
  // sends to it so that it fails early with TRAFFIC_LIMITED.
  std::optional<std::uint32_t> rate_limit_bytes_per_second;
  std::optional<std::uint32_t> rate_limit_messages_per_second;
  // For a `resumable` join: the token that resumes this session, how long (ms) the server
  // keeps it after the connection dies, and, when `resumed`, the session picked up again
  // (same participant id) and what the server took in from this participant so far.
  std::optional<std::string> resume_token;
  std::optional<std::uint32_t> resume_grace_ms;
  bool resumed = false;
  std::optional<DurableCounts> received;
  bool operator==(const Joined&) const = default;
};
struct ParticipantJoined {
  std::optional<std::string> req;
  ParticipantInfo participant;
  bool operator==(const ParticipantJoined&) const = default;
};
struct ParticipantLeft {
  std::optional<std::string> req;
  std::uint32_t participant_id = 0;
  std::string identity;
  bool operator==(const ParticipantLeft&) const = default;
};
struct ErrorReply {
  std::optional<std::string> req;
  ErrorCode code = ErrorCode::Internal;
  std::string message;
  // Set when the error is about DataChannel frames the client sent on this channel
  // (TRAFFIC_LIMITED, MESSAGE_TOO_LARGE, ...): the frames were not relayed.
  std::optional<std::uint32_t> channel_id;
  bool operator==(const ErrorReply&) const = default;
};
struct Pong {
  std::optional<std::string> req;
  bool operator==(const Pong&) const = default;
};
// Join this call at another server instead.
struct Redirect {
  std::optional<std::string> req;
  std::string url;
  bool operator==(const Redirect&) const = default;
};

// The server is about to close the connection, and says why ("slow consumer",
// "server shutting down", ...).
struct Disconnect {
  std::optional<std::string> req;
  std::string reason;
  bool operator==(const Disconnect&) const = default;
};

// The call has exactly two participants who both allow peer-to-peer: open a direct
// connection to `peer` (`offer`: this side makes the offer). `session` numbers the call's
// direct sessions; offers, answers and candidates of this session carry it, and the data
// path's switch frames name it (docs/protocol.md, "Peer-to-peer").
struct P2p {
  std::optional<std::string> req;
  std::uint32_t peer = 0;
  std::uint32_t session = 0;
  bool offer = false;
  bool operator==(const P2p&) const = default;
};

// Both directions, between a resumable client and the server once joined: the durable
// transport messages taken in so far on the server path, per class.
struct Ack {
  std::optional<std::string> req;
  DurableCounts received{};
  bool operator==(const Ack&) const = default;
};

// Client to server: this client's direct connection to `peer` in direct session `session`
// failed (ICE, DTLS or SCTP, its set-up bound, or the direct path's silence). The server
// pairs the two again later, with backoff (docs/protocol.md, "Peer-to-peer").
struct P2pFailed {
  std::optional<std::string> req;
  std::uint32_t peer = 0;
  std::uint32_t session = 0;
  bool operator==(const P2pFailed&) const = default;
};

using Message = std::variant<Join, Leave, Ping, Offer, Answer, Candidate, Joined, ParticipantJoined,
                             ParticipantLeft, ErrorReply, Pong, Redirect, Disconnect, P2p, Ack,
                             P2pFailed>;

// The `type` string of a message: "join", "participant_joined", ...
std::string_view message_type(const Message& message) noexcept;

// `max_size`: kMaxSignalingMessageSize for what clients send; clients reading the server
// allow kMaxServerMessageSize.
Result<Message> parse_message(std::string_view json,
                              std::size_t max_size = kMaxSignalingMessageSize);
std::string serialize(const Message& message);

}  // namespace switchboard::signaling
