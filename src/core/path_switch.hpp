#pragma once

// Moving a 1:1 call's frames between the server path and a direct (peer-to-peer) path
// without losing, duplicating or reordering a durable message (docs/protocol.md,
// "Peer-to-peer"). Pure bookkeeping: the transport (client::CallTransport) does the I/O.
//
// Each direct session has a sender half (DirectSendLog) and a receiver half
// (DirectReceiveLog). Only the two durable classes are tracked: lossy frames go on
// whichever path is current and are never sent twice.
//
//   server → direct  The sender sends SWITCH through the server on each durable class,
//                    then moves that class to the direct path. The receiver holds direct
//                    messages of a class until that class's SWITCH arrives, so everything
//                    sent earlier through the server is taken in first.
//   direct → server  The receiver acknowledges (ACK on the control stream) how many direct
//                    messages of each class it took in; the sender keeps the rest. When it
//                    leaves the direct path, it sends every unacknowledged message again
//                    through the server, wrapped in RESENT with its index, before anything
//                    new. The receiver takes in each index once, whichever path brings it.

#include <array>
#include <cstdint>
#include <deque>
#include <optional>
#include <utility>
#include <vector>

#include "core/bytes.hpp"
#include "core/clock.hpp"
#include "core/participant.hpp"
#include "core/sender_channel.hpp"
#include "switchboard/result.hpp"

namespace switchboard::core {

// Durable classes by index: 0 normal, 1 high priority.
inline constexpr std::size_t kDurableClasses = 2;
constexpr std::size_t durable_class_index(Priority priority) {
  return priority == Priority::High ? 1 : 0;
}
constexpr TrafficClass durable_class(std::size_t index) {
  return TrafficClass{Reliability::Durable, index == 1 ? Priority::High : Priority::Normal};
}

// The frames of the switch, addressed to `peer` (appended to `out`).
void encode_switch_frame(std::uint32_t session, Priority priority, ParticipantId peer, Bytes& out);
void encode_resent_frame(std::uint32_t session, Priority priority, ParticipantId peer,
                         std::uint32_t index, ByteView message, Bytes& out);
// A RESENT frame's payload: the index, and the direct transport message inside it.
struct ResentPayload {
  std::uint32_t index = 0;
  ByteView message;
};
ResentPayload split_resent_payload(ByteView payload);  // decode_frame checked the size

// The receiver's acknowledgement, on the direct path's control stream (9 bytes:
// type 1, session, then the count of each durable class, big-endian).
struct DirectAck {
  std::uint32_t session = 0;
  std::array<std::uint32_t, kDurableClasses> received{};
  bool operator==(const DirectAck&) const = default;
};
inline constexpr std::uint8_t kDirectAckType = 1;
inline constexpr std::size_t kDirectAckSize = 13;
Bytes encode_direct_ack(const DirectAck& ack);
Result<DirectAck> decode_direct_ack(ByteView bytes);

// The DATA messages a transport message completes: unfragmented DATA frames and last
// fragments, those inside RESENT frames included. What a lost transport message costs.
std::uint64_t durable_messages_in(ByteView transport_message);

// The sender's half: the durable direct messages the peer has not acknowledged yet.
class DirectSendLog {
 public:
  explicit DirectSendLog(std::uint32_t session) : session_(session) {}

  std::uint32_t session() const { return session_; }
  // A durable transport message of class `priority` went on the direct path.
  void sent(Priority priority, ByteView message);
  // ACKs for another session, or behind an earlier one, change nothing; one claiming
  // more than was sent is INVALID_ARGUMENT.
  Result<void> acknowledged(const DirectAck& ack);
  std::size_t unacked_bytes() const { return unacked_bytes_; }
  std::size_t unacked_messages() const;
  // Leaving the direct path: a RESENT frame per unacknowledged message, in order per
  // class, each one transport message for the server path. Empties the log.
  std::vector<std::pair<TrafficClass, Bytes>> take_resends(ParticipantId peer);
  // The unacknowledged messages as they were sent, in order per class; the log keeps them
  // (the same log serves the server path, where a resumed connection gets them again
  // as they were and the receiver's counts go on from its acknowledgement).
  std::vector<std::pair<TrafficClass, Bytes>> unacked_copies() const;
  // The DATA messages whose last fragment is among the unacknowledged transport messages
  // (durable_messages_in each).
  std::uint64_t unacked_data_messages() const;

 private:
  struct Class {
    std::uint32_t acked = 0;  // the index of unacked.front()
    std::deque<Bytes> unacked;
  };
  std::uint32_t session_;
  std::array<Class, kDurableClasses> classes_{};
  std::size_t unacked_bytes_ = 0;
};

// The receiver's half: which direct messages of a session were taken in, and the ones
// waiting for their class's SWITCH.
class DirectReceiveLog {
 public:
  enum class Verdict {
    Deliver,  // take it in now
    Hold,     // kept (copied) until the class's SWITCH: see release()
    Drop,     // taken in already, through the other path
  };

  explicit DirectReceiveLog(std::uint32_t session) : session_(session) {}

  std::uint32_t session() const { return session_; }
  // A durable message from the direct path. Held messages wait for their SWITCH however
  // long the server path takes: it loses nothing (resumes included), so the SWITCH comes
  // unless the peer leaves, and taking them in earlier would put them ahead of what the
  // server still carries (RESENT runs of an earlier session, say). The sender's unacked
  // bound stops it, and kMaxHeld in the transport closes the direct path past that.
  Verdict on_direct(Priority priority, ByteView message);
  // The class's SWITCH arrived through the server. Appends the held messages that are now
  // to be taken in, in order, to `out`.
  void on_switch(Priority priority, std::vector<Bytes>& out);
  // A RESENT message of this session arrived through the server: Deliver or Drop.
  Verdict on_resent(Priority priority, std::uint32_t index);

  std::size_t held_bytes() const { return held_bytes_; }

  // The acknowledgement to send, when something was taken in since the last one.
  std::optional<DirectAck> ack_due();
  DirectAck current_ack() const;

 private:
  struct Held {
    std::uint32_t index;
    Bytes message;
  };
  struct Class {
    bool switched = false;      // its SWITCH arrived: no more holding
    std::uint32_t arrived = 0;  // direct messages seen: the next one's index
    std::uint32_t taken = 0;    // indexes below this were taken in
    std::deque<Held> held;
  };
  Verdict take(Class& c, std::uint32_t index);
  void release(Class& c, std::vector<Bytes>& out);

  std::uint32_t session_;
  std::array<Class, kDurableClasses> classes_{};
  std::size_t held_bytes_ = 0;
  std::array<std::uint32_t, kDurableClasses> acked_{};
};

}  // namespace switchboard::core
