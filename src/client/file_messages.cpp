// The file-transfer messages (docs/protocol.md, "File transfer"); kept byte for byte in
// step with web/src/files/fileMessages.ts.

#include "client/file_messages.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <optional>
#include <random>

#include <nlohmann/json.hpp>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <switchboard/file_transfer.hpp>

namespace switchboard::client::files {
namespace {

using Json = nlohmann::json;
// Written with the keys in the Web SDK's order, so both produce the same bytes.
using OrderedJson = nlohmann::ordered_json;

Error invalid(std::string message) {
  return Error{ErrorCode::InvalidArgument, std::move(message)};
}

bool is_lower_hex(std::string_view text, std::size_t length) {
  if (text.size() != length) return false;
  for (const char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

constexpr char kHex[] = "0123456789abcdef";

std::string to_hex(std::span<const std::uint8_t> bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const auto b : bytes) {
    out += kHex[b >> 4];
    out += kHex[b & 0x0f];
  }
  return out;
}

int hex_value(char c) {
  return c <= '9' ? c - '0' : c - 'a' + 10;
}

// A non-negative integer below 2^53, as JavaScript's Number.isSafeInteger sees it (1e3 is
// an integer there too).
std::optional<std::uint64_t> offset_of(const Json& value) {
  if (value.is_number_unsigned()) {
    const auto v = value.get<std::uint64_t>();
    if (v <= kMaxOffset) return v;
    return std::nullopt;
  }
  if (value.is_number_integer()) {
    const auto v = value.get<std::int64_t>();
    if (v >= 0 && static_cast<std::uint64_t>(v) <= kMaxOffset) return static_cast<std::uint64_t>(v);
    return std::nullopt;
  }
  if (value.is_number_float()) {
    const double v = value.get<double>();
    if (v >= 0 && v <= static_cast<double>(kMaxOffset) && std::floor(v) == v) {
      return static_cast<std::uint64_t>(v);
    }
  }
  return std::nullopt;
}

std::vector<std::uint8_t> with_kind(Kind kind, const OrderedJson& json) {
  const std::string body = json.dump(-1, ' ', false, OrderedJson::error_handler_t::replace);
  std::vector<std::uint8_t> out;
  out.reserve(1 + body.size());
  out.push_back(static_cast<std::uint8_t>(kind));
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

bool known_cancel_code(std::string_view code) {
  return code == "DECLINED" || code == "HASH_MISMATCH" || code == "CANCELLED" || code == "IO_ERROR";
}

}  // namespace

bool is_transfer_id(std::string_view id) {
  return is_lower_hex(id, 32);
}

std::string new_transfer_id() {
  std::array<std::uint8_t, 16> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    // OpenSSL's generator does not fail once seeded; this is only a fallback.
    std::random_device random;
    for (auto& b : bytes) b = static_cast<std::uint8_t>(random());
  }
  return to_hex(bytes);
}

std::string derive_transfer_id(std::string_view sender, const FileVersion& file,
                               std::string_view name) {
  std::string input = "switchboard-file-id-v1\n";
  input.append(sender).append("\n").append(file.path).append("\n");
  input.append(std::to_string(file.inode)).append("\n");
  input.append(std::to_string(file.size)).append("\n");
  input.append(std::to_string(file.mtime_ns)).append("\n").append(name);
  std::array<std::uint8_t, SHA256_DIGEST_LENGTH> digest{};
  SHA256(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest.data());
  std::array<std::uint8_t, 16> id{};
  std::copy_n(digest.begin(), id.size(), id.begin());
  return to_hex(id);
}

void encode_chunk_header(std::string_view id, std::uint64_t offset,
                         std::span<std::uint8_t, kChunkHeaderSize> out) {
  out[0] = static_cast<std::uint8_t>(Kind::Chunk);
  for (std::size_t i = 0; i < 16; ++i) {
    out[1 + i] = static_cast<std::uint8_t>(hex_value(id[2 * i]) << 4 | hex_value(id[2 * i + 1]));
  }
  for (std::size_t i = 0; i < 8; ++i) {
    out[17 + i] = static_cast<std::uint8_t>(offset >> (56 - 8 * i));
  }
}

std::vector<std::uint8_t> encode(const Message& message) {
  return std::visit(
      [](const auto& m) -> std::vector<std::uint8_t> {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, Offer>) {
          OrderedJson j = {{"id", m.id}, {"name", m.name}, {"size", m.size}, {"sha256", m.sha256}};
          if (!m.mime.empty()) j["mime"] = m.mime;
          return with_kind(Kind::Offer, j);
        } else if constexpr (std::is_same_v<T, Accept>) {
          return with_kind(Kind::Accept, {{"id", m.id}, {"offset", m.offset}});
        } else if constexpr (std::is_same_v<T, Done>) {
          return with_kind(Kind::Done, {{"id", m.id}});
        } else if constexpr (std::is_same_v<T, Progress>) {
          return with_kind(Kind::Progress, {{"id", m.id}, {"offset", m.offset}});
        } else if constexpr (std::is_same_v<T, Cancel>) {
          return with_kind(Kind::Cancel, {{"id", m.id}, {"code", m.code}, {"message", m.message}});
        } else {
          std::vector<std::uint8_t> out(kChunkHeaderSize + m.data.size());
          encode_chunk_header(
              m.id, m.offset,
              std::span<std::uint8_t, kChunkHeaderSize>(out.data(), kChunkHeaderSize));
          std::copy(m.data.begin(), m.data.end(), out.begin() + kChunkHeaderSize);
          return out;
        }
      },
      message);
}

Result<Message> decode(std::span<const std::uint8_t> bytes) {
  if (bytes.empty()) return invalid("empty message");
  const auto kind = bytes[0];
  if (kind == static_cast<std::uint8_t>(Kind::Chunk)) {
    if (bytes.size() < kChunkHeaderSize) return invalid("CHUNK shorter than its header");
    std::uint64_t offset = 0;
    for (std::size_t i = 17; i < kChunkHeaderSize; ++i) offset = offset << 8 | bytes[i];
    if (offset > kMaxOffset) return invalid("CHUNK offset beyond 2^53");
    const auto data = bytes.subspan(kChunkHeaderSize);
    if (data.size() > kMaxChunkSize) return invalid("CHUNK over 64 KiB");
    return Message{Chunk{to_hex(bytes.subspan(1, 16)), offset, data}};
  }
  if (kind == static_cast<std::uint8_t>(Kind::Offer) && bytes.size() - 1 > kMaxOfferJson) {
    return invalid("OFFER over 4 KiB");
  }
  if (kind < static_cast<std::uint8_t>(Kind::Offer) ||
      kind > static_cast<std::uint8_t>(Kind::Cancel)) {
    static constexpr char digits[] = "0123456789abcdef";
    return invalid(std::string("unknown kind 0x") + digits[kind >> 4] + digits[kind & 0x0f]);
  }
  const auto* text = reinterpret_cast<const char*>(bytes.data() + 1);
  const Json json = Json::parse(text, text + (bytes.size() - 1), nullptr, false);
  if (json.is_discarded()) return invalid("not UTF-8 JSON");
  if (!json.is_object()) return invalid("not a JSON object");
  const auto id_it = json.find("id");
  if (id_it == json.end() || !id_it->is_string() ||
      !is_transfer_id(id_it->get_ref<const std::string&>())) {
    return invalid("\"id\" is not 32 lowercase hex digits");
  }
  std::string id = id_it->get<std::string>();
  switch (static_cast<Kind>(kind)) {
    case Kind::Offer: {
      const auto name = json.find("name");
      if (name == json.end() || !name->is_string()) return invalid("OFFER without a \"name\"");
      const auto size_it = json.find("size");
      const auto size = size_it == json.end() ? std::nullopt : offset_of(*size_it);
      if (!size) return invalid("OFFER \"size\" is not a non-negative integer");
      const auto sha = json.find("sha256");
      if (sha == json.end() || !sha->is_string() ||
          !is_lower_hex(sha->get_ref<const std::string&>(), 64)) {
        return invalid("OFFER \"sha256\" is not 64 lowercase hex digits");
      }
      Offer offer{std::move(id), name->get<std::string>(), *size, sha->get<std::string>(), {}};
      if (const auto mime = json.find("mime"); mime != json.end() && mime->is_string()) {
        offer.mime = mime->get<std::string>();
      }
      return Message{std::move(offer)};
    }
    case Kind::Accept:
    case Kind::Progress: {
      const auto it = json.find("offset");
      const auto offset = it == json.end() ? std::nullopt : offset_of(*it);
      if (!offset) return invalid("\"offset\" is not a non-negative integer");
      if (static_cast<Kind>(kind) == Kind::Accept) return Message{Accept{std::move(id), *offset}};
      return Message{Progress{std::move(id), *offset}};
    }
    case Kind::Done:
      return Message{Done{std::move(id)}};
    case Kind::Cancel: {
      const auto code = json.find("code");
      std::string code_text = "CANCELLED";
      if (code != json.end() && code->is_string() &&
          known_cancel_code(code->get_ref<const std::string&>())) {
        code_text = code->get<std::string>();
      }
      const auto message = json.find("message");
      return Message{Cancel{std::move(id), std::move(code_text),
                            message != json.end() && message->is_string()
                                ? message->get<std::string>()
                                : std::string()}};
    }
    case Kind::Chunk:
      break;
  }
  return invalid("unknown kind");
}

}  // namespace switchboard::client::files

namespace switchboard {

std::optional<std::string> sanitizeFileName(std::string_view name) {
  const auto slash = name.find_last_of("/\\");
  if (slash != std::string_view::npos) name.remove_prefix(slash + 1);
  std::string clean;
  clean.reserve(name.size());
  for (std::size_t i = 0; i < name.size(); ++i) {
    const auto c = static_cast<unsigned char>(name[i]);
    if (c < 0x20 || c == 0x7f) continue;
    // U+0080..U+009F (C1 controls) are C2 80..C2 9F in UTF-8.
    if (c == 0xc2 && i + 1 < name.size()) {
      const auto next = static_cast<unsigned char>(name[i + 1]);
      if (next >= 0x80 && next <= 0x9f) {
        ++i;
        continue;
      }
    }
    clean += static_cast<char>(c);
  }
  const auto first = clean.find_first_not_of('.');
  if (first == std::string::npos) return std::nullopt;
  clean.erase(0, first);
  constexpr std::size_t kMaxName = 200;
  if (clean.size() > kMaxName) {
    // Back to the start of a UTF-8 sequence (never cut inside one). A sequence has at
    // most 3 continuation bytes: a longer run is not UTF-8, and is cut where it stands
    // (walking back over all of it could leave nothing).
    const auto continuation = [&](std::size_t i) {
      return (static_cast<unsigned char>(clean[i]) & 0xc0) == 0x80;
    };
    std::size_t cut = kMaxName;
    while (cut > kMaxName - 3 && continuation(cut)) --cut;
    if (continuation(cut)) cut = kMaxName;
    clean.resize(cut);
  }
  return clean;
}

std::string_view to_string(TransferState state) noexcept {
  switch (state) {
    case TransferState::Preparing:
      return "preparing";
    case TransferState::Waiting:
      return "waiting";
    case TransferState::Offered:
      return "offered";
    case TransferState::Transferring:
      return "transferring";
    case TransferState::Sent:
      return "sent";
    case TransferState::Done:
      return "done";
    case TransferState::Declined:
      return "declined";
    case TransferState::Failed:
      return "failed";
  }
  return "unknown";
}

}  // namespace switchboard
