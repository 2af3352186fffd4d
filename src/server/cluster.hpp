#pragma once

// Scale-out (docs/scaling.md): several switchboard-server nodes share one Redis. Each node
// registers itself (its public URL and load) with a TTL it refreshes every second; each
// call lives on one node, recorded in Redis by an atomic placement (a Lua script: keep a
// live owner, else take the least loaded live node) that the owner keeps refreshing. A
// node that dies stops refreshing: its registration and its placements expire together,
// and the next join of one of its calls places it again on a live node.
//
// Redis keys (prefix `switchboard:`):
//   nodes                 set of node ids (pruned of dead ones by the placement script)
//   node:<id>             hash url, load, calls, participants, last_seen (unix ms); TTL
//   node:<id>:calls       set of the calls placed on the node; TTL
//   call:<call>           the owning node's id; TTL, refreshed by the owner
//
// The ClusterNode lives on the server's event loop; every Redis command runs on the
// RedisWorker's thread and its result comes back to the loop by asio::post.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "server/cluster_redis.hpp"
#include "switchboard/result.hpp"

namespace switchboard::server {

inline constexpr std::string_view kClusterKeyPrefix = "switchboard:";

struct ClusterConfig {
  RedisAddress redis;
  std::string node_id;
  std::string public_url;  // ws://host:port handed to redirected clients
  std::chrono::milliseconds ttl{5000};
  std::chrono::milliseconds refresh{1000};
};

// Node ids: 1..64 of [A-Za-z0-9_.-].
bool valid_node_id(std::string_view id);

class ClusterNode {
 public:
  // What the node hosts right now (read on the event loop at every refresh).
  struct LocalState {
    std::vector<std::string> calls;
    std::uint64_t participants = 0;
  };
  using Snapshot = std::function<LocalState()>;

  struct Placement {
    std::string node_id;
    std::string url;
    bool here = false;
  };

  ClusterNode(boost::asio::io_context& io, ClusterConfig config, Snapshot snapshot);
  ~ClusterNode();
  ClusterNode(const ClusterNode&) = delete;
  ClusterNode& operator=(const ClusterNode&) = delete;

  // Registers now, then every `refresh`.
  void start();
  // Deregisters (best effort: its placements are deleted so that its calls move at once)
  // and stops refreshing.
  void stop();

  // Where `call_id` lives: its live owner, or the least loaded live node, recorded now.
  // `done` runs on the event loop. NOT_CONNECTED while Redis is unreachable (new calls
  // cannot be placed; calls already here go on).
  void place(const std::string& call_id, std::function<void(Result<Placement>)> done);
  // A call began here (its first participant was admitted).
  void call_started() { ++calls_started_; }
  // The call ended here: its placement goes.
  void release(const std::string& call_id);

  const ClusterConfig& config() const { return config_; }
  bool redis_up() const { return redis_up_; }
  // Prometheus text of the node's figures (appended to GET /metrics).
  std::string metrics_text(std::uint64_t calls, std::uint64_t participants) const;

 private:
  void refresh();
  void schedule_refresh();
  void set_redis_up(bool up, const std::string& why);

  boost::asio::io_context& io_;
  ClusterConfig config_;
  Snapshot snapshot_;
  boost::asio::steady_timer timer_;
  std::unique_ptr<RedisWorker> worker_;
  bool redis_up_ = false;
  bool registered_once_ = false;
  bool refreshing_ = false;  // a refresh job is queued or running
  bool stopped_ = false;
  std::uint64_t placed_here_ = 0;
  std::uint64_t redirected_ = 0;
  std::uint64_t refused_ = 0;
  std::uint64_t registrations_ = 0;
  std::uint64_t calls_started_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

// `switchboard-server cluster status`: one line per node, then its calls.
struct ClusterNodeStatus {
  std::string id;
  std::string url;
  std::uint64_t load = 0;
  std::uint64_t participants = 0;
  std::int64_t last_seen_ms = 0;  // unix ms
  std::vector<std::string> calls;
};
// Reads the nodes registered in Redis (live ones only), sorted by id.
Result<std::vector<ClusterNodeStatus>> read_cluster_status(RedisSession& redis);

}  // namespace switchboard::server
