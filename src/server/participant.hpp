#pragma once

// One participant of a call as the server holds it: who it is, its signaling session, its
// WebRTC connection to the server's UDP port, and what waits to be sent to it.

#include <array>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/clock.hpp"
#include "core/participant.hpp"
#include "core/path_switch.hpp"
#include "core/rate_limit.hpp"
#include "server/recipient_queue.hpp"
#include "signaling/messages.hpp"
#include "webrtc/webrtc_connection.hpp"
#include "webrtc/webrtc_server.hpp"

namespace switchboard::server {

class SignalingSession;
struct Call;

// Frames of one traffic class gathered during this turn of the loop, sent as one transport
// message at its end.
struct OutgoingBatch {
  Bytes data;
  std::uint32_t messages = 0;
  std::uint64_t payload_bytes = 0;
};

struct Participant {
  Participant(core::ParticipantId id_, std::string identity_, std::string display_name_,
              const core::RateLimit& limiter_, const RecipientQueue& queue_)
      : id(id_),
        identity(std::move(identity_)),
        display_name(std::move(display_name_)),
        limiter(limiter_),
        queue(queue_) {}

  core::ParticipantId id;
  std::string identity;
  std::string display_name;
  Call* call = nullptr;
  std::weak_ptr<SignalingSession> session;
  bool gone = false;  // left the call; pending callbacks must ignore it
  bool p2p = true;    // joined allowing a direct connection in a 1:1 call (`join.p2p`)

  // Resuming (docs/protocol.md, "Reconnecting and resuming"), for a `resumable` join.
  // Such a participant acknowledges what it takes in, and when its connection dies
  // without `leave` it is suspended until `suspended_until` instead of leaving.
  bool resumable = false;
  std::string resume_token;
  std::optional<core::TimePoint> suspended_until;  // set while suspended
  // Durable transport messages taken in from it, per class; `acked` what it was told.
  signaling::DurableCounts received{};
  signaling::DurableCounts acked{};
  bool ack_due = false;  // in the server's list of acknowledgements to send
  // Durable transport messages sent to it and not acknowledged (copies), and, after a
  // resume, those of them to send again before anything else.
  core::DirectSendLog sent_log{0};
  std::deque<std::pair<StreamIndex, Bytes>> replay;

  // The data path: set once the offer was answered; channels_open once SCTP is up and the
  // four negotiated channels exist.
  std::unique_ptr<webrtc::WebRtcConnection> connection;
  webrtc::WebRtcServer::SessionId ice_session = 0;
  bool channels_open = false;

  // Sending side (frames from this participant).
  core::RateLimit limiter;
  // RESENT frames (the direct path's unacknowledged messages sent again through the
  // server) are charged here, not to `limiter`: they were within the limit when first sent.
  core::RateLimit resend_allowance;
  struct FragmentVerdict {
    std::uint32_t sequence = 0;
    bool admitted = false;
  };
  // The rate-limit decision for the message whose fragments are arriving, per channel.
  std::unordered_map<std::uint16_t, FragmentVerdict> fragment_verdicts;
  // When the last refusal of each (code, channel) went out: at most one per second.
  std::unordered_map<std::uint32_t, core::TimePoint> last_refusal;
  // Flow control: reading this participant's connection is paused because the recipients
  // of its last durable transport message were backed up (all of them, or some within
  // their grace period); `blocked_by` are those over the pause mark then. `grace_pause`:
  // some recipient was keeping up, so the pause ends once no blocker is in its grace
  // period any more (see Relay).
  bool receive_paused = false;
  bool grace_pause = false;
  std::vector<core::ParticipantId> blocked_by;

  // Receiving side (frames to this participant).
  std::array<OutgoingBatch, kStreamCount> batches;
  RecipientQueue queue;
  std::vector<Bytes> spare_buffers;  // sent batches, reused for new ones
  bool dirty = false;                // in the relay's flush list
  // Senders paused because of this recipient's backlog (among others): checked when its
  // queue drains. May hold senders resumed since by another recipient.
  std::vector<core::ParticipantId> blocking_senders;
  // Since when its durable backlog has been over the pause mark without dropping back
  // under the resume mark (unset while it keeps up).
  std::optional<core::TimePoint> lagging_since;
  std::uint64_t durable_mark = 0;  // the relay's per-message stamp: a recipient counted once
};

}  // namespace switchboard::server
