// HTTP request targets (src/server/http_target.cpp) and the web file a path names
// (src/server/static_files.cpp): any bytes split, decode and map without a crash.
// split_target's parts are views into the target, in order; a decoded string is never
// longer than its source; a web file path never climbs out of the web root: no empty, "."
// or ".." segment, no leading '/', no '\' and no control character, and it is UTF-8.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "server/http_target.hpp"
#include "server/static_files.hpp"

using namespace switchboard::server;

namespace {

void check_web_path(std::string_view path) {
  const auto file = web_file_path(path);
  if (!file) return;
  if (file->empty() || file->front() == '/' || !is_valid_utf8(*file)) std::abort();
  std::string_view rest = *file;
  while (true) {
    const std::size_t slash = rest.find('/');
    const std::string_view segment = rest.substr(0, slash);
    if (segment.empty() || segment.front() == '.') std::abort();
    for (const char c : segment) {
      if (c == '\\' || c == ':' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f) std::abort();
    }
    if (slash == std::string_view::npos) break;
    rest = rest.substr(slash + 1);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view target(reinterpret_cast<const char*>(data), size);
  const auto parts = split_target(target);
  if (!parts.path.empty() && parts.path.data() != target.data()) std::abort();
  if (parts.path.size() > target.size() || parts.query.size() > target.size()) std::abort();
  if (!parts.query.empty() &&
      (parts.query.data() < target.data() + parts.path.size() ||
       parts.query.data() + parts.query.size() > target.data() + target.size())) {
    std::abort();
  }

  for (const bool plus : {false, true}) {
    const auto decoded = percent_decode(target, plus);
    if (decoded && decoded->size() > target.size()) std::abort();
  }
  if (const auto query = parse_query(parts.query)) {
    for (const auto& p : *query) {
      if (p.name.size() + p.value.size() > parts.query.size()) std::abort();
    }
  }
  (void)is_valid_utf8(target);
  check_web_path(parts.path);
  (void)content_type_for(target);
  return 0;
}
