#include "server/cluster_settings.hpp"

#include <utility>

#include "server/cluster.hpp"
#include "server/cluster_redis.hpp"

namespace switchboard::server {

Result<void> validate_cluster_settings(const ServerConfig& c) {
  auto invalid = [](std::string message) { return Error{ErrorCode::InvalidArgument, std::move(message)}; };
  if (c.redis.empty()) {
    if (!c.node_id.empty() || !c.public_url.empty()) {
      return invalid("node_id and public_url only mean something with redis (--redis URL)");
    }
    return {};
  }
  if (auto address = parse_redis_url(c.redis); !address) return address.error();
  if (c.node_id.empty()) {
    return invalid("redis needs node_id (--node-id ID): the name this node registers under");
  }
  if (!valid_node_id(c.node_id)) {
    return invalid("node_id '" + c.node_id + "' must be 1..64 of A-Z a-z 0-9 _ . -");
  }
  if (!c.public_url.empty() && !c.public_url.starts_with("ws://") &&
      !c.public_url.starts_with("wss://")) {
    return invalid("public_url '" + c.public_url + "' must be a ws:// or wss:// URL");
  }
  return {};
}

}  // namespace switchboard::server
