// The server's config file (src/server/config.cpp): any text, read as TOML or as JSON (the
// first byte chooses), applies to a config or fails with INVALID_ARGUMENT and a message,
// never a crash; validate() then accepts or refuses the result the same way.
//
// Keys naming files (secret_file, turn_secret_file) make the parser read that file; the
// fuzzer may name any path, which read_file bounds (regular files up to 64 KiB only).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "server/config.hpp"

using namespace switchboard;
using namespace switchboard::server;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const ConfigFormat format = (data[0] & 1) != 0 ? ConfigFormat::Json : ConfigFormat::Toml;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  ServerConfig config;
  auto applied = apply_config_text(text, format, config);
  if (!applied) {
    if (applied.error().code != ErrorCode::InvalidArgument || applied.error().message.empty()) {
      std::abort();
    }
    return 0;
  }
  auto valid = validate(config);
  if (!valid &&
      (valid.error().code != ErrorCode::InvalidArgument || valid.error().message.empty())) {
    std::abort();
  }
  return 0;
}
