#pragma once

// What the `switchboard bench` commands share: the server they start, CPU pinning and
// accounting, the server's metrics, latency percentiles, line pipes between processes and
// a raw UDP baseline.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <sys/types.h>

#include "switchboard/result.hpp"

namespace switchboard::cli {

using BenchClock = std::chrono::steady_clock;

// steady_clock now, in ns: CLOCK_MONOTONIC is system-wide, so a time written by one
// process and read by another on the same machine gives a valid one-way latency.
std::int64_t steady_now_ns();

// `pid` 0 = the calling thread; threads it starts later inherit the affinity.
bool pin_to_cpu(pid_t pid, int cpu);

// utime + stime of `pid`, in seconds.
std::optional<double> process_cpu_seconds(pid_t pid);

// `name` in the directory of this executable (where switchboard-server is built).
std::string sibling_program(std::string_view name);

// A sample without labels (e.g. "switchboard_relayed_messages_total") from the GET
// /metrics of the server at `url` ("ws://host:port").
std::optional<double> server_metric(const std::string& url, std::string_view name);

struct LatencySummary {
  double p50_ms = 0;
  double p99_ms = 0;
  std::size_t samples = 0;
};
LatencySummary summarize_latencies(std::vector<std::uint32_t> latencies_ns);

// The middle value (the upper one of an even count); 0 for none.
double median(std::vector<double> values);

// Writes all of `text`; false when the other end is gone. Lines under PIPE_BUF (4 KiB)
// reach a pipe in one piece even when several threads write.
bool write_all(int fd, std::string_view text);
// The next line from `fd` (without its newline), reading into `buffer`; nullopt at EOF or
// after `timeout`.
std::optional<std::string> read_line(int fd, std::string& buffer, BenchClock::duration timeout);

// A switchboard-server child process for the benchmark's call.
class ServerProcess {
 public:
  ServerProcess() = default;
  ~ServerProcess() { stop(); }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // Starts `program --dev --port 0` without rate limits, pinned to `cpu` (-1: not
  // pinned), and returns "ws://HOST:PORT" from its `listening on HOST:PORT` line.
  Result<std::string> start(const std::string& program, int cpu);
  pid_t pid() const { return pid_; }
  void stop();

 private:
  pid_t pid_ = -1;
  int out_ = -1;
  std::thread drain_;
};

// What a plain socket carries on this machine: one process sends 1200-byte datagrams to
// 127.0.0.1 for `seconds`, one send() each, 64 KiB worth per loop turn; another counts
// what arrives between its first and last datagram. MB/s (10^6 bytes). CPUs -1: not
// pinned.
Result<double> raw_udp_one_way_mbps(double seconds, int sender_cpu, int receiver_cpu);

}  // namespace switchboard::cli
