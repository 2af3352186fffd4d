// Scale-out (docs/scaling.md): a redis-server and three switchboard-server nodes started
// by the test on loopback (random free ports), real agents entering through any node.

#include <csignal>
#include <map>
#include <optional>
#include <sstream>

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.hpp"

namespace switchboard::integration {
namespace {

using Cluster = IntegrationTest;

std::uint16_t free_tcp_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    if (fd >= 0) ::close(fd);
    throw HarnessError("cannot find a free TCP port");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

// True when something answers PING with +PONG on 127.0.0.1:port.
bool redis_answers(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  timeval tv{.tv_sec = 1, .tv_usec = 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  bool ok = false;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    const char ping[] = "PING\r\n";
    char reply[16] = {};
    ok = ::write(fd, ping, sizeof ping - 1) == sizeof ping - 1 && ::read(fd, reply, 7) >= 5 &&
         std::string_view(reply).starts_with("+PONG");
  }
  ::close(fd);
  return ok;
}

// redis-server on a free port, without persistence: a restart forgets everything.
class Redis {
 public:
  Redis() : port_(free_tcp_port()) { start(); }

  void start() {
    const std::string log = test_log_dir() + "/redis-" + std::to_string(++starts_) + ".log";
    process_ = std::make_unique<Process>(
        std::vector<std::string>{SWITCHBOARD_REDIS_SERVER_PROGRAM, "--port", std::to_string(port_),
                                 "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"},
        log);
    process_->discard_output();
    const auto deadline = Clock::now() + kWait;
    while (!redis_answers(port_)) {
      if (Clock::now() > deadline) throw HarnessError("redis-server did not answer; see " + log);
      std::this_thread::sleep_for(50ms);
    }
  }
  void kill() {
    ::kill(process_->pid(), SIGKILL);
    process_->wait_exit(Clock::now() + kWait);
    process_.reset();
  }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }

 private:
  std::uint16_t port_;
  int starts_ = 0;
  std::unique_ptr<Process> process_;
};

std::string node_id(std::size_t i) {
  return "n" + std::to_string(i);
}

struct Nodes {
  Redis redis;
  std::vector<std::unique_ptr<Server>> servers;

  explicit Nodes(std::size_t count) {
    for (std::size_t i = 0; i < count; ++i) {
      servers.push_back(std::make_unique<Server>(Server::Options{
          .flags = {"--redis", redis.url(), "--node-id", node_id(i),
                    // Every participant comes from 127.0.0.1.
                    "--max-connections-per-address", "0", "--join-rate", "0"},
          .dev = true}));
    }
  }
  Server& operator[](std::size_t i) { return *servers.at(i); }
};

// The value of `name{node="ID"...}` in the node's /metrics (labels after node allowed
// through `more`, e.g. ",result=\"here\"").
std::optional<double> node_sample(Server& server, const std::string& name, const std::string& id,
                                  const std::string& more = "") {
  const auto response = http_get(server.port(), "/metrics");
  if (!response || response->status != 200) return std::nullopt;
  const std::string prefix = name + "{node=\"" + id + "\"" + more + "} ";
  std::istringstream in(response->body);
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with(prefix)) return std::stod(line.substr(prefix.size()));
  }
  return std::nullopt;
}

// `switchboard-server cluster status --redis URL`: stdout and exit status.
RunResult cluster_status(const Redis& redis) {
  Process p({server_program(), "cluster", "status", "--redis", redis.url()},
            test_log_dir() + "/cluster-status.log");
  RunResult result;
  const auto deadline = Clock::now() + kWait;
  while (auto line = p.read_line(deadline)) result.out += line->text + "\n";
  result.status = p.wait_exit(deadline).value_or(-1);
  return result;
}

// Waits up to `timeout` for `predicate`; false when it never held.
bool eventually(const std::function<bool()>& predicate, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!predicate()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(100ms);
  }
  return true;
}

// Agents that give up at once when their node dies (print `disconnected`).
const std::vector<std::string> kNoReconnect = {"--reconnect-timeout", "0"};

std::unique_ptr<Agent> join_via(Server& node, const std::string& call, const std::string& user,
                                std::vector<std::string> extra_args = {}) {
  auto agent = std::make_unique<Agent>(
      node, Agent::Options{.call = call, .user = user, .extra_args = std::move(extra_args)});
  agent->expect_joined();
  return agent;
}

// Each of `agents` broadcasts one text; every other one receives each.
void everyone_hears_everyone(std::vector<std::unique_ptr<Agent>>& agents, const std::string& tag) {
  std::map<std::string, std::uint16_t> channels;
  for (auto& a : agents) {
    if (!channels.contains(a->user())) channels[a->user()] = a->create_sender();
    a->send_text(channels[a->user()], tag + " from " + a->user());
  }
  for (auto& to : agents) {
    for (auto& from : agents) {
      if (to == from) continue;
      const Json m = to->expect_message(from->user(), channels[from->user()]);
      EXPECT_EQ(m.value("text", ""), tag + " from " + from->user()) << m.dump();
    }
  }
}

TEST_F(Cluster, ParticipantsEnteringThroughDifferentNodesShareOneCallOnOneNode) {
  Nodes nodes(3);
  const std::string call = unique_call_id();
  std::vector<std::unique_ptr<Agent>> agents;
  // One at a time: alice places the call (on her node: all are idle and a tie keeps the
  // call where it was asked for), bob and carol are redirected there.
  agents.push_back(join_via(nodes[0], call, "alice"));
  agents.push_back(join_via(nodes[1], call, "bob"));
  agents.push_back(join_via(nodes[2], call, "carol"));
  for (auto& a : agents) a->expect_roster({"alice", "bob", "carol"});
  everyone_hears_everyone(agents, "hello");

  EXPECT_EQ(node_sample(nodes[0], "switchboard_cluster_participants", "n0"), 3.0);
  EXPECT_EQ(node_sample(nodes[1], "switchboard_cluster_participants", "n1"), 0.0);
  EXPECT_EQ(node_sample(nodes[2], "switchboard_cluster_participants", "n2"), 0.0);
  EXPECT_EQ(
      node_sample(nodes[1], "switchboard_cluster_placements_total", "n1", ",result=\"redirected\""),
      1.0);
  const auto status = cluster_status(nodes.redis);
  EXPECT_EQ(status.status, 0) << status.out;
  EXPECT_NE(status.out.find("call " + call + " on n0"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("3 node(s), 1 call(s)"), std::string::npos) << status.out;
}

// SIGTERM: the node deregisters on its way out, so it leaves the cluster at once instead of
// after its registration's 5 s TTL, and its calls can be placed again at once.
TEST_F(Cluster, NodeStoppedWithSigtermLeavesTheClusterAtOnce) {
  Nodes nodes(2);
  const std::string call = unique_call_id();
  auto alice = join_via(nodes[1], call, "alice");
  ASSERT_NE(cluster_status(nodes.redis).out.find("call " + call + " on n1"), std::string::npos);
  const auto stopping = Clock::now();
  EXPECT_EQ(nodes[1].process().terminate(), 0);
  const auto status = cluster_status(nodes.redis);
  EXPECT_LT(Clock::now() - stopping, 4s);
  EXPECT_NE(status.out.find("1 node(s), 0 call(s)"), std::string::npos) << status.out;
  EXPECT_EQ(status.out.find("n1 "), std::string::npos) << status.out;
  // The call's next join lands on n0 without waiting for anything to expire.
  auto bob = join_via(nodes[0], call, "bob");
  EXPECT_EQ(node_sample(nodes[0], "switchboard_cluster_participants", "n0"), 1.0);
}

TEST_F(Cluster, FiftyCallsEnteringThroughOneNodeSpreadOverEveryNode) {
  Nodes nodes(3);
  // Every participant enters through n0: only the placement moves calls elsewhere.
  const auto run = run_cli({"bench", "relay", "--calls", "50", "--participants", "2", "--servers",
                            nodes[0].url(), "--duration", "0.5", "--size", "64", "--json"},
                           120s);
  ASSERT_EQ(run.status, 0) << run.out << log_tails(20);
  const Json result = Json::parse(run.out, nullptr, false);
  ASSERT_TRUE(result.is_object()) << run.out;
  EXPECT_EQ(result["disconnections"], 0);
  EXPECT_GT(result["saturate"]["deliveredPerSecond"].get<double>(), 0.0);
  double total = 0;
  for (std::size_t i = 0; i < 3; ++i) {
    const auto started =
        node_sample(nodes[i], "switchboard_cluster_calls_started_total", node_id(i));
    ASSERT_TRUE(started.has_value()) << node_id(i);
    // Least loaded first: 50 calls over 3 nodes is 16 or 17 each when joins are serial;
    // concurrent joins may read the same load, so allow some slack.
    EXPECT_GE(*started, 10.0) << node_id(i);
    total += *started;
  }
  EXPECT_EQ(total, 50.0);
}

TEST_F(Cluster, RedisRestartNodesKeepTheirCallsRefuseNewOnesThenRegisterAgain) {
  Nodes nodes(3);
  const std::string call = unique_call_id("kept");
  std::vector<std::unique_ptr<Agent>> agents;
  agents.push_back(join_via(nodes[0], call, "alice"));
  agents.push_back(join_via(nodes[1], call, "bob"));
  for (auto& a : agents) a->expect_roster({"alice", "bob"});
  everyone_hears_everyone(agents, "before");

  nodes.redis.kill();
  ASSERT_TRUE(eventually(
      [&] { return node_sample(nodes[2], "switchboard_cluster_redis_up", "n2") == 0.0; }, 5s));
  // The running call goes on.
  everyone_hears_everyone(agents, "during");
  // A new call cannot be placed: a clear error, not a hang.
  Agent refused(nodes[2], unique_call_id("refused"), "carol");
  const Json error = refused.expect("the join refused", is_error("NOT_CONNECTED"), 20s);
  EXPECT_NE(error.value("message", "").find("cannot place new calls"), std::string::npos)
      << error.dump();

  nodes.redis.start();
  // Every node registers again, and the running call is placed again on its node.
  ASSERT_TRUE(eventually(
      [&] {
        const auto status = cluster_status(nodes.redis);
        return status.out.find("3 node(s), 1 call(s)") != std::string::npos &&
               status.out.find("call " + call + " on n0") != std::string::npos;
      },
      10s))
      << cluster_status(nodes.redis).out;
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(node_sample(nodes[i], "switchboard_cluster_registrations_total", node_id(i)), 2.0);
  }
  everyone_hears_everyone(agents, "after");
  const std::string fresh = unique_call_id("fresh");
  std::vector<std::unique_ptr<Agent>> late;
  late.push_back(join_via(nodes[2], fresh, "dave"));
  late.push_back(join_via(nodes[0], fresh, "erin"));
  for (auto& a : late) a->expect_roster({"dave", "erin"});
  everyone_hears_everyone(late, "new");
}

// The cluster's half of a node's death, without the SDK's reconnection (agents with
// --reconnect-timeout 0): the dead node's placements expire with its registration, so
// fresh participants of its calls get the calls placed again on a live node within 15 s;
// the other calls go on untouched.
TEST_F(Cluster, NodeKilledNewJoinsOfItsCallsArePlacedOnTheOthersWithin15s) {
  Nodes nodes(3);
  struct Pair {
    std::string call;
    std::vector<std::unique_ptr<Agent>> agents;
  };
  std::vector<Pair> pairs(6);
  for (std::size_t c = 0; c < pairs.size(); ++c) {
    pairs[c].call = unique_call_id("c" + std::to_string(c));
    pairs[c].agents.push_back(
        join_via(nodes[c % 2], pairs[c].call, "a" + std::to_string(c), kNoReconnect));
    pairs[c].agents.push_back(
        join_via(nodes[(c + 1) % 2], pairs[c].call, "b" + std::to_string(c), kNoReconnect));
  }
  const auto status = cluster_status(nodes.redis);
  std::vector<std::size_t> doomed, kept;
  for (std::size_t c = 0; c < pairs.size(); ++c) {
    (status.out.find("call " + pairs[c].call + " on n2") != std::string::npos ? doomed : kept)
        .push_back(c);
  }
  // Least loaded first: two calls on each node.
  ASSERT_EQ(doomed.size(), 2u) << status.out;

  ::kill(nodes[2].process().pid(), SIGKILL);
  const auto killed_at = Clock::now();
  for (const std::size_t c : doomed) {
    for (auto& a : pairs[c].agents) a->expect("disconnected", is_event("disconnected"));
  }
  // New participants of the dead node's calls, through n0 and n1, until they get in.
  for (const std::size_t c : doomed) {
    std::vector<std::unique_ptr<Agent>> again;
    for (std::size_t k = 0; k < 2; ++k) {
      const std::string user = (k == 0 ? "x" : "y") + std::to_string(c);
      for (;;) {
        ASSERT_LT(Clock::now() - killed_at, 15s) << pairs[c].call << " was not placed again";
        auto agent = std::make_unique<Agent>(nodes[k], pairs[c].call, user);
        if (agent->next(is_event("joined"), 10s)) {
          again.push_back(std::move(agent));
          break;
        }
        std::this_thread::sleep_for(250ms);
      }
    }
    for (auto& a : again) a->expect_roster({"x" + std::to_string(c), "y" + std::to_string(c)});
    everyone_hears_everyone(again, "placed again");
  }
  EXPECT_EQ(cluster_status(nodes.redis).out.find(" on n2\n"), std::string::npos);
  for (const std::size_t c : kept) {
    for (auto& a : pairs[c].agents) {
      EXPECT_TRUE(a->take_received(is_event("disconnected")).empty()) << a->user();
    }
    everyone_hears_everyone(pairs[c].agents, "after");
  }
}

// A node dies: the agents of its calls reconnect by themselves (docs/protocol.md,
// "Reconnecting and resuming") through the node they first came in by, which places the
// call again.
TEST_F(Cluster, NodeKilledItsCallsComeBackOnTheOthersWithin15sOthersNeverNotice) {
  Nodes nodes(3);
  // Six calls of two, every participant entering through n0 or n1: placement puts two calls
  // on each node (least loaded; ties stay where asked).
  struct Pair {
    std::string call;
    std::vector<std::unique_ptr<Agent>> agents;
  };
  std::vector<Pair> pairs(6);
  for (std::size_t c = 0; c < pairs.size(); ++c) {
    pairs[c].call = unique_call_id("c" + std::to_string(c));
    pairs[c].agents.push_back(join_via(nodes[c % 2], pairs[c].call, "a" + std::to_string(c)));
    pairs[c].agents.push_back(join_via(nodes[(c + 1) % 2], pairs[c].call, "b" + std::to_string(c)));
  }
  for (auto& p : pairs) everyone_hears_everyone(p.agents, "before");
  const auto status = cluster_status(nodes.redis);
  std::vector<std::size_t> doomed, kept;
  for (std::size_t c = 0; c < pairs.size(); ++c) {
    (status.out.find("call " + pairs[c].call + " on n2") != std::string::npos ? doomed : kept)
        .push_back(c);
  }
  ASSERT_EQ(doomed.size(), 2u) << status.out;

  ::kill(nodes[2].process().pid(), SIGKILL);
  const auto killed_at = Clock::now();
  for (const std::size_t c : doomed) {
    // Back through n0 or n1 within 15 s: the call is placed again, messages flow again.
    auto& a = *pairs[c].agents[0];
    auto& b = *pairs[c].agents[1];
    const std::uint16_t channel = a.create_sender();
    bool delivered = false;
    while (!delivered && Clock::now() - killed_at < 15s) {
      std::string why;
      if (a.send_retrying(channel, base64_encode("again"), why, 1s)) {
        delivered = b.next(is_message_from(a.user(), channel), 1s).has_value();
      }
    }
    EXPECT_TRUE(delivered) << "call " << pairs[c].call << " did not come back within 15 s";
  }
  for (const std::size_t c : kept) {
    for (auto& a : pairs[c].agents) {
      EXPECT_TRUE(a->take_received(is_event("disconnected")).empty()) << a->user();
    }
    everyone_hears_everyone(pairs[c].agents, "after");
  }
}

}  // namespace
}  // namespace switchboard::integration
