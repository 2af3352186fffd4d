#pragma once

// The Web SDK bundle and the demo app, read from the web root (`web_root`, by default
// the build's web/dist): GET /sdk/<file> is <root>/<file>, GET / is <root>/demo/index.html
// and any other GET /<path> is <root>/demo/<path>. Only regular files that really lie
// under the root are served: no "..", no hidden names, no symlink out of it.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace switchboard::server {

// Files larger than this are not served (the bundle is a few hundred KiB).
inline constexpr std::uintmax_t kMaxWebFileSize = std::uintmax_t{32} * 1024 * 1024;

// The file a request path names, relative to the web root ("demo/index.html"); nullopt
// when the path cannot name a web file: a segment that is empty, starts with '.',
// holds '\', a control character or a bad %-escape, or paths under /v1/.
std::optional<std::string> web_file_path(std::string_view url_path);

// "text/javascript; charset=utf-8" for "app.js", ...; application/octet-stream when unknown.
std::string_view content_type_for(std::string_view file_name);

struct WebFile {
  std::string body;
  std::string_view content_type;
  std::string etag;  // a strong validator from the size and modification time
};

enum class WebFileStatus : std::uint8_t { Found, NotFound, NoWebRoot };

struct WebFileLookup {
  WebFileStatus status = WebFileStatus::NotFound;
  WebFile file;         // when Found
  std::string message;  // otherwise: what is missing, for the 404 body
};

// Reads the file `relative` (from web_file_path) under `root`.
WebFileLookup read_web_file(const std::filesystem::path& root, std::string_view relative);

}  // namespace switchboard::server
