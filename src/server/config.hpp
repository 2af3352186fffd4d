#pragma once

// The server's settings: defaults, a TOML or JSON file (`--config`), command-line
// overrides, and the checks that refuse a configuration that cannot work.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "signaling/messages.hpp"
#include "switchboard/result.hpp"

namespace switchboard::server {

// Where the build put the Web SDK bundle and the demo (SWITCHBOARD_WEB_ROOT at compile
// time: the source tree's web/dist unless configured otherwise).
std::string default_web_root();

struct ServerConfig {
  std::string bind = "127.0.0.1";
  // 0 = any port that is free for both TCP and UDP.
  std::uint16_t port = 8480;
  // The address announced in ICE candidates; empty = derived from `bind` (see resolve).
  std::string public_ip;
  std::string secret;  // HS256 secret for access tokens
  bool dev = false;    // use signaling::kDevelopmentSecret; loopback only
  std::size_t max_message_size = 262144;
  std::uint64_t rate_limit_bytes_per_second = 12'500'000;  // 0 = unlimited
  std::uint64_t rate_limit_messages_per_second = 50'000;   // 0 = unlimited
  std::uint32_t latency_target_ms = 100;
  std::size_t durable_queue_bytes = std::size_t{8} * 1024 * 1024;
  std::size_t max_participants_per_call = 1000;
  // Limits against abuse (apps/switchboard-server/README.md, "Limits"); each refusal is
  // counted in switchboard_refused_total.
  std::size_t max_calls = 10000;                   // a join creating one more: SERVER_FULL
  std::uint32_t max_connections_per_address = 64;  // open TCP connections; 0 = unlimited
  std::uint32_t join_rate_per_address = 20;        // join attempts per second; 0 = unlimited
  std::uint32_t join_burst_per_address = 40;       // ... of which this many at once
  std::uint32_t http_request_timeout_s = 10;       // a whole HTTP request (or upgrade)
  std::uint32_t join_timeout_s = 10;               // WebSocket open to a successful join
  std::uint32_t data_connect_timeout_s = 15;       // answer to data channels up
  std::uint32_t signaling_idle_timeout_s = 60;     // clients ping every 15 s
  // A resumable participant whose connection dies without `leave` is kept this long
  // (others see no leave; messages to it wait in its durable queue); 0 = leave at once.
  std::uint32_t resume_grace_ms = 30'000;
  std::vector<signaling::IceServer> ice_servers;
  // Handed to every client in `joined.iceServers` (see turn_credentials.hpp): the STUN
  // urls as one entry, the TURN urls with credentials minted per join as another.
  std::vector<std::string> stun_urls;  // "stun:host:port"
  std::vector<std::string> turn_urls;  // "turn:host:port?transport=udp"
  // coturn's static-auth-secret (use-auth-secret); required with turn_urls and only then.
  std::string turn_secret;
  std::uint32_t turn_credential_ttl_s = 3600;
  std::string trace_frames;  // path; empty = off
  std::string log_level = "info";
  // Served at /sdk/ and / (static_files.hpp); empty = none. A missing directory is no
  // error: those routes answer 404 saying so.
  std::string web_root = default_web_root();
  // Scale-out (docs/scaling.md): empty redis = one node on its own, as without a cluster.
  std::string redis;       // redis://HOST:PORT[/DB]
  std::string node_id;     // required with redis
  std::string public_url;  // handed to redirected clients; empty = ws://public_ip:port
  // PEM files; both set = the TCP port speaks only TLS (https://, wss://). Both or neither.
  std::string tls_cert;  // the server's certificate, then any intermediates
  std::string tls_key;   // its private key, unencrypted
};

// What the command line (or a test) sets; unset fields keep the file's or default value.
struct ConfigOverrides {
  std::optional<std::string> config_file;
  std::optional<std::string> bind;
  std::optional<std::uint16_t> port;
  std::optional<std::string> public_ip;
  std::optional<std::string> secret_file;
  bool dev = false;
  std::optional<std::string> trace_frames;
  std::optional<std::size_t> max_message_size;
  std::optional<std::uint64_t> rate_limit_bytes_per_second;
  std::optional<std::uint64_t> rate_limit_messages_per_second;
  std::optional<std::uint32_t> latency_target_ms;
  std::optional<std::size_t> durable_queue_bytes;
  std::optional<std::size_t> max_participants_per_call;
  std::optional<std::size_t> max_calls;
  std::optional<std::uint32_t> max_connections_per_address;
  std::optional<std::uint32_t> join_rate_per_address;
  std::optional<std::uint32_t> join_burst_per_address;
  std::optional<std::uint32_t> http_request_timeout_s;
  std::optional<std::uint32_t> join_timeout_s;
  std::optional<std::uint32_t> data_connect_timeout_s;
  std::optional<std::uint32_t> signaling_idle_timeout_s;
  std::optional<std::uint32_t> resume_grace_ms;
  std::optional<std::vector<std::string>> stun_urls;
  std::optional<std::vector<std::string>> turn_urls;
  std::optional<std::string> turn_secret_file;
  std::optional<std::uint32_t> turn_credential_ttl_s;
  std::optional<std::string> log_level;
  std::optional<std::string> web_root;
  std::optional<std::string> redis;
  std::optional<std::string> node_id;
  std::optional<std::string> public_url;
  std::optional<std::string> tls_cert;
  std::optional<std::string> tls_key;
};

enum class ConfigFormat : std::uint8_t { Toml, Json };

// Applies the keys of a TOML or JSON document to `config`. Unknown keys and values of
// the wrong type are errors that name the key. `secret_file` and `turn_secret_file` are
// read here.
Result<void> apply_config_text(std::string_view text, ConfigFormat format, ServerConfig& config);
// By extension: .toml or .json.
Result<void> apply_config_file(const std::string& path, ServerConfig& config);

// Defaults, then the file, then the overrides, then the secret from the environment
// (`env_secret`, SWITCHBOARD_SECRET) when none was given; then validate().
Result<ServerConfig> resolve_config(const ConfigOverrides& overrides,
                                    std::optional<std::string> env_secret);

// Every rule a running server relies on. Fills in public_ip when empty.
Result<void> validate(ServerConfig& config);

bool is_loopback_address(std::string_view ip);

}  // namespace switchboard::server
