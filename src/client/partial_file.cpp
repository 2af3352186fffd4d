// A receiver's record of which offer a partial file belongs to (client/partial_file.hpp).

#include "client/partial_file.hpp"

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "client/file_messages.hpp"

namespace switchboard::client::files {
namespace {

constexpr std::size_t kMaxMetaSize = 4096;

bool is_lower_hex(std::string_view text, std::size_t length) {
  if (text.size() != length) return false;
  for (const char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

std::filesystem::path partial_meta_path(const std::filesystem::path& part) {
  auto meta = part;
  meta.replace_extension(".meta");
  return meta;
}

std::string encode_partial_offer(const PartialOffer& offer) {
  nlohmann::ordered_json json = {{"from", offer.from},
                                 {"id", offer.id},
                                 {"size", offer.size},
                                 {"sha256", offer.sha256}};
  return json.dump() + "\n";
}

std::optional<PartialOffer> decode_partial_offer(std::string_view text) {
  const auto json = nlohmann::json::parse(text, nullptr, false);
  if (!json.is_object()) return std::nullopt;
  const auto from = json.find("from");
  const auto id = json.find("id");
  const auto size = json.find("size");
  const auto sha256 = json.find("sha256");
  if (from == json.end() || !from->is_string() || id == json.end() || !id->is_string() ||
      size == json.end() || !size->is_number_unsigned() || sha256 == json.end() ||
      !sha256->is_string()) {
    return std::nullopt;
  }
  PartialOffer offer{.from = from->get<std::string>(),
                     .id = id->get<std::string>(),
                     .size = size->get<std::uint64_t>(),
                     .sha256 = sha256->get<std::string>()};
  if (offer.from.empty() || !is_transfer_id(offer.id) || offer.size > kMaxOffset ||
      !is_lower_hex(offer.sha256, 64)) {
    return std::nullopt;
  }
  return offer;
}

std::optional<PartialOffer> read_partial_offer(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string text(kMaxMetaSize + 1, '\0');
  std::size_t have = 0;
  while (have < text.size()) {
    const auto n = ::read(fd, text.data() + have, text.size() - have);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    have += static_cast<std::size_t>(n);
  }
  ::close(fd);
  if (have > kMaxMetaSize) return std::nullopt;
  text.resize(have);
  return decode_partial_offer(text);
}

bool write_partial_offer(const std::filesystem::path& path, const PartialOffer& offer,
                         std::string& error) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) {
    error = "cannot write " + path.string() + ": " + std::strerror(errno);
    return false;
  }
  const std::string text = encode_partial_offer(offer);
  std::size_t done = 0;
  while (done < text.size()) {
    const auto n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error = "cannot write " + path.string() + ": " + std::strerror(n < 0 ? errno : ENOSPC);
      ::close(fd);
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  if (::close(fd) != 0) {
    error = "cannot write " + path.string() + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

}  // namespace switchboard::client::files
