// E2eeKeys: key files and passphrase stretching (include/switchboard/e2ee.hpp,
// docs/protocol.md "End-to-end encryption").

#include <algorithm>
#include <charconv>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>
#include <string>

#include <openssl/evp.h>

#include <switchboard/e2ee.hpp>

#include "core/bytes.hpp"

namespace switchboard {
namespace {

constexpr std::string_view kPassphraseSalt = "switchboard-e2ee-v1|";
constexpr std::string_view kPassphrasePrefix = "passphrase:";
// A key file is a handful of lines; anything bigger is not one.
constexpr std::uintmax_t kMaxKeyFileSize = std::uintmax_t{1024} * 1024;

std::string_view trim(std::string_view s) {
  const auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r'; };
  while (!s.empty() && blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && blank(s.back())) s.remove_suffix(1);
  return s;
}

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// RFC 4648 section 4, padded, nothing else (no whitespace, no URL alphabet), and the
// unused bits of the last group zero, so each key has one spelling.
std::optional<Bytes> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  Bytes out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    const std::size_t pad =
        last ? static_cast<std::size_t>(
                   std::count(text.begin() + static_cast<std::ptrdiff_t>(i + 2), text.end(), '='))
             : 0;
    if (pad > 2) return std::nullopt;
    std::uint32_t group = 0;
    for (std::size_t j = 0; j < 4; ++j) {
      const char c = text[i + j];
      int v = 0;
      if (j >= 4 - pad) {
        if (c != '=') return std::nullopt;
      } else if ((v = base64_value(c)) < 0) {
        return std::nullopt;
      }
      group = (group << 6) | static_cast<std::uint32_t>(v);
    }
    out.push_back(static_cast<std::uint8_t>(group >> 16));
    if (pad < 2) out.push_back(static_cast<std::uint8_t>(group >> 8));
    if (pad < 1) out.push_back(static_cast<std::uint8_t>(group));
    if ((pad == 1 && (group & 0xff) != 0) || (pad == 2 && (group & 0xffff) != 0)) {
      return std::nullopt;
    }
  }
  return out;
}

std::optional<std::uint32_t> parse_key_id(std::string_view text) {
  if (text.empty() || text.size() > 10) return std::nullopt;
  if (!std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  std::uint64_t value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  if (value > std::numeric_limits<std::uint32_t>::max()) return std::nullopt;
  return static_cast<std::uint32_t>(value);
}

Error invalid(std::string message) {
  return Error{ErrorCode::InvalidArgument, std::move(message)};
}

}  // namespace

E2eeKeys::E2eeKeys(std::vector<E2eeKey> keys, std::string call_id)
    : keys_(std::move(keys)), call_id_(std::move(call_id)) {}

const E2eeKey* E2eeKeys::find(std::uint32_t id) const {
  const auto it = std::lower_bound(keys_.begin(), keys_.end(), id,
                                   [](const E2eeKey& k, std::uint32_t v) { return k.id < v; });
  return it != keys_.end() && it->id == id ? &*it : nullptr;
}

Result<E2eeKeys> E2eeKeys::fromKeys(std::vector<E2eeKey> keys) {
  if (keys.empty()) return invalid("end-to-end encryption needs at least one key");
  std::sort(keys.begin(), keys.end(),
            [](const E2eeKey& a, const E2eeKey& b) { return a.id < b.id; });
  for (std::size_t i = 1; i < keys.size(); ++i) {
    if (keys[i].id == keys[i - 1].id) {
      return invalid("key id " + std::to_string(keys[i].id) + " is given twice");
    }
  }
  return E2eeKeys(std::move(keys), {});
}

E2eeKey E2eeKeys::deriveKey(std::uint32_t id, std::string_view passphrase,
                            std::string_view callId) {
  std::string salt(kPassphraseSalt);
  salt += callId;
  E2eeKey key{id, {}};
  // Fails only when out of memory; an all-zero key then opens nothing anyone sealed.
  (void)PKCS5_PBKDF2_HMAC(passphrase.data(), static_cast<int>(passphrase.size()),
                          reinterpret_cast<const unsigned char*>(salt.data()),
                          static_cast<int>(salt.size()),
                          static_cast<int>(kE2eePassphraseIterations), EVP_sha256(),
                          static_cast<int>(key.key.size()), key.key.data());
  return key;
}

Result<E2eeKeys> E2eeKeys::parse(std::string_view text, std::string_view callId) {
  std::vector<E2eeKey> keys;
  std::vector<std::size_t> lines;  // of each key, for the duplicate message
  bool derived = false;
  std::size_t number = 0;
  for (std::size_t pos = 0; pos <= text.size();) {
    const std::size_t end = std::min(text.find('\n', pos), text.size());
    const std::string_view line = trim(text.substr(pos, end - pos));
    pos = end + 1;
    ++number;
    const std::string where = "line " + std::to_string(number) + ": ";
    if (line.empty() || line.front() == '#') continue;
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      return invalid(where + "expected KEYID:BASE64 or KEYID:passphrase:TEXT");
    }
    const auto id = parse_key_id(line.substr(0, colon));
    if (!id) return invalid(where + "the key id must be a decimal number 0..4294967295");
    const std::string_view value = line.substr(colon + 1);
    E2eeKey key{*id, {}};
    if (value.starts_with(kPassphrasePrefix)) {
      const std::string_view passphrase = value.substr(kPassphrasePrefix.size());
      if (passphrase.empty()) return invalid(where + "the passphrase is empty");
      key = deriveKey(*id, passphrase, callId);
      derived = true;
    } else {
      const auto bytes = base64_decode(value);
      if (!bytes) {
        return invalid(where +
                       "the key is not padded standard base64 (make one with "
                       "`openssl rand -base64 32`)");
      }
      if (bytes->size() != kE2eeKeySize) {
        return invalid(where + "the key is " + std::to_string(bytes->size()) +
                       " bytes; it must be 32 (`openssl rand -base64 32`)");
      }
      std::copy(bytes->begin(), bytes->end(), key.key.begin());
    }
    for (std::size_t i = 0; i < keys.size(); ++i) {
      if (keys[i].id == key.id) {
        return invalid(where + "key id " + std::to_string(key.id) + " is already on line " +
                       std::to_string(lines[i]));
      }
    }
    keys.push_back(key);
    lines.push_back(number);
  }
  if (keys.empty()) return invalid("no key: expected lines KEYID:BASE64 or KEYID:passphrase:TEXT");
  auto result = fromKeys(std::move(keys));
  if (result && derived) result->call_id_ = std::string(callId);
  return result;
}

Result<E2eeKeys> E2eeKeys::fromFile(const std::filesystem::path& path, std::string_view callId) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec || size > kMaxKeyFileSize) {
    return invalid("cannot read the key file " + path.string() + ": " +
                   (ec ? ec.message() : std::string("larger than 1 MiB")));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in.is_open()) return invalid("cannot open the key file " + path.string());
  std::ostringstream text;
  text << in.rdbuf();
  auto keys = parse(text.str(), callId);
  if (!keys) return invalid(path.string() + " " + keys.error().message);
  return keys;
}

}  // namespace switchboard
