// `switchboard-server`: the call server. Flags override the --config file; see
// src/server/config.hpp for every setting and its default.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "cluster_command.hpp"
#include "server/config.hpp"
#include "server/server.hpp"

namespace {

constexpr int kConfigError = 2;

int run(int argc, char** argv);

}  // namespace

int main(int argc, char** argv) {
  // Nothing on the message path throws; this catches what the libraries might at startup.
  try {
    if (argc >= 2 && std::string_view(argv[1]) == "cluster") {
      return switchboard::server_app::run_cluster_command(argc - 1, argv + 1);
    }
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "switchboard-server: " << e.what() << "\n";
    return 1;
  }
}

namespace {

int run(int argc, char** argv) {
  using switchboard::server::ConfigOverrides;
  CLI::App app{"switchboard-server: relays DataChannel messages between the participants of calls"};
  ConfigOverrides o;
  std::string config_file, bind, public_ip, secret_file, trace_frames, log_level, web_root;
  std::string tls_cert, tls_key;
  std::uint16_t port = 0;
  std::size_t max_message_size = 0, durable_queue_bytes = 0, max_participants = 0;
  std::uint64_t rate_bytes = 0, rate_messages = 0;
  std::uint32_t latency_target_ms = 0, resume_grace_ms = 0;
  std::vector<std::string> stun_urls, turn_urls;
  std::string turn_secret_file;
  std::uint32_t turn_ttl = 0;
  std::size_t max_calls = 0;
  std::uint32_t max_connections = 0, join_rate = 0, join_burst = 0, http_timeout = 0,
                join_timeout = 0, data_timeout = 0, idle_timeout = 0;
  auto* config_opt = app.add_option("--config", config_file, "settings file (.toml or .json)");
  auto* bind_opt = app.add_option("--bind", bind, "address to listen on (default 127.0.0.1)");
  auto* port_opt = app.add_option(
      "--port", port, "TCP (HTTP, WebSocket) and UDP (WebRTC) port; 0 = any free (default 8480)");
  auto* public_ip_opt =
      app.add_option("--public-ip", public_ip, "address announced in ICE candidates");
  auto* secret_opt = app.add_option("--secret-file", secret_file,
                                    "file holding the token secret (else SWITCHBOARD_SECRET)");
  app.add_flag("--dev", o.dev, "use the public development secret; loopback addresses only");
  auto* trace_opt = app.add_option("--trace-frames", trace_frames,
                                   "append one line per relayed frame to this file");
  auto* mms_opt = app.add_option("--max-message-size", max_message_size,
                                 "largest DataChannel message in bytes (default 262144)");
  auto* rb_opt = app.add_option("--rate-limit-bytes", rate_bytes,
                                "per-participant bytes/s, 0 = unlimited (default 12500000)");
  auto* rm_opt = app.add_option("--rate-limit-messages", rate_messages,
                                "per-participant messages/s, 0 = unlimited (default 50000)");
  auto* lt_opt = app.add_option("--latency-target-ms", latency_target_ms,
                                "lossy frames waiting longer are dropped (default 100)");
  auto* dq_opt =
      app.add_option("--durable-queue-bytes", durable_queue_bytes,
                     "durable backlog per recipient before it is cut off (default 8 MiB)");
  auto* rg_opt = app.add_option(
      "--resume-grace-ms", resume_grace_ms,
      "ms a participant whose connection died is kept for it to resume (default 30000)");
  auto* mp_opt = app.add_option("--max-participants", max_participants,
                                "participants per call (default 1000)");
  auto* mc_opt = app.add_option("--max-calls", max_calls,
                                "calls on this server; a join creating one more gets SERVER_FULL "
                                "(default 10000)");
  auto* mca_opt = app.add_option("--max-connections-per-address", max_connections,
                                 "open TCP connections per source address, 0 = unlimited "
                                 "(default 64)");
  auto* jr_opt = app.add_option("--join-rate", join_rate,
                                "join attempts per second per source address, 0 = unlimited "
                                "(default 20)");
  auto* jb_opt = app.add_option("--join-burst", join_burst,
                                "join attempts at once per source address (default 40)");
  auto* ht_opt = app.add_option("--http-request-timeout", http_timeout,
                                "seconds to receive a whole HTTP request or upgrade (default 10)");
  auto* jt_opt = app.add_option("--join-timeout", join_timeout,
                                "seconds from WebSocket open to a successful join (default 10)");
  auto* dt_opt = app.add_option("--data-connect-timeout", data_timeout,
                                "seconds from the answer to an open data connection (default 15)");
  auto* it_opt = app.add_option("--idle-timeout", idle_timeout,
                                "seconds a signaling connection may stay silent, at least 20 "
                                "(default 60)");
  auto* stun_opt = app.add_option("--stun-url", stun_urls,
                                  "STUN url for clients (repeatable; replaces stun_urls)");
  auto* turn_opt = app.add_option("--turn-url", turn_urls,
                                  "TURN url for clients (repeatable; replaces turn_urls)");
  auto* turn_secret_opt = app.add_option("--turn-secret-file", turn_secret_file,
                                         "file holding the TURN server's static-auth-secret");
  auto* turn_ttl_opt = app.add_option("--turn-credential-ttl", turn_ttl,
                                      "seconds a minted TURN credential is valid (default 3600)");
  auto* web_root_opt = app.add_option(
      "--web-root", web_root,
      "directory of the Web SDK bundle and demo, served at /sdk/ and / (default: the build's "
      "web/dist)");
  std::string redis, node_id, public_url;
  auto* redis_opt = app.add_option(
      "--redis", redis,
      "join a cluster of nodes coordinated through this Redis (redis://HOST:PORT[/DB]); "
      "without it the server runs on its own");
  auto* node_id_opt = app.add_option("--node-id", node_id, "this node's name in the cluster");
  auto* public_url_opt = app.add_option(
      "--public-url", public_url,
      "URL other nodes redirect this node's callers to (default ws://PUBLIC_IP:PORT)");
  auto* tls_cert_opt =
      app.add_option("--tls-cert", tls_cert,
                     "PEM certificate chain: the TCP port then speaks only TLS (https://, wss://)");
  auto* tls_key_opt =
      app.add_option("--tls-key", tls_key, "PEM private key of --tls-cert (unencrypted)");
  auto* ll_opt = app.add_option("--log-level", log_level,
                                "trace, debug, info, warn, error, critical, off (default info)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : kConfigError;
  }
  if (*config_opt) o.config_file = config_file;
  if (*bind_opt) o.bind = bind;
  if (*port_opt) o.port = port;
  if (*public_ip_opt) o.public_ip = public_ip;
  if (*secret_opt) o.secret_file = secret_file;
  if (*trace_opt) o.trace_frames = trace_frames;
  if (*mms_opt) o.max_message_size = max_message_size;
  if (*rb_opt) o.rate_limit_bytes_per_second = rate_bytes;
  if (*rm_opt) o.rate_limit_messages_per_second = rate_messages;
  if (*lt_opt) o.latency_target_ms = latency_target_ms;
  if (*dq_opt) o.durable_queue_bytes = durable_queue_bytes;
  if (*mp_opt) o.max_participants_per_call = max_participants;
  if (*mc_opt) o.max_calls = max_calls;
  if (*mca_opt) o.max_connections_per_address = max_connections;
  if (*jr_opt) o.join_rate_per_address = join_rate;
  if (*jb_opt) o.join_burst_per_address = join_burst;
  if (*ht_opt) o.http_request_timeout_s = http_timeout;
  if (*jt_opt) o.join_timeout_s = join_timeout;
  if (*dt_opt) o.data_connect_timeout_s = data_timeout;
  if (*it_opt) o.signaling_idle_timeout_s = idle_timeout;
  if (*rg_opt) o.resume_grace_ms = resume_grace_ms;
  if (*stun_opt) o.stun_urls = stun_urls;
  if (*turn_opt) o.turn_urls = turn_urls;
  if (*turn_secret_opt) o.turn_secret_file = turn_secret_file;
  if (*turn_ttl_opt) o.turn_credential_ttl_s = turn_ttl;
  if (*ll_opt) o.log_level = log_level;
  if (*web_root_opt) o.web_root = web_root;
  if (*redis_opt) o.redis = redis;
  if (*node_id_opt) o.node_id = node_id;
  if (*public_url_opt) o.public_url = public_url;
  if (*tls_cert_opt) o.tls_cert = tls_cert;
  if (*tls_key_opt) o.tls_key = tls_key;

  std::optional<std::string> env_secret;
  if (const char* s = std::getenv("SWITCHBOARD_SECRET")) env_secret = s;
  auto config = switchboard::server::resolve_config(o, env_secret);
  if (!config) {
    std::cerr << "switchboard-server: " << config.error().message << "\n";
    return kConfigError;
  }

  auto logger = spdlog::stderr_color_mt("switchboard-server");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(config->log_level));
  if (config->dev) {
    spdlog::warn("--dev: tokens signed with the public development secret are accepted");
  }

  if (std::error_code ec;
      !config->web_root.empty() && !std::filesystem::is_directory(config->web_root, ec)) {
    spdlog::warn(
        "web root {} not found: / and /sdk/switchboard.js answer 404 (build it with `npm "
        "--prefix web run build` or pass --web-root DIR)",
        config->web_root);
  }

  boost::asio::io_context io(1);
  switchboard::server::Server server(io, *config);
  // Installed before the "listening" line, so a signal right after it is handled.
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    spdlog::info("signal {}: shutting down", signal);
    server.shutdown("server shutting down", [&io] { io.stop(); });
    // A second signal does not wait for the goodbyes.
    signals.async_wait([&io](const boost::system::error_code& again, int) {
      if (!again) io.stop();
    });
  });
  if (auto started = server.start(); !started) {
    std::cerr << "switchboard-server: " << started.error().message << "\n";
    return 1;
  }
  std::printf("switchboard-server listening on %s:%u (%s+udp)\n", config->bind.c_str(),
              static_cast<unsigned>(server.port()), server.tls() ? "tls" : "tcp");
  std::fflush(stdout);
  if (std::error_code ec;
      !config->web_root.empty() && std::filesystem::is_directory(config->web_root, ec)) {
    const bool v6 = config->bind.find(':') != std::string::npos;
    spdlog::info("demo app at {}://{}{}{}:{}/ (web root {})", server.tls() ? "https" : "http",
                 v6 ? "[" : "", config->bind, v6 ? "]" : "", server.port(), config->web_root);
  }

  io.run();
  return 0;
}

}  // namespace
