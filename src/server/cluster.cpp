#include "server/cluster.hpp"

#include <algorithm>
#include <charconv>

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

namespace switchboard::server {
namespace {

namespace asio = boost::asio;

// Keeps the call's live owner; otherwise the live node with the fewest placed calls (the
// asking node on a tie, which saves its client a redirect), recorded with a TTL. Dead
// nodes (registration expired) leave the set here. Replies {id, url}.
// ARGV: call, ttl ms, asking node.
constexpr const char* kPlaceScript = R"lua(
local p = 'switchboard:'
local key = p .. 'call:' .. ARGV[1]
local owner = redis.call('GET', key)
if owner and redis.call('EXISTS', p .. 'node:' .. owner) == 1 then
  return {owner, redis.call('HGET', p .. 'node:' .. owner, 'url')}
end
local best, best_load
for _, id in ipairs(redis.call('SMEMBERS', p .. 'nodes')) do
  local nk = p .. 'node:' .. id
  if redis.call('EXISTS', nk) == 1 then
    local load = redis.call('SCARD', nk .. ':calls')
    if best == nil or load < best_load or (load == best_load and id == ARGV[3]) then
      best, best_load = id, load
    end
  else
    redis.call('SREM', p .. 'nodes', id)
    redis.call('DEL', nk .. ':calls')
  end
end
if best == nil then
  return redis.error_reply('NO_NODE no live node is registered')
end
redis.call('SET', key, best, 'PX', ARGV[2])
local calls = p .. 'node:' .. best .. ':calls'
redis.call('SADD', calls, ARGV[1])
redis.call('PEXPIRE', calls, ARGV[2])
return {best, redis.call('HGET', p .. 'node:' .. best, 'url')}
)lua";

// The owner's heartbeat: (re)registers the node, refreshes the placements of the calls it
// hosts (taking back those whose record is gone or whose owner is dead: after a Redis
// restart), drops from its set the placements that are no longer its own, and records its
// load. Replies the hosted calls that another live node owns (a split to log).
// ARGV: id, url, ttl ms, participants, now (unix ms), hosted calls...
constexpr const char* kRefreshScript = R"lua(
local p = 'switchboard:'
local id, ttl = ARGV[1], ARGV[3]
local nk = p .. 'node:' .. id
local ck = nk .. ':calls'
local conflicts = {}
for i = 6, #ARGV do
  local key = p .. 'call:' .. ARGV[i]
  local owner = redis.call('GET', key)
  if (not owner) or owner == id or redis.call('EXISTS', p .. 'node:' .. owner) == 0 then
    redis.call('SET', key, id, 'PX', ttl)
    redis.call('SADD', ck, ARGV[i])
  else
    table.insert(conflicts, ARGV[i])
  end
end
for _, call in ipairs(redis.call('SMEMBERS', ck)) do
  if redis.call('GET', p .. 'call:' .. call) ~= id then redis.call('SREM', ck, call) end
end
local load = redis.call('SCARD', ck)
if load > 0 then redis.call('PEXPIRE', ck, ttl) end
redis.call('HSET', nk, 'url', ARGV[2], 'load', load, 'calls', #ARGV - 5,
           'participants', ARGV[4], 'last_seen', ARGV[5])
redis.call('PEXPIRE', nk, ttl)
redis.call('SADD', p .. 'nodes', id)
return conflicts
)lua";

// The call ended on its owner. ARGV: id, call.
constexpr const char* kReleaseScript = R"lua(
local key = 'switchboard:call:' .. ARGV[2]
if redis.call('GET', key) == ARGV[1] then redis.call('DEL', key) end
redis.call('SREM', 'switchboard:node:' .. ARGV[1] .. ':calls', ARGV[2])
return 1
)lua";

// A node leaving on purpose: its registration and placements go now. ARGV: id.
constexpr const char* kDeregisterScript = R"lua(
local p = 'switchboard:'
local nk = p .. 'node:' .. ARGV[1]
for _, call in ipairs(redis.call('SMEMBERS', nk .. ':calls')) do
  if redis.call('GET', p .. 'call:' .. call) == ARGV[1] then redis.call('DEL', p .. 'call:' .. call) end
end
redis.call('DEL', nk, nk .. ':calls')
redis.call('SREM', p .. 'nodes', ARGV[1])
return 1
)lua";

std::int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string prom_label(std::string_view value) {
  std::string out;
  for (const char c : value) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

std::uint64_t to_u64(std::string_view text) {
  std::uint64_t v = 0;
  std::from_chars(text.data(), text.data() + text.size(), v);
  return v;
}

}  // namespace

bool valid_node_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
  });
}

ClusterNode::ClusterNode(asio::io_context& io, ClusterConfig config, Snapshot snapshot)
    : io_(io),
      config_(std::move(config)),
      snapshot_(std::move(snapshot)),
      timer_(io),
      worker_(std::make_unique<RedisWorker>(config_.redis)) {}

ClusterNode::~ClusterNode() {
  alive_.reset();
  boost::system::error_code ignored;
  timer_.cancel(ignored);
  worker_.reset();  // runs what is queued (the goodbye), then joins
}

void ClusterNode::start() {
  spdlog::info("cluster: node {} at {}, Redis {}", config_.node_id, config_.public_url,
               config_.redis.to_string());
  refresh();
}

void ClusterNode::stop() {
  if (stopped_) return;
  stopped_ = true;
  timer_.cancel();
  worker_->post([id = config_.node_id](RedisSession& redis) {
    auto done = redis.command({"EVAL", kDeregisterScript, "0", id});
    if (!done) spdlog::warn("cluster: could not deregister: {}", done.error().message);
  });
}

void ClusterNode::schedule_refresh() {
  if (stopped_) return;
  timer_.expires_after(config_.refresh);
  timer_.async_wait([this, alive = std::weak_ptr<bool>(alive_)](boost::system::error_code ec) {
    if (ec || alive.expired()) return;
    refresh();
  });
}

void ClusterNode::refresh() {
  if (stopped_) return;
  schedule_refresh();
  // A refresh still waiting on a slow Redis is not doubled: the next tick sends a new one.
  if (refreshing_) return;
  refreshing_ = true;
  LocalState state = snapshot_();
  std::vector<std::string> args{"EVAL",
                                kRefreshScript,
                                "0",
                                config_.node_id,
                                config_.public_url,
                                std::to_string(config_.ttl.count()),
                                std::to_string(state.participants),
                                std::to_string(unix_ms())};
  for (auto& call : state.calls) args.push_back(std::move(call));
  worker_->post([this, args = std::move(args),
                 alive = std::weak_ptr<bool>(alive_)](RedisSession& redis) {
    auto reply = redis.command(args);
    asio::post(io_, [this, alive, reply = std::move(reply)] {
      if (alive.expired()) return;
      refreshing_ = false;
      if (!reply) {
        set_redis_up(false, reply.error().message);
        return;
      }
      if (!redis_up_) ++registrations_;
      set_redis_up(true, {});
      for (const auto& call : reply->elements) {
        spdlog::warn("cluster: call {} runs here but Redis places it on another node", call.text);
      }
    });
  });
}

void ClusterNode::set_redis_up(bool up, const std::string& why) {
  if (up == redis_up_ && registered_once_) return;
  const bool first = !registered_once_;
  registered_once_ = true;
  redis_up_ = up;
  if (up) {
    spdlog::info("cluster: node {} {} in Redis {}", config_.node_id,
                 first ? "registered" : "registered again", config_.redis.to_string());
  } else {
    spdlog::warn("cluster: {}; serving the calls already here, refusing new ones", why);
  }
}

void ClusterNode::place(const std::string& call_id, std::function<void(Result<Placement>)> done) {
  worker_->post([this, call_id, done = std::move(done), alive = std::weak_ptr<bool>(alive_),
                 id = config_.node_id,
                 ttl = std::to_string(config_.ttl.count())](RedisSession& redis) mutable {
    auto reply = redis.command({"EVAL", kPlaceScript, "0", call_id, ttl, id});
    Result<Placement> result = Error{ErrorCode::Internal, "no reply"};
    if (!reply) {
      result = reply.error();
    } else if (reply->elements.size() != 2 || reply->elements[0].is_nil()) {
      result = Error{ErrorCode::Internal, "Redis placement gave an unexpected reply"};
    } else {
      Placement placement;
      placement.node_id = reply->elements[0].text;
      placement.url = reply->elements[1].text;
      placement.here = placement.node_id == id;
      result = std::move(placement);
    }
    asio::post(io_, [this, alive, done = std::move(done), result = std::move(result)]() mutable {
      if (alive.expired()) return;
      if (!result) {
        if (result.error().code == ErrorCode::NotConnected)
          set_redis_up(false, result.error().message);
        ++refused_;
        done(Error{ErrorCode::NotConnected,
                   "this server cannot place new calls right now (" + result.error().message +
                       "); calls already running go on; try again shortly"});
        return;
      }
      if (result->here) {
        ++placed_here_;
      } else {
        ++redirected_;
      }
      done(std::move(result));
    });
  });
}

void ClusterNode::release(const std::string& call_id) {
  worker_->post([id = config_.node_id, call_id](RedisSession& redis) {
    (void)redis.command({"EVAL", kReleaseScript, "0", id, call_id});
  });
}

std::string ClusterNode::metrics_text(std::uint64_t calls, std::uint64_t participants) const {
  const std::string node = "node=\"" + prom_label(config_.node_id) + "\"";
  std::string out;
  auto family = [&](std::string_view name, std::string_view type, std::string_view help) {
    out.append("# HELP ").append(name).append(" ").append(help).append("\n");
    out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
  };
  auto sample = [&](std::string_view name, const std::string& labels, std::uint64_t value) {
    out.append(name).append("{").append(labels).append("} ").append(std::to_string(value));
    out.append("\n");
  };
  family("switchboard_cluster_node", "gauge", "This node of a Redis cluster (always 1).");
  sample("switchboard_cluster_node", node + ",url=\"" + prom_label(config_.public_url) + "\"", 1);
  family("switchboard_cluster_redis_up", "gauge",
         "1 while this node's last Redis command succeeded.");
  sample("switchboard_cluster_redis_up", node, redis_up_ ? 1 : 0);
  family("switchboard_cluster_calls", "gauge", "Calls running on this node.");
  sample("switchboard_cluster_calls", node, calls);
  family("switchboard_cluster_participants", "gauge", "Participants of this node's calls.");
  sample("switchboard_cluster_participants", node, participants);
  family("switchboard_cluster_calls_started_total", "counter", "Calls that began on this node.");
  sample("switchboard_cluster_calls_started_total", node, calls_started_);
  family("switchboard_cluster_placements_total", "counter",
         "Joins of a call not running here, by outcome: placed here, redirected to another "
         "node, refused (Redis unreachable).");
  sample("switchboard_cluster_placements_total", node + ",result=\"here\"", placed_here_);
  sample("switchboard_cluster_placements_total", node + ",result=\"redirected\"", redirected_);
  sample("switchboard_cluster_placements_total", node + ",result=\"refused\"", refused_);
  family("switchboard_cluster_registrations_total", "counter",
         "Times this node (re)registered in Redis after being unable to reach it.");
  sample("switchboard_cluster_registrations_total", node, registrations_);
  return out;
}

Result<std::vector<ClusterNodeStatus>> read_cluster_status(RedisSession& redis) {
  const std::string p(kClusterKeyPrefix);
  auto ids = redis.command({"SMEMBERS", p + "nodes"});
  if (!ids) return ids.error();
  std::vector<ClusterNodeStatus> out;
  for (const auto& id : ids->elements) {
    auto fields = redis.command({"HGETALL", p + "node:" + id.text});
    if (!fields) return fields.error();
    if (fields->elements.empty()) continue;  // expired: a dead node
    ClusterNodeStatus status;
    status.id = id.text;
    for (std::size_t i = 0; i + 1 < fields->elements.size(); i += 2) {
      const auto& name = fields->elements[i].text;
      const auto& value = fields->elements[i + 1].text;
      if (name == "url") status.url = value;
      if (name == "load") status.load = to_u64(value);
      if (name == "participants") status.participants = to_u64(value);
      if (name == "last_seen") status.last_seen_ms = static_cast<std::int64_t>(to_u64(value));
    }
    auto calls = redis.command({"SMEMBERS", p + "node:" + id.text + ":calls"});
    if (!calls) return calls.error();
    for (const auto& c : calls->elements) status.calls.push_back(c.text);
    std::sort(status.calls.begin(), status.calls.end());
    out.push_back(std::move(status));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  return out;
}

}  // namespace switchboard::server
