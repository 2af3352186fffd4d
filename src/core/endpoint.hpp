#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "core/channel_id_allocator.hpp"
#include "core/clock.hpp"
#include "core/payload_cipher.hpp"
#include "core/reassembler.hpp"
#include "core/receiver_channel.hpp"
#include "core/roster.hpp"
#include "core/scheduler.hpp"
#include "core/sender_channel.hpp"

namespace switchboard::core {

struct EndpointConfig {
  std::size_t max_message_size = kDefaultMaxMessageSize;  // up to 16 MiB
  std::size_t send_buffer_limit = 4 * 1024 * 1024;         // per sender
  std::size_t receive_buffer_limit = 8 * 1024 * 1024;      // unread bytes per receiver
  std::size_t fragment_size = 16 * 1024;
  Duration receiver_idle_timeout = std::chrono::seconds(120);
  std::uint64_t seed = 0;  // for channel id allocation; 0 = random
};

Result<void> validate(const EndpointConfig& config);

struct EndpointStats {
  std::uint64_t messages_accepted = 0;
  std::uint64_t messages_delivered = 0;
  std::uint64_t lossy_dropped_on_send = 0;     // sender queue full
  std::uint64_t lossy_dropped_on_receive = 0;  // receiver over its unread bound
  std::uint64_t malformed_frames = 0;
  std::uint64_t messages_rejected = 0;  // the payload cipher could not open them
};

// One participant's DataChannel state, with no I/O: the senders it created, the receivers
// it got, and the frames in between. The transport feeds it bytes (ingest) and drains its
// frames (poll); the SDK calls the rest. Single-threaded: the owner serialises calls.
class DataChannelEndpoint {
 public:
  using SenderPtr = std::shared_ptr<SenderChannel>;
  using ReceiverPtr = std::shared_ptr<ReceiverChannel>;

  // Called synchronously from ingest, participant_left and on_timer.
  struct Events {
    std::function<void(const ReceiverPtr&)> receiver_created;  // before its first message
    std::function<void(const ReceiverPtr&)> message_ready;
    std::function<void(const ReceiverPtr&)> receiver_closed;
    // A message the payload cipher could not open: dropped, never readable.
    std::function<void(const ReceiverPtr&, std::uint32_t sequence, const Error&)> message_rejected;
  };

  DataChannelEndpoint(ParticipantId self, EndpointConfig config);

  ParticipantId self() const { return self_; }
  const EndpointConfig& config() const { return config_; }
  void set_events(Events events) { events_ = std::move(events); }
  const EndpointStats& stats() const { return stats_; }
  // Seals every message sent from now on and opens every one received (null: none). A
  // sender's messages may then hold max_message_size() - overhead() bytes.
  void set_payload_cipher(std::shared_ptr<PayloadCipher> cipher) { cipher_ = std::move(cipher); }
  PayloadCipher* payload_cipher() const { return cipher_.get(); }
  // The largest message `sender` accepts from the user.
  std::size_t max_message_size(const SenderChannel& sender) const;

  // The call's participants, as signaling reports them.
  const Roster& roster() const { return roster_; }
  void participant_joined(Participant participant, TimePoint now);
  void participant_left(ParticipantId id);
  // Joined again as a new participant `self` with these others (the server lost the old
  // session): every receiver closes (ParticipantLeft; new ones come as the others send
  // again), senders keep their options and numbering and their queued messages are
  // readdressed by identity (SenderChannel::rejoin). Returns the durable messages that
  // were dropped: frames polled for the old connection and not sent, and messages
  // that cannot be readdressed.
  std::uint64_t rejoin(ParticipantId self, const std::vector<Participant>& others, TimePoint now);

  // Senders. Creating one on the channel id of an open sender closes that one first.
  Result<SenderPtr> create_sender(const SenderOptions& options, TimePoint now);
  Result<std::uint32_t> send(SenderChannel& sender, ByteView data);
  Result<void> set_participants(SenderChannel& sender, std::vector<Identity> participants);
  void close(SenderChannel& sender);
  SenderPtr open_sender(std::uint16_t channel_id) const;

  // Transport side. poll appends frames of one traffic class, at most `max_bytes` unless
  // the first frame alone is larger, and returns that class.
  std::optional<TrafficClass> poll(TimePoint now, Bytes& out, std::size_t max_bytes);
  // One transport message: one or more frames, each stamped with its sender by the server.
  Result<void> ingest(ByteView data, TimePoint now);
  // The same from a direct (peer-to-peer) connection: every frame comes from `peer`, and a
  // frame naming another sender is refused.
  Result<void> ingest_from(ParticipantId peer, ByteView data, TimePoint now);
  // A receiver holds more unread durable data than allowed: stop reading durable input
  // so that transport flow control pushes back on the sender.
  bool durable_input_paused() const;
  void on_timer(TimePoint now);
  std::optional<TimePoint> next_wakeup(TimePoint now) const;

 private:
  using ReceiverKey = std::pair<ParticipantId, std::uint16_t>;

  Result<void> ingest_frames(ByteView data, std::optional<ParticipantId> peer, TimePoint now);
  Result<void> ingest_frame(const DecodedFrame& frame, TimePoint now);
  void deliver(ParticipantId from, const FrameHeader& header, Bytes data, TimePoint now);
  void close_receiver(std::map<ReceiverKey, ReceiverPtr>::iterator it, ReceiverCloseReason reason);

  ParticipantId self_;
  EndpointConfig config_;
  Events events_;
  EndpointStats stats_;
  std::shared_ptr<PayloadCipher> cipher_;
  Roster roster_;
  ChannelIdAllocator channel_ids_;
  std::unordered_map<std::uint16_t, SenderPtr> senders_;
  FrameScheduler scheduler_;
  std::optional<std::pair<TrafficClass, Bytes>> carry_;  // polled but not yet taken
  Reassembler reassembler_;
  std::map<ReceiverKey, ReceiverPtr> receivers_;
  // Frames from a participant that signaling has not announced yet (data can overtake
  // the roster update); bounded, replayed when it joins.
  std::unordered_map<ParticipantId, std::vector<Bytes>> held_;
  std::size_t held_bytes_ = 0;
  std::unordered_set<ParticipantId> departed_;  // ids are never reused within a call
};

}  // namespace switchboard::core
