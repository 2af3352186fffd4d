#pragma once

// The SDK's logger, "switchboard": stderr, so that a program's stdout stays its own (the
// agent's stdout carries only events). Applications may replace it through spdlog's
// registry (spdlog::drop("switchboard") and register their own under that name).

#include <memory>

#include <spdlog/spdlog.h>

namespace switchboard::client {

std::shared_ptr<spdlog::logger> log();

}  // namespace switchboard::client
