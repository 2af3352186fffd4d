#pragma once

// The Data Channel Establishment Protocol (RFC 8832): the in-band messages that open a
// data channel on an SCTP stream. Byte layout: docs/protocol.md, "DCEP".

#include <cstdint>
#include <string>
#include <variant>

#include "core/bytes.hpp"
#include "switchboard/result.hpp"

namespace switchboard::webrtc {

// SCTP payload protocol identifiers for WebRTC (RFC 8831 §8). The "empty" ones carry a
// single dummy byte, because SCTP cannot send a zero-length message.
namespace ppid {
inline constexpr std::uint32_t kDcep = 50;
inline constexpr std::uint32_t kString = 51;
inline constexpr std::uint32_t kBinary = 53;
inline constexpr std::uint32_t kStringEmpty = 56;
inline constexpr std::uint32_t kBinaryEmpty = 57;
}  // namespace ppid

namespace dcep_message_type {
inline constexpr std::uint8_t kAck = 0x02;
inline constexpr std::uint8_t kOpen = 0x03;
}  // namespace dcep_message_type

// The high bit marks unordered delivery; the low bits pick the reliability model.
enum class DcepChannelType : std::uint8_t {
  Reliable = 0x00,
  ReliableUnordered = 0x80,
  PartialReliableRexmit = 0x01,
  PartialReliableRexmitUnordered = 0x81,
  PartialReliableTimed = 0x02,
  PartialReliableTimedUnordered = 0x82,
};

inline constexpr std::size_t kDcepOpenHeaderSize = 12;
// Label and protocol lengths are 16-bit fields.
inline constexpr std::size_t kMaxDcepStringSize = 65535;

// RFC 8832 §6.4 suggested priorities.
namespace dcep_priority {
inline constexpr std::uint16_t kBelowNormal = 128;
inline constexpr std::uint16_t kNormal = 256;
inline constexpr std::uint16_t kHigh = 512;
inline constexpr std::uint16_t kExtraHigh = 1024;
}  // namespace dcep_priority

struct DataChannelOpen {
  DcepChannelType channel_type = DcepChannelType::Reliable;
  std::uint16_t priority = dcep_priority::kNormal;
  // Retransmissions (Rexmit) or milliseconds (Timed); always 0 for reliable channels.
  std::uint32_t reliability_parameter = 0;
  std::string label;     // UTF-8, at most kMaxDcepStringSize bytes
  std::string protocol;  // UTF-8, at most kMaxDcepStringSize bytes

  bool ordered() const noexcept { return (static_cast<std::uint8_t>(channel_type) & 0x80) == 0; }
  bool operator==(const DataChannelOpen&) const = default;
};

struct DataChannelAck {
  bool operator==(const DataChannelAck&) const = default;
};

using DcepMessage = std::variant<DataChannelOpen, DataChannelAck>;

// Strict: the message must fill `data` exactly (no trailing bytes), the channel type must
// be one of the six above, and label and protocol must be valid UTF-8. For reliable
// channel types the reliability parameter is ignored, as RFC 8832 §5.1 requires, and
// reads as 0.
Result<DcepMessage> parse_dcep(ByteView data);

// Precondition: label and protocol are at most kMaxDcepStringSize bytes each.
Bytes encode_dcep(const DataChannelOpen& open);
Bytes encode_dcep(const DataChannelAck& ack);

}  // namespace switchboard::webrtc
