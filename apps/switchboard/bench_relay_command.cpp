// `switchboard bench relay`: how many messages a server relays and how fast, measured end
// to end by real participants (one CallClient, one event thread) on this machine.
//
// --calls runs several calls of --participants at once (their senders all send), and
// --servers spreads the participants' first connections over the nodes of a cluster
// (docs/scaling.md), round robin: redirects take each to its call's node.
//
// Unless --server or --servers is given it starts the sibling switchboard-server pinned to CPU 0
// and pins itself to CPU 1, so the server's share of one core is what the figures cost. Phase 1
// saturates: every sender sends as fast as the relay drains (a window of messages in flight per
// sender keeps the server's queues far below the slow-consumer bound). Phase 2 paces the senders at
// half the phase-1 send rate (or --rate) to measure latency under load rather than queueing.
// Latency is receive time minus the steady_clock time the sender wrote into the message's first 8
// bytes (same machine, same clock).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

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

struct BenchArgs {
  int participants = 11;  // per call
  int senders = 1;        // per call
  int calls = 1;
  std::vector<std::string> servers;
  std::size_t size = 100;
  double duration = 5;
  bool json = false;
  std::string server;
  double rate = 0;
};

// Payload layout: [0..8) steady_clock nanoseconds at send, [8] phase.
constexpr std::size_t kHeaderSize = 9;
constexpr std::size_t kMaxBuffered = std::size_t{1024} * 1024;

enum Phase : std::uint8_t { kWarmup = 0, kSaturate = 1, kPaced = 2, kPhases = 3 };

// ------------------------------------------------------------------ the participants

struct PhaseResult {
  double seconds = 0;
  std::uint64_t sent = 0;
  std::uint64_t delivered = 0;
  std::optional<double> server_cpu;  // share of one core
  std::optional<double> client_cpu;  // this process (every participant), share of one core
  double p50_ms = 0;
  double p99_ms = 0;
  std::size_t samples = 0;
};

class Bench {
 public:
  explicit Bench(const BenchArgs& args) : args_(args) {}
  ~Bench() {
    for (auto& call : calls_) {
      if (call) call->leave();  // a failed join leaves a hole
    }
    client_.reset();
  }
  Bench(const Bench&) = delete;
  Bench& operator=(const Bench&) = delete;

  int run() {
    const int cpus = static_cast<int>(std::thread::hardware_concurrency());
    const bool pin = cpus >= 2;
    if (!args_.servers.empty()) {
      urls_ = args_.servers;
    } else if (args_.server.empty()) {
      const auto program = sibling_program("switchboard-server");
      auto url = server_.start(program, pin ? 0 : -1);
      if (!url) return fail(url.error().message);
      urls_ = {*url};
      log("started " + program + " (pid " + std::to_string(server_.pid()) + ") at " + *url +
          (pin ? ", pinned to CPU 0" : ""));
    } else {
      urls_ = {args_.server};
    }
    // Before the CallClient exists: its event thread inherits the affinity.
    if (pin && !pin_to_cpu(0, 1)) log("cannot pin the benchmark to CPU 1");
    client_ = std::make_unique<CallClient>();

    if (auto joined = join_all(); !joined) return fail(joined.error().message);
    if (auto warmed = warm_up(); !warmed) return fail(warmed.error().message);

    results_[kSaturate] = run_phase(kSaturate, 0);
    const double rate = args_.rate > 0 ? args_.rate
                                       : static_cast<double>(results_[kSaturate].sent) /
                                             results_[kSaturate].seconds / 2.0;
    paced_rate_ = rate;
    results_[kPaced] = run_phase(kPaced, rate);
    print();
    return disconnections_ == 0 ? 0 : 1;
  }

 private:
  struct Participant {
    std::shared_ptr<Call> call;
    std::shared_ptr<DataChannelSender> sender;  // senders only
  };

  static void log(const std::string& text) { std::cerr << "bench: " << text << std::endl; }
  static int fail(const std::string& text) {
    std::cerr << "switchboard bench relay: " << text << std::endl;
    return 1;
  }

  int fanout() const { return args_.participants - 1; }
  int total_participants() const { return args_.calls * args_.participants; }
  int total_senders() const { return args_.calls * args_.senders; }

  // Participant g is "p<g % participants>" of call g / participants.
  Result<std::shared_ptr<Call>> join_one(int g) {
    const auto call_id =
        "bench-" + std::to_string(::getpid()) + "-" + std::to_string(g / args_.participants);
    const auto user = "p" + std::to_string(g % args_.participants);
    const auto token = mint_access_token(user, call_id, "", std::chrono::hours{1},
                                         signaling::kDevelopmentSecret, unix_now());
    JoinOptions options;
    options.p2p = false;
    const auto& url = urls_[static_cast<std::size_t>(g) % urls_.size()];
    auto call = client_->join(url, call_id, *token, options);
    if (!call) {
      return Error{call.error().code,
                   "cannot join " + user + " to " + call_id + ": " + call.error().message};
    }
    (*call)->onDisconnected([this, user, call_id](const Error& error) {
      ++disconnections_;
      log(user + " of " + call_id + " was disconnected: " + error.message);
    });
    (*call)->dataChannel().onReceiverCreated(
        [this, g](const std::shared_ptr<DataChannelReceiver>& receiver) {
          on_receiver(g, receiver);
        });
    return *call;
  }

  Result<void> join_all() {
    for (int i = 0; i < args_.participants; ++i) {
      const auto user = "p" + std::to_string(i);
      identities_[user] = i;
    }
    received_ = std::vector<std::vector<std::atomic<std::uint64_t>>>(total_senders());
    for (auto& row : received_) row = std::vector<std::atomic<std::uint64_t>>(args_.participants);
    sent_ = std::vector<std::atomic<std::uint64_t>>(total_senders());

    // Joins block until the data connection is up: several at once when there are many.
    calls_.resize(static_cast<std::size_t>(total_participants()));
    const int joiners = std::min(total_participants(), args_.calls > 1 ? 8 : 1);
    std::atomic<int> next{0};
    std::mutex error_mutex;
    std::optional<Error> first_error;
    std::vector<std::thread> threads;
    threads.reserve(static_cast<std::size_t>(joiners));
    for (int t = 0; t < joiners; ++t) {
      threads.emplace_back([&] {
        for (int g = next++; g < total_participants(); g = next++) {
          auto call = join_one(g);
          if (!call) {
            const std::lock_guard lock(error_mutex);
            if (!first_error) first_error = call.error();
            return;
          }
          calls_[static_cast<std::size_t>(g)] = *call;
        }
      });
    }
    for (auto& thread : threads) thread.join();
    if (first_error) return *first_error;
    log("joined " + std::to_string(total_participants()) + " participants in " +
        std::to_string(args_.calls) + " call(s)");
    // Everyone sees everyone before anyone sends.
    const auto deadline = Clock::now() + 30s;
    for (auto& call : calls_) {
      while (call->participants().size() < static_cast<std::size_t>(fanout())) {
        if (Clock::now() > deadline) {
          return Error{ErrorCode::NotConnected, "the rosters did not complete within 30 s"};
        }
        std::this_thread::sleep_for(10ms);
      }
    }
    for (int s = 0; s < total_senders(); ++s) {
      const int g = (s / args_.senders) * args_.participants + s % args_.senders;
      auto sender =
          calls_[static_cast<std::size_t>(g)]->dataChannel().createSender({.channelId = 10000});
      if (!sender) return Error{sender.error().code, sender.error().message};
      (*sender)->onError([this](const Error& error) {
        if (send_errors_++ < 5)
          log("send error: " + std::string(to_string(error.code)) + ": " + error.message);
      });
      senders_.push_back(*sender);
    }
    return {};
  }

  // Event thread: every message of every receiver of participant `g` (global index).
  void on_receiver(int g, const std::shared_ptr<DataChannelReceiver>& receiver) {
    const auto it = identities_.find(receiver->senderIdentity());
    if (it == identities_.end() || it->second >= args_.senders) return;
    const int from = (g / args_.participants) * args_.senders + it->second;
    const int me = g % args_.participants;
    DataChannelReceiver* r = receiver.get();
    receivers_.push_back(receiver);  // event thread only
    auto read = [this, me, from, r] {
      const auto now = steady_now_ns();
      std::uint64_t count = 0;
      std::vector<std::uint32_t> latencies[kPhases];
      while (auto m = r->readMessage()) {
        ++count;
        if (m->data.size() < kHeaderSize) continue;
        std::int64_t sent_at = 0;
        std::memcpy(&sent_at, m->data.data(), sizeof sent_at);
        const auto phase = m->data[8];
        if (phase >= kPhases) continue;
        const auto latency = std::clamp<std::int64_t>(now - sent_at, 0, UINT32_MAX);
        latencies[phase].push_back(static_cast<std::uint32_t>(latency));
      }
      received_[from][me].fetch_add(count, std::memory_order_relaxed);
      delivered_.fetch_add(count, std::memory_order_relaxed);
      const std::lock_guard lock(latency_mutex_);
      for (int p = 0; p < kPhases; ++p) {
        latency_[p].insert(latency_[p].end(), latencies[p].begin(), latencies[p].end());
      }
    };
    receiver->onMessageReady(read);
    read();
  }

  // Messages of sender `s` (global index) not yet read by its slowest receiver.
  std::uint64_t in_flight(int s) const {
    std::uint64_t slowest = UINT64_MAX;
    for (int p = 0; p < args_.participants; ++p) {
      if (p == s % args_.senders) continue;
      slowest = std::min(slowest, received_[s][p].load(std::memory_order_relaxed));
    }
    const auto sent = sent_[s].load(std::memory_order_relaxed);
    return sent > slowest ? sent - slowest : 0;
  }

  bool send_one(int s, Phase phase) {
    const std::int64_t sent_at = steady_now_ns();
    std::memcpy(payload_.data(), &sent_at, sizeof sent_at);
    payload_[8] = phase;
    const auto seq = senders_[s]->sendMessage(std::span<const std::uint8_t>(payload_));
    if (!seq) {
      if (seq.error().code != ErrorCode::BufferFull && send_errors_++ < 5) {
        log("send failed: " + std::string(to_string(seq.error().code)) + ": " +
            seq.error().message);
      }
      return false;
    }
    sent_[s].fetch_add(1, std::memory_order_relaxed);
    return true;
  }

  // Waits until every receiver read everything sent; false on timeout.
  bool drain(Clock::duration timeout) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      bool done = true;
      for (int s = 0; s < total_senders(); ++s) done = done && in_flight(s) == 0;
      if (done) return true;
      if (Clock::now() > deadline || disconnections_ > 0) return false;
      std::this_thread::sleep_for(1ms);
    }
  }

  Result<void> warm_up() {
    payload_.assign(std::max(args_.size, kHeaderSize), 0);
    for (int k = 0; k < 20; ++k) {
      for (int s = 0; s < total_senders(); ++s) (void)send_one(s, kWarmup);
      std::this_thread::sleep_for(5ms);
    }
    if (!drain(15s)) {
      return Error{ErrorCode::NotConnected, "the warm-up messages did not all arrive within 15 s"};
    }
    return {};
  }

  // Every server's together (a cluster's nodes report theirs in /metrics).
  std::optional<double> server_cpu_seconds() const {
    if (server_.pid() > 0) return process_cpu_seconds(server_.pid());
    double total = 0;
    for (const auto& url : urls_) {
      auto cpu = server_metric(url, "process_cpu_seconds_total");
      if (!cpu) return std::nullopt;
      total += *cpu;
    }
    return total;
  }

  // rate 0 = saturate.
  PhaseResult run_phase(Phase phase, double rate) {
    // Per sender: at most this many messages unread by its slowest receiver, so that all
    // senders together keep about 2 MiB of deliveries in flight: the server's queues stay
    // far below the slow-consumer bound and saturated latency stays that backlog's.
    const std::size_t deliveries_in_flight_bytes = std::size_t{2} * 1024 * 1024;
    const std::uint64_t window = std::clamp<std::uint64_t>(
        deliveries_in_flight_bytes /
            (std::max<std::size_t>(payload_.size(), 64) * static_cast<std::size_t>(fanout()) *
             static_cast<std::size_t>(total_senders())),
        16, 8192);
    std::vector<std::uint64_t> sent_before(total_senders());
    for (int s = 0; s < total_senders(); ++s) sent_before[s] = sent_[s].load();
    const auto delivered_before = delivered_.load();
    const auto cpu_before = server_cpu_seconds();
    const auto client_cpu_before = process_cpu_seconds(::getpid());
    const auto start = Clock::now();
    const auto end = start + std::chrono::duration_cast<Clock::duration>(
                                 std::chrono::duration<double>(args_.duration));
    std::uint64_t paced_sent = 0;
    int next_sender = 0;
    while (Clock::now() < end && disconnections_ == 0) {
      if (rate > 0) {
        // Send every message that is due, then sleep until the next one.
        const auto elapsed = std::chrono::duration<double>(Clock::now() - start).count();
        const auto due = static_cast<std::uint64_t>(elapsed * rate) + 1;
        while (paced_sent < due) {
          // A relay that cannot keep up shows as a lower sent rate, not as a receiver cut
          // off for a backlog.
          if (in_flight(next_sender) < window) (void)send_one(next_sender, phase);
          next_sender = (next_sender + 1) % total_senders();
          ++paced_sent;
        }
        const auto next_at =
            start + std::chrono::duration_cast<Clock::duration>(
                        std::chrono::duration<double>(static_cast<double>(due) / rate));
        std::this_thread::sleep_until(std::min(next_at, end));
        continue;
      }
      bool progressed = false;
      for (int s = 0; s < total_senders(); ++s) {
        for (int k = 0; k < 256 && in_flight(s) < window; ++k) {
          if (senders_[s]->bufferedAmount() >= kMaxBuffered || !send_one(s, phase)) break;
          progressed = true;
        }
      }
      // The event thread shares this core: let it run when the window is full.
      if (!progressed) std::this_thread::sleep_for(50us);
    }
    const auto stop = Clock::now();
    const auto cpu_after = server_cpu_seconds();
    const auto client_cpu_after = process_cpu_seconds(::getpid());
    const auto delivered_after = delivered_.load();

    PhaseResult result;
    result.seconds = std::chrono::duration<double>(stop - start).count();
    for (int s = 0; s < total_senders(); ++s) result.sent += sent_[s].load() - sent_before[s];
    result.delivered = delivered_after - delivered_before;
    if (cpu_before && cpu_after) result.server_cpu = (*cpu_after - *cpu_before) / result.seconds;
    if (client_cpu_before && client_cpu_after) {
      result.client_cpu = (*client_cpu_after - *client_cpu_before) / result.seconds;
    }
    if (!drain(10s)) log("not every message arrived within 10 s of the phase's end");

    std::vector<std::uint32_t> latencies;
    {
      const std::lock_guard lock(latency_mutex_);
      latencies.swap(latency_[phase]);
    }
    const auto summary = summarize_latencies(std::move(latencies));
    result.samples = summary.samples;
    result.p50_ms = summary.p50_ms;
    result.p99_ms = summary.p99_ms;
    return result;
  }

  void print() const {
    const auto& sat = results_[kSaturate];
    const auto& paced = results_[kPaced];
    if (args_.json) {
      auto phase_json = [](const PhaseResult& r) {
        Json j;
        j["seconds"] = r.seconds;
        j["sentPerSecond"] = static_cast<double>(r.sent) / r.seconds;
        j["deliveredPerSecond"] = static_cast<double>(r.delivered) / r.seconds;
        j["serverCpu"] = r.server_cpu ? Json(*r.server_cpu) : Json(nullptr);
        j["clientCpu"] = r.client_cpu ? Json(*r.client_cpu) : Json(nullptr);
        j["latencyMs"] = {{"p50", r.p50_ms}, {"p99", r.p99_ms}, {"samples", r.samples}};
        return j;
      };
      Json out;
      out["calls"] = args_.calls;
      out["servers"] = urls_.size();
      out["participants"] = args_.participants;
      out["senders"] = args_.senders;
      out["fanout"] = fanout();
      out["size"] = payload_.size();
      out["server"] = args_.server.empty() ? "started" : args_.server;
      out["saturate"] = phase_json(sat);
      out["paced"] = phase_json(paced);
      out["paced"]["rate"] = paced_rate_;
      out["disconnections"] = disconnections_.load();
      std::cout << out.dump() << std::endl;
      return;
    }
    char line[256];
    std::cout << "switchboard bench relay: " << args_.calls << " call(s) on " << urls_.size()
              << " server(s), each of " << args_.participants << " participants, " << args_.senders
              << " sender(s) broadcasting " << payload_.size() << "-byte messages (fan-out "
              << fanout() << "), " << args_.duration << " s per phase\n";
    std::snprintf(line, sizeof line, "%-22s %12s %14s %11s %11s %9s %9s\n", "phase", "sent msg/s",
                  "delivered/s", "server CPU", "client CPU", "p50 ms", "p99 ms");
    std::cout << line;
    auto percent = [](const std::optional<double>& share) {
      return share ? std::to_string(std::lround(*share * 100)) + "%" : std::string("n/a");
    };
    auto row = [&](const std::string& name, const PhaseResult& r) {
      std::snprintf(line, sizeof line, "%-22s %12.0f %14.0f %11s %11s %9.3f %9.3f\n", name.c_str(),
                    static_cast<double>(r.sent) / r.seconds,
                    static_cast<double>(r.delivered) / r.seconds, percent(r.server_cpu).c_str(),
                    percent(r.client_cpu).c_str(), r.p50_ms, r.p99_ms);
      std::cout << line;
    };
    row("saturated", sat);
    row("paced at " + std::to_string(static_cast<long>(paced_rate_)) + "/s", paced);
    if (disconnections_ > 0) {
      std::cout << disconnections_ << " participant(s) were disconnected: figures are partial\n";
    }
    std::cout.flush();
  }

  BenchArgs args_;
  ServerProcess server_;
  std::vector<std::string> urls_;
  // Reset first in ~Bench: its event thread runs callbacks that use the fields below.
  std::unique_ptr<CallClient> client_;
  std::vector<std::shared_ptr<Call>> calls_;
  std::vector<std::shared_ptr<DataChannelSender>> senders_;
  std::vector<std::shared_ptr<DataChannelReceiver>> receivers_;
  std::map<Identity, int> identities_;
  // received_[sender][receiver]: messages read, written by the event thread.
  std::vector<std::vector<std::atomic<std::uint64_t>>> received_;
  std::vector<std::atomic<std::uint64_t>> sent_;
  std::atomic<std::uint64_t> delivered_{0};
  std::atomic<int> disconnections_{0};
  std::atomic<int> send_errors_{0};
  std::mutex latency_mutex_;
  std::vector<std::uint32_t> latency_[kPhases];
  Bytes payload_;
  PhaseResult results_[kPhases];
  double paced_rate_ = 0;
};

int run_bench_relay(const BenchArgs& args) {
  if (args.participants < 2) {
    std::cerr << "--participants must be at least 2\n";
    return 2;
  }
  if (args.senders < 1 || args.senders > args.participants) {
    std::cerr << "--senders must be 1..participants\n";
    return 2;
  }
  if (args.size < kHeaderSize) {
    std::cerr << "--size must be at least " << kHeaderSize << " (timestamp and phase)\n";
    return 2;
  }
  if (args.calls < 1) {
    std::cerr << "--calls must be at least 1\n";
    return 2;
  }
  for (const auto& url : args.servers) {
    if (!url.starts_with("ws://") && !url.starts_with("wss://")) {
      std::cerr << "--servers takes ws:// URLs, not \"" << url << "\"\n";
      return 2;
    }
  }
  if (!args.server.empty() && !args.servers.empty()) {
    std::cerr << "give --server or --servers, not both\n";
    return 2;
  }
  if (args.duration <= 0) {
    std::cerr << "--duration must be positive\n";
    return 2;
  }
  std::signal(SIGPIPE, SIG_IGN);
  Bench bench(args);
  return bench.run();
}

}  // namespace

void add_bench_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<BenchArgs>();
  auto* bench = app.add_subcommand("bench", "Benchmarks against a real server");
  bench->require_subcommand(1);
  auto* relay = bench->add_subcommand(
      "relay", "Relay throughput (saturated) and latency (paced at half of it)");
  relay->add_option("--participants", args->participants, "Participants in the call")
      ->capture_default_str();
  relay->add_option("--senders", args->senders, "How many of them broadcast")
      ->capture_default_str();
  relay->add_option("--size", args->size, "Message size in bytes (at least 9)")
      ->capture_default_str();
  relay->add_option("--duration", args->duration, "Seconds per phase")->capture_default_str();
  relay->add_flag("--json", args->json, "Print one JSON object instead of a table");
  relay->add_option("--server", args->server,
                    "Use this running server (started with --dev) instead of starting one");
  relay->add_option("--calls", args->calls, "Calls of --participants each, all sending at once")
      ->capture_default_str();
  relay
      ->add_option("--servers", args->servers,
                   "Nodes of a running cluster (started with --dev), comma-separated: "
                   "participants enter through them in turn")
      ->delimiter(',');
  relay->add_option("--rate", args->rate,
                    "Phase 2 send rate, messages/s over all senders (default: half of phase 1)");
  relay->callback([args, &exit_code] { exit_code = run_bench_relay(*args); });
  add_bench_p2p_command(*bench, exit_code);
}

}  // namespace switchboard::cli
