// File-transfer messages (src/client/file_messages.hpp): any bytes decode to a message or
// an INVALID_ARGUMENT error, never a crash; a decoded message encodes and decodes back to
// itself; a sanitised name has no path separator, control character or leading dot.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string_view>

#include <switchboard/file_transfer.hpp>

#include "client/file_messages.hpp"

using namespace switchboard;
using namespace switchboard::client::files;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> bytes(data, size);
  auto decoded = decode(bytes);
  if (!decoded) {
    if (decoded.error().code != ErrorCode::InvalidArgument) std::abort();
  } else {
    const auto encoded = encode(*decoded);  // a decoded CHUNK views these bytes
    const auto again = decode(encoded);
    if (!again || again->index() != decoded->index()) std::abort();
    if (const auto* chunk = std::get_if<Chunk>(&*decoded)) {
      const auto& back = std::get<Chunk>(*again);
      if (back.id != chunk->id || back.offset != chunk->offset ||
          !std::equal(back.data.begin(), back.data.end(), chunk->data.begin(), chunk->data.end())) {
        std::abort();
      }
    } else if (const auto* offer = std::get_if<Offer>(&*decoded)) {
      if (std::get<Offer>(*again) != *offer) std::abort();
    }
  }

  const auto name = sanitizeFileName(std::string_view(reinterpret_cast<const char*>(data), size));
  if (name) {
    if (name->empty() || name->size() > 200 || name->front() == '.') std::abort();
    for (const char c : *name) {
      const auto u = static_cast<unsigned char>(c);
      if (c == '/' || c == '\\' || u < 0x20 || u == 0x7f) std::abort();
    }
  }
  return 0;
}
