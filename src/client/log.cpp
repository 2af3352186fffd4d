#include "client/log.hpp"

#include <spdlog/sinks/stdout_sinks.h>

namespace switchboard::client {

std::shared_ptr<spdlog::logger> log() {
  static constexpr const char* kName = "switchboard";
  if (auto logger = spdlog::get(kName)) return logger;
  try {
    return spdlog::stderr_logger_mt(kName);
  } catch (const spdlog::spdlog_ex&) {  // registered by another thread meanwhile
    return spdlog::get(kName);
  }
}

}  // namespace switchboard::client
