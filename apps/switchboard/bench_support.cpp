#include "bench_support.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace switchboard::cli {
namespace {

using namespace std::chrono_literals;

constexpr std::size_t kRawDatagram = 1200;
constexpr std::size_t kRawBurstBytes = std::size_t{64} * 1024;

// The whole response to `GET path` from host:port of `url`, or nullopt.
std::optional<std::string> http_get(const std::string& url, const std::string& path) {
  const auto scheme = url.find("://");
  auto rest = url.substr(scheme == std::string::npos ? 0 : scheme + 3);
  rest = rest.substr(0, rest.find('/'));
  const auto colon = rest.rfind(':');
  const std::string host = colon == std::string::npos ? rest : rest.substr(0, colon);
  const std::string port = colon == std::string::npos ? "80" : rest.substr(colon + 1);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), port.c_str(), &hints, &found) != 0) return std::nullopt;
  const int fd = ::socket(found->ai_family, found->ai_socktype, found->ai_protocol);
  const bool connected = fd >= 0 && ::connect(fd, found->ai_addr, found->ai_addrlen) == 0;
  ::freeaddrinfo(found);
  if (!connected) {
    if (fd >= 0) ::close(fd);
    return std::nullopt;
  }
  const std::string request = "GET " + path + " HTTP/1.0\r\nHost: " + rest + "\r\n\r\n";
  [[maybe_unused]] const auto w = ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string response;
  char chunk[4096];
  for (ssize_t n; (n = ::recv(fd, chunk, sizeof chunk, 0)) > 0;) {
    response.append(chunk, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return response;
}

// Child of raw_udp_one_way_mbps: prints its port on `report`, counts datagrams until
// `stop` is readable and nothing arrived for 100 ms, then prints "BYTES SECONDS".
int raw_udp_receiver(int report, int stop) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  const int buffer_size = 8 << 20;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer_size, sizeof buffer_size);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    return 1;
  }
  if (!write_all(report, std::to_string(ntohs(address.sin_port)) + "\n")) return 1;
  std::vector<std::uint8_t> datagram(65536);
  std::uint64_t bytes = 0;
  BenchClock::time_point first{};
  BenchClock::time_point last{};
  pollfd fds[2] = {{fd, POLLIN, 0}, {stop, POLLIN, 0}};
  bool stopping = false;
  for (;;) {
    const int ready = ::poll(fds, 2, stopping ? 100 : 1000);
    if (ready == 0 && stopping) break;
    if (ready < 0 && errno != EINTR) break;
    if ((fds[1].revents & (POLLIN | POLLHUP)) != 0) {
      stopping = true;
      fds[1].fd = -1;
    }
    if ((fds[0].revents & POLLIN) == 0) continue;
    for (ssize_t n; (n = ::recv(fd, datagram.data(), datagram.size(), MSG_DONTWAIT)) > 0;) {
      last = BenchClock::now();
      if (bytes == 0) first = last;
      bytes += static_cast<std::uint64_t>(n);
    }
  }
  const double seconds = std::chrono::duration<double>(last - first).count();
  return write_all(report, std::to_string(bytes) + " " + std::to_string(seconds) + "\n") ? 0 : 1;
}

int raw_udp_sender(std::uint16_t port, double seconds) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  const int buffer_size = 8 << 20;
  ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buffer_size, sizeof buffer_size);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  to.sin_port = htons(port);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) return 1;
  const std::vector<std::uint8_t> datagram(kRawDatagram, 7);
  const auto end = BenchClock::now() + std::chrono::duration_cast<BenchClock::duration>(
                                           std::chrono::duration<double>(seconds));
  while (BenchClock::now() < end) {
    // A full socket buffer (ENOBUFS) is what the ceiling is made of: keep going.
    for (std::size_t sent = 0; sent < kRawBurstBytes; sent += kRawDatagram) {
      (void)::send(fd, datagram.data(), datagram.size(), 0);
    }
  }
  return 0;
}

// Forks `body` pinned to `cpu`; the child dies with its parent and never returns here.
template <typename Body>
pid_t fork_pinned(int cpu, Body&& body) {
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (cpu >= 0) pin_to_cpu(0, cpu);
  ::_exit(body());
}

}  // namespace

std::int64_t steady_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(BenchClock::now().time_since_epoch())
      .count();
}

bool pin_to_cpu(pid_t pid, int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return sched_setaffinity(pid, sizeof set, &set) == 0;
}

std::optional<double> process_cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(in, stat)) return std::nullopt;
  // The command name (field 2) may hold spaces: count fields after its closing ')'.
  const auto close = stat.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(stat.substr(close + 2));
  std::string field;
  double utime = 0;
  double stime = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14) utime = std::stod(field);
    if (i == 15) stime = std::stod(field);
  }
  return (utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

std::string sibling_program(std::string_view name) {
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return (self.parent_path() / name).string();
}

std::optional<double> server_metric(const std::string& url, std::string_view name) {
  const auto response = http_get(url, "/metrics");
  if (!response) return std::nullopt;
  const std::string prefix = std::string(name) + " ";
  std::istringstream lines(*response);
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with(prefix)) return std::stod(line.substr(prefix.size()));
  }
  return std::nullopt;
}

LatencySummary summarize_latencies(std::vector<std::uint32_t> latencies_ns) {
  LatencySummary summary;
  summary.samples = latencies_ns.size();
  if (latencies_ns.empty()) return summary;
  auto percentile = [&](double q) {
    const auto at = static_cast<std::size_t>(q * static_cast<double>(latencies_ns.size() - 1));
    std::nth_element(latencies_ns.begin(), latencies_ns.begin() + static_cast<std::ptrdiff_t>(at),
                     latencies_ns.end());
    return static_cast<double>(latencies_ns[at]) / 1e6;
  };
  summary.p50_ms = percentile(0.50);
  summary.p99_ms = percentile(0.99);
  return summary;
}

double median(std::vector<double> values) {
  if (values.empty()) return 0;
  const auto middle = values.begin() + static_cast<std::ptrdiff_t>(values.size() / 2);
  std::nth_element(values.begin(), middle, values.end());
  return *middle;
}

bool write_all(int fd, std::string_view text) {
  while (!text.empty()) {
    const auto n = ::write(fd, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    text.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

std::optional<std::string> read_line(int fd, std::string& buffer, BenchClock::duration timeout) {
  const auto deadline = BenchClock::now() + timeout;
  for (;;) {
    if (const auto newline = buffer.find('\n'); newline != std::string::npos) {
      auto line = buffer.substr(0, newline);
      buffer.erase(0, newline + 1);
      return line;
    }
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - BenchClock::now());
    if (left.count() <= 0) return std::nullopt;
    pollfd ready{fd, POLLIN, 0};
    const int polled =
        ::poll(&ready, 1, static_cast<int>(std::min<std::int64_t>(left.count(), 1000)));
    if (polled < 0 && errno != EINTR) return std::nullopt;
    if (polled <= 0) continue;
    char chunk[4096];
    const auto n = ::read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::nullopt;
    buffer.append(chunk, static_cast<std::size_t>(n));
  }
}

Result<std::string> ServerProcess::start(const std::string& program, int cpu) {
  int out[2];
  if (::pipe(out) != 0) return Error{ErrorCode::Internal, "pipe failed"};
  pid_ = ::fork();
  if (pid_ < 0) return Error{ErrorCode::Internal, "fork failed"};
  if (pid_ == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (cpu >= 0) pin_to_cpu(0, cpu);
    ::dup2(out[1], STDOUT_FILENO);
    ::close(out[0]);
    ::close(out[1]);
    const char* argv[] = {program.c_str(),
                          "--dev",
                          "--port",
                          "0",
                          "--rate-limit-bytes",
                          "0",
                          "--rate-limit-messages",
                          "0",
                          // Every participant comes from this one address.
                          "--max-connections-per-address",
                          "0",
                          "--join-rate",
                          "0",
                          "--log-level",
                          "warn",
                          nullptr};
    ::execv(program.c_str(), const_cast<char* const*>(argv));
    std::fprintf(stderr, "cannot run %s: %s\n", program.c_str(), std::strerror(errno));
    ::_exit(127);
  }
  ::close(out[1]);
  out_ = out[0];
  // Read until the listening line (the server prints it once bound).
  std::string buffer;
  const auto deadline = BenchClock::now() + 15s;
  const std::string_view marker = "listening on ";
  while (BenchClock::now() < deadline) {
    const auto line = read_line(out_, buffer, deadline - BenchClock::now());
    if (!line) break;
    const auto at = line->find(marker);
    if (at == std::string::npos) continue;
    const auto begin = at + marker.size();
    const auto end = line->find(' ', begin);
    // Keep draining its stdout so it never blocks on a full pipe.
    drain_ = std::thread([fd = out_] {
      char sink[4096];
      while (::read(fd, sink, sizeof sink) > 0) {
      }
    });
    return "ws://" + line->substr(begin, end == std::string::npos ? end : end - begin);
  }
  return Error{ErrorCode::NotConnected,
               program + " did not print `listening on HOST:PORT` within 15 s"};
}

void ServerProcess::stop() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  if (drain_.joinable()) drain_.join();
  if (out_ >= 0) ::close(out_);
  out_ = -1;
}

Result<double> raw_udp_one_way_mbps(double seconds, int sender_cpu, int receiver_cpu) {
  int report[2];
  int stop[2];
  if (::pipe(report) != 0) return Error{ErrorCode::Internal, "pipe failed"};
  if (::pipe(stop) != 0) {
    ::close(report[0]);
    ::close(report[1]);
    return Error{ErrorCode::Internal, "pipe failed"};
  }
  const pid_t receiver = fork_pinned(receiver_cpu, [&] {
    ::close(report[0]);
    ::close(stop[1]);
    return raw_udp_receiver(report[1], stop[0]);
  });
  ::close(report[1]);
  ::close(stop[0]);
  std::string buffer;
  const auto port = read_line(report[0], buffer, 5s);
  pid_t sender = -1;
  if (port && !port->empty()) {
    sender = fork_pinned(sender_cpu, [&] {
      ::close(report[0]);
      ::close(stop[1]);
      return raw_udp_sender(static_cast<std::uint16_t>(std::stoi(*port)), seconds);
    });
    ::waitpid(sender, nullptr, 0);
  }
  ::close(stop[1]);  // the receiver finishes once nothing arrives for 100 ms
  const auto counted = read_line(report[0], buffer, 10s);
  ::close(report[0]);
  ::kill(receiver, SIGKILL);  // gone already unless it hangs
  ::waitpid(receiver, nullptr, 0);
  if (sender < 0 || !counted) {
    return Error{ErrorCode::Internal, "the raw UDP baseline's processes did not report"};
  }
  std::istringstream fields(*counted);
  double bytes = 0;
  double span = 0;
  fields >> bytes >> span;
  if (span <= 0) return Error{ErrorCode::Internal, "no raw UDP datagram arrived on 127.0.0.1"};
  return bytes / span / 1e6;
}

}  // namespace switchboard::cli
