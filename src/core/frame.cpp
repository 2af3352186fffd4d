#include "core/frame.hpp"

#include <algorithm>
#include <string>

namespace switchboard::core {
namespace {

Error malformed(std::string what) { return {ErrorCode::InvalidArgument, "malformed frame: " + what}; }

}  // namespace

std::size_t encoded_frame_size(const FrameHeader& header, std::size_t recipients,
                               std::size_t payload) noexcept {
  std::size_t size = kFrameHeaderSize + payload;
  if (header.fragmented) size += kFragmentFieldsSize;
  if (header.from) size += 4;
  if (recipients > 0) size += 2 + 4 * recipients;
  return size;
}

void encode_frame(const FrameHeader& header, std::span<const ParticipantId> to, ByteView payload,
                  Bytes& out) {
  std::uint8_t flags = 0;
  if (header.reliability == Reliability::Lossy) flags |= frame_flags::kLossy;
  if (header.priority == Priority::High) flags |= frame_flags::kHigh;
  if (header.fragmented) flags |= frame_flags::kFragment;
  if (header.from) flags |= frame_flags::kFrom;
  if (!to.empty()) flags |= frame_flags::kTo;

  // Frames are appended to batches: grow geometrically, never to the exact size, or each
  // append would reallocate and copy the whole batch.
  const std::size_t needed = out.size() + encoded_frame_size(header, to.size(), payload.size());
  if (needed > out.capacity()) out.reserve(std::max(needed, 2 * out.capacity()));
  put_u8(out, kFrameVersion);
  put_u8(out, static_cast<std::uint8_t>(header.type));
  put_u8(out, flags);
  put_u8(out, 0);
  put_u16(out, header.channel_id);
  put_u32(out, header.sequence);
  put_u32(out, static_cast<std::uint32_t>(payload.size()));
  if (header.fragmented) {
    put_u32(out, header.message_size);
    put_u32(out, header.fragment_offset);
  }
  if (header.from) put_u32(out, *header.from);
  if (!to.empty()) {
    put_u16(out, static_cast<std::uint16_t>(to.size()));
    for (ParticipantId id : to) put_u32(out, id);
  }
  put_bytes(out, payload);
}

Result<DecodedFrame> decode_frame(ByteView& input) {
  ByteReader r(input);
  std::uint8_t version = 0;
  std::uint8_t type = 0;
  std::uint8_t flags = 0;
  std::uint8_t reserved = 0;
  std::uint32_t payload_size = 0;
  DecodedFrame frame;
  FrameHeader& h = frame.header;

  if (!r.u8(version) || !r.u8(type) || !r.u8(flags) || !r.u8(reserved) || !r.u16(h.channel_id) ||
      !r.u32(h.sequence) || !r.u32(payload_size)) {
    return malformed("truncated header");
  }
  if (version != kFrameVersion) return malformed("unsupported version " + std::to_string(version));
  if (type < static_cast<std::uint8_t>(FrameType::Data) ||
      type > static_cast<std::uint8_t>(FrameType::Resent)) {
    return malformed("unknown type " + std::to_string(type));
  }
  if ((flags & ~frame_flags::kKnown) != 0 || reserved != 0) return malformed("unknown flags");
  h.type = static_cast<FrameType>(type);
  if (is_path_control(h.type)) {
    if (h.channel_id != 0) return malformed("path-control frame on channel " + std::to_string(h.channel_id));
    if ((flags & (frame_flags::kLossy | frame_flags::kFragment)) != 0) {
      return malformed("path-control frame marked lossy or fragmented");
    }
  } else if (h.channel_id == 0) {
    return Error{ErrorCode::InvalidChannelId, "malformed frame: channel id 0 is not valid"};
  }
  h.reliability = (flags & frame_flags::kLossy) != 0 ? Reliability::Lossy : Reliability::Durable;
  h.priority = (flags & frame_flags::kHigh) != 0 ? Priority::High : Priority::Normal;
  h.fragmented = (flags & frame_flags::kFragment) != 0;

  if (h.fragmented) {
    if (!r.u32(h.message_size) || !r.u32(h.fragment_offset)) return malformed("truncated fragment");
  } else {
    h.message_size = payload_size;
  }
  if ((flags & frame_flags::kFrom) != 0) {
    ParticipantId from = 0;
    if (!r.u32(from)) return malformed("truncated sender");
    if (from == kNoParticipant) return malformed("sender 0");
    h.from = from;
  }
  if ((flags & frame_flags::kTo) != 0) {
    std::uint16_t count = 0;
    ByteView raw;
    if (!r.u16(count)) return malformed("truncated recipient count");
    if (count == 0) return malformed("empty recipient list");
    if (count > kMaxRecipients) {
      return Error{ErrorCode::TooManyParticipants,
                   "frame lists " + std::to_string(count) + " recipients; at most 64 are allowed"};
    }
    if (!r.bytes(std::size_t{count} * 4, raw)) return malformed("truncated recipient list");
    frame.to = RecipientsView(raw);
  }
  if (!r.bytes(payload_size, frame.payload)) return malformed("truncated payload");

  if (h.type == FrameType::Close || h.type == FrameType::Switch) {
    if (payload_size != 0 || h.fragmented) return malformed("close or switch frame with payload");
  } else if (h.type == FrameType::Resent) {
    if (payload_size <= 4) return malformed("resent frame without a message");
  } else {
    if (payload_size == 0) return Error{ErrorCode::MessageEmpty, "malformed frame: empty payload"};
    if (h.message_size > kLargestMaxMessageSize) {
      return Error{ErrorCode::MessageTooLarge, "malformed frame: message of " +
                                                   std::to_string(h.message_size) +
                                                   " bytes exceeds 16 MiB"};
    }
    if (h.fragmented && (std::uint64_t{h.fragment_offset} + payload_size > h.message_size)) {
      return malformed("fragment beyond message end");
    }
  }
  input = r.rest();
  return frame;
}

}  // namespace switchboard::core
