// The path switch's wire pieces (src/core/path_switch.cpp), both from the other
// participant: the direct-path acknowledgement decodes to an ack or INVALID_ARGUMENT and
// re-encodes to the same 13 bytes; a RESENT frame's payload splits into its index and the
// message inside without reading past the frame.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "core/frame.hpp"
#include "core/path_switch.hpp"

using namespace switchboard;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteView input(data, size);
  auto ack = core::decode_direct_ack(input);
  if (ack) {
    if (core::encode_direct_ack(*ack) != Bytes(input.begin(), input.end())) std::abort();
  } else if (ack.error().code != ErrorCode::InvalidArgument) {
    std::abort();
  }

  ByteView frames = input;
  while (!frames.empty()) {
    auto frame = core::decode_frame(frames);
    if (!frame) break;
    if (frame->header.type != core::FrameType::Resent) continue;
    const auto resent = core::split_resent_payload(frame->payload);
    if (resent.message.size() + 4 != frame->payload.size() ||
        resent.message.data() != frame->payload.data() + 4) {
      std::abort();
    }
  }
  return 0;
}
