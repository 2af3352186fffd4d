// Two full ICE agents that may only talk through a TURN relay: a real coturn `turnserver`
// (Debian's coturn, installed by scripts/setup) that this test starts on 127.0.0.1, with
// TURN REST credentials minted by the server's own code. No skip: a missing turnserver
// is a failure, because this is the only test of the relay path.

#include <array>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ice_side.hpp"
#include "server/turn_credentials.hpp"
#include "webrtc/ice_agent.hpp"

namespace switchboard::webrtc {
namespace {

using namespace std::chrono_literals;
using boost::asio::ip::udp;

constexpr const char* kTurnSecret = "switchboard-turn-test-secret";

bool run_until(boost::asio::io_context& io, const std::function<bool()>& done,
               std::chrono::steady_clock::duration limit = 30s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    io.run_for(10ms);
    if (io.stopped()) io.restart();
  }
  return done();
}

// $SWITCHBOARD_TURNSERVER, else the turnserver binary on PATH (or Debian's location);
// empty when there is none.
std::string find_turnserver() {
  if (const char* chosen = std::getenv("SWITCHBOARD_TURNSERVER")) {
    return ::access(chosen, X_OK) == 0 ? std::string(chosen) : std::string();
  }
  std::vector<std::string> dirs;
  if (const char* path = std::getenv("PATH")) {
    std::stringstream in(path);
    for (std::string dir; std::getline(in, dir, ':');) {
      if (!dir.empty()) dirs.push_back(dir);
    }
  }
  dirs.emplace_back("/usr/bin");
  dirs.emplace_back("/usr/sbin");
  for (const std::string& dir : dirs) {
    const std::string candidate = dir + "/turnserver";
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return {};
}

// A port free for both UDP and TCP on 127.0.0.1 right now (coturn listens on both).
std::uint16_t free_port() {
  boost::asio::io_context io;
  for (int attempt = 0; attempt < 50; ++attempt) {
    udp::socket u(io, udp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
    const std::uint16_t port = u.local_endpoint().port();
    boost::system::error_code error;
    boost::asio::ip::tcp::acceptor t(io);
    t.open(boost::asio::ip::tcp::v4(), error);
    if (!error) {
      t.bind(boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port),
             error);
    }
    if (!error) return port;
  }
  return 0;
}

// A STUN Binding request (RFC 5389); coturn answers it once it listens.
bool answers_stun(std::uint16_t port) {
  boost::asio::io_context io;
  udp::socket socket(io, udp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
  const std::array<std::uint8_t, 20> request{
      0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  socket.send_to(boost::asio::buffer(request),
                 udp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
  std::array<std::uint8_t, 1500> response{};
  udp::endpoint from;
  bool answered = false;
  socket.async_receive_from(boost::asio::buffer(response), from,
                            [&](const boost::system::error_code& error, std::size_t size) {
                              answered = !error && size >= 20 && response[0] == 0x01 &&
                                         response[1] == 0x01;
                            });
  io.run_for(200ms);
  return answered;
}

// coturn in a child process for the test's lifetime. The child dies with the test process
// (PDEATHSIG) even if the test crashes; the destructor stops and reaps it.
class Coturn {
 public:
  Coturn() = default;
  Coturn(const Coturn&) = delete;
  Coturn& operator=(const Coturn&) = delete;
  ~Coturn() {
    stop();
    if (!dir_.empty() && std::getenv("SB_KEEP_COTURN_LOG") == nullptr) {
      std::error_code ignored;
      std::filesystem::remove_all(dir_, ignored);
    }
  }

  ::testing::AssertionResult start() {
    const std::string binary = find_turnserver();
    if (binary.empty()) {
      return ::testing::AssertionFailure()
             << "coturn's turnserver is not installed (not $SWITCHBOARD_TURNSERVER, nor on PATH, "
                "/usr/bin or /usr/sbin): run scripts/setup, which installs Debian's coturn";
    }
    dir_ = std::filesystem::temp_directory_path() /
           ("sb-coturn-" + std::to_string(::getpid()) + "-" + std::to_string(std::rand()));
    std::filesystem::create_directories(dir_);
    log_ = dir_ / "turnserver.log";
    for (int attempt = 0; attempt < 5; ++attempt) {
      port_ = free_port();
      if (port_ == 0) return ::testing::AssertionFailure() << "no free port on 127.0.0.1";
      spawn(binary);
      const auto deadline = std::chrono::steady_clock::now() + 10s;
      while (std::chrono::steady_clock::now() < deadline) {
        if (answers_stun(port_)) return ::testing::AssertionSuccess();
        if (exited()) break;  // e.g. the port was taken in between: try another
      }
      stop();
    }
    return ::testing::AssertionFailure()
           << "turnserver did not answer STUN on 127.0.0.1; its log:\n"
           << log_text();
  }

  std::uint16_t port() const { return port_; }

  // Whether a line of coturn's log holds both `text` and `also` within a few seconds (it
  // logs as it goes).
  bool logged(const std::string& text, const std::string& also = {}) const {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    for (;;) {
      std::istringstream lines(log_text());
      for (std::string line; std::getline(lines, line);) {
        if (line.find(text) != std::string::npos && line.find(also) != std::string::npos) {
          return true;
        }
      }
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(20ms);
    }
  }

  std::string log_text() const {
    std::ifstream in(log_);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
  }

  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (std::chrono::steady_clock::now() < deadline) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(10ms);
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

 private:
  void spawn(const std::string& binary) {
    const std::string port = std::to_string(port_);
    std::vector<std::string> args = {
        binary,
        "-n",  // no configuration file
        "--listening-ip=127.0.0.1",
        "--relay-ip=127.0.0.1",
        "--listening-port=" + port,
        "--use-auth-secret",
        std::string("--static-auth-secret=") + kTurnSecret,
        "--realm=switchboard",
        "--no-tls",
        "--no-dtls",
        "--no-cli",
        "--allow-loopback-peers",  // both relay addresses are 127.0.0.1
        "--pidfile=" + (dir_ / "turnserver.pid").string(),
        "--db=" + (dir_ / "turndb").string(),
        "--log-file=stdout",
        "--simple-log",
        "--verbose",
    };
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    const pid_t parent = ::getpid();
    const int log_fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);
      if (log_fd >= 0) {
        ::dup2(log_fd, STDOUT_FILENO);
        ::dup2(log_fd, STDERR_FILENO);
      }
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    if (log_fd >= 0) ::close(log_fd);
  }

  bool exited() {
    if (pid_ <= 0) return true;
    if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
      pid_ = -1;
      return true;
    }
    return false;
  }

  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
  std::filesystem::path dir_;
  std::filesystem::path log_;
};

using testing::Side;

IceServerConfig relay_only(std::uint16_t turn_port, std::string_view identity) {
  const auto credentials =
      server::mint_turn_credentials(kTurnSecret, identity, std::time(nullptr), 600);
  IceServerConfig config;
  config.turn_servers.push_back(IceServerConfig::Turn{.host = "127.0.0.1",
                                                      .port = turn_port,
                                                      .username = credentials.username,
                                                      .password = credentials.credential});
  config.force_relay = true;
  return config;
}

Bytes numbered(std::uint32_t n, std::size_t size = 1000) {
  Bytes out;
  put_u32(out, n);
  out.resize(size, static_cast<std::uint8_t>(n * 13));
  return out;
}

std::uint32_t number_of(ByteView datagram) {
  return datagram.size() >= 4 ? load_u32(datagram.data()) : 0xffffffffu;
}

TEST(IceTurn, ForcedRelayAgentsConnectThroughCoturnAndCarryDatagramsBothWays) {
  Coturn coturn;
  ASSERT_TRUE(coturn.start());

  boost::asio::io_context io;
  Side controlling;
  Side controlled;
  const IceServerConfig alice = relay_only(coturn.port(), "alice");
  const IceServerConfig bob = relay_only(coturn.port(), "bob");
  controlling.agent = std::make_unique<IceAgent>(io, true, alice, controlling.callbacks(),
                                                 std::vector<std::string>{"127.0.0.1"});
  controlled.agent = std::make_unique<IceAgent>(io, false, bob, controlled.callbacks(),
                                                std::vector<std::string>{"127.0.0.1"});
  controlling.peer = &controlled;
  controlled.peer = &controlling;
  controlling.agent->set_remote_credentials(controlled.agent->local_ufrag(),
                                            controlled.agent->local_pwd());
  controlled.agent->set_remote_credentials(controlling.agent->local_ufrag(),
                                           controlling.agent->local_pwd());
  controlling.agent->gather();
  controlled.agent->gather();

  ASSERT_TRUE(run_until(io,
                        [&] {
                          return (controlling.connected != 0 && controlled.connected != 0) ||
                                 controlling.failure || controlled.failure;
                        }))
      << "no connection; coturn's log:\n"
      << coturn.log_text();
  ASSERT_FALSE(controlling.failure) << controlling.failure->message << "\n" << coturn.log_text();
  ASSERT_FALSE(controlled.failure) << controlled.failure->message << "\n" << coturn.log_text();

  // force-relay: only relay candidates were announced, and the pair is relay to relay.
  for (const Side* side : {&controlling, &controlled}) {
    ASSERT_FALSE(side->candidates.empty());
    for (const std::string& candidate : side->candidates) {
      EXPECT_NE(candidate.find("typ relay"), std::string::npos) << candidate;
    }
    const auto pair = side->agent->selected_pair();
    ASSERT_TRUE(pair.has_value());
    EXPECT_TRUE(pair->ends_with("(relay)")) << *pair;
  }

  // coturn accepted the minted credentials and relayed for both.
  for (const IceServerConfig* config : {&alice, &bob}) {
    EXPECT_TRUE(coturn.logged("user <" + config->turn_servers[0].username +
                              ">: incoming packet ALLOCATE processed, success"))
        << coturn.log_text();
  }

  // Ping-pong through the relay: 200 datagrams each way, each exactly once and in order.
  constexpr std::uint32_t kCount = 200;
  std::uint32_t pings = 0;
  std::uint32_t pongs = 0;
  bool out_of_order = false;
  controlled.on_datagram = [&](ByteView datagram) {
    if (number_of(datagram) != pings || datagram.size() != 1000) out_of_order = true;
    ++pings;
    EXPECT_TRUE(controlled.agent->send(datagram).ok());
  };
  controlling.on_datagram = [&](ByteView datagram) {
    if (number_of(datagram) != pongs) out_of_order = true;
    ++pongs;
    if (pongs < kCount) EXPECT_TRUE(controlling.agent->send(numbered(pongs)).ok());
  };
  ASSERT_TRUE(controlling.agent->send(numbered(0)).ok());
  ASSERT_TRUE(run_until(io, [&] { return pongs == kCount; }))
      << "pings=" << pings << " pongs=" << pongs << "; coturn's log:\n"
      << coturn.log_text();
  EXPECT_EQ(pings, kCount);
  EXPECT_FALSE(out_of_order);

  controlling.agent.reset();
  controlled.agent.reset();
  coturn.stop();
}

TEST(IceTurn, WrongTurnSecretGathersNoRelayCandidate) {
  // The credentials are what coturn checks: minted with another secret, the allocation is
  // refused, so a forced-relay agent has nothing to offer.
  Coturn coturn;
  ASSERT_TRUE(coturn.start());
  boost::asio::io_context io;
  Side side;
  const auto wrong =
      server::mint_turn_credentials("not-the-secret", "mallory", std::time(nullptr), 600);
  IceServerConfig config;
  config.turn_servers.push_back(IceServerConfig::Turn{.host = "127.0.0.1",
                                                      .port = coturn.port(),
                                                      .username = wrong.username,
                                                      .password = wrong.credential});
  config.force_relay = true;
  side.agent = std::make_unique<IceAgent>(io, true, config, side.callbacks(),
                                          std::vector<std::string>{"127.0.0.1"});
  side.agent->gather();
  ASSERT_TRUE(run_until(io, [&] { return side.gathering_done; }));
  EXPECT_TRUE(side.candidates.empty()) << ::testing::PrintToString(side.candidates);
  EXPECT_TRUE(coturn.logged("user <" + wrong.username + ">:", "error 401")) << coturn.log_text();
}

}  // namespace
}  // namespace switchboard::webrtc
