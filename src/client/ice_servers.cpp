#include "client/ice_servers.hpp"

#include <charconv>
#include <string_view>

namespace switchboard::client {
namespace {

struct HostPort {
  std::string host;  // IPv6 keeps its brackets off: "::1"
  std::uint16_t port = 3478;
};

Error bad_uri(std::string_view uri, std::string_view why) {
  return Error{ErrorCode::InvalidArgument,
               "ICE server URI \"" + std::string(uri) + "\": " + std::string(why)};
}

// "host", "host:port", "[v6]", "[v6]:port".
Result<HostPort> parse_host_port(std::string_view text, std::string_view uri) {
  HostPort out;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return bad_uri(uri, "unterminated IPv6 address");
    out.host = std::string(text.substr(1, close - 1));
    const std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return bad_uri(uri, "junk after the IPv6 address");
      port = rest.substr(1);
    }
  } else {
    const auto colon = text.find(':');
    out.host = std::string(text.substr(0, colon));
    if (colon != std::string_view::npos) port = text.substr(colon + 1);
  }
  if (out.host.empty()) return bad_uri(uri, "no host");
  if (!port.empty() || text.back() == ':') {
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc{} || end != port.data() + port.size() || value == 0 || value > 65535) {
      return bad_uri(uri, "port must be 1..65535");
    }
    out.port = static_cast<std::uint16_t>(value);
  }
  return out;
}

std::string host_port_text(const HostPort& hp) {
  const bool v6 = hp.host.find(':') != std::string::npos;
  return (v6 ? "[" + hp.host + "]" : hp.host) + ":" + std::to_string(hp.port);
}

}  // namespace

Result<webrtc::IceServerConfig> to_ice_config(const std::vector<signaling::IceServer>& servers) {
  webrtc::IceServerConfig config;
  for (const auto& server : servers) {
    for (const std::string& uri : server.urls) {
      const std::string_view text(uri);
      const auto colon = text.find(':');
      if (colon == std::string_view::npos) return bad_uri(uri, "no scheme");
      const std::string_view scheme = text.substr(0, colon);
      std::string_view rest = text.substr(colon + 1);
      std::string_view query;
      if (const auto q = rest.find('?'); q != std::string_view::npos) {
        query = rest.substr(q + 1);
        rest = rest.substr(0, q);
      }
      if (scheme == "stuns" || scheme == "turns") continue;  // TLS: not with libnice's UDP
      if (scheme != "stun" && scheme != "turn") return bad_uri(uri, "unknown scheme");
      auto host = parse_host_port(rest, uri);
      if (!host) return std::move(host).error();
      if (scheme == "stun") {
        if (!query.empty()) return bad_uri(uri, "stun: takes no query");
        config.stun_servers.push_back(host_port_text(*host));
        continue;
      }
      if (!query.empty() && query != "transport=udp") {
        if (query == "transport=tcp") continue;  // we relay over UDP only
        return bad_uri(uri, "the only query is ?transport=udp or ?transport=tcp");
      }
      if (!server.username || !server.credential) continue;  // cannot authenticate
      config.turn_servers.push_back({host->host, host->port, *server.username, *server.credential});
    }
  }
  return config;
}

}  // namespace switchboard::client
