// SDP and ICE candidate parsers: any text parses or yields an error, never a crash; whatever
// parses is written back out and must parse again to an equal value.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "core/bytes.hpp"
#include "webrtc/sdp.hpp"

using namespace switchboard;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = as_string(ByteView(data, size));

  if (auto candidate = webrtc::parse_candidate(text)) {
    auto again = webrtc::parse_candidate(webrtc::write_candidate(*candidate));
    if (!again || !(*again == *candidate)) std::abort();
  }

  auto description = webrtc::parse_sdp(text);
  if (!description) return 0;
  auto again = webrtc::parse_sdp(webrtc::write_sdp(*description));
  if (!again || !(*again == *description)) std::abort();
  return 0;
}
