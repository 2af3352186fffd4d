#pragma once

// The DataChannel wire frame, version 1. Byte layout: docs/protocol.md, "Frames".
// Several frames may follow each other in one transport message (coalescing).

#include <cstdint>
#include <optional>
#include <span>

#include "core/bytes.hpp"
#include "core/participant.hpp"
#include "switchboard/options.hpp"
#include "switchboard/result.hpp"

namespace switchboard::core {

inline constexpr std::uint8_t kFrameVersion = 1;
inline constexpr std::size_t kFrameHeaderSize = 14;
inline constexpr std::size_t kFragmentFieldsSize = 8;

enum class FrameType : std::uint8_t {
  Data = 1,   // a message, or one fragment of it
  Close = 2,  // the sender closed; sequence = its last sequence number
  // Peer-to-peer path control (docs/protocol.md, "Peer-to-peer"): channel 0, durable
  // class, sequence = the direct session.
  Switch = 3,  // through the server: this class's frames go direct from here on
  Resent = 4,  // through the server: a direct transport message sent again; payload =
               // u32 index within the class on the direct path, then the message
};

// Path-control frames (Switch, Resent) carry channel 0; every other frame a channel id.
constexpr bool is_path_control(FrameType type) {
  return type == FrameType::Switch || type == FrameType::Resent;
}

namespace frame_flags {
inline constexpr std::uint8_t kLossy = 0x01;
inline constexpr std::uint8_t kHigh = 0x02;
inline constexpr std::uint8_t kFragment = 0x04;
inline constexpr std::uint8_t kFrom = 0x08;
inline constexpr std::uint8_t kTo = 0x10;
inline constexpr std::uint8_t kKnown = 0x1f;
}  // namespace frame_flags

struct FrameHeader {
  FrameType type = FrameType::Data;
  Reliability reliability = Reliability::Durable;
  Priority priority = Priority::Normal;
  std::uint16_t channel_id = 0;
  std::uint32_t sequence = 0;
  // Set when the message is split: the whole message's size and this piece's offset.
  bool fragmented = false;
  std::uint32_t message_size = 0;
  std::uint32_t fragment_offset = 0;
  // Stamped by whoever forwards the frame (the server, or the peer in 1:1 calls).
  std::optional<ParticipantId> from;
};

// The recipient list of a client→server frame, read in place from the wire.
class RecipientsView {
 public:
  RecipientsView() = default;
  explicit RecipientsView(ByteView raw) noexcept : raw_(raw) {}
  std::size_t size() const noexcept { return raw_.size() / 4; }
  bool empty() const noexcept { return raw_.empty(); }
  ParticipantId operator[](std::size_t i) const noexcept { return load_u32(raw_.data() + i * 4); }

 private:
  ByteView raw_;
};

struct DecodedFrame {
  FrameHeader header;
  RecipientsView to;  // empty = everyone
  ByteView payload;   // points into the decoded buffer
};

// Decodes the frame at the front of `input` and advances `input` past it. Every field is
// bounds-checked; malformed input yields an error and never reads out of range.
Result<DecodedFrame> decode_frame(ByteView& input);

// Appends one encoded frame to `out`. `to` empty = no recipient list (everyone).
void encode_frame(const FrameHeader& header, std::span<const ParticipantId> to, ByteView payload,
                  Bytes& out);

std::size_t encoded_frame_size(const FrameHeader& header, std::size_t recipients,
                               std::size_t payload) noexcept;

}  // namespace switchboard::core
