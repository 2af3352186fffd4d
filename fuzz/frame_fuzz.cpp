// Frame decoder: any bytes decode to a frame or an error, never a crash or an overread;
// what decodes re-encodes to the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "core/frame.hpp"

using namespace switchboard;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ByteView input(data, size);
  while (!input.empty()) {
    const ByteView before = input;
    auto frame = core::decode_frame(input);
    if (!frame) break;
    std::vector<core::ParticipantId> to;
    for (std::size_t i = 0; i < frame->to.size(); ++i) to.push_back(frame->to[i]);
    Bytes again;
    core::encode_frame(frame->header, to, frame->payload, again);
    const std::size_t used = before.size() - input.size();
    if (again.size() != used || std::memcmp(again.data(), before.data(), used) != 0) std::abort();
  }
  return 0;
}
