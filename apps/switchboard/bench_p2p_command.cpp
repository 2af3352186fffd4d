// `switchboard bench p2p`: the direct path between the two participants of a 1:1 call on
// this machine — durable throughput, paced latency, and a raw UDP baseline measured in the
// same run so the figure comes with a ratio.
//
// The SCTP stack is process-wide, so the sender and the receiver each run in a process of
// their own (forked before anything here touches the SDK, each with its own CallClient,
// pinned to CPUs 0 and 1). This process starts the server (not pinned: it only signals),
// drives the phases over a pipe to each, and reads the server's relayed-message counter
// before and after, which must not move: the bytes went direct.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <deque>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <switchboard/switchboard.hpp>

#include "agent_protocol.hpp"
#include "bench_support.hpp"
#include "commands.hpp"
#include "credentials.hpp"
#include "signaling/token.hpp"

namespace switchboard::cli {
namespace {

using Clock = BenchClock;
using namespace std::chrono_literals;

struct P2pArgs {
  std::size_t size = 65536;
  double duration = 5;
  bool json = false;
  std::string server;
};

// Payload layout: [0..8) steady_clock ns at send, [8] phase. A phase ends with a
// 10-byte kEndOfPhase message whose [9] names it (durable and ordered: after all of it).
enum Phase : std::uint8_t { kWarmup = 0, kThroughput = 1, kLatency = 2, kEndOfPhase = 3 };
constexpr std::size_t kHeaderSize = 9;
constexpr std::uint16_t kChannel = 10000;
constexpr auto kDirectPathTimeout = 15s;
constexpr int kWarmupMessages = 32;
constexpr auto kBufferFullPause = 150us;
constexpr double kMegabyte = 1e6;

// The throughput figure skips the first half second (the congestion window opening).
double steady_skip_seconds(double duration) {
  return std::min(0.5, duration / 4);
}
double latency_seconds(double duration) {
  return std::min(2.0, duration);
}
// 200/s for 64 KiB messages (13 MB/s), up to 2,000/s for small ones.
double latency_rate(std::size_t size) {
  return std::clamp(200.0 * 65536 / static_cast<double>(size), 50.0, 2000.0);
}

Clock::duration seconds(double s) {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}

// ------------------------------------------------------------------ a participant process

// One side of the call in its own process: reads commands (one word a line) from the
// coordinator and reports JSON lines to it.
class Participant {
 public:
  Participant(const P2pArgs& args, int commands, int reports)
      : args_(args), commands_(commands), reports_(reports) {}
  virtual ~Participant() {
    if (call_) call_->leave();
    client_.reset();
  }
  Participant(const Participant&) = delete;
  Participant& operator=(const Participant&) = delete;

  // Joins, waits for the direct path, then obeys commands until "quit" or EOF.
  int run(const std::string& url, const std::string& call_id, const std::string& user) {
    client_ = std::make_unique<CallClient>();
    if (auto direct = go_direct(url, call_id, user); !direct) {
      report_error(direct.error().message);
      return 1;
    }
    report({{"event", "direct"}});
    std::string buffer;
    while (auto command = read_line(commands_, buffer, 24h)) {
      if (*command == "quit") break;
      // Asked of both before either quits: once one leaves the call, the other's falling
      // back to the server is no fallback of the run.
      if (*command == "fallbacks") {
        report({{"event", "fallbacks"}, {"fallbacks", fallbacks_.load()}});
        continue;
      }
      if (auto done = obey(*command); !done) {
        report_error(done.error().message);
        return 1;
      }
    }
    report({{"event", "bye"}});
    return 0;
  }

 protected:
  virtual void on_joined() {}
  virtual Result<void> obey(const std::string& command) = 0;

  // One line: a single write() under PIPE_BUF, so the event thread may report too.
  void report(const Json& event) const { (void)write_all(reports_, event.dump() + "\n"); }
  void report_error(const std::string& message) const {
    report({{"event", "error"}, {"message", message}});
  }

  const P2pArgs& args_;
  std::shared_ptr<Call> call_;

 private:
  Result<void> go_direct(const std::string& url, const std::string& call_id,
                         const std::string& user) {
    const auto token = mint_access_token(user, call_id, "", std::chrono::hours{1},
                                         signaling::kDevelopmentSecret, unix_now());
    if (!token) return token.error();
    auto call = client_->join(url, call_id, *token);
    if (!call) return Error{call.error().code, "cannot join: " + call.error().message};
    call_ = *call;
    call_->onDisconnected(
        [this](const Error& error) { report_error("disconnected: " + error.message); });
    call_->onTransportChanged([this](const TransportInfo& info) {
      if (info.mode == TransportMode::Server && direct_) ++fallbacks_;
    });
    on_joined();
    const auto deadline = Clock::now() + kDirectPathTimeout;
    while (call_->participants().empty()) {
      if (Clock::now() > deadline) {
        return Error{ErrorCode::NotConnected, "the other participant did not join within 15 s"};
      }
      std::this_thread::sleep_for(5ms);
    }
    const auto direct_deadline = Clock::now() + kDirectPathTimeout;
    while (call_->transport().mode != TransportMode::PeerToPeer) {
      if (Clock::now() > direct_deadline) {
        return Error{ErrorCode::NotConnected,
                     "the direct path did not come up within 15 s (messages still go through "
                     "the server): is UDP on 127.0.0.1 blocked?"};
      }
      std::this_thread::sleep_for(5ms);
    }
    direct_ = true;
    return {};
  }

  int commands_;
  int reports_;
  std::unique_ptr<CallClient> client_;
  std::atomic<bool> direct_{false};
  std::atomic<int> fallbacks_{0};
};

class SendingParticipant final : public Participant {
 public:
  using Participant::Participant;

 private:
  Result<void> obey(const std::string& command) override {
    if (!sender_) {
      auto sender = call_->dataChannel().createSender({.channelId = kChannel});
      if (!sender) return sender.error();
      sender_ = *sender;
      sender_->onError([this](const Error& error) {
        report_error("send error: " + std::string(to_string(error.code)) + ": " + error.message);
      });
      payload_.assign(args_.size, 0x5a);
    }
    if (command == "warmup") return warm_up();
    if (command == "throughput") return blast();
    if (command == "latency") return pace();
    return Error{ErrorCode::InvalidArgument, "unknown command " + command};
  }

  // Durable: BUFFER_FULL means "later", so wait briefly and retry.
  Result<void> send(std::span<const std::uint8_t> data, std::uint64_t& buffer_full) {
    for (;;) {
      const auto sent = sender_->sendMessage(data);
      if (sent) return {};
      if (sent.error().code != ErrorCode::BufferFull) return sent.error();
      ++buffer_full;
      std::this_thread::sleep_for(kBufferFullPause);
    }
  }

  Result<void> send_stamped(Phase phase, std::uint64_t& buffer_full) {
    const std::int64_t now = steady_now_ns();
    std::memcpy(payload_.data(), &now, sizeof now);
    payload_[8] = phase;
    return send(payload_, buffer_full);
  }

  Result<void> end_phase(Phase phase, std::uint64_t messages, std::uint64_t buffer_full) {
    std::uint8_t marker[kHeaderSize + 1] = {};
    marker[8] = kEndOfPhase;
    marker[9] = phase;
    if (auto sent = send(marker, buffer_full); !sent) return sent;
    report({{"event", "sent"},
            {"phase", static_cast<int>(phase)},
            {"messages", messages},
            {"bufferFull", buffer_full}});
    return {};
  }

  Result<void> warm_up() {
    std::uint64_t buffer_full = 0;
    for (int i = 0; i < kWarmupMessages; ++i) {
      if (auto sent = send_stamped(kWarmup, buffer_full); !sent) return sent;
    }
    return end_phase(kWarmup, kWarmupMessages, buffer_full);
  }

  Result<void> blast() {
    std::uint64_t messages = 0;
    std::uint64_t buffer_full = 0;
    const auto end = Clock::now() + seconds(args_.duration);
    while (Clock::now() < end) {
      if (auto sent = send_stamped(kThroughput, buffer_full); !sent) return sent;
      ++messages;
    }
    return end_phase(kThroughput, messages, buffer_full);
  }

  Result<void> pace() {
    const double rate = latency_rate(args_.size);
    const auto start = Clock::now();
    const auto end = start + seconds(latency_seconds(args_.duration));
    std::uint64_t messages = 0;
    std::uint64_t buffer_full = 0;
    while (Clock::now() < end) {
      if (auto sent = send_stamped(kLatency, buffer_full); !sent) return sent;
      ++messages;
      std::this_thread::sleep_until(start + seconds(static_cast<double>(messages) / rate));
    }
    return end_phase(kLatency, messages, buffer_full);
  }

  std::shared_ptr<DataChannelSender> sender_;
  Bytes payload_;
};

class ReceivingParticipant final : public Participant {
 public:
  using Participant::Participant;

 private:
  // Before reporting `direct`: the sender creates its sender only after that.
  void on_joined() override {
    call_->dataChannel().onReceiverCreated([this](const std::shared_ptr<DataChannelReceiver>& r) {
      if (r->channelId() != kChannel) return;
      receiver_ = r;
      r->onMessageReady([this] { read(); });
      read();
    });
  }

  Result<void> obey(const std::string& command) override {
    return Error{ErrorCode::InvalidArgument, "the receiver takes no command " + command};
  }

  // Event thread: everything below is its own.
  void read() {
    while (auto message = receiver_->readMessage()) {
      const auto& data = message->data;
      if (data.size() < kHeaderSize) continue;
      const auto now = Clock::now();
      switch (data[8]) {
        case kThroughput:
          count_bulk(now, data.size());
          break;
        case kLatency: {
          std::int64_t sent_at = 0;
          std::memcpy(&sent_at, data.data(), sizeof sent_at);
          const auto latency =
              std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count() -
              sent_at;
          latencies_.push_back(
              static_cast<std::uint32_t>(std::clamp<std::int64_t>(latency, 0, UINT32_MAX)));
          ++messages_[kLatency];
          break;
        }
        case kEndOfPhase:
          if (data.size() > kHeaderSize) end_of_phase(data[9]);
          break;
        default:
          ++messages_[kWarmup];
      }
    }
  }

  void count_bulk(Clock::time_point now, std::size_t size) {
    if (messages_[kThroughput]++ == 0) first_ = now;
    bytes_ += size;
    if (!steady_from_ && now - first_ >= seconds(steady_skip_seconds(args_.duration))) {
      steady_from_ = now;
      steady_base_ = bytes_;
    }
    last_ = now;
  }

  void end_of_phase(std::uint8_t phase) {
    Json event{{"event", "received"}, {"phase", static_cast<int>(phase)}};
    if (phase < kEndOfPhase) event["messages"] = messages_[phase];
    if (phase == kThroughput) {
      // Steady part: after the skip, up to the last message. Too short a run for a
      // steady part: all of it.
      double span = steady_from_ ? std::chrono::duration<double>(last_ - *steady_from_).count() : 0;
      std::uint64_t bytes = bytes_ - steady_base_;
      if (span <= 0) {
        span = std::chrono::duration<double>(last_ - first_).count();
        bytes = bytes_;
      }
      event["mbps"] = span > 0 ? static_cast<double>(bytes) / span / kMegabyte : 0.0;
      event["seconds"] = span;
    }
    if (phase == kLatency) {
      const auto summary = summarize_latencies(std::move(latencies_));
      latencies_.clear();
      event["p50"] = summary.p50_ms;
      event["p99"] = summary.p99_ms;
      event["samples"] = summary.samples;
    }
    report(event);
  }

  std::shared_ptr<DataChannelReceiver> receiver_;
  std::uint64_t messages_[kEndOfPhase] = {};
  std::uint64_t bytes_ = 0;
  std::uint64_t steady_base_ = 0;
  Clock::time_point first_{};
  Clock::time_point last_{};
  std::optional<Clock::time_point> steady_from_;
  std::vector<std::uint32_t> latencies_;
};

// ------------------------------------------------------------------ the coordinator

struct Figures {
  double raw_mbps = 0;
  double mbps = 0;
  double steady_seconds = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  std::uint64_t samples = 0;
  std::optional<double> relayed;
};

class Coordinator {
 public:
  explicit Coordinator(const P2pArgs& args) : args_(args) {}
  // The participants see EOF on their commands and leave; any still there after 5 s is
  // killed.
  ~Coordinator() {
    for (auto& role : roles_) ::close(role.commands);
    const auto deadline = Clock::now() + 5s;
    for (auto& role : roles_) {
      while (::waitpid(role.pid, nullptr, WNOHANG) == 0) {
        if (Clock::now() > deadline) {
          ::kill(role.pid, SIGKILL);
          ::waitpid(role.pid, nullptr, 0);
          break;
        }
        std::this_thread::sleep_for(10ms);
      }
      ::close(role.reports);
    }
  }
  Coordinator(const Coordinator&) = delete;
  Coordinator& operator=(const Coordinator&) = delete;

  int run() {
    const bool pin = std::thread::hardware_concurrency() >= 2;
    if (args_.server.empty()) {
      const auto program = sibling_program("switchboard-server");
      auto url = server_.start(program, -1);
      if (!url) return fail(url.error().message);
      url_ = *url;
      log("started " + program + " (pid " + std::to_string(server_.pid()) + ") at " + url_);
    } else {
      url_ = args_.server;
    }

    log("raw UDP baseline...");
    auto raw = raw_udp_one_way_mbps(latency_seconds(args_.duration), pin ? 0 : -1, pin ? 1 : -1);
    if (!raw) return fail(raw.error().message);
    figures_.raw_mbps = *raw;

    const auto call_id = "bench-p2p-" + std::to_string(::getpid());
    if (!spawn<ReceivingParticipant>("receiver", call_id, pin ? 1 : -1) ||
        !spawn<SendingParticipant>("sender", call_id, pin ? 0 : -1)) {
      return fail("cannot start the participant processes");
    }
    for (auto& role : roles_) {
      if (auto direct = expect(role, "direct", 2 * kDirectPathTimeout + 5s); !direct) {
        return fail(direct.error().message);
      }
    }
    log("both participants are on the direct path");
    Role& sender = roles_[1];
    Role& receiver = roles_[0];

    if (auto warm = run_phase(sender, receiver, "warmup", kWarmup, 15s); !warm) {
      return fail(warm.error().message);
    }
    const auto relayed_before = server_metric(url_, "switchboard_relayed_messages_total");

    log("throughput, " + std::to_string(args_.size) + "-byte durable messages...");
    auto bulk =
        run_phase(sender, receiver, "throughput", kThroughput, seconds(args_.duration) + 30s);
    if (!bulk) return fail(bulk.error().message);
    figures_.mbps = (*bulk)["mbps"].get<double>();
    figures_.steady_seconds = (*bulk)["seconds"].get<double>();

    log("latency at " + std::to_string(std::lround(latency_rate(args_.size))) + " messages/s...");
    auto paced = run_phase(sender, receiver, "latency", kLatency,
                           seconds(latency_seconds(args_.duration)) + 30s);
    if (!paced) return fail(paced.error().message);
    figures_.p50_ms = (*paced)["p50"].get<double>();
    figures_.p99_ms = (*paced)["p99"].get<double>();
    figures_.samples = (*paced)["samples"].get<std::uint64_t>();

    const auto relayed_after = server_metric(url_, "switchboard_relayed_messages_total");
    if (relayed_before && relayed_after) figures_.relayed = *relayed_after - *relayed_before;

    int fallbacks = 0;
    for (auto& role : roles_) {
      (void)write_all(role.commands, "fallbacks\n");
      auto count = expect(role, "fallbacks", 15s);
      if (!count) return fail(count.error().message);
      fallbacks += (*count)["fallbacks"].get<int>();
    }
    for (auto& role : roles_) {
      (void)write_all(role.commands, "quit\n");
      auto bye = expect(role, "bye", 15s);
      if (!bye) return fail(bye.error().message);
    }
    print();
    if (fallbacks > 0) {
      return fail("a participant left the direct path during the run: the figures are mixed");
    }
    if (!figures_.relayed) return fail("cannot read GET /metrics of " + url_);
    // On a server of our own nothing else runs: any relayed message was ours.
    if (args_.server.empty() && *figures_.relayed != 0) {
      return fail("the server relayed messages during the run: they did not all go direct");
    }
    return 0;
  }

 private:
  struct Role {
    std::string name;
    pid_t pid = -1;
    int commands = -1;  // our write end
    int reports = -1;   // our read end
    std::string buffer;
    std::deque<Json> events;
  };

  static void log(const std::string& text) { std::cerr << "bench: " << text << std::endl; }
  static int fail(const std::string& text) {
    std::cerr << "switchboard bench p2p: " << text << std::endl;
    return 1;
  }

  template <typename Kind>
  bool spawn(const std::string& name, const std::string& call_id, int cpu) {
    int commands[2];
    int reports[2];
    if (::pipe(commands) != 0) return false;
    if (::pipe(reports) != 0) {
      ::close(commands[0]);
      ::close(commands[1]);
      return false;
    }
    std::cout.flush();
    std::cerr.flush();
    const pid_t pid = ::fork();
    if (pid < 0) {
      for (int fd : {commands[0], commands[1], reports[0], reports[1]}) ::close(fd);
      return false;
    }
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (cpu >= 0) pin_to_cpu(0, cpu);
      for (auto& role : roles_) {
        ::close(role.commands);
        ::close(role.reports);
      }
      ::close(commands[1]);
      ::close(reports[0]);
      int status = 0;
      {
        Kind participant(args_, commands[0], reports[1]);
        status = participant.run(url_, call_id, name);
      }
      std::cerr.flush();
      ::_exit(status);  // never back into the coordinator's stack
    }
    ::close(commands[0]);
    ::close(reports[1]);
    roles_.push_back(Role{name, pid, commands[1], reports[0], {}, {}});
    return true;
  }

  // Sends `command` to the sender and waits for the receiver's report of that phase.
  Result<Json> run_phase(Role& sender, Role& receiver, const std::string& command, Phase phase,
                         Clock::duration timeout) {
    if (!write_all(sender.commands, command + "\n")) {
      return Error{ErrorCode::Internal, "the sender process is gone"};
    }
    auto sent = expect(sender, "sent", timeout);
    if (!sent) return sent;
    auto received = expect(receiver, "received", 15s);
    if (!received) return received;
    if ((*sent)["phase"] != static_cast<int>(phase) ||
        (*received)["phase"] != static_cast<int>(phase)) {
      return Error{ErrorCode::Internal, "the participants disagree on the phase"};
    }
    // Durable: every message arrives, once.
    if ((*received)["messages"] != (*sent)["messages"]) {
      return Error{ErrorCode::Internal, command + ": " + (*sent)["messages"].dump() +
                                            " messages sent, " + (*received)["messages"].dump() +
                                            " received"};
    }
    return received;
  }

  // The next `event` of `role`. An error reported by either participant fails at once.
  Result<Json> expect(Role& role, const std::string& event, Clock::duration timeout) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      for (auto& r : roles_) {
        for (const auto& e : r.events) {
          if (e.value("event", "") == "error") {
            return Error{ErrorCode::Internal, r.name + ": " + e.value("message", "")};
          }
        }
      }
      if (!role.events.empty()) {
        auto next = std::move(role.events.front());
        role.events.pop_front();
        if (next.value("event", "") == event) return next;
        return Error{ErrorCode::Internal,
                     role.name + " reported " + next.dump() + " while " + event + " was due"};
      }
      if (Clock::now() > deadline) {
        return Error{ErrorCode::NotConnected, role.name + " did not report " + event + " in time"};
      }
      if (auto gone = poll_reports(); !gone) return gone.error();
    }
  }

  // Reads what either participant reported within 100 ms into its queue.
  Result<void> poll_reports() {
    std::vector<pollfd> fds;
    for (auto& r : roles_) fds.push_back({r.reports, POLLIN, 0});
    if (::poll(fds.data(), fds.size(), 100) <= 0) return {};
    for (std::size_t i = 0; i < roles_.size(); ++i) {
      if ((fds[i].revents & (POLLIN | POLLHUP)) == 0) continue;
      auto& role = roles_[i];
      char chunk[4096];
      const auto n = ::read(role.reports, chunk, sizeof chunk);
      if (n <= 0) {
        return Error{ErrorCode::Internal, "the " + role.name + " process exited unexpectedly"};
      }
      role.buffer.append(chunk, static_cast<std::size_t>(n));
      for (auto nl = role.buffer.find('\n'); nl != std::string::npos; nl = role.buffer.find('\n')) {
        auto parsed = Json::parse(role.buffer.substr(0, nl), nullptr, false);
        role.buffer.erase(0, nl + 1);
        if (!parsed.is_discarded()) role.events.push_back(std::move(parsed));
      }
    }
    return {};
  }

  void print() const {
    const double ratio = figures_.raw_mbps > 0 ? figures_.mbps / figures_.raw_mbps : 0;
    if (args_.json) {
      Json out;
      out["size"] = args_.size;
      out["duration"] = args_.duration;
      out["throughputMBps"] = figures_.mbps;
      out["latencyP50Ms"] = figures_.p50_ms;
      out["latencyP99Ms"] = figures_.p99_ms;
      out["latencySamples"] = figures_.samples;
      out["latencyRate"] = latency_rate(args_.size);
      out["rawUdpMBps"] = figures_.raw_mbps;
      out["ratio"] = ratio;
      out["relayedDuringRun"] =
          figures_.relayed ? Json(std::llround(*figures_.relayed)) : Json(nullptr);
      std::cout << out.dump() << std::endl;
      return;
    }
    char line[256];
    std::cout << "switchboard bench p2p: a 1:1 call on the direct path, one process per "
                 "participant, loopback, "
              << args_.size << "-byte durable messages\n";
    std::snprintf(line, sizeof line, "%-52s %10s %8s\n", "", "MB/s", "vs raw");
    std::cout << line;
    std::snprintf(line, sizeof line, "%-52s %10.1f %8.2f\n",
                  "raw UDP one way, 1200-byte datagrams, 1 per send", figures_.raw_mbps, 1.0);
    std::cout << line;
    char direct[128];
    std::snprintf(direct, sizeof direct, "direct path, durable (%.1f s steady of %.1f s)",
                  figures_.steady_seconds, args_.duration);
    std::snprintf(line, sizeof line, "%-52s %10.1f %8.2f\n", direct, figures_.mbps, ratio);
    std::cout << line;
    std::snprintf(line, sizeof line,
                  "latency at %.0f messages/s: p50 %.3f ms, p99 %.3f ms (%llu samples)\n",
                  latency_rate(args_.size), figures_.p50_ms, figures_.p99_ms,
                  static_cast<unsigned long long>(figures_.samples));
    std::cout << line;
    std::cout << "relayed by the server during the run: "
              << (figures_.relayed ? std::to_string(std::llround(*figures_.relayed)) : "n/a")
              << " messages\n";
    std::cout.flush();
  }

  P2pArgs args_;
  ServerProcess server_;
  std::string url_;
  std::vector<Role> roles_;  // receiver, sender
  Figures figures_;
};

int run_bench_p2p(const P2pArgs& args) {
  if (args.size < kHeaderSize + 1) {
    std::cerr << "--size must be at least " << kHeaderSize + 1 << " (timestamp and phase)\n";
    return 2;
  }
  if (args.duration <= 0) {
    std::cerr << "--duration must be positive\n";
    return 2;
  }
  std::signal(SIGPIPE, SIG_IGN);
  Coordinator coordinator(args);
  return coordinator.run();
}

}  // namespace

void add_bench_p2p_command(CLI::App& bench, int& exit_code) {
  auto args = std::make_shared<P2pArgs>();
  auto* p2p = bench.add_subcommand(
      "p2p", "Direct-path throughput and latency of a 1:1 call, beside raw UDP");
  p2p->add_option("--size", args->size, "Message size in bytes (at least 10)")
      ->capture_default_str();
  p2p->add_option("--duration", args->duration, "Seconds of the throughput phase")
      ->capture_default_str();
  p2p->add_flag("--json", args->json, "Print one JSON object instead of a table");
  p2p->add_option("--server", args->server,
                  "Use this running server (started with --dev) instead of starting one");
  p2p->callback([args, &exit_code] { exit_code = run_bench_p2p(*args); });
}

}  // namespace switchboard::cli
