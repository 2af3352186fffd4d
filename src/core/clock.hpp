#pragma once

#include <chrono>

namespace switchboard::core {

// Core code never reads a clock: callers pass `now`, so tests drive time by hand.
using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;
using Duration = Clock::duration;

}  // namespace switchboard::core
