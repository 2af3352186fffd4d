#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <vector>

#include "core/clock.hpp"
#include "core/frame.hpp"
#include "core/roster.hpp"
#include "core/token_bucket.hpp"
#include "switchboard/options.hpp"
#include "switchboard/result.hpp"

namespace switchboard::core {

struct TrafficClass {
  Reliability reliability = Reliability::Durable;
  Priority priority = Priority::Normal;
  bool operator==(const TrafficClass&) const = default;
};

struct SenderLimits {
  std::size_t max_message_size = kDefaultMaxMessageSize;
  std::size_t buffer_limit = 4 * 1024 * 1024;
  std::size_t fragment_size = 16 * 1024;
};

// One open-until-closed sender: its options, sequence numbers, recipients and queue of
// messages not yet handed to the transport. Knows how to cut its queue into frames; the
// FrameScheduler decides when.
class SenderChannel {
 public:
  SenderChannel(std::uint16_t channel_id, const SenderOptions& options, SenderLimits limits,
                ParticipantId self, TimePoint now);

  std::uint16_t channel_id() const { return channel_id_; }
  TrafficClass traffic_class() const { return {reliability_, priority_}; }
  Reliability reliability() const { return reliability_; }
  Priority priority() const { return priority_; }
  std::uint32_t bitrate_kbps() const { return bitrate_kbps_; }
  std::size_t max_message_size() const { return limits_.max_message_size; }
  bool closed() const { return closed_; }
  // Bytes accepted but not yet handed to the transport.
  std::size_t buffered_amount() const { return buffered_; }
  // Lossy messages dropped because the queue was full.
  std::uint64_t dropped_messages() const { return dropped_; }
  const std::vector<Identity>& participants() const { return participants_; }

  // Checks a message against every rule, gives it the next sequence number and queues it.
  Result<std::uint32_t> accept(ByteView data, const Roster& roster);
  Result<void> set_participants(std::vector<Identity> participants);
  // The sequence number the next accepted message gets (a sender restored after a
  // reconnect continues its numbering).
  std::uint32_t next_sequence() const { return next_sequence_; }
  void restore_sequence(std::uint32_t next) { next_sequence_ = next; }
  // Stops accepting messages; queued ones still go, then the close notice.
  void close() { closed_ = true; }

  // The call was joined again as a new participant `self` (a server that lost the old
  // session): queued messages are readdressed by identity (`remap`: an old participant
  // id to its new one, or nothing when that participant is not in the call now); a
  // message partly handed to the old connection, and one left with no recipient, are
  // dropped. Returns the durable messages dropped.
  using Remap = std::function<std::optional<ParticipantId>(ParticipantId)>;
  std::uint64_t rejoin(ParticipantId self, const Remap& remap);

  // For the scheduler.
  bool has_frame() const;
  std::size_t next_frame_cost() const;
  bool paced_ready(TimePoint now);
  std::optional<TimePoint> paced_ready_at(TimePoint now) const;
  // Appends the next frame (or the close notices) and returns the class it must travel in.
  TrafficClass write_next_frame(Bytes& out);
  // Closed, and everything including the close notice handed to the transport.
  bool finished() const { return closed_ && queue_.empty() && close_sent_; }
  // A sender replacing this one on the same channel waits until this one finishes, so
  // the old close notice reaches receivers before the new sender's first message.
  void set_predecessor(std::shared_ptr<SenderChannel> predecessor) {
    predecessor_ = std::move(predecessor);
  }

 private:
  struct Queued {
    std::uint32_t sequence;
    std::shared_ptr<const std::vector<ParticipantId>> to;  // empty = everyone
    Bytes data;
    std::size_t sent = 0;
  };

  bool waiting_for_predecessor() const { return predecessor_ && !predecessor_->finished(); }
  void write_close_frames(Bytes& out);
  FrameHeader base_header(FrameType type) const;

  std::uint16_t channel_id_;
  Reliability reliability_;
  Priority priority_;
  std::uint32_t bitrate_kbps_;
  SenderLimits limits_;
  ParticipantId self_;
  std::optional<TokenBucket> pacer_;

  std::vector<Identity> participants_;
  std::shared_ptr<const std::vector<ParticipantId>> resolved_;
  std::uint64_t resolved_version_ = ~std::uint64_t{0};

  std::uint32_t next_sequence_ = 1;
  std::deque<Queued> queue_;
  std::size_t buffered_ = 0;
  std::uint64_t dropped_ = 0;
  bool closed_ = false;
  bool close_sent_ = false;
  // Whom the close notice must reach: everyone once anything was broadcast.
  bool sent_to_everyone_ = false;
  std::set<ParticipantId> sent_to_;
  std::shared_ptr<SenderChannel> predecessor_;
};

// Validates sender options that do not depend on the call (channel id aside).
Result<void> validate_sender_options(const SenderOptions& options);

}  // namespace switchboard::core
