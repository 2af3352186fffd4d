#include "core/endpoint.hpp"

#include <random>

#include "core/path_switch.hpp"
#include "core/routing.hpp"
#include <string>

namespace switchboard::core {
namespace {

constexpr std::size_t kMaxHeldBytes = 1024 * 1024;

std::uint64_t seed_or_random(std::uint64_t seed) {
  if (seed != 0) return seed;
  std::random_device rd;
  return (std::uint64_t{rd()} << 32) | rd();
}

}  // namespace

Result<void> validate(const EndpointConfig& c) {
  if (c.max_message_size < 1 || c.max_message_size > kLargestMaxMessageSize) {
    return Error{ErrorCode::InvalidArgument, "maxMessageSize must be 1..16777216 bytes"};
  }
  if (c.fragment_size < 1024 || c.fragment_size > 64 * 1024) {
    return Error{ErrorCode::InvalidArgument, "fragment size must be 1 KiB..64 KiB"};
  }
  if (c.send_buffer_limit == 0 || c.receive_buffer_limit == 0) {
    return Error{ErrorCode::InvalidArgument, "buffer limits must be positive"};
  }
  if (c.receiver_idle_timeout <= Duration::zero()) {
    return Error{ErrorCode::InvalidArgument, "receiver idle timeout must be positive"};
  }
  return {};
}

DataChannelEndpoint::DataChannelEndpoint(ParticipantId self, EndpointConfig config)
    : self_(self),
      config_(config),
      channel_ids_(seed_or_random(config.seed)),
      scheduler_(config.fragment_size) {}

void DataChannelEndpoint::participant_joined(Participant participant, TimePoint now) {
  const ParticipantId id = participant.id;
  roster_.add(std::move(participant));
  auto held = held_.find(id);
  if (held == held_.end()) return;
  std::vector<Bytes> frames = std::move(held->second);
  held_.erase(held);
  for (const Bytes& raw : frames) {
    held_bytes_ -= raw.size();
    (void)ingest(raw, now);
  }
}

void DataChannelEndpoint::participant_left(ParticipantId id) {
  roster_.remove(id);
  departed_.insert(id);
  reassembler_.drop(id);
  if (auto held = held_.find(id); held != held_.end()) {
    for (const Bytes& raw : held->second) held_bytes_ -= raw.size();
    held_.erase(held);
  }
  for (auto it = receivers_.lower_bound({id, 0}); it != receivers_.end() && it->first.first == id;) {
    close_receiver(it++, ReceiverCloseReason::ParticipantLeft);
  }
}

std::uint64_t DataChannelEndpoint::rejoin(ParticipantId self, const std::vector<Participant>& others,
                                          TimePoint now) {
  std::unordered_map<ParticipantId, Identity> old_identities;
  std::vector<ParticipantId> old_ids;
  roster_.for_each([&](const Participant& p) {
    old_identities.emplace(p.id, p.identity);
    old_ids.push_back(p.id);
  });
  while (!receivers_.empty()) close_receiver(receivers_.begin(), ReceiverCloseReason::ParticipantLeft);
  for (ParticipantId id : old_ids) {
    reassembler_.drop(id);
    roster_.remove(id);  // one by one: the roster's version keeps growing
  }
  held_.clear();
  held_bytes_ = 0;
  departed_.clear();
  self_ = self;
  for (const Participant& p : others) roster_.add(p);
  std::uint64_t dropped = 0;
  if (carry_) {
    if (carry_->first.reliability == Reliability::Durable) {
      dropped += durable_messages_in(carry_->second);
    }
    carry_.reset();
  }
  const SenderChannel::Remap remap = [&](ParticipantId old) -> std::optional<ParticipantId> {
    auto it = old_identities.find(old);
    if (it == old_identities.end()) return std::nullopt;
    const Participant* now_in = roster_.find(it->second);
    if (now_in == nullptr || now_in->id == self_) return std::nullopt;
    return now_in->id;
  };
  scheduler_.for_each_sender([&](SenderChannel& s) { dropped += s.rejoin(self, remap); });
  (void)now;
  return dropped;
}

Result<DataChannelEndpoint::SenderPtr> DataChannelEndpoint::create_sender(
    const SenderOptions& options, TimePoint now) {
  if (auto valid = validate_sender_options(options); !valid) return std::move(valid).error();
  auto id = channel_ids_.acquire(options.channelId);
  if (!id) return std::move(id).error();

  SenderLimits limits{config_.max_message_size, config_.send_buffer_limit, config_.fragment_size};
  auto sender = std::make_shared<SenderChannel>(*id, options, limits, self_, now);
  if (auto old = senders_.find(*id); old != senders_.end()) {
    old->second->close();
    sender->set_predecessor(old->second);
    old->second = sender;
  } else {
    senders_.emplace(*id, sender);
  }
  scheduler_.add(sender);
  return sender;
}

std::size_t DataChannelEndpoint::max_message_size(const SenderChannel& sender) const {
  const std::size_t overhead = cipher_ ? cipher_->overhead() : 0;
  return sender.max_message_size() > overhead ? sender.max_message_size() - overhead : 0;
}

Result<std::uint32_t> DataChannelEndpoint::send(SenderChannel& sender, ByteView data) {
  Bytes sealed;
  // A closed sender and an empty message are refused by accept() before anything is
  // sealed; the sealed message must fit the call's limit.
  if (cipher_ && !sender.closed() && !data.empty()) {
    if (data.size() > max_message_size(sender)) {
      return Error{ErrorCode::MessageTooLarge,
                   "message of " + std::to_string(data.size()) + " bytes exceeds maxMessageSize " +
                       std::to_string(max_message_size(sender)) + " (the call's " +
                       std::to_string(sender.max_message_size()) + " less " +
                       std::to_string(cipher_->overhead()) + " bytes of end-to-end encryption)"};
    }
    auto result = cipher_->seal(sender.channel_id(), sender.next_sequence(), data);
    if (!result) return std::move(result).error();
    sealed = std::move(*result);
    data = sealed;
  }
  auto sequence = sender.accept(data, roster_);
  if (sequence) {
    ++stats_.messages_accepted;
  }
  return sequence;
}

Result<void> DataChannelEndpoint::set_participants(SenderChannel& sender,
                                                   std::vector<Identity> participants) {
  return sender.set_participants(std::move(participants));
}

void DataChannelEndpoint::close(SenderChannel& sender) {
  if (sender.closed()) return;
  sender.close();
  auto it = senders_.find(sender.channel_id());
  if (it != senders_.end() && it->second.get() == &sender) {
    senders_.erase(it);
    channel_ids_.release(sender.channel_id());
  }
}

DataChannelEndpoint::SenderPtr DataChannelEndpoint::open_sender(std::uint16_t channel_id) const {
  auto it = senders_.find(channel_id);
  return it == senders_.end() ? nullptr : it->second;
}

std::optional<TrafficClass> DataChannelEndpoint::poll(TimePoint now, Bytes& out,
                                                      std::size_t max_bytes) {
  std::optional<TrafficClass> cls;
  std::size_t taken = 0;
  if (carry_) {
    cls = carry_->first;
    taken = carry_->second.size();
    put_bytes(out, carry_->second);
    carry_.reset();
  }
  // Frames are written straight into `out`; the rare one that belongs to the next batch
  // (another class, or past max_bytes) is moved aside for the next poll.
  while (true) {
    const std::size_t start = out.size();
    auto next = scheduler_.next(now, out);
    if (!next) break;
    const std::size_t size = out.size() - start;
    if (cls && (*next != *cls || taken + size > max_bytes)) {
      carry_.emplace(*next, Bytes(out.begin() + static_cast<std::ptrdiff_t>(start), out.end()));
      out.resize(start);
      break;
    }
    cls = next;
    taken += size;
    if (taken >= max_bytes) break;
  }
  return cls;
}

Result<void> DataChannelEndpoint::ingest(ByteView data, TimePoint now) {
  return ingest_frames(data, std::nullopt, now);
}

Result<void> DataChannelEndpoint::ingest_from(ParticipantId peer, ByteView data, TimePoint now) {
  return ingest_frames(data, peer, now);
}

Result<void> DataChannelEndpoint::ingest_frames(ByteView data, std::optional<ParticipantId> peer,
                                                TimePoint now) {
  while (!data.empty()) {
    auto frame = decode_frame(data);
    if (!frame) {
      ++stats_.malformed_frames;
      return std::move(frame).error();
    }
    if (peer) {
      if (frame->header.from && *frame->header.from != *peer) {
        ++stats_.malformed_frames;
        return Error{ErrorCode::InvalidArgument, "frame from a direct peer names another sender"};
      }
      frame->header.from = *peer;
    }
    if (auto r = ingest_frame(*frame, now); !r) {
      ++stats_.malformed_frames;
      return r;
    }
  }
  return {};
}

Result<void> DataChannelEndpoint::ingest_frame(const DecodedFrame& frame, TimePoint now) {
  const FrameHeader& h = frame.header;
  // Path control belongs to the transport (client::CallTransport), which takes it out
  // before the frames get here; one that slips through changes nothing.
  if (is_path_control(h.type)) return {};
  if (!h.from) return Error{ErrorCode::InvalidArgument, "frame without a sender"};
  const ParticipantId from = *h.from;
  if (from == self_) return {};
  if (!roster_.contains(from)) {
    if (departed_.contains(from)) return {};  // in flight when it left
    const std::size_t size = encoded_frame_size(h, 0, frame.payload.size()) + 4;
    if (held_bytes_ + size <= kMaxHeldBytes) {
      Bytes stamped;
      restamp_frame(frame, from, stamped);  // replayed later through ingest(), sender included
      held_bytes_ += stamped.size();
      held_[from].push_back(std::move(stamped));
    }
    return {};
  }
  if (h.type == FrameType::Close) {
    reassembler_.drop(from, h.channel_id);
    if (auto it = receivers_.find({from, h.channel_id}); it != receivers_.end()) {
      close_receiver(it, ReceiverCloseReason::SenderClosed);
    }
    return {};
  }
  if (auto whole = reassembler_.add(from, frame, now)) deliver(from, h, std::move(*whole), now);
  return {};
}

void DataChannelEndpoint::deliver(ParticipantId from, const FrameHeader& header, Bytes data,
                                  TimePoint now) {
  auto it = receivers_.find({from, header.channel_id});
  if (it == receivers_.end()) {
    const Participant* p = roster_.find(from);
    auto receiver = std::make_shared<ReceiverChannel>(from, p ? p->identity : Identity{},
                                                      header.channel_id,
                                                      config_.receive_buffer_limit, now);
    it = receivers_.emplace(ReceiverKey{from, header.channel_id}, std::move(receiver)).first;
    if (events_.receiver_created) events_.receiver_created(it->second);
  }
  const ReceiverPtr receiver = it->second;  // the callback may close it
  if (cipher_) {
    auto opened =
        cipher_->open(receiver->sender_identity(), header.channel_id, header.sequence, data);
    if (!opened) {
      ++stats_.messages_rejected;
      if (events_.message_rejected) {
        events_.message_rejected(receiver, header.sequence, opened.error());
      }
      return;
    }
    data = std::move(*opened);
  }
  if (receiver->push(Message{header.sequence, std::move(data)}, header.reliability, now)) {
    ++stats_.messages_delivered;
    if (events_.message_ready) events_.message_ready(receiver);
  } else {
    ++stats_.lossy_dropped_on_receive;
  }
}

void DataChannelEndpoint::close_receiver(std::map<ReceiverKey, ReceiverPtr>::iterator it,
                                         ReceiverCloseReason reason) {
  ReceiverPtr receiver = std::move(it->second);
  receivers_.erase(it);
  receiver->close(reason);
  if (events_.receiver_closed) events_.receiver_closed(receiver);
}

bool DataChannelEndpoint::durable_input_paused() const {
  for (const auto& [key, receiver] : receivers_) {
    if (receiver->holds_back_durable()) return true;
  }
  return false;
}

void DataChannelEndpoint::on_timer(TimePoint now) {
  reassembler_.expire(now);
  for (auto it = receivers_.begin(); it != receivers_.end();) {
    auto current = it++;
    if (now - current->second->last_activity() >= config_.receiver_idle_timeout) {
      close_receiver(current, ReceiverCloseReason::Idle);
    }
  }
}

std::optional<TimePoint> DataChannelEndpoint::next_wakeup(TimePoint now) const {
  std::optional<TimePoint> earliest = scheduler_.next_wakeup(now);
  auto consider = [&](TimePoint at) {
    if (!earliest || at < *earliest) earliest = at;
  };
  if (auto at = reassembler_.next_expiry()) consider(*at);
  for (const auto& [key, receiver] : receivers_) {
    consider(receiver->last_activity() + config_.receiver_idle_timeout);
  }
  return earliest;
}

}  // namespace switchboard::core
