#include "server/relay.hpp"

#include <algorithm>
#include <chrono>

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include "core/routing.hpp"

namespace switchboard::server {
namespace {

// Sent batches kept per recipient for reuse: enough to avoid an allocation per batch,
// few enough that a call of 1,000 participants does not hold 64 KiB buffers by the dozen.
constexpr std::size_t kMaxSpareBuffers = 2;

// How long a recipient that starts lagging may hold back a sender that other recipients
// keep up with: long enough for an equally fast recipient to catch up, short enough that a
// stalled one does not slow the call for long (it is then cut at the durable bound).
constexpr core::Duration kSlowConsumerGrace = std::chrono::seconds(2);

std::int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Durable bytes waiting at the server for a recipient: its queue and this turn's batches.
std::size_t durable_backlog(const Participant& r) {
  return r.queue.durable_bytes() + r.batches[0].data.size() + r.batches[1].data.size();
}

}  // namespace

std::size_t pause_mark(std::size_t durable_bound) {
  return std::min(std::size_t{1024} * 1024, durable_bound / 4);
}

StreamIndex stream_for(const core::FrameHeader& h) {
  const bool high = h.priority == Priority::High;
  const bool lossy = h.type == core::FrameType::Data && h.reliability == Reliability::Lossy;
  return static_cast<StreamIndex>((lossy ? 2 : 0) + (high ? 1 : 0));
}

core::RateLimit resend_allowance(const ServerConfig& config, core::TimePoint now) {
  const std::uint64_t rate = config.rate_limit_bytes_per_second > 0
                                 ? config.rate_limit_bytes_per_second
                                 : kUnlimitedResendRate;
  return core::RateLimit(rate, 0,
                         static_cast<double>(kResendBurstBytes) / static_cast<double>(rate), now);
}

Relay::Relay(boost::asio::io_context& io, const ServerConfig& config, Metrics& metrics,
             FrameTrace* trace, Hooks hooks)
    : io_(io),
      config_(config),
      metrics_(metrics),
      trace_(trace),
      hooks_(std::move(hooks)),
      pause_mark_(pause_mark(config.durable_queue_bytes)),
      resume_mark_(pause_mark_ / 2),
      grace_timer_(io) {
  frame_.reserve(kMaxBatchSize);
}

void Relay::on_transport_message(Participant& sender, ByteView data) {
  if (sender.gone || sender.call == nullptr) return;
  const core::TimePoint now = core::Clock::now();
  Call& call = *sender.call;
  durable_recipients_.clear();
  ++message_mark_;
  ByteView rest = data;
  while (!rest.empty()) {
    auto decoded = core::decode_frame(rest);
    if (!decoded) {
      // The rest of the transport message cannot be framed.
      metrics_.drop(DropReason::Malformed);
      break;
    }
    const core::DecodedFrame& frame = *decoded;
    const core::FrameHeader& h = frame.header;
    if (h.from && *h.from != sender.id) {
      metrics_.drop(DropReason::ForgedSender);
      refuse(sender, ErrorCode::InvalidArgument, h.channel_id,
             "frames on channel " + std::to_string(h.channel_id) + " named sender " +
                 std::to_string(*h.from) + ", but this connection is participant " +
                 std::to_string(sender.id) + "; they were dropped",
             now);
      continue;
    }
    // SWITCH passes unlimited (no payload, one per class per direct session); RESENT is
    // charged to its own allowance.
    if (h.type == core::FrameType::Resent &&
        !sender.resend_allowance.admit(frame.payload.size(), now)) {
      metrics_.drop(DropReason::ResendLimited);
      refuse(sender, ErrorCode::TrafficLimited, h.channel_id,
             "RESENT frames exceed the resend allowance (" +
                 std::to_string(kResendBurstBytes / (1024 * 1024)) +
                 " MiB at once, then the call's byte rate); they were dropped",
             now);
      continue;
    }
    const bool data_frame = h.type == core::FrameType::Data;
    bool first_frame = data_frame && (!h.fragmented || h.fragment_offset == 0);
    if (data_frame) {
      if (h.message_size > config_.max_message_size) {
        if (first_frame) metrics_.drop(DropReason::TooLarge);
        refuse(sender, ErrorCode::MessageTooLarge, h.channel_id,
               "a message of " + std::to_string(h.message_size) + " bytes on channel " +
                   std::to_string(h.channel_id) + " exceeds the call's limit of " +
                   std::to_string(config_.max_message_size) + " bytes; it was dropped",
               now);
        continue;
      }
      bool counted_first = false;
      if (!admit(sender, h, now, counted_first)) {
        if (counted_first) metrics_.drop(DropReason::TrafficLimited);
        refuse(sender, ErrorCode::TrafficLimited, h.channel_id,
               "channel " + std::to_string(h.channel_id) +
                   " exceeds the per-participant rate limit; messages were dropped",
               now);
        continue;
      }
    }

    recipients_.clear();
    core::route_frame(call.roster, sender.id, frame.to, recipients_);
    if (recipients_.empty()) continue;
    frame_.clear();
    core::restamp_frame(frame, sender.id, frame_);
    const StreamIndex stream = stream_for(h);
    const std::uint32_t messages = first_frame ? 1 : 0;
    const std::size_t payload = data_frame ? frame.payload.size() : 0;
    const bool durable = !is_lossy_stream(stream);
    for (core::ParticipantId id : recipients_) {
      auto it = call.members.find(id);
      if (it == call.members.end()) continue;
      Participant& r = *it->second;
      append(it->second, stream, frame_, messages, payload, now);
      if (durable && r.durable_mark != message_mark_) {
        r.durable_mark = message_mark_;
        durable_recipients_.push_back(&r);
      }
      if (trace_ != nullptr) this->trace(sender, r, frame);
    }
  }
  if (!durable_recipients_.empty()) hold_back_if_lagging(sender, now);
}

void Relay::note_lag(Participant& r, core::TimePoint now) const {
  const std::size_t backlog = durable_backlog(r);
  if (backlog > pause_mark_) {
    if (!r.lagging_since) r.lagging_since = now;
  } else if (backlog < resume_mark_) {
    r.lagging_since.reset();
  }
}

bool Relay::young(const Participant& r, core::TimePoint now) const {
  return r.lagging_since && now - *r.lagging_since < kSlowConsumerGrace;
}

void Relay::hold_back_if_lagging(Participant& sender, core::TimePoint now) {
  bool all_lag = true;
  bool young_lag = false;
  for (Participant* r : durable_recipients_) {
    note_lag(*r, now);
    if (durable_backlog(*r) <= pause_mark_) {
      all_lag = false;
    } else if (young(*r, now)) {
      young_lag = true;
    }
  }
  if (sender.receive_paused || !sender.connection) return;
  // Every recipient lags (the bottleneck is the server or all of them), or one has just
  // started to lag and gets its grace period to catch up. Hold the sender back with
  // SCTP's window instead of queueing further.
  if (!all_lag && !young_lag) return;
  Call* call = sender.call;
  if (call == nullptr) return;
  auto self = call->members.find(sender.id);
  if (self == call->members.end()) return;
  sender.receive_paused = true;
  sender.grace_pause = !all_lag;
  sender.connection->set_receive_paused(true);
  ++metrics_.paused_senders;
  ++metrics_.sender_pauses;
  sender.blocked_by.clear();
  for (Participant* r : durable_recipients_) {
    if (durable_backlog(*r) <= pause_mark_) continue;
    sender.blocked_by.push_back(r->id);
    if (std::find(r->blocking_senders.begin(), r->blocking_senders.end(), sender.id) ==
        r->blocking_senders.end()) {
      r->blocking_senders.push_back(sender.id);
    }
  }
  std::erase_if(paused_, [](const std::weak_ptr<Participant>& w) {
    auto p = w.lock();
    return !p || p->gone || !p->receive_paused;
  });
  paused_.push_back(self->second);
  for (Participant* r : durable_recipients_) {
    if (durable_backlog(*r) > pause_mark_ && young(*r, now)) {
      check_paused_at(*r->lagging_since + kSlowConsumerGrace);
    }
  }
}

void Relay::release_senders(Participant& recipient, core::TimePoint now, bool leaving) {
  // Senders still paused (waiting for another blocker's grace period) stay listed, so they
  // are checked again the next time this recipient drains.
  std::vector<core::ParticipantId> still_blocked;
  if (recipient.call != nullptr) {
    for (core::ParticipantId id : recipient.blocking_senders) {
      Participant* sender = recipient.call->member(id);
      if (sender == nullptr || !sender->receive_paused) continue;
      auto& by = sender->blocked_by;
      auto it = std::find(by.begin(), by.end(), recipient.id);
      if (it == by.end()) continue;
      if (leaving) by.erase(it);
      maybe_resume(*sender, now);
      if (!leaving && sender->receive_paused) still_blocked.push_back(id);
    }
  }
  recipient.blocking_senders = std::move(still_blocked);
}

void Relay::maybe_resume(Participant& sender, core::TimePoint now) {
  if (!sender.receive_paused) return;
  bool present = false;
  bool some_under = false;
  std::optional<core::TimePoint> grace_ends;  // of the first young blocker over the mark
  if (sender.call != nullptr) {
    for (core::ParticipantId id : sender.blocked_by) {
      Participant* r = sender.call->member(id);
      if (r == nullptr || r->gone) continue;
      present = true;
      if (durable_backlog(*r) < resume_mark_) {
        some_under = true;
      } else if (young(*r, now)) {
        const core::TimePoint end = *r->lagging_since + kSlowConsumerGrace;
        if (!grace_ends || end < *grace_ends) grace_ends = end;
      }
    }
  }
  if (!present || (!grace_ends && (some_under || sender.grace_pause))) {
    resume(sender);
  } else if (grace_ends) {
    check_paused_at(*grace_ends);
  }
}

void Relay::resume(Participant& sender) {
  if (!sender.receive_paused) return;
  sender.receive_paused = false;
  sender.grace_pause = false;
  sender.blocked_by.clear();
  if (metrics_.paused_senders > 0) --metrics_.paused_senders;
  // Reads resume on the transport's next tick, not inside this call.
  if (sender.connection) sender.connection->set_receive_paused(false);
}

void Relay::forget_sender(Participant& sender) {
  if (!sender.receive_paused) return;
  sender.receive_paused = false;
  sender.grace_pause = false;
  sender.blocked_by.clear();
  if (metrics_.paused_senders > 0) --metrics_.paused_senders;
}

void Relay::check_paused_at(core::TimePoint at) {
  if (grace_timer_at_ && *grace_timer_at_ <= at) return;  // an earlier check comes first
  grace_timer_at_ = at;
  grace_timer_.expires_at(at);
  grace_timer_.async_wait(
      [this, alive = std::weak_ptr<bool>(alive_)](const boost::system::error_code& ec) {
        if (ec || alive.expired()) return;
        on_grace_timer();
      });
}

void Relay::on_grace_timer() {
  grace_timer_at_.reset();
  const core::TimePoint now = core::Clock::now();
  std::erase_if(paused_, [](const std::weak_ptr<Participant>& w) {
    auto p = w.lock();
    return !p || p->gone || !p->receive_paused;
  });
  // Resuming never pauses anyone, so a copy of the list is safe to walk. A sender still
  // waiting for a young blocker schedules the next check.
  const std::vector<std::weak_ptr<Participant>> paused = paused_;
  for (const auto& w : paused) {
    if (auto sender = w.lock(); sender && !sender->gone) maybe_resume(*sender, now);
  }
}

bool Relay::admit(Participant& sender, const core::FrameHeader& h, core::TimePoint now,
                  bool& first_frame_of_message) {
  if (sender.limiter.unlimited()) return true;
  if (!h.fragmented) {
    first_frame_of_message = true;
    return sender.limiter.admit(h.message_size, now);
  }
  // Every fragment of a message shares the verdict of the first one seen (lossy fragments
  // may arrive in any order): the whole message is charged once, or dropped whole.
  auto [it, inserted] = sender.fragment_verdicts.try_emplace(h.channel_id);
  if (inserted || it->second.sequence != h.sequence) {
    it->second.sequence = h.sequence;
    it->second.admitted = sender.limiter.admit(h.message_size, now);
    first_frame_of_message = true;
  }
  return it->second.admitted;
}

void Relay::refuse(Participant& sender, ErrorCode code, std::uint16_t channel, std::string message,
                   core::TimePoint now) {
  const std::uint32_t key = (std::uint32_t{static_cast<std::uint8_t>(code)} << 16) | channel;
  auto [it, inserted] = sender.last_refusal.try_emplace(key, now);
  if (!inserted) {
    if (now - it->second < std::chrono::seconds(1)) return;
    it->second = now;
  }
  if (hooks_.refuse) hooks_.refuse(sender, code, channel, std::move(message));
}

Bytes Relay::take_buffer(Participant& recipient) {
  if (recipient.spare_buffers.empty()) return {};  // grows with what it carries
  Bytes b = std::move(recipient.spare_buffers.back());
  recipient.spare_buffers.pop_back();
  return b;
}

void Relay::append(const std::shared_ptr<Participant>& recipient, StreamIndex stream,
                   ByteView frame, std::uint32_t messages, std::size_t payload,
                   core::TimePoint now) {
  Participant& r = *recipient;
  OutgoingBatch& batch = r.batches[stream];
  if (!batch.data.empty() && batch.data.size() + frame.size() > kMaxBatchSize) {
    r.queue.push(stream, std::move(batch.data), batch.messages, batch.payload_bytes, now);
    batch = OutgoingBatch{take_buffer(r), 0, 0};
  } else if (batch.data.empty() && batch.data.capacity() == 0) {
    batch.data = take_buffer(r);
  }
  batch.data.insert(batch.data.end(), frame.begin(), frame.end());
  batch.messages += messages;
  batch.payload_bytes += payload;
  mark_dirty(recipient);
}

void Relay::mark_dirty(const std::shared_ptr<Participant>& recipient) {
  if (!recipient->dirty) {
    recipient->dirty = true;
    dirty_.push_back(recipient);
  }
  if (!flush_posted_) {
    flush_posted_ = true;
    boost::asio::post(io_, [this, alive = std::weak_ptr<bool>(alive_)] {
      if (alive.expired()) return;
      flush();
    });
  }
}

void Relay::wake(const std::shared_ptr<Participant>& recipient) {
  if (recipient->gone) return;
  mark_dirty(recipient);
}

void Relay::flush() {
  flush_posted_ = false;
  flushing_.swap(dirty_);
  const core::TimePoint now = core::Clock::now();
  for (const auto& p : flushing_) {
    p->dirty = false;
    if (p->gone) continue;
    for (StreamIndex s = 0; s < kStreamCount; ++s) {
      OutgoingBatch& batch = p->batches[s];
      if (batch.data.empty()) continue;
      p->queue.push(s, std::move(batch.data), batch.messages, batch.payload_bytes, now);
      batch = OutgoingBatch{};
    }
    drain(p, now);
  }
  flushing_.clear();
  if (trace_ != nullptr) trace_->flush();
}

void Relay::drain(const std::shared_ptr<Participant>& recipient, core::TimePoint now) {
  Participant& r = *recipient;
  if (r.channels_open && r.connection) {
    while (r.connection->buffered_amount() < kSctpHighWater) {
      // A resumed participant first gets what it had not acknowledged, as it was.
      if (!r.replay.empty()) {
        auto& [replay_stream, bytes] = r.replay.front();
        if (auto sent = r.connection->send(replay_stream, bytes);
            !sent && sent.error().code == ErrorCode::BufferFull) {
          break;
        }
        r.replay.pop_front();
        continue;
      }
      // A resumable participant's copies are bounded like its queue; its `ack` wakes it.
      if (r.resumable && r.sent_log.unacked_bytes() >= config_.durable_queue_bytes) break;
      StreamIndex stream = 0;
      QueuedBatch* batch = r.queue.next(now, stream);
      if (batch == nullptr) break;
      auto sent = r.connection->send(stream, batch->data);
      if (!sent && sent.error().code == ErrorCode::BufferFull) break;  // buffered_amount_low
      if (sent) {
        metrics_.relayed_messages += batch->messages;
        metrics_.relayed_bytes += batch->payload_bytes;
        if (r.resumable && !is_lossy_stream(stream)) {
          r.sent_log.sent(is_high_stream(stream) ? Priority::High : Priority::Normal, batch->data);
        }
      } else if (is_lossy_stream(stream)) {
        metrics_.drop(DropReason::Latency, batch->messages);
      } else {
        // The connection cannot take durable data (it failed, or a lone frame is over
        // what the peer accepts): count it as not delivered, and say so.
        spdlog::warn("#{} {}: durable data not delivered: {}", r.id, r.identity,
                     sent.error().message);
        metrics_.drop(DropReason::SlowConsumer, batch->messages);
      }
      Bytes buffer = r.queue.pop(stream);
      // A buffer that once held one huge frame is not worth keeping.
      if (r.spare_buffers.size() < kMaxSpareBuffers && buffer.capacity() <= 2 * kMaxBatchSize) {
        buffer.clear();
        r.spare_buffers.push_back(std::move(buffer));
      }
    }
  }
  r.queue.expire(now);
  if (const auto dropped = r.queue.take_latency_drops(); dropped > 0) {
    metrics_.drop(DropReason::Latency, dropped);
  }
  note_lag(r, now);
  if (!r.blocking_senders.empty() && durable_backlog(r) < resume_mark_) {
    release_senders(r, now, false);
  }
  if (r.queue.over_durable_bound() && hooks_.slow_consumer) hooks_.slow_consumer(recipient);
}

std::uint64_t Relay::discard(Participant& participant) {
  std::uint64_t messages = participant.queue.clear();
  participant.replay.clear();
  participant.sent_log = core::DirectSendLog(0);
  for (auto& batch : participant.batches) {
    messages += batch.messages;
    batch = OutgoingBatch{};
  }
  participant.lagging_since.reset();
  release_senders(participant, core::Clock::now(), true);
  forget_sender(participant);
  return messages;
}

void Relay::trace(const Participant& sender, const Participant& recipient,
                  const core::DecodedFrame& frame) {
  trace_->write(TraceRecord{.unix_ms = unix_ms(),
                            .call = sender.call->id,
                            .from = sender.identity,
                            .to = recipient.identity,
                            .channel = frame.header.channel_id,
                            .sequence = frame.header.sequence,
                            .type = frame.header.type,
                            .payload = frame.payload});
}

}  // namespace switchboard::server
