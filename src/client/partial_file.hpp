#pragma once

// What a receiver keeps beside a partial file, so that whoever restarts (the receiver or
// the sender) the transfer resumes only bytes of the same file. The partial file
// `.<name>.<id>.part` holds the first bytes; `.<name>.<id>.meta` beside it holds one line
// of JSON naming the offer those bytes belong to:
//   {"from":"alice","id":"<32 hex>","size":1234567,"sha256":"<64 hex>"}
// A transfer id alone does not prove that: the native SDK derives it from the sender's
// file metadata (path, inode, size, mtime), not its bytes, and any sender may reuse an id.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace switchboard::client::files {

struct PartialOffer {
  std::string from;  // the sender's identity
  std::string id;
  std::uint64_t size = 0;
  std::string sha256;  // 64 lowercase hex digits

  bool operator==(const PartialOffer&) const = default;
};

// The metadata file of partial file `part` (`.x.part` → `.x.meta`).
std::filesystem::path partial_meta_path(const std::filesystem::path& part);

std::string encode_partial_offer(const PartialOffer& offer);
// nullopt unless `text` is such a JSON object with every field valid.
std::optional<PartialOffer> decode_partial_offer(std::string_view text);

// Reads the metadata file at `path` (not through a symbolic link, at most 4 KiB);
// nullopt when it is missing, unreadable or not valid.
std::optional<PartialOffer> read_partial_offer(const std::filesystem::path& path);
// Writes (replaces) it; false with `error` set when that fails.
bool write_partial_offer(const std::filesystem::path& path, const PartialOffer& offer,
                         std::string& error);

}  // namespace switchboard::client::files
