// The DataChannel core without a network: frame codec, the whole send → route → receive
// path of an in-process call, and the resume log's copy of each sent durable message,
// against a raw memcpy of the same bytes measured in the same run. Prints figures; never
// passes or fails on a clock.
#include <cstring>
#include <iostream>
#include <map>

#include <benchmark/benchmark.h>

#include "core/local_call.hpp"
#include "core/path_switch.hpp"

using namespace switchboard;
using namespace switchboard::core;

namespace {

void BM_RawCopy(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  Bytes src(size, 1);
  Bytes dst(size);
  for (auto _ : state) {
    std::memcpy(dst.data(), src.data(), size);
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * state.range(0));
}

void BM_FrameEncodeDecode(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  Bytes payload(size, 1);
  FrameHeader h;
  h.channel_id = 10000;
  h.from = 3;
  Bytes out;
  for (auto _ : state) {
    out.clear();
    ++h.sequence;
    encode_frame(h, {}, payload, out);
    ByteView in(out);
    auto f = decode_frame(in);
    benchmark::DoNotOptimize(f);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * state.range(0));
}

// alice → bob through the router: accept, schedule, frame, route, restamp, reassemble,
// deliver, read.
void BM_CallSendToRead(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  LocalCall call;
  const auto now = Clock::now();
  auto& alice = call.join("alice", now);
  auto& bob = call.join("bob", now);
  std::size_t read = 0;
  DataChannelEndpoint::Events events;
  events.message_ready = [&](const DataChannelEndpoint::ReceiverPtr& r) {
    while (r->read()) ++read;
  };
  bob.set_events(events);
  auto sender = *alice.create_sender({}, now);
  Bytes payload(size, 1);
  for (auto _ : state) {
    for (int i = 0; i < 64; ++i) (void)alice.send(*sender, payload);
    call.pump(now);
  }
  if (read != static_cast<std::size_t>(state.iterations()) * 64)
    state.SkipWithError("lost messages");
  state.SetItemsProcessed(state.iterations() * 64);
  state.SetBytesProcessed(state.iterations() * 64 * state.range(0));
}

// What a resumable link adds to each durable transport message it sends (the SDK's
// CallTransport to the server, the server's relay to each recipient): a copy into
// DirectSendLog, freed when an acknowledgement covers it. One iteration is one message;
// an acknowledgement comes every 64 messages (a 50 ms `ack` covers thousands at full rate,
// but a shorter log is kinder to the cache, so this is the cheap end).
void BM_ResumeLogSentAcknowledged(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  constexpr std::uint32_t kPerAck = 64;
  Bytes message(size, 1);
  DirectSendLog log(0);
  DirectAck ack;
  for (auto _ : state) {
    log.sent(Priority::Normal, message);
    if (++ack.received[0] % kPerAck == 0) (void)log.acknowledged(ack);
  }
  benchmark::DoNotOptimize(log.unacked_bytes());
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * state.range(0));
}

BENCHMARK(BM_RawCopy)->Arg(100)->Arg(64 * 1024);
BENCHMARK(BM_FrameEncodeDecode)->Arg(100)->Arg(64 * 1024);
BENCHMARK(BM_CallSendToRead)->Arg(100)->Arg(64 * 1024);
BENCHMARK(BM_ResumeLogSentAcknowledged)->Arg(100)->Arg(64 * 1024);

// Collects each run's rate so the summary can put it against the raw copy.
class SummaryReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      auto it = run.counters.find("bytes_per_second");
      if (it != run.counters.end()) rates_[run.benchmark_name()] = it->second.value;
    }
  }
  void Summary() const {
    std::cout << "\nRatios against a raw memcpy of the same bytes (same run):\n";
    for (const char* size : {"100", "65536"}) {
      const double raw = rates_.at(std::string("BM_RawCopy/") + size);
      for (const char* name :
           {"BM_FrameEncodeDecode/", "BM_CallSendToRead/", "BM_ResumeLogSentAcknowledged/"}) {
        const double rate = rates_.at(name + std::string(size));
        std::printf("  %-36s %9.1f MB/s  %6.3f x raw copy\n", (name + std::string(size)).c_str(),
                    rate / 1e6, rate / raw);
      }
    }
  }

 private:
  std::map<std::string, double> rates_;
};

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  SummaryReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  if (benchmark::GetBenchmarkFilter().empty() || benchmark::GetBenchmarkFilter() == "all") {
    reporter.Summary();
  }
  benchmark::Shutdown();
  return 0;
}
