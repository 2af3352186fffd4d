#include "core/path_switch.hpp"

#include <string>

#include "core/frame.hpp"

namespace switchboard::core {
namespace {

FrameHeader control_header(FrameType type, std::uint32_t session, Priority priority) {
  FrameHeader h;
  h.type = type;
  h.priority = priority;
  h.channel_id = 0;
  h.sequence = session;
  return h;
}

}  // namespace

void encode_switch_frame(std::uint32_t session, Priority priority, ParticipantId peer, Bytes& out) {
  const ParticipantId to[] = {peer};
  encode_frame(control_header(FrameType::Switch, session, priority), to, {}, out);
}

void encode_resent_frame(std::uint32_t session, Priority priority, ParticipantId peer,
                         std::uint32_t index, ByteView message, Bytes& out) {
  Bytes payload;
  payload.reserve(4 + message.size());
  put_u32(payload, index);
  put_bytes(payload, message);
  const ParticipantId to[] = {peer};
  encode_frame(control_header(FrameType::Resent, session, priority), to, payload, out);
}

ResentPayload split_resent_payload(ByteView payload) {
  return ResentPayload{load_u32(payload.data()), payload.subspan(4)};
}

Bytes encode_direct_ack(const DirectAck& ack) {
  Bytes out;
  out.reserve(kDirectAckSize);
  put_u8(out, kDirectAckType);
  put_u32(out, ack.session);
  for (std::uint32_t count : ack.received) put_u32(out, count);
  return out;
}

Result<DirectAck> decode_direct_ack(ByteView bytes) {
  ByteReader r(bytes);
  std::uint8_t type = 0;
  DirectAck ack;
  if (!r.u8(type) || type != kDirectAckType || !r.u32(ack.session) || !r.u32(ack.received[0]) ||
      !r.u32(ack.received[1]) || !r.rest().empty()) {
    return Error{ErrorCode::InvalidArgument,
                 "malformed direct-path acknowledgement (" + std::to_string(bytes.size()) +
                     " bytes)"};
  }
  return ack;
}

std::uint64_t durable_messages_in(ByteView transport_message) {
  std::uint64_t count = 0;
  ByteView rest = transport_message;
  while (!rest.empty()) {
    auto frame = decode_frame(rest);
    if (!frame) break;
    const FrameHeader& h = frame->header;
    if (h.type == FrameType::Resent) {
      count += durable_messages_in(split_resent_payload(frame->payload).message);
    } else if (h.type == FrameType::Data && h.reliability == Reliability::Durable &&
               (!h.fragmented || h.fragment_offset + frame->payload.size() >= h.message_size)) {
      ++count;
    }
  }
  return count;
}

// ---- DirectSendLog ----

void DirectSendLog::sent(Priority priority, ByteView message) {
  Class& c = classes_[durable_class_index(priority)];
  c.unacked.emplace_back(message.begin(), message.end());
  unacked_bytes_ += message.size();
}

Result<void> DirectSendLog::acknowledged(const DirectAck& ack) {
  if (ack.session != session_) return {};
  for (std::size_t i = 0; i < kDurableClasses; ++i) {
    Class& c = classes_[i];
    // Counts only grow, and stay below 2^32 within a session (one message each).
    if (ack.received[i] <= c.acked) continue;
    const std::uint64_t sent = std::uint64_t{c.acked} + c.unacked.size();
    if (ack.received[i] > sent) {
      return Error{ErrorCode::InvalidArgument,
                   "the peer acknowledged " + std::to_string(ack.received[i]) +
                       " direct messages, but only " + std::to_string(sent) + " were sent"};
    }
    while (c.acked < ack.received[i]) {
      unacked_bytes_ -= c.unacked.front().size();
      c.unacked.pop_front();
      ++c.acked;
    }
  }
  return {};
}

std::size_t DirectSendLog::unacked_messages() const {
  return classes_[0].unacked.size() + classes_[1].unacked.size();
}

std::vector<std::pair<TrafficClass, Bytes>> DirectSendLog::unacked_copies() const {
  std::vector<std::pair<TrafficClass, Bytes>> out;
  out.reserve(unacked_messages());
  for (std::size_t i = 0; i < kDurableClasses; ++i) {
    for (const Bytes& message : classes_[i].unacked) out.emplace_back(durable_class(i), message);
  }
  return out;
}

std::uint64_t DirectSendLog::unacked_data_messages() const {
  std::uint64_t count = 0;
  for (const Class& c : classes_) {
    for (const Bytes& message : c.unacked) count += durable_messages_in(message);
  }
  return count;
}

std::vector<std::pair<TrafficClass, Bytes>> DirectSendLog::take_resends(ParticipantId peer) {
  std::vector<std::pair<TrafficClass, Bytes>> out;
  out.reserve(unacked_messages());
  for (std::size_t i = 0; i < kDurableClasses; ++i) {
    Class& c = classes_[i];
    const TrafficClass cls = durable_class(i);
    std::uint32_t index = c.acked;
    for (const Bytes& message : c.unacked) {
      Bytes frame;
      encode_resent_frame(session_, cls.priority, peer, index++, message, frame);
      out.emplace_back(cls, std::move(frame));
    }
    c.acked = index;
    c.unacked.clear();
  }
  unacked_bytes_ = 0;
  return out;
}

// ---- DirectReceiveLog ----

DirectReceiveLog::Verdict DirectReceiveLog::take(Class& c, std::uint32_t index) {
  if (index < c.taken) return Verdict::Drop;
  // Both paths bring indexes in order, and a RESENT run starts at or below what was
  // acknowledged, so index == taken; a gap would be the peer's bug, and skipping it
  // loses less than stalling.
  c.taken = index + 1;
  return Verdict::Deliver;
}

DirectReceiveLog::Verdict DirectReceiveLog::on_direct(Priority priority, ByteView message) {
  Class& c = classes_[durable_class_index(priority)];
  const std::uint32_t index = c.arrived++;
  if (!c.switched) {
    c.held.push_back(Held{index, Bytes(message.begin(), message.end())});
    held_bytes_ += message.size();
    return Verdict::Hold;
  }
  return take(c, index);
}

void DirectReceiveLog::release(Class& c, std::vector<Bytes>& out) {
  for (Held& h : c.held) {
    held_bytes_ -= h.message.size();
    if (take(c, h.index) == Verdict::Deliver) out.push_back(std::move(h.message));
  }
  c.held.clear();
}

void DirectReceiveLog::on_switch(Priority priority, std::vector<Bytes>& out) {
  Class& c = classes_[durable_class_index(priority)];
  c.switched = true;
  release(c, out);
}

DirectReceiveLog::Verdict DirectReceiveLog::on_resent(Priority priority, std::uint32_t index) {
  return take(classes_[durable_class_index(priority)], index);
}

DirectAck DirectReceiveLog::current_ack() const {
  return DirectAck{session_, {classes_[0].taken, classes_[1].taken}};
}

std::optional<DirectAck> DirectReceiveLog::ack_due() {
  DirectAck ack = current_ack();
  if (ack.received == acked_) return std::nullopt;
  acked_ = ack.received;
  return ack;
}

}  // namespace switchboard::core
