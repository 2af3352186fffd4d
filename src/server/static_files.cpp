#include "server/static_files.hpp"

#include <array>
#include <cstdio>
#include <fstream>
#include <system_error>
#include <utility>

#include "server/http_target.hpp"

namespace switchboard::server {
namespace {

namespace fs = std::filesystem;

bool acceptable_segment(std::string_view segment) {
  if (segment.empty() || segment.front() == '.') return false;
  for (const char c : segment) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7F || c == '/' || c == '\\' || c == ':') return false;
  }
  return true;
}

// True when `path` is `root` itself or lies below it (both canonical).
bool is_under(const fs::path& path, const fs::path& root) {
  auto p = path.begin();
  for (auto r = root.begin(); r != root.end(); ++r, ++p) {
    if (p == path.end() || *p != *r) return false;
  }
  return true;
}

}  // namespace

std::optional<std::string> web_file_path(std::string_view url_path) {
  if (url_path.empty() || url_path.front() != '/') return std::nullopt;
  if (url_path == "/") return "demo/index.html";
  std::string_view rest = url_path.substr(1);
  std::string prefix = "demo/";
  if (rest.starts_with("v1/") || rest == "v1") return std::nullopt;
  if (rest.starts_with("sdk/")) {
    rest.remove_prefix(4);
    // The SDK's files sit at the top of the root; its subdirectories are not /sdk/.
    if (rest.find('/') != std::string_view::npos) return std::nullopt;
    prefix.clear();
  }
  std::string relative = prefix;
  while (true) {
    const auto slash = rest.find('/');
    // Decoded one segment at a time, so an encoded "%2F" or "%2E%2E" is still one name.
    auto segment = percent_decode(rest.substr(0, slash), false);
    if (!segment || !acceptable_segment(*segment) || !is_valid_utf8(*segment)) return std::nullopt;
    relative += *segment;
    if (slash == std::string_view::npos) break;
    relative += '/';
    rest.remove_prefix(slash + 1);
  }
  return relative;
}

std::string_view content_type_for(std::string_view file_name) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 15> kTypes{{
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".map", "application/json"},
      {".ts", "text/plain; charset=utf-8"},
      {".txt", "text/plain; charset=utf-8"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".jpg", "image/jpeg"},
      {".ico", "image/x-icon"},
      {".webp", "image/webp"},
      {".wasm", "application/wasm"},
      {".webmanifest", "application/manifest+json"},
  }};
  for (const auto& [extension, type] : kTypes) {
    if (file_name.ends_with(extension)) return type;
  }
  return "application/octet-stream";
}

WebFileLookup read_web_file(const fs::path& root, std::string_view relative) {
  WebFileLookup out;
  std::error_code ec;
  const fs::path canonical_root = fs::canonical(root, ec);
  if (ec || !fs::is_directory(canonical_root, ec)) {
    out.status = WebFileStatus::NoWebRoot;
    out.message = "the web root " + root.string() +
                  " does not exist: build the Web SDK and demo (`npm --prefix web run build`, "
                  "or the web_bundle target) or pass --web-root DIR\n";
    return out;
  }
  const std::string not_found = "not found: " + std::string(relative) + " is not in the web root\n";
  const fs::path file = fs::canonical(canonical_root / fs::path(relative), ec);
  // canonical() resolved every symlink, so a link pointing out of the root is caught here.
  if (ec || !is_under(file, canonical_root) || !fs::is_regular_file(file, ec)) {
    out.message = not_found;
    return out;
  }
  const auto size = fs::file_size(file, ec);
  if (ec || size > kMaxWebFileSize) {
    out.message = not_found;
    return out;
  }
  const auto modified = fs::last_write_time(file, ec);
  std::ifstream in(file, std::ios::binary);
  if (ec || !in) {
    out.message = not_found;
    return out;
  }
  out.file.body.resize(static_cast<std::size_t>(size));
  in.read(out.file.body.data(), static_cast<std::streamsize>(size));
  out.file.body.resize(static_cast<std::size_t>(in.gcount()));
  const auto ticks = modified.time_since_epoch().count();
  char etag[64];
  std::snprintf(etag, sizeof etag, "\"%zx-%llx\"", out.file.body.size(),
                static_cast<unsigned long long>(ticks));
  out.file.etag = etag;
  out.file.content_type = content_type_for(file.filename().string());
  out.status = WebFileStatus::Found;
  return out;
}

}  // namespace switchboard::server
