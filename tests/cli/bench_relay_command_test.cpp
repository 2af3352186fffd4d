// `switchboard bench relay` against the server it starts itself: a short run prints one JSON
// object; with --resumable both every round measures the resume logs on and off, in
// alternating order, and the medians of each come with their ratio and the median of each
// round's own ratio.
#include <algorithm>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "run_cli.hpp"

namespace switchboard::cli {
namespace {

constexpr const char* kShortRun = "bench relay --participants 3 --size 100 --duration 0.5 --json";

TEST(BenchRelayCommand, OneRoundPrintsItsFiguresAtTheTopLevel) {
  const auto r = run_cli(std::string(kShortRun) + " --resumable off");
  ASSERT_EQ(r.status, 0) << r.out;
  const auto figures = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_TRUE(figures.is_object()) << r.out;
  EXPECT_EQ(figures["resumable"], false);
  EXPECT_EQ(figures["fanout"], 2);
  EXPECT_GT(figures["saturate"]["deliveredPerSecond"].get<double>(), 0) << r.out;
  EXPECT_GT(figures["saturate"]["deliveredMBps"].get<double>(), 0) << r.out;
  EXPECT_FALSE(figures.contains("rounds")) << r.out;
}

TEST(BenchRelayCommand, BothAlternatesTheResumeLogsAndPrintsMediansAndTheirRatio) {
  const auto r = run_cli(std::string(kShortRun) + " --resumable both --rounds 2");
  ASSERT_EQ(r.status, 0) << r.out;
  const auto figures = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_TRUE(figures.is_object()) << r.out;
  ASSERT_EQ(figures["rounds"].size(), 4U) << r.out;
  // Round 1 on then off, round 2 off then on.
  EXPECT_EQ(figures["rounds"][0]["resumable"], true);
  EXPECT_EQ(figures["rounds"][1]["resumable"], false);
  EXPECT_EQ(figures["rounds"][2]["resumable"], false);
  EXPECT_EQ(figures["rounds"][3]["resumable"], true);
  for (const char* mode : {"on", "off"}) {
    EXPECT_GT(figures["median"][mode]["saturate"]["deliveredPerSecond"].get<double>(), 0)
        << mode << ": " << r.out;
  }
  EXPECT_EQ(figures["median"]["on"]["resumable"], true);
  EXPECT_EQ(figures["median"]["off"]["resumable"], false);
  const double ratio = figures["ratio"]["saturate"]["deliveredPerSecond"].get<double>();
  EXPECT_NEAR(ratio,
              figures["median"]["on"]["saturate"]["deliveredPerSecond"].get<double>() /
                  figures["median"]["off"]["saturate"]["deliveredPerSecond"].get<double>(),
              1e-9);
  // Each round's own on ÷ off, whichever went first; of two, the median is the larger.
  auto delivered = [&](int round) {
    return figures["rounds"][round]["saturate"]["deliveredPerSecond"].get<double>();
  };
  EXPECT_NEAR(figures["roundRatio"]["saturate"]["deliveredPerSecond"].get<double>(),
              std::max(delivered(0) / delivered(1), delivered(3) / delivered(2)), 1e-9);
}

TEST(BenchRelayCommand, ResumableTakesOnlyOnOffOrBoth) {
  EXPECT_NE(run_cli("bench relay --resumable maybe --duration 0.5").status, 0);
  EXPECT_EQ(run_cli("bench relay --rounds 0 --duration 0.5").status, 2);
}

}  // namespace
}  // namespace switchboard::cli
