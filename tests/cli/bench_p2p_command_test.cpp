// `switchboard bench p2p` as `make bench` runs it: a short run against the server it
// starts itself prints one JSON object with every figure, a positive throughput, and
// nothing relayed by the server (the bytes went direct).
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "run_cli.hpp"

namespace switchboard::cli {
namespace {

TEST(BenchP2pCommand, ShortJsonRunGoesDirectAndReportsEveryFigure) {
  const auto r = run_cli("bench p2p --size 16384 --duration 1 --json");
  ASSERT_EQ(r.status, 0) << r.out << "\nstderr:\n" << r.err;
  const auto figures = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_TRUE(figures.is_object()) << r.out;
  for (const char* field : {"size", "duration", "throughputMBps", "latencyP50Ms", "latencyP99Ms",
                            "rawUdpMBps", "ratio", "relayedDuringRun"}) {
    EXPECT_TRUE(figures.contains(field) && figures[field].is_number()) << field << ": " << r.out;
  }
  EXPECT_EQ(figures["size"], 16384);
  EXPECT_GT(figures["throughputMBps"].get<double>(), 0);
  EXPECT_GT(figures["rawUdpMBps"].get<double>(), 0);
  EXPECT_GT(figures["latencyP50Ms"].get<double>(), 0);
  EXPECT_GE(figures["latencyP99Ms"].get<double>(), figures["latencyP50Ms"].get<double>());
  EXPECT_EQ(figures["relayedDuringRun"], 0);
}

TEST(BenchP2pCommand, TooSmallASizeIsABadOption) {
  EXPECT_EQ(run_cli("bench p2p --size 4 --duration 1").status, 2);
}

}  // namespace
}  // namespace switchboard::cli
