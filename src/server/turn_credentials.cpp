#include "server/turn_credentials.hpp"

#include <array>

#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace switchboard::server {

std::string base64_encode(std::string_view data) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    const std::uint32_t n = (std::uint32_t{static_cast<std::uint8_t>(data[i])} << 16) |
                            (std::uint32_t{static_cast<std::uint8_t>(data[i + 1])} << 8) |
                            std::uint32_t{static_cast<std::uint8_t>(data[i + 2])};
    out.push_back(kAlphabet[(n >> 18) & 63]);
    out.push_back(kAlphabet[(n >> 12) & 63]);
    out.push_back(kAlphabet[(n >> 6) & 63]);
    out.push_back(kAlphabet[n & 63]);
  }
  const std::size_t rest = data.size() - i;
  if (rest > 0) {
    std::uint32_t n = std::uint32_t{static_cast<std::uint8_t>(data[i])} << 16;
    if (rest == 2) n |= std::uint32_t{static_cast<std::uint8_t>(data[i + 1])} << 8;
    out.push_back(kAlphabet[(n >> 18) & 63]);
    out.push_back(kAlphabet[(n >> 12) & 63]);
    out.push_back(rest == 2 ? kAlphabet[(n >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

TurnCredentials mint_turn_credentials(std::string_view secret, std::string_view identity,
                                      std::int64_t now_unix, std::int64_t ttl_s) {
  TurnCredentials out;
  out.username = std::to_string(now_unix + ttl_s) + ":" + std::string(identity);
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  unsigned int mac_size = 0;
  // An empty key is valid for HMAC; OpenSSL wants a non-null pointer for it.
  static constexpr char kEmpty = 0;
  HMAC(EVP_sha1(), secret.empty() ? &kEmpty : secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(out.username.data()), out.username.size(), mac.data(),
       &mac_size);
  out.credential =
      base64_encode(std::string_view(reinterpret_cast<const char*>(mac.data()), mac_size));
  return out;
}

std::vector<signaling::IceServer> ice_servers_for(const ServerConfig& config,
                                                  std::string_view identity,
                                                  std::int64_t now_unix) {
  std::vector<signaling::IceServer> servers = config.ice_servers;
  if (!config.stun_urls.empty()) {
    servers.push_back(
        signaling::IceServer{.urls = config.stun_urls, .username = {}, .credential = {}});
  }
  if (!config.turn_urls.empty() && !config.turn_secret.empty()) {
    TurnCredentials minted =
        mint_turn_credentials(config.turn_secret, identity, now_unix,
                              static_cast<std::int64_t>(config.turn_credential_ttl_s));
    servers.push_back(signaling::IceServer{.urls = config.turn_urls,
                                           .username = std::move(minted.username),
                                           .credential = std::move(minted.credential)});
  }
  return servers;
}

}  // namespace switchboard::server
