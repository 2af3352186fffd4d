#pragma once

// The entry point of the C++ SDK: a CallClient joins calls on a Switchboard server; each
// Call carries the DataChannel feature. Names follow the ACS native SDKs.
//
//   switchboard::CallClient client;
//   auto call = client.join("ws://127.0.0.1:8480", "call-1", token);
//   if (!call) { std::cerr << call.error().message; return 1; }
//   auto sender = (*call)->dataChannel().createSender({.channelId = 10000});
//   (*sender)->sendMessage("hello");
//
// Threading: a CallClient runs one event thread that owns the network for all of its
// calls (the CallClients of a process share one: the SCTP stack is process-wide); every
// callback of the SDK runs there. Every method may be called from any thread, except
// that a callback must not destroy the CallClient or call the blocking join() (it fails
// with INVALID_ARGUMENT); leave() from a callback starts leaving and returns at once.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "switchboard/data_channel.hpp"
#include "switchboard/e2ee.hpp"
#include "switchboard/options.hpp"
#include "switchboard/result.hpp"

namespace switchboard {

struct ParticipantInfo {
  Identity identity;
  std::string displayName;
  bool operator==(const ParticipantInfo&) const = default;
};

struct JoinOptions {
  // Overrides the access token's `name`.
  std::string displayName;
  // How long join() waits for the server and the data connection.
  std::chrono::milliseconds timeout{15000};
  // In a call of two, messages go straight to the other participant once a direct
  // connection is up (and back through the server when a third joins or it fails); false
  // keeps every message on the server path.
  bool p2p = true;
  // When the connection to the server is lost after join() returned (the server went
  // away, the network dropped), the call joins again by itself, retrying with backoff
  // (250 ms doubling to 2 s) for this long, and resumes the session when the server still
  // holds it (Call::onConnectionStateChanged). Zero: a lost connection ends the call
  // (onDisconnected) at once.
  std::chrono::milliseconds reconnectTimeout{60000};
  // End-to-end encryption (switchboard/e2ee.hpp): every message this participant sends is
  // sealed with these keys, and every message it receives must open with them (else the
  // receiver's onError gets DECRYPTION_FAILED and the message is dropped). Each sender's
  // maxMessageSizeInBytes() is kE2eeOverhead smaller. Absent: messages travel as given.
  std::optional<E2eeKeys> e2ee;
  // A wss:// server's certificate must verify, chain and host name; it is checked against
  // the system's trusted authorities, or only against those in this PEM file (a private
  // CA). A certificate that does not verify fails the join with TLS_VERIFICATION_FAILED.
  std::string caFile;
};

// How this participant's messages travel right now.
enum class TransportMode : std::uint8_t {
  Server,      // relayed by the server
  PeerToPeer,  // straight to the call's only other participant
};

struct TransportInfo {
  TransportMode mode = TransportMode::Server;
  ParticipantInfo peer;  // PeerToPeer: the other participant
  bool operator==(const TransportInfo&) const = default;
};

// The call's connection to the server.
enum class ConnectionState : std::uint8_t {
  Connected,     // joined; messages flow
  Reconnecting,  // the connection was lost; joining again (messages queue meanwhile)
  Disconnected,  // over: left, cut off, or reconnecting gave up
};

struct ConnectionStateChangedEvent {
  ConnectionState state = ConnectionState::Connected;
  // Reconnecting and Disconnected: what happened.
  Error reason;
  // Connected after Reconnecting. Resumed: the server had kept this participant's session,
  // so identity, senders and receivers carried on and no durable message was lost or
  // duplicated either way. Not resumed: the call was joined afresh (the server restarted
  // or the grace period ran out): the others' receivers closed (new ones come as they send
  // again), the senders carry on (same channel ids, options, recipients, numbering), and
  // durable messages may have been lost in the gap, both ways.
  bool resumed = false;
  // Not resumed: the durable messages this participant had sent that the server had not
  // confirmed taking in; they are lost. (A server that crashed may also have lost
  // messages it had confirmed but not yet delivered.)
  std::uint64_t unconfirmedMessageCount = 0;
};

class Call {
 public:
  class Impl;
  explicit Call(std::shared_ptr<Impl> impl);
  // Leaves the call if it is still joined (see leave()).
  ~Call();
  Call(const Call&) = delete;
  Call& operator=(const Call&) = delete;

  const std::string& id() const;
  // This participant, as the server admitted it.
  const ParticipantInfo& self() const;
  // The others in the call now.
  std::vector<ParticipantInfo> participants() const;
  // True from join until leave() or a disconnection, except while reconnecting.
  bool connected() const;

  DataChannelFeature& dataChannel();

  void onParticipantJoined(std::function<void(const ParticipantInfo&)> callback);
  void onParticipantLeft(std::function<void(const ParticipantInfo&)> callback);
  // The call ended without leave(): the server cut us off (error.message says why, e.g.
  // "slow consumer") or the connection failed and reconnecting gave up. Called once.
  void onDisconnected(std::function<void(const Error&)> callback);

  ConnectionState connectionState() const;
  // Reconnecting, Connected again (resumed or not), Disconnected.
  void onConnectionStateChanged(std::function<void(const ConnectionStateChangedEvent&)> callback);

  // The path our messages take. A switch loses, duplicates and reorders nothing.
  TransportInfo transport() const;
  void onTransportChanged(std::function<void(const TransportInfo&)> callback);

  // Key rotation without leaving: the keys that seal and open from the next message on.
  // INVALID_ARGUMENT when the call joined without JoinOptions::e2ee or the keys were
  // derived for another call.
  Result<void> setE2eeKeys(E2eeKeys keys);

  // Leaves the call: what the senders queued goes out first (for at most 2 s), the server
  // is told (the others' receivers from us close with ParticipantLeft), the connection
  // ends and the senders close. Blocks until done (at most a few seconds). Idempotent.
  void leave();

 private:
  std::shared_ptr<Impl> impl_;
};

class CallClient {
 public:
  // Starts the event thread.
  CallClient();
  // Leaves every call still joined and stops the event thread.
  ~CallClient();
  CallClient(const CallClient&) = delete;
  CallClient& operator=(const CallClient&) = delete;

  // Joins `callId` on the server at `server` ("ws://host:port", or "wss://host[:port]" for
  // a server with TLS; see JoinOptions::caFile), admitted by the access
  // token. Returns once the server accepted us and the data connection is up, so a
  // sender created right after reaches the participants listed in participants().
  // Errors: UNAUTHORIZED (token missing, forged, expired or for another call),
  // CALL_FULL, NOT_CONNECTED (server unreachable, timeout), TLS_VERIFICATION_FAILED (the
  // wss:// server's certificate is untrusted, expired or for another name),
  // INVALID_ARGUMENT (bad URL, unreadable caFile, or E2EE keys derived from a passphrase
  // for another call).
  Result<std::shared_ptr<Call>> join(std::string_view server, std::string_view callId,
                                     std::string_view token, const JoinOptions& options = {});

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace switchboard
