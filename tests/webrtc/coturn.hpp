#pragma once

// A real coturn `turnserver` (Debian's coturn, installed by scripts/setup) for a test's
// lifetime, on 127.0.0.1 with TURN REST credentials (use-auth-secret, kCoturnSecret).
// Used by the libnice TURN tests and the direct-connection (PeerLink) relay test.

#include <array>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
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

namespace switchboard::webrtc::testing {

inline constexpr const char* kCoturnSecret = "switchboard-turn-test-secret";

using namespace std::chrono_literals;

// $SWITCHBOARD_TURNSERVER, else the turnserver binary on PATH (or Debian's location);
// empty when there is none.
inline std::string find_turnserver() {
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
inline std::uint16_t free_port() {
  boost::asio::io_context io;
  for (int attempt = 0; attempt < 50; ++attempt) {
    boost::asio::ip::udp::socket u(
        io, boost::asio::ip::udp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
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
inline bool answers_stun(std::uint16_t port) {
  boost::asio::io_context io;
  boost::asio::ip::udp::socket socket(
      io, boost::asio::ip::udp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
  const std::array<std::uint8_t, 20> request{
      0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  socket.send_to(boost::asio::buffer(request),
                 boost::asio::ip::udp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
  std::array<std::uint8_t, 1500> response{};
  boost::asio::ip::udp::endpoint from;
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
        std::string("--static-auth-secret=") + kCoturnSecret,
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

}  // namespace switchboard::webrtc::testing
