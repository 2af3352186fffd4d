// Signaling messages: any text parses to a message or an InvalidArgument error, never a
// crash; whatever parses serializes to text that parses back to the same message.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "signaling/messages.hpp"

using namespace switchboard;
using namespace switchboard::signaling;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  auto parsed = parse_message(input);
  if (!parsed) {
    if (parsed.error().code != ErrorCode::InvalidArgument) std::abort();
    return 0;
  }
  const auto text = serialize(*parsed);
  auto again = parse_message(text);
  if (!again || *again != *parsed) std::abort();
  if (serialize(*again) != text) std::abort();
  return 0;
}
