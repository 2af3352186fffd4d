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
//
// --resumable off joins with JoinOptions::reconnectTimeout 0, so neither the SDK nor the server
// keeps a copy of each durable transport message until the other side acknowledges it (the resume
// logs, docs/protocol.md "Reconnecting and resuming"); on (the SDK's default) keeps them. Each
// round joins afresh against a server of its own; with --resumable both every round measures on
// and off, in alternating order, and the medians of --rounds rounds are printed with their ratio.
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
  std::string resumable = "on";  // on, off or both
  int rounds = 1;
};

// Payload layout: [0..8) steady_clock nanoseconds at send, [8] phase.
constexpr std::size_t kHeaderSize = 9;
constexpr std::size_t kMaxBuffered = std::size_t{1024} * 1024;

enum Phase : std::uint8_t { kWarmup = 0, kSaturate = 1, kPaced = 2, kPhases = 3 };

// ------------------------------------------------------------------ the participants

struct PhaseResult {
  double seconds = 0;
  double sent_per_second = 0;
  double delivered_per_second = 0;
  std::optional<double> server_cpu;  // share of one core
  std::optional<double> client_cpu;  // this process (every participant), share of one core
  double p50_ms = 0;
  double p99_ms = 0;
  std::size_t samples = 0;
};

struct RoundResult {
  bool resumable = true;
  PhaseResult saturated;
  PhaseResult paced;
  double paced_rate = 0;
  int disconnections = 0;
};

class Bench {
 public:
  // resumable: join with the SDK's default reconnect window (resume logs on both sides), or
  // with none.
  Bench(const BenchArgs& args, bool resumable) : args_(args), resumable_(resumable) {}
  ~Bench() {
    for (auto& call : calls_) {
      if (call) call->leave();  // a failed join leaves a hole
    }
    client_.reset();
  }
  Bench(const Bench&) = delete;
  Bench& operator=(const Bench&) = delete;

  Result<RoundResult> run() {
    const int cpus = static_cast<int>(std::thread::hardware_concurrency());
    const bool pin = cpus >= 2;
    if (!args_.servers.empty()) {
      urls_ = args_.servers;
    } else if (args_.server.empty()) {
      const auto program = sibling_program("switchboard-server");
      auto url = server_.start(program, pin ? 0 : -1);
      if (!url) return url.error();
      urls_ = {*url};
      log("started " + program + " (pid " + std::to_string(server_.pid()) + ") at " + *url +
          (pin ? ", pinned to CPU 0" : ""));
    } else {
      urls_ = {args_.server};
    }
    // Before the CallClient exists: its event thread inherits the affinity.
    if (pin && !pin_to_cpu(0, 1)) log("cannot pin the benchmark to CPU 1");
    client_ = std::make_unique<CallClient>();

    if (auto joined = join_all(); !joined) return joined.error();
    if (auto warmed = warm_up(); !warmed) return warmed.error();

    RoundResult result;
    result.resumable = resumable_;
    result.saturated = run_phase(kSaturate, 0);
    result.paced_rate = args_.rate > 0 ? args_.rate : result.saturated.sent_per_second / 2.0;
    result.paced = run_phase(kPaced, result.paced_rate);
    result.disconnections = disconnections_.load();
    return result;
  }

 private:
  struct Participant {
    std::shared_ptr<Call> call;
    std::shared_ptr<DataChannelSender> sender;  // senders only
  };

  static void log(const std::string& text) { std::cerr << "bench: " << text << std::endl; }

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
    if (!resumable_) options.reconnectTimeout = std::chrono::milliseconds{0};
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
    std::uint64_t sent = 0;
    for (int s = 0; s < total_senders(); ++s) sent += sent_[s].load() - sent_before[s];
    result.sent_per_second = static_cast<double>(sent) / result.seconds;
    result.delivered_per_second =
        static_cast<double>(delivered_after - delivered_before) / result.seconds;
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

  BenchArgs args_;
  bool resumable_;
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
};

// ------------------------------------------------------------------ the figures

const char* resume_logs(bool resumable) {
  return resumable ? "on" : "off";
}

std::string fixed(double value, int decimals) {
  char text[32];
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  return text;
}

template <typename T>
double median_of(const std::vector<T>& items, double T::*field) {
  std::vector<double> values;
  for (const auto& item : items) values.push_back(item.*field);
  return median(std::move(values));
}

// Of the items that have one; nullopt when none has.
template <typename T>
std::optional<double> median_of(const std::vector<T>& items, std::optional<double> T::*field) {
  std::vector<double> values;
  for (const auto& item : items) {
    if (item.*field) values.push_back(*(item.*field));
  }
  if (values.empty()) return std::nullopt;
  return median(std::move(values));
}

// Each figure the median of the phases' own.
PhaseResult median_phase(const std::vector<PhaseResult>& phases) {
  PhaseResult result;
  result.seconds = median_of(phases, &PhaseResult::seconds);
  result.sent_per_second = median_of(phases, &PhaseResult::sent_per_second);
  result.delivered_per_second = median_of(phases, &PhaseResult::delivered_per_second);
  result.server_cpu = median_of(phases, &PhaseResult::server_cpu);
  result.client_cpu = median_of(phases, &PhaseResult::client_cpu);
  result.p50_ms = median_of(phases, &PhaseResult::p50_ms);
  result.p99_ms = median_of(phases, &PhaseResult::p99_ms);
  for (const auto& phase : phases) result.samples += phase.samples;
  return result;
}

// The medians of the rounds with resume logs `resumable`; nullopt when none ran so.
std::optional<RoundResult> median_round(const std::vector<RoundResult>& rounds, bool resumable) {
  std::vector<PhaseResult> saturated;
  std::vector<PhaseResult> paced;
  std::vector<double> rates;
  RoundResult result;
  result.resumable = resumable;
  for (const auto& round : rounds) {
    if (round.resumable != resumable) continue;
    saturated.push_back(round.saturated);
    paced.push_back(round.paced);
    rates.push_back(round.paced_rate);
    result.disconnections += round.disconnections;
  }
  if (saturated.empty()) return std::nullopt;
  result.saturated = median_phase(saturated);
  result.paced = median_phase(paced);
  result.paced_rate = median(std::move(rates));
  return result;
}

// On ÷ off of what the resume logs cost: throughput, CPU per delivered message, latency.
struct PhaseRatio {
  double delivered = 0;
  std::optional<double> server_cpu_per_message;
  std::optional<double> client_cpu_per_message;
  double p50 = 0;
  double p99 = 0;
};

PhaseRatio phase_ratio(const PhaseResult& on, const PhaseResult& off) {
  auto ratio = [](double a, double b) { return b > 0 ? a / b : 0.0; };
  auto per_message = [&](const std::optional<double>& cpu_on,
                         const std::optional<double>& cpu_off) -> std::optional<double> {
    if (!cpu_on || !cpu_off) return std::nullopt;
    return ratio(ratio(*cpu_on, on.delivered_per_second),
                 ratio(*cpu_off, off.delivered_per_second));
  };
  return PhaseRatio{ratio(on.delivered_per_second, off.delivered_per_second),
                    per_message(on.server_cpu, off.server_cpu),
                    per_message(on.client_cpu, off.client_cpu), ratio(on.p50_ms, off.p50_ms),
                    ratio(on.p99_ms, off.p99_ms)};
}

// On ÷ off, both ways of reading several rounds: the ratio of the two settings' medians, and
// the median of each round's own ratio. The second pairs measurements minutes apart at most,
// so a machine whose load changes during the run moves it less.
struct Ratios {
  PhaseRatio saturated;
  PhaseRatio paced;
};

Ratios round_ratio(const RoundResult& on, const RoundResult& off) {
  return Ratios{phase_ratio(on.saturated, off.saturated), phase_ratio(on.paced, off.paced)};
}

PhaseRatio median_phase_ratio(const std::vector<PhaseRatio>& ratios) {
  return PhaseRatio{median_of(ratios, &PhaseRatio::delivered),
                    median_of(ratios, &PhaseRatio::server_cpu_per_message),
                    median_of(ratios, &PhaseRatio::client_cpu_per_message),
                    median_of(ratios, &PhaseRatio::p50), median_of(ratios, &PhaseRatio::p99)};
}

// `rounds` as --resumable both runs them: an on and an off one per round, in either order.
Ratios median_of_round_ratios(const std::vector<RoundResult>& rounds) {
  std::vector<PhaseRatio> saturated;
  std::vector<PhaseRatio> paced;
  for (std::size_t i = 0; i + 1 < rounds.size(); i += 2) {
    const bool on_first = rounds[i].resumable;
    const auto ratios = round_ratio(rounds[on_first ? i : i + 1], rounds[on_first ? i + 1 : i]);
    saturated.push_back(ratios.saturated);
    paced.push_back(ratios.paced);
  }
  return Ratios{median_phase_ratio(saturated), median_phase_ratio(paced)};
}

class Report {
 public:
  explicit Report(const BenchArgs& args) : args_(args) {}

  void print(const std::vector<RoundResult>& rounds) const {
    const auto on = median_round(rounds, true);
    const auto off = median_round(rounds, false);
    if (args_.json) {
      print_json(rounds, on, off);
    } else {
      print_table(rounds, on, off);
    }
  }

 private:
  std::size_t servers() const { return args_.servers.empty() ? 1 : args_.servers.size(); }
  double megabytes(double messages) const {
    return messages * static_cast<double>(args_.size) / 1e6;
  }

  Json phase_json(const PhaseResult& r) const {
    Json j;
    j["seconds"] = r.seconds;
    j["sentPerSecond"] = r.sent_per_second;
    j["deliveredPerSecond"] = r.delivered_per_second;
    j["deliveredMBps"] = megabytes(r.delivered_per_second);
    j["serverCpu"] = r.server_cpu ? Json(*r.server_cpu) : Json(nullptr);
    j["clientCpu"] = r.client_cpu ? Json(*r.client_cpu) : Json(nullptr);
    j["latencyMs"] = {{"p50", r.p50_ms}, {"p99", r.p99_ms}, {"samples", r.samples}};
    return j;
  }

  Json round_json(const RoundResult& r) const {
    Json j;
    j["resumable"] = r.resumable;
    j["saturate"] = phase_json(r.saturated);
    j["paced"] = phase_json(r.paced);
    j["paced"]["rate"] = r.paced_rate;
    j["disconnections"] = r.disconnections;
    return j;
  }

  static Json ratio_json(const PhaseRatio& r) {
    auto optional = [](const std::optional<double>& v) { return v ? Json(*v) : Json(nullptr); };
    return {{"deliveredPerSecond", r.delivered},
            {"serverCpuPerMessage", optional(r.server_cpu_per_message)},
            {"clientCpuPerMessage", optional(r.client_cpu_per_message)},
            {"latencyP50", r.p50},
            {"latencyP99", r.p99}};
  }

  // One round of one mode: that round's figures at the top level. Several: every round's,
  // the medians per mode ("on", "off") and, with both, on ÷ off: "ratio" of the medians and
  // "roundRatio", the median of each round's own.
  void print_json(const std::vector<RoundResult>& rounds, const std::optional<RoundResult>& on,
                  const std::optional<RoundResult>& off) const {
    Json out;
    out["calls"] = args_.calls;
    out["servers"] = servers();
    out["participants"] = args_.participants;
    out["senders"] = args_.senders;
    out["fanout"] = args_.participants - 1;
    out["size"] = args_.size;
    out["server"] = args_.server.empty() ? "started" : args_.server;
    if (rounds.size() == 1) {
      out.update(round_json(rounds.front()));
    } else {
      out["rounds"] = Json::array();
      for (const auto& round : rounds) out["rounds"].push_back(round_json(round));
      out["median"] = Json::object();
      for (const auto& m : {on, off}) {
        if (m) out["median"][resume_logs(m->resumable)] = round_json(*m);
      }
      if (on && off) {
        auto ratios_json = [](const Ratios& r) {
          return Json{{"saturate", ratio_json(r.saturated)}, {"paced", ratio_json(r.paced)}};
        };
        out["ratio"] = ratios_json(round_ratio(*on, *off));
        out["roundRatio"] = ratios_json(median_of_round_ratios(rounds));
      }
    }
    std::cout << out.dump() << std::endl;
  }

  void print_table(const std::vector<RoundResult>& rounds, const std::optional<RoundResult>& on,
                   const std::optional<RoundResult>& off) const {
    std::cout << "switchboard bench relay: " << args_.calls << " call(s) on " << servers()
              << " server(s), each of " << args_.participants << " participants, " << args_.senders
              << " sender(s) broadcasting " << args_.size << "-byte durable messages (fan-out "
              << args_.participants - 1 << "), " << args_.duration << " s per phase, resume logs ";
    std::cout << (on && off ? "on and off in alternating order"
                            : resume_logs(rounds.front().resumable));
    if (rounds.size() > 1) std::cout << ", " << args_.rounds << " rounds";
    std::cout << "\n";
    row("phase", "sent msg/s", "delivered/s", "MB/s", "server CPU", "client CPU", "p50 ms",
        "p99 ms");
    const bool single = rounds.size() == 1;
    for (std::size_t i = 0; i < rounds.size(); ++i) {
      phase_rows(single ? ""
                        : "round " + std::to_string(i / (on && off ? 2 : 1) + 1) + " " +
                              resume_logs(rounds[i].resumable) + ", ",
                 rounds[i]);
    }
    if (!single) {
      for (const auto& m : {on, off}) {
        if (m) phase_rows(std::string("median ") + resume_logs(m->resumable) + ", ", *m);
      }
    }
    if (on && off) {
      std::cout << "resume logs on / off, of the medians (first) and the median of each round's:\n";
      for (const auto& ratios : {round_ratio(*on, *off), median_of_round_ratios(rounds)}) {
        ratio_line("saturated", ratios.saturated);
        ratio_line("paced", ratios.paced);
      }
    }
    int disconnections = 0;
    for (const auto& round : rounds) disconnections += round.disconnections;
    if (disconnections > 0) {
      std::cout << disconnections << " participant(s) were disconnected: figures are partial\n";
    }
    std::cout.flush();
  }

  static void row(const std::string& name, const std::string& sent, const std::string& delivered,
                  const std::string& mbps, const std::string& server_cpu,
                  const std::string& client_cpu, const std::string& p50, const std::string& p99) {
    char line[256];
    std::snprintf(line, sizeof line, "%-34s %11s %12s %8s %11s %11s %9s %9s\n", name.c_str(),
                  sent.c_str(), delivered.c_str(), mbps.c_str(), server_cpu.c_str(),
                  client_cpu.c_str(), p50.c_str(), p99.c_str());
    std::cout << line;
  }

  void phase_rows(const std::string& prefix, const RoundResult& r) const {
    auto percent = [](const std::optional<double>& share) {
      return share ? std::to_string(std::lround(*share * 100)) + "%" : std::string("n/a");
    };
    auto phase_row = [&](const std::string& name, const PhaseResult& p) {
      row(prefix + name, fixed(p.sent_per_second, 0), fixed(p.delivered_per_second, 0),
          fixed(megabytes(p.delivered_per_second), 2), percent(p.server_cpu), percent(p.client_cpu),
          fixed(p.p50_ms, 3), fixed(p.p99_ms, 3));
    };
    phase_row("saturated", r.saturated);
    phase_row("paced at " + std::to_string(std::lround(r.paced_rate)) + "/s", r.paced);
  }

  static void ratio_line(const char* phase, const PhaseRatio& r) {
    auto optional = [](const std::optional<double>& v) {
      return v ? fixed(*v, 3) : std::string("n/a");
    };
    std::printf(
        "  %-9s delivered/s %.3f, CPU per delivered message: server %s, client %s; latency p50 "
        "%.2f, p99 %.2f\n",
        phase, r.delivered, optional(r.server_cpu_per_message).c_str(),
        optional(r.client_cpu_per_message).c_str(), r.p50, r.p99);
  }

  const BenchArgs& args_;
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
  if (args.rounds < 1) {
    std::cerr << "--rounds must be at least 1\n";
    return 2;
  }
  std::signal(SIGPIPE, SIG_IGN);
  // Both: on first in odd rounds, off first in even ones, so that a machine that slows
  // down or speeds up during the run favours neither.
  std::vector<RoundResult> rounds;
  for (int round = 0; round < args.rounds; ++round) {
    std::vector<bool> modes;
    if (args.resumable == "both") {
      modes = round % 2 == 0 ? std::vector<bool>{true, false} : std::vector<bool>{false, true};
    } else {
      modes = {args.resumable == "on"};
    }
    for (const bool resumable : modes) {
      std::cerr << "bench: round " << round + 1 << " of " << args.rounds << ", resume logs "
                << resume_logs(resumable) << std::endl;
      Bench bench(args, resumable);
      auto result = bench.run();
      if (!result) {
        std::cerr << "switchboard bench relay: " << result.error().message << std::endl;
        return 1;
      }
      rounds.push_back(*result);
    }
  }
  Report(args).print(rounds);
  for (const auto& round : rounds) {
    if (round.disconnections > 0) return 1;
  }
  return 0;
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
  relay
      ->add_option("--resumable", args->resumable,
                   "Join with a reconnect window, so that the SDK and the server keep each durable "
                   "message until acknowledged (on, the SDK's default), without (off), or both, "
                   "alternating, to print their medians and ratio")
      ->check(CLI::IsMember({"on", "off", "both"}))
      ->capture_default_str();
  relay->add_option("--rounds", args->rounds, "Rounds of each --resumable setting; medians printed")
      ->capture_default_str();
  relay->callback([args, &exit_code] { exit_code = run_bench_relay(*args); });
  add_bench_p2p_command(*bench, exit_code);
}

}  // namespace switchboard::cli
