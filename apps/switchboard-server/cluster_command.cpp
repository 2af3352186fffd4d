// `switchboard-server cluster status --redis URL`: the nodes registered in Redis (id, url,
// load, last seen) and the calls placed on each (docs/scaling.md).
#include "cluster_command.hpp"

#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include "server/cluster.hpp"
#include "server/cluster_redis.hpp"

namespace switchboard::server_app {

int run_cluster_command(int argc, char** argv) {
  CLI::App app{"switchboard-server cluster: the nodes of a Redis cluster"};
  app.name("switchboard-server cluster");
  app.require_subcommand(1);
  std::string redis_url;
  auto* status = app.add_subcommand("status", "List the live nodes and the calls on each");
  status->add_option("--redis", redis_url, "redis://HOST:PORT[/DB]")->required();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  auto address = server::parse_redis_url(redis_url);
  if (!address) {
    std::cerr << "switchboard-server cluster: " << address.error().message << "\n";
    return 2;
  }
  server::RedisSession redis(*address);
  auto nodes = server::read_cluster_status(redis);
  if (!nodes) {
    std::cerr << "switchboard-server cluster: " << nodes.error().message << "\n";
    return 1;
  }
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  std::printf("%-20s %-32s %6s %13s %10s\n", "NODE", "URL", "LOAD", "PARTICIPANTS", "LAST SEEN");
  std::size_t calls = 0;
  for (const auto& node : *nodes) {
    const double ago = static_cast<double>(now - node.last_seen_ms) / 1000.0;
    std::printf("%-20s %-32s %6llu %13llu %8.1fs ago\n", node.id.c_str(), node.url.c_str(),
                static_cast<unsigned long long>(node.load),
                static_cast<unsigned long long>(node.participants), ago < 0 ? 0.0 : ago);
    calls += node.calls.size();
  }
  for (const auto& node : *nodes) {
    for (const auto& call : node.calls)
      std::printf("call %s on %s\n", call.c_str(), node.id.c_str());
  }
  std::printf("%zu node(s), %zu call(s)\n", nodes->size(), calls);
  return 0;
}

}  // namespace switchboard::server_app
