#include "core/sender_channel.hpp"

#include <algorithm>
#include <map>
#include <string>

#include "core/routing.hpp"

namespace switchboard::core {

Result<void> validate_sender_options(const SenderOptions& options) {
  if (options.reliability != Reliability::Durable && options.reliability != Reliability::Lossy) {
    return Error{ErrorCode::InvalidArgument, "reliability must be Durable or Lossy"};
  }
  if (options.priority != Priority::Normal && options.priority != Priority::High) {
    return Error{ErrorCode::InvalidArgument, "priority must be Normal or High"};
  }
  // 10 Gbit/s: anything above is a unit mistake, not a pacing wish.
  if (options.bitrateInKbps > 10'000'000) {
    return Error{ErrorCode::InvalidArgument, "bitrateInKbps " +
                                                 std::to_string(options.bitrateInKbps) +
                                                 " is above 10000000 (10 Gbit/s)"};
  }
  if (options.participants.size() > kMaxRecipients) {
    return Error{ErrorCode::TooManyParticipants,
                 std::to_string(options.participants.size()) +
                     " recipients listed; at most 64 are allowed"};
  }
  return {};
}

SenderChannel::SenderChannel(std::uint16_t channel_id, const SenderOptions& options,
                             SenderLimits limits, ParticipantId self, TimePoint now)
    : channel_id_(channel_id),
      reliability_(options.reliability),
      priority_(options.priority),
      bitrate_kbps_(options.bitrateInKbps),
      limits_(limits),
      self_(self),
      participants_(options.participants) {
  // Any single message fits an empty queue, whatever the configured bound.
  limits_.buffer_limit = std::max(limits_.buffer_limit, limits_.max_message_size);
  if (bitrate_kbps_ > 0) {
    const double rate = bitrate_kbps_ * 1000.0 / 8.0;
    // A burst of 50 ms smooths scheduling jitter without letting the rate run ahead.
    pacer_.emplace(rate, std::max(rate * 0.05, 1.0), now);
  }
}

Result<void> SenderChannel::set_participants(std::vector<Identity> participants) {
  if (closed_) {
    return Error{ErrorCode::SenderClosed,
                 "sender on channel " + std::to_string(channel_id_) + " is closed"};
  }
  if (participants.size() > kMaxRecipients) {
    return Error{ErrorCode::TooManyParticipants, std::to_string(participants.size()) +
                                                     " recipients listed; at most 64 are allowed"};
  }
  participants_ = std::move(participants);
  resolved_.reset();
  resolved_version_ = ~std::uint64_t{0};
  return {};
}

Result<std::uint32_t> SenderChannel::accept(ByteView data, const Roster& roster) {
  if (closed_) {
    return Error{ErrorCode::SenderClosed,
                 "sender on channel " + std::to_string(channel_id_) + " is closed"};
  }
  if (data.empty()) return Error{ErrorCode::MessageEmpty, "a message needs at least one byte"};
  if (data.size() > limits_.max_message_size) {
    return Error{ErrorCode::MessageTooLarge,
                 "message of " + std::to_string(data.size()) + " bytes exceeds maxMessageSize " +
                     std::to_string(limits_.max_message_size)};
  }
  if (resolved_version_ != roster.version() || !resolved_) {
    auto ids = resolve_recipients(roster, self_, participants_);
    if (!ids) return std::move(ids).error();
    resolved_ = std::make_shared<const std::vector<ParticipantId>>(std::move(*ids));
    resolved_version_ = roster.version();
  }
  if (buffered_ + data.size() > limits_.buffer_limit) {
    if (reliability_ == Reliability::Durable) {
      return Error{ErrorCode::BufferFull, "sender on channel " + std::to_string(channel_id_) +
                                              " has " + std::to_string(buffered_) +
                                              " bytes queued; wait for bufferedAmount to fall"};
    }
    ++dropped_;
    return next_sequence_++;  // lossy: accepted, then dropped; never an error
  }
  const std::uint32_t sequence = next_sequence_++;
  queue_.push_back(Queued{sequence, resolved_, Bytes(data.begin(), data.end())});
  buffered_ += data.size();
  if (resolved_->empty()) {
    sent_to_everyone_ = true;
  } else if (!sent_to_everyone_) {
    sent_to_.insert(resolved_->begin(), resolved_->end());
  }
  return sequence;
}

bool SenderChannel::has_frame() const {
  if (waiting_for_predecessor()) return false;
  return !queue_.empty() || (closed_ && !close_sent_);
}

std::size_t SenderChannel::next_frame_cost() const {
  if (queue_.empty()) return 0;
  const Queued& m = queue_.front();
  return std::min(limits_.fragment_size, m.data.size() - m.sent);
}

bool SenderChannel::paced_ready(TimePoint now) {
  return !pacer_ || queue_.empty() || pacer_->ready(now);
}

std::optional<TimePoint> SenderChannel::paced_ready_at(TimePoint now) const {
  if (!pacer_ || queue_.empty()) return std::nullopt;
  return pacer_->ready_at(now);
}

FrameHeader SenderChannel::base_header(FrameType type) const {
  FrameHeader h;
  h.type = type;
  h.reliability = reliability_;
  h.priority = priority_;
  h.channel_id = channel_id_;
  return h;
}

TrafficClass SenderChannel::write_next_frame(Bytes& out) {
  if (queue_.empty()) {
    write_close_frames(out);
    // A close notice must arrive, even for a lossy sender.
    return {Reliability::Durable, priority_};
  }
  Queued& m = queue_.front();
  const std::size_t size = next_frame_cost();
  FrameHeader h = base_header(FrameType::Data);
  h.sequence = m.sequence;
  h.message_size = static_cast<std::uint32_t>(m.data.size());
  h.fragmented = m.data.size() > limits_.fragment_size;
  h.fragment_offset = static_cast<std::uint32_t>(m.sent);
  encode_frame(h, *m.to, ByteView(m.data).subspan(m.sent, size), out);
  if (pacer_) pacer_->consume(size);
  m.sent += size;
  buffered_ -= size;
  if (m.sent == m.data.size()) queue_.pop_front();
  return traffic_class();
}

void SenderChannel::write_close_frames(Bytes& out) {
  close_sent_ = true;
  FrameHeader h = base_header(FrameType::Close);
  h.reliability = Reliability::Durable;
  h.sequence = next_sequence_ - 1;
  if (sent_to_everyone_) {
    encode_frame(h, {}, {}, out);
    return;
  }
  // A sender that has reached more than 64 participants over its life needs several
  // notices, each within the recipient-list limit.
  std::vector<ParticipantId> batch;
  for (ParticipantId id : sent_to_) {
    batch.push_back(id);
    if (batch.size() == kMaxRecipients) {
      encode_frame(h, batch, {}, out);
      batch.clear();
    }
  }
  if (!batch.empty()) encode_frame(h, batch, {}, out);
}

std::uint64_t SenderChannel::rejoin(ParticipantId self, const Remap& remap) {
  self_ = self;
  resolved_.reset();
  resolved_version_ = ~std::uint64_t{0};
  // Close notices go to whom the readdressed messages reach on the new session.
  sent_to_.clear();
  sent_to_everyone_ = false;
  std::uint64_t dropped = 0;
  std::map<const std::vector<ParticipantId>*, std::shared_ptr<const std::vector<ParticipantId>>>
      readdressed;
  std::deque<Queued> kept;
  for (Queued& m : queue_) {
    std::shared_ptr<const std::vector<ParticipantId>> to = m.to;
    bool drop = m.sent > 0;  // its first fragments went to the old session
    if (!drop && !to->empty()) {
      auto [it, inserted] = readdressed.try_emplace(to.get());
      if (inserted) {
        std::vector<ParticipantId> ids;
        for (ParticipantId id : *to) {
          if (auto now = remap(id)) ids.push_back(*now);
        }
        if (!ids.empty()) it->second = std::make_shared<const std::vector<ParticipantId>>(ids);
      }
      to = it->second;
      drop = !to;  // never "everyone" instead of nobody
    }
    if (drop) {
      buffered_ -= m.data.size() - m.sent;
      if (reliability_ == Reliability::Durable) ++dropped;
      continue;
    }
    if (to->empty()) {
      sent_to_everyone_ = true;
    } else if (!sent_to_everyone_) {
      sent_to_.insert(to->begin(), to->end());
    }
    m.to = std::move(to);
    kept.push_back(std::move(m));
  }
  queue_ = std::move(kept);
  return dropped;
}

}  // namespace switchboard::core
