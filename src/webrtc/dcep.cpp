#include "webrtc/dcep.hpp"

#include <cassert>
#include <string_view>

namespace switchboard::webrtc {
namespace {

Error malformed(const std::string& what) {
  return {ErrorCode::InvalidArgument, "malformed DCEP message: " + what};
}

bool known_channel_type(std::uint8_t type) {
  switch (static_cast<DcepChannelType>(type)) {
    case DcepChannelType::Reliable:
    case DcepChannelType::ReliableUnordered:
    case DcepChannelType::PartialReliableRexmit:
    case DcepChannelType::PartialReliableRexmitUnordered:
    case DcepChannelType::PartialReliableTimed:
    case DcepChannelType::PartialReliableTimedUnordered:
      return true;
  }
  return false;
}

bool is_reliable(DcepChannelType type) {
  return (static_cast<std::uint8_t>(type) & 0x7f) == 0;
}

// RFC 3629: shortest form only, no surrogates, nothing above U+10FFFF. Labels end up in
// JSON events and JavaScript strings, where anything else cannot be represented.
bool valid_utf8(ByteView s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const std::uint8_t b = s[i];
    std::size_t extra = 0;
    std::uint32_t cp = 0;
    std::uint32_t min = 0;
    if (b < 0x80) {
      ++i;
      continue;
    }
    if ((b & 0xe0) == 0xc0) {
      extra = 1;
      cp = b & 0x1fu;
      min = 0x80;
    } else if ((b & 0xf0) == 0xe0) {
      extra = 2;
      cp = b & 0x0fu;
      min = 0x800;
    } else if ((b & 0xf8) == 0xf0) {
      extra = 3;
      cp = b & 0x07u;
      min = 0x10000;
    } else {
      return false;
    }
    if (s.size() - i <= extra) return false;
    for (std::size_t k = 1; k <= extra; ++k) {
      const std::uint8_t c = s[i + k];
      if ((c & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (c & 0x3fu);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += extra + 1;
  }
  return true;
}

Result<DcepMessage> parse_open(ByteReader& r) {
  std::uint8_t channel_type = 0;
  std::uint16_t label_size = 0;
  std::uint16_t protocol_size = 0;
  DataChannelOpen open;
  if (!r.u8(channel_type) || !r.u16(open.priority) || !r.u32(open.reliability_parameter) ||
      !r.u16(label_size) || !r.u16(protocol_size)) {
    return malformed("DATA_CHANNEL_OPEN shorter than its 12-byte header");
  }
  if (!known_channel_type(channel_type)) {
    return malformed("unknown channel type " + std::to_string(channel_type));
  }
  open.channel_type = static_cast<DcepChannelType>(channel_type);
  if (is_reliable(open.channel_type)) open.reliability_parameter = 0;

  ByteView label;
  ByteView protocol;
  if (!r.bytes(label_size, label) || !r.bytes(protocol_size, protocol)) {
    return malformed("label and protocol lengths (" + std::to_string(label_size) + " + " +
                     std::to_string(protocol_size) + ") run past the end of the message");
  }
  if (r.remaining() != 0) {
    return malformed(std::to_string(r.remaining()) + " trailing bytes after DATA_CHANNEL_OPEN");
  }
  if (!valid_utf8(label)) return malformed("label is not valid UTF-8");
  if (!valid_utf8(protocol)) return malformed("protocol is not valid UTF-8");
  open.label = std::string(as_string(label));
  open.protocol = std::string(as_string(protocol));
  return DcepMessage{std::move(open)};
}

}  // namespace

Result<DcepMessage> parse_dcep(ByteView data) {
  ByteReader r(data);
  std::uint8_t type = 0;
  if (!r.u8(type)) return malformed("empty message");
  switch (type) {
    case dcep_message_type::kAck:
      if (r.remaining() != 0) {
        return malformed(std::to_string(r.remaining()) + " trailing bytes after DATA_CHANNEL_ACK");
      }
      return DcepMessage{DataChannelAck{}};
    case dcep_message_type::kOpen:
      return parse_open(r);
    default:
      return malformed("unknown message type " + std::to_string(type));
  }
}

Bytes encode_dcep(const DataChannelOpen& open) {
  assert(open.label.size() <= kMaxDcepStringSize);
  assert(open.protocol.size() <= kMaxDcepStringSize);
  Bytes out;
  out.reserve(kDcepOpenHeaderSize + open.label.size() + open.protocol.size());
  put_u8(out, dcep_message_type::kOpen);
  put_u8(out, static_cast<std::uint8_t>(open.channel_type));
  put_u16(out, open.priority);
  put_u32(out, is_reliable(open.channel_type) ? 0 : open.reliability_parameter);
  put_u16(out, static_cast<std::uint16_t>(open.label.size()));
  put_u16(out, static_cast<std::uint16_t>(open.protocol.size()));
  put_bytes(out, as_bytes(open.label));
  put_bytes(out, as_bytes(open.protocol));
  return out;
}

Bytes encode_dcep(const DataChannelAck& /*ack*/) {
  return Bytes{dcep_message_type::kAck};
}

}  // namespace switchboard::webrtc
