// DCEP parser: any bytes parse or yield an error, never a crash or an overread. What parses
// re-encodes to the same bytes (except the reliability parameter of reliable channels, which
// the receiver must ignore and we write as 0) and parses again to an equal message.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <variant>

#include "core/bytes.hpp"
#include "webrtc/dcep.hpp"

using namespace switchboard;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteView input(data, size);
  auto message = webrtc::parse_dcep(input);
  if (!message) return 0;

  if (std::holds_alternative<webrtc::DataChannelAck>(*message)) {
    if (webrtc::encode_dcep(webrtc::DataChannelAck{}) != Bytes(input.begin(), input.end())) {
      std::abort();
    }
    return 0;
  }

  const auto& open = std::get<webrtc::DataChannelOpen>(*message);
  const Bytes encoded = webrtc::encode_dcep(open);
  auto again = webrtc::parse_dcep(encoded);
  if (!again || !std::holds_alternative<webrtc::DataChannelOpen>(*again) ||
      !(std::get<webrtc::DataChannelOpen>(*again) == open)) {
    std::abort();
  }
  Bytes expected(input.begin(), input.end());
  const bool reliable = (static_cast<std::uint8_t>(open.channel_type) & 0x7f) == 0;
  if (reliable) std::fill(expected.begin() + 4, expected.begin() + 8, std::uint8_t{0});
  if (encoded != expected) std::abort();
  return 0;
}
