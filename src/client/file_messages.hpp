#pragma once

// The messages of the file-transfer convention on channel 10001 (docs/protocol.md,
// "Applications on DataChannels: chat and file transfer"; the Web SDK's twin is
// web/src/files/fileMessages.ts): a one-byte kind, then UTF-8 JSON, or for CHUNK 16 bytes
// of transfer id, a u64 big-endian offset and the file's bytes. Pure functions: bytes in,
// a value or an error out.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <switchboard/result.hpp>

namespace switchboard::client::files {

// The most file bytes in one CHUNK.
inline constexpr std::size_t kMaxChunkSize = std::size_t{64} * 1024;
inline constexpr std::size_t kChunkHeaderSize = 1 + 16 + 8;
inline constexpr std::size_t kMaxOfferJson = 4096;
// A receiver reports PROGRESS at least this often, and at the end.
inline constexpr std::uint64_t kProgressInterval = std::uint64_t{1024} * 1024;
// Offsets and sizes stay below 2^53, so the Web SDK's numbers hold them exactly.
inline constexpr std::uint64_t kMaxOffset = (std::uint64_t{1} << 53) - 1;

enum class Kind : std::uint8_t {
  Offer = 0x01,
  Accept = 0x02,
  Chunk = 0x03,
  Done = 0x04,
  Progress = 0x05,
  Cancel = 0x06,
};

struct Offer {
  std::string id;  // 32 lowercase hex digits
  std::string name;
  std::uint64_t size = 0;
  std::string sha256;  // 64 lowercase hex digits
  std::string mime;    // empty = none
  bool operator==(const Offer&) const = default;
};
struct Accept {
  std::string id;
  std::uint64_t offset = 0;
  bool operator==(const Accept&) const = default;
};
// `data` views the decoded bytes.
struct Chunk {
  std::string id;
  std::uint64_t offset = 0;
  std::span<const std::uint8_t> data;
};
struct Done {
  std::string id;
  bool operator==(const Done&) const = default;
};
struct Progress {
  std::string id;
  std::uint64_t offset = 0;
  bool operator==(const Progress&) const = default;
};
// `code`: DECLINED, HASH_MISMATCH, CANCELLED or IO_ERROR (an unknown code decodes as
// CANCELLED, as in the Web SDK).
struct Cancel {
  std::string id;
  std::string code;
  std::string message;
  bool operator==(const Cancel&) const = default;
};

using Message = std::variant<Offer, Accept, Chunk, Done, Progress, Cancel>;

// INVALID_ARGUMENT with what was wrong: empty, unknown kind, a CHUNK shorter than its
// header, over 64 KiB of data or at an offset of 2^53 or more, an OFFER over 4 KiB, not
// UTF-8 JSON, not an object, a missing or mistyped field, an id that is not 32 lowercase
// hex digits, a sha256 that is not 64.
Result<Message> decode(std::span<const std::uint8_t> bytes);

// The message's bytes (a CHUNK's data is copied after its header).
std::vector<std::uint8_t> encode(const Message& message);
// A CHUNK's 25 header bytes, so a sender can read the file straight after them.
void encode_chunk_header(std::string_view id, std::uint64_t offset,
                         std::span<std::uint8_t, kChunkHeaderSize> out);

bool is_transfer_id(std::string_view id);
// 16 random bytes as 32 lowercase hex digits.
std::string new_transfer_id();
// One version of a file on the sender's disk: what derive_transfer_id reads instead of
// the file's bytes, so the id is known at once (no hashing) and is the same after the
// sending program restarts, as long as the file was not replaced or changed.
struct FileVersion {
  std::string path;  // absolute, symbolic links resolved
  std::uint64_t inode = 0;
  std::uint64_t size = 0;
  std::int64_t mtime_ns = 0;  // modification time, nanoseconds since the epoch
};
// The id the native SDK gives a file it sends: the first 16 bytes of SHA-256 of
// "switchboard-file-id-v1\n<sender identity>\n<path>\n<inode>\n<size>\n<mtime_ns>\n<name>"
// (numbers in decimal), as 32 lowercase hex digits. Receivers never recompute it: it only
// has to be unique per sender and file, and stable while the file is unchanged.
std::string derive_transfer_id(std::string_view sender, const FileVersion& file,
                               std::string_view name);

}  // namespace switchboard::client::files
