#include "server/config.hpp"

#include <fstream>
#include <limits>
#include <sstream>

#include <boost/asio/ip/address.hpp>
#include <nlohmann/json.hpp>
#include <toml++/toml.h>

#include "server/cluster_settings.hpp"
#include "signaling/token.hpp"
#include "switchboard/options.hpp"

namespace switchboard::server {
namespace {

using nlohmann::json;

// A week: longer-lived TURN credentials are hardly short-lived.
constexpr std::uint32_t kMaxTurnCredentialTtl = 7 * 24 * 3600;
constexpr std::size_t kMaxCalls = 1'000'000;
constexpr std::uint32_t kMaxLimit = 1'000'000;
constexpr std::uint32_t kMaxTimeout = 3600;
// Clients ping every 15 s (src/client/server_link.cpp, web/src/client/signalingSocket.ts):
// a shorter idle timeout would drop honest, quiet clients.
constexpr std::uint32_t kMinIdleTimeout = 20;

Error invalid(std::string message) {
  return {ErrorCode::InvalidArgument, std::move(message)};
}

// A TOML document as the equivalent JSON value, so one code path reads both formats.
json to_json(const toml::node& node) {
  if (const auto* t = node.as_table()) {
    json out = json::object();
    for (auto&& [key, value] : *t) out[std::string(key.str())] = to_json(value);
    return out;
  }
  if (const auto* a = node.as_array()) {
    json out = json::array();
    for (const auto& value : *a) out.push_back(to_json(value));
    return out;
  }
  if (const auto* s = node.as_string()) return s->get();
  if (const auto* i = node.as_integer()) return i->get();
  if (const auto* f = node.as_floating_point()) return f->get();
  if (const auto* b = node.as_boolean()) return b->get();
  return nullptr;  // dates and times: no key takes them, so they fail the type check
}

// Config and secret files are small. The read is bounded so that a path naming a device
// (/dev/zero) fails instead of reading forever; pipes (--secret-file <(...)) still work.
constexpr std::size_t kMaxReadFileSize = std::size_t{1024} * 1024;

Result<std::string> read_file(const std::string& path, std::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return invalid("cannot read " + std::string(what) + " " + path);
  std::string text(kMaxReadFileSize + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  const auto got = static_cast<std::size_t>(in.gcount());
  if (got > kMaxReadFileSize) {
    return invalid(std::string(what) + " " + path + " is larger than 1 MiB");
  }
  text.resize(got);
  return text;
}

Result<std::string> read_secret_file(const std::string& path) {
  auto text = read_file(path, "secret file");
  if (!text) return text;
  std::string secret = std::move(*text);
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
  if (secret.empty()) return invalid("secret file " + path + " is empty");
  return secret;
}

Result<std::string> get_string(const json& v, const std::string& key) {
  if (!v.is_string()) return invalid("config key '" + key + "' must be a string");
  return v.get<std::string>();
}

Result<std::uint64_t> get_uint(const json& v, const std::string& key, std::uint64_t max) {
  if (!v.is_number_integer() ||
      (v.is_number_integer() && !v.is_number_unsigned() && v.get<std::int64_t>() < 0)) {
    return invalid("config key '" + key + "' must be a non-negative integer");
  }
  const auto n = v.get<std::uint64_t>();
  if (n > max) {
    return invalid("config key '" + key + "' is " + std::to_string(n) + "; at most " +
                   std::to_string(max) + " is allowed");
  }
  return n;
}

Result<std::vector<std::string>> get_string_list(const json& v, const std::string& key) {
  if (!v.is_array()) return invalid("config key '" + key + "' must be a list of strings");
  std::vector<std::string> out;
  for (const json& item : v) {
    if (!item.is_string()) return invalid("config key '" + key + "' must hold strings only");
    out.push_back(item.get<std::string>());
  }
  return out;
}

Result<std::vector<signaling::IceServer>> get_ice_servers(const json& v) {
  if (!v.is_array()) return invalid("config key 'ice_servers' must be a list of tables");
  std::vector<signaling::IceServer> servers;
  for (const json& entry : v) {
    if (!entry.is_object()) return invalid("each entry of 'ice_servers' must be a table");
    signaling::IceServer server;
    for (const auto& [key, value] : entry.items()) {
      if (key == "urls") {
        if (value.is_string()) {
          server.urls.push_back(value.get<std::string>());
        } else if (value.is_array()) {
          for (const json& url : value) {
            if (!url.is_string()) return invalid("'ice_servers.urls' must hold strings");
            server.urls.push_back(url.get<std::string>());
          }
        } else {
          return invalid("'ice_servers.urls' must be a string or a list of strings");
        }
      } else if (key == "username") {
        auto s = get_string(value, "ice_servers.username");
        if (!s) return s.error();
        server.username = *s;
      } else if (key == "credential") {
        auto s = get_string(value, "ice_servers.credential");
        if (!s) return s.error();
        server.credential = *s;
      } else {
        return invalid("unknown key 'ice_servers." + key +
                       "' (expected urls, username, credential)");
      }
    }
    if (server.urls.empty()) return invalid("an entry of 'ice_servers' has no urls");
    servers.push_back(std::move(server));
  }
  return servers;
}

Result<void> validate_limits(const ServerConfig& c) {
  if (c.max_calls < 1 || c.max_calls > kMaxCalls) {
    return invalid("max_calls must be 1.." + std::to_string(kMaxCalls) + ", not " +
                   std::to_string(c.max_calls));
  }
  if (c.join_rate_per_address > kMaxLimit || c.join_burst_per_address > kMaxLimit ||
      c.max_connections_per_address > kMaxLimit) {
    return invalid("per-address limits must be at most " + std::to_string(kMaxLimit));
  }
  if (c.join_rate_per_address > 0 && c.join_burst_per_address < 1) {
    return invalid("join_burst_per_address must be at least 1 when join_rate_per_address is set");
  }
  const std::pair<std::string_view, std::uint32_t> timeouts[] = {
      {"http_request_timeout_s", c.http_request_timeout_s},
      {"join_timeout_s", c.join_timeout_s},
      {"data_connect_timeout_s", c.data_connect_timeout_s},
      {"signaling_idle_timeout_s", c.signaling_idle_timeout_s}};
  for (const auto& [key, value] : timeouts) {
    if (value < 1 || value > kMaxTimeout) {
      return invalid(std::string(key) + " must be 1.." + std::to_string(kMaxTimeout) +
                     " seconds, not " + std::to_string(value));
    }
  }
  if (c.signaling_idle_timeout_s < kMinIdleTimeout) {
    return invalid("signaling_idle_timeout_s must be at least " + std::to_string(kMinIdleTimeout) +
                   " s: clients ping every 15 s, a shorter timeout drops quiet ones");
  }
  return {};
}

Result<void> apply_json(const json& doc, ServerConfig& c) {
  if (!doc.is_object()) return invalid("the config file must hold a table of settings");
  for (const auto& item : doc.items()) {
    const std::string& key = item.key();
    const json& v = item.value();
    Result<void> r;
    auto set_string = [&](std::string& field) -> Result<void> {
      auto s = get_string(v, key);
      if (!s) return s.error();
      field = std::move(*s);
      return {};
    };
    auto set_uint = [&](auto& field, std::uint64_t max) -> Result<void> {
      auto n = get_uint(v, key, max);
      if (!n) return n.error();
      field = static_cast<std::remove_reference_t<decltype(field)>>(*n);
      return {};
    };
    if (key == "bind") {
      r = set_string(c.bind);
    } else if (key == "port") {
      r = set_uint(c.port, 65535);
    } else if (key == "public_ip") {
      r = set_string(c.public_ip);
    } else if (key == "secret") {
      r = set_string(c.secret);
    } else if (key == "secret_file") {
      auto path = get_string(v, key);
      if (!path) return path.error();
      auto secret = read_secret_file(*path);
      if (!secret) return secret.error();
      c.secret = std::move(*secret);
    } else if (key == "dev") {
      if (!v.is_boolean()) return invalid("config key 'dev' must be true or false");
      c.dev = v.get<bool>();
    } else if (key == "max_message_size") {
      r = set_uint(c.max_message_size, std::numeric_limits<std::uint32_t>::max());
    } else if (key == "rate_limit_bytes_per_second") {
      r = set_uint(c.rate_limit_bytes_per_second, std::numeric_limits<std::uint32_t>::max());
    } else if (key == "rate_limit_messages_per_second") {
      r = set_uint(c.rate_limit_messages_per_second, std::numeric_limits<std::uint32_t>::max());
    } else if (key == "latency_target_ms") {
      r = set_uint(c.latency_target_ms, 3'600'000);
    } else if (key == "durable_queue_bytes") {
      r = set_uint(c.durable_queue_bytes, std::uint64_t{1} << 40);
    } else if (key == "resume_grace_ms") {
      r = set_uint(c.resume_grace_ms, 3'600'000);
    } else if (key == "max_participants_per_call") {
      r = set_uint(c.max_participants_per_call, signaling::kMaxParticipants);
    } else if (key == "max_calls") {
      r = set_uint(c.max_calls, kMaxCalls);
    } else if (key == "max_connections_per_address") {
      r = set_uint(c.max_connections_per_address, kMaxLimit);
    } else if (key == "join_rate_per_address") {
      r = set_uint(c.join_rate_per_address, kMaxLimit);
    } else if (key == "join_burst_per_address") {
      r = set_uint(c.join_burst_per_address, kMaxLimit);
    } else if (key == "http_request_timeout_s") {
      r = set_uint(c.http_request_timeout_s, kMaxTimeout);
    } else if (key == "join_timeout_s") {
      r = set_uint(c.join_timeout_s, kMaxTimeout);
    } else if (key == "data_connect_timeout_s") {
      r = set_uint(c.data_connect_timeout_s, kMaxTimeout);
    } else if (key == "signaling_idle_timeout_s") {
      r = set_uint(c.signaling_idle_timeout_s, kMaxTimeout);
    } else if (key == "ice_servers") {
      auto servers = get_ice_servers(v);
      if (!servers) return servers.error();
      c.ice_servers = std::move(*servers);
    } else if (key == "stun_urls" || key == "turn_urls") {
      auto urls = get_string_list(v, key);
      if (!urls) return urls.error();
      (key == "stun_urls" ? c.stun_urls : c.turn_urls) = std::move(*urls);
    } else if (key == "turn_secret") {
      r = set_string(c.turn_secret);
    } else if (key == "turn_secret_file") {
      auto path = get_string(v, key);
      if (!path) return path.error();
      auto secret = read_secret_file(*path);
      if (!secret) return secret.error();
      c.turn_secret = std::move(*secret);
    } else if (key == "turn_credential_ttl_s") {
      r = set_uint(c.turn_credential_ttl_s, kMaxTurnCredentialTtl);
    } else if (key == "trace_frames") {
      r = set_string(c.trace_frames);
    } else if (key == "log_level") {
      r = set_string(c.log_level);
    } else if (key == "web_root") {
      r = set_string(c.web_root);
    } else if (key == "redis") {
      r = set_string(c.redis);
    } else if (key == "node_id") {
      r = set_string(c.node_id);
    } else if (key == "public_url") {
      r = set_string(c.public_url);
    } else if (key == "tls_cert") {
      r = set_string(c.tls_cert);
    } else if (key == "tls_key") {
      r = set_string(c.tls_key);
    } else {
      return invalid("unknown config key '" + key + "'");
    }
    if (!r) return r;
  }
  return {};
}

}  // namespace

std::string default_web_root() {
#ifdef SWITCHBOARD_WEB_ROOT
  return SWITCHBOARD_WEB_ROOT;
#else
  return {};
#endif
}

bool is_loopback_address(std::string_view ip) {
  boost::system::error_code ec;
  auto address = boost::asio::ip::make_address(std::string(ip), ec);
  return !ec && address.is_loopback();
}

Result<void> apply_config_text(std::string_view text, ConfigFormat format, ServerConfig& config) {
  json doc;
  if (format == ConfigFormat::Json) {
    doc = json::parse(text, nullptr, false);
    if (doc.is_discarded()) return invalid("config file is not valid JSON");
  } else {
    try {
      toml::table table = toml::parse(text);
      doc = to_json(table);
    } catch (const toml::parse_error& e) {
      std::ostringstream message;
      message << "config file is not valid TOML: " << e.description() << " (line "
              << e.source().begin.line << ")";
      return invalid(message.str());
    }
  }
  return apply_json(doc, config);
}

Result<void> apply_config_file(const std::string& path, ServerConfig& config) {
  ConfigFormat format;
  auto ends_with = [&](std::string_view suffix) {
    return path.size() >= suffix.size() &&
           path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  if (ends_with(".toml")) {
    format = ConfigFormat::Toml;
  } else if (ends_with(".json")) {
    format = ConfigFormat::Json;
  } else {
    return invalid("config file " + path + " must end in .toml or .json");
  }
  auto text = read_file(path, "config file");
  if (!text) return text.error();
  auto r = apply_config_text(*text, format, config);
  if (!r) return invalid(path + ": " + r.error().message);
  return {};
}

Result<ServerConfig> resolve_config(const ConfigOverrides& o,
                                    std::optional<std::string> env_secret) {
  ServerConfig c;
  if (o.config_file) {
    auto r = apply_config_file(*o.config_file, c);
    if (!r) return r.error();
  }
  if (o.bind) c.bind = *o.bind;
  if (o.port) c.port = *o.port;
  if (o.public_ip) c.public_ip = *o.public_ip;
  if (o.secret_file) {
    auto secret = read_secret_file(*o.secret_file);
    if (!secret) return secret.error();
    c.secret = std::move(*secret);
  }
  if (o.dev) c.dev = true;
  if (o.trace_frames) c.trace_frames = *o.trace_frames;
  if (o.max_message_size) c.max_message_size = *o.max_message_size;
  if (o.rate_limit_bytes_per_second) c.rate_limit_bytes_per_second = *o.rate_limit_bytes_per_second;
  if (o.rate_limit_messages_per_second) {
    c.rate_limit_messages_per_second = *o.rate_limit_messages_per_second;
  }
  if (o.latency_target_ms) c.latency_target_ms = *o.latency_target_ms;
  if (o.durable_queue_bytes) c.durable_queue_bytes = *o.durable_queue_bytes;
  if (o.max_participants_per_call) c.max_participants_per_call = *o.max_participants_per_call;
  if (o.max_calls) c.max_calls = *o.max_calls;
  if (o.max_connections_per_address) {
    c.max_connections_per_address = *o.max_connections_per_address;
  }
  if (o.join_rate_per_address) c.join_rate_per_address = *o.join_rate_per_address;
  if (o.join_burst_per_address) c.join_burst_per_address = *o.join_burst_per_address;
  if (o.http_request_timeout_s) c.http_request_timeout_s = *o.http_request_timeout_s;
  if (o.join_timeout_s) c.join_timeout_s = *o.join_timeout_s;
  if (o.data_connect_timeout_s) c.data_connect_timeout_s = *o.data_connect_timeout_s;
  if (o.signaling_idle_timeout_s) c.signaling_idle_timeout_s = *o.signaling_idle_timeout_s;
  if (o.resume_grace_ms) c.resume_grace_ms = *o.resume_grace_ms;
  if (o.stun_urls) c.stun_urls = *o.stun_urls;
  if (o.turn_urls) c.turn_urls = *o.turn_urls;
  if (o.turn_secret_file) {
    auto secret = read_secret_file(*o.turn_secret_file);
    if (!secret) return secret.error();
    c.turn_secret = std::move(*secret);
  }
  if (o.turn_credential_ttl_s) c.turn_credential_ttl_s = *o.turn_credential_ttl_s;
  if (o.log_level) c.log_level = *o.log_level;
  if (o.web_root) c.web_root = *o.web_root;
  if (o.redis) c.redis = *o.redis;
  if (o.node_id) c.node_id = *o.node_id;
  if (o.public_url) c.public_url = *o.public_url;
  if (o.tls_cert) c.tls_cert = *o.tls_cert;
  if (o.tls_key) c.tls_key = *o.tls_key;
  if (c.secret.empty() && env_secret && !env_secret->empty()) c.secret = std::move(*env_secret);
  auto r = validate(c);
  if (!r) return r.error();
  return c;
}

Result<void> validate(ServerConfig& c) {
  boost::system::error_code ec;
  auto bind = boost::asio::ip::make_address(c.bind, ec);
  if (ec) return invalid("bind address '" + c.bind + "' is not an IP address");
  if (c.public_ip.empty()) {
    if (bind.is_unspecified()) {
      c.public_ip = bind.is_v6() ? "::1" : "127.0.0.1";
    } else {
      c.public_ip = c.bind;
    }
  }
  auto public_ip = boost::asio::ip::make_address(c.public_ip, ec);
  if (ec || public_ip.is_unspecified()) {
    return invalid("public IP '" + c.public_ip + "' is not a usable IP address");
  }
  if (c.dev) {
    if (!bind.is_loopback()) {
      return invalid(
          "--dev uses the public development secret, so it only binds to a loopback "
          "address (127.0.0.1 or ::1), not " +
          c.bind + "; give a real secret with --secret-file or SWITCHBOARD_SECRET");
    }
    c.secret = std::string(signaling::kDevelopmentSecret);
  } else if (c.secret.empty()) {
    return invalid(
        "no token secret: pass --secret-file FILE or set SWITCHBOARD_SECRET (or use "
        "--dev on a loopback address for development)");
  }
  if (c.tls_cert.empty() != c.tls_key.empty()) {
    return invalid(
        "TLS needs both a certificate and its key: give --tls-cert and --tls-key "
        "(tls_cert and tls_key), or neither for plain TCP");
  }
  if (c.max_message_size < 1 || c.max_message_size > kLargestMaxMessageSize) {
    return invalid("max_message_size must be 1.." + std::to_string(kLargestMaxMessageSize) +
                   " bytes, not " + std::to_string(c.max_message_size));
  }
  if (c.rate_limit_bytes_per_second > std::numeric_limits<std::uint32_t>::max() ||
      c.rate_limit_messages_per_second > std::numeric_limits<std::uint32_t>::max()) {
    return invalid("rate limits must fit in 32 bits (0 = unlimited)");
  }
  if (c.latency_target_ms < 1) return invalid("latency_target_ms must be at least 1");
  if (c.durable_queue_bytes < std::size_t{64} * 1024) {
    return invalid("durable_queue_bytes must be at least 65536, not " +
                   std::to_string(c.durable_queue_bytes));
  }
  if (c.max_participants_per_call < 1 ||
      c.max_participants_per_call > signaling::kMaxParticipants) {
    return invalid("max_participants_per_call must be 1.." +
                   std::to_string(signaling::kMaxParticipants));
  }
  if (auto r = validate_limits(c); !r) return r;
  if (c.ice_servers.size() > signaling::kMaxIceServers) {
    return invalid("at most " + std::to_string(signaling::kMaxIceServers) + " ice_servers");
  }
  for (const auto& server : c.ice_servers) {
    if (server.urls.size() > signaling::kMaxIceUrls) {
      return invalid("an ice_servers entry has more than " +
                     std::to_string(signaling::kMaxIceUrls) + " urls");
    }
  }
  auto check_urls = [](const std::vector<std::string>& urls, std::string_view key,
                       std::initializer_list<std::string_view> schemes) -> Result<void> {
    if (urls.size() > signaling::kMaxIceUrls) {
      return invalid(std::string(key) + " has more than " + std::to_string(signaling::kMaxIceUrls) +
                     " urls");
    }
    for (const std::string& url : urls) {
      bool ok = false;
      for (auto scheme : schemes) {
        ok = ok || (url.size() > scheme.size() && url.starts_with(scheme));
      }
      if (!ok || url.size() > signaling::kMaxShortStringSize) {
        return invalid(std::string(key) + ": '" + url + "' is not a " +
                       std::string(*schemes.begin()) + "host[:port] url");
      }
    }
    return {};
  };
  if (auto r = check_urls(c.stun_urls, "stun_urls", {"stun:", "stuns:"}); !r) return r;
  if (auto r = check_urls(c.turn_urls, "turn_urls", {"turn:", "turns:"}); !r) return r;
  if (!c.turn_urls.empty() && c.turn_secret.empty()) {
    return invalid(
        "turn_urls need a TURN secret (coturn's static-auth-secret): set turn_secret or "
        "pass --turn-secret-file FILE");
  }
  if (c.turn_urls.empty() && !c.turn_secret.empty()) {
    return invalid("a TURN secret is set but no turn_urls: give the TURN server's urls");
  }
  if (c.turn_credential_ttl_s < 1 || c.turn_credential_ttl_s > kMaxTurnCredentialTtl) {
    return invalid("turn_credential_ttl_s must be 1.." + std::to_string(kMaxTurnCredentialTtl) +
                   " seconds, not " + std::to_string(c.turn_credential_ttl_s));
  }
  const std::size_t ice_entries =
      c.ice_servers.size() + (c.stun_urls.empty() ? 0 : 1) + (c.turn_urls.empty() ? 0 : 1);
  if (ice_entries > signaling::kMaxIceServers) {
    return invalid("at most " + std::to_string(signaling::kMaxIceServers) +
                   " ice_servers entries, counting one for stun_urls and one for turn_urls");
  }
  static constexpr std::string_view kLevels[] = {"trace", "debug",    "info", "warn",
                                                 "error", "critical", "off"};
  bool level_ok = false;
  for (auto level : kLevels) level_ok = level_ok || c.log_level == level;
  if (!level_ok) {
    return invalid("log_level '" + c.log_level +
                   "' is not one of trace, debug, info, warn, error, critical, off");
  }
  return validate_cluster_settings(c);
}

}  // namespace switchboard::server
