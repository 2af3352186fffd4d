#pragma once

// `--trace-frames FILE`: an operator's record of every relayed frame, one line per frame
// per recipient, appended to FILE:
//   <unix_ms> call=<call> from=<identity> to=<identity> channel=<n> seq=<n>
//   type=data|close|switch|resent payload=<hex>
// Slow by design (a write per frame); off unless asked for.

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

#include "core/bytes.hpp"
#include "core/frame.hpp"
#include "switchboard/result.hpp"

namespace switchboard::server {

struct TraceRecord {
  std::int64_t unix_ms = 0;
  std::string_view call;
  std::string_view from;
  std::string_view to;
  std::uint16_t channel = 0;
  std::uint32_t sequence = 0;
  core::FrameType type = core::FrameType::Data;
  ByteView payload;
};

// One line, with its trailing newline, appended to `out`.
void format_trace_line(const TraceRecord& record, std::string& out);

class FrameTrace {
 public:
  // Opens `path` for appending.
  static Result<std::unique_ptr<FrameTrace>> open(const std::string& path);
  ~FrameTrace();
  FrameTrace(const FrameTrace&) = delete;
  FrameTrace& operator=(const FrameTrace&) = delete;

  void write(const TraceRecord& record);
  void flush();

 private:
  explicit FrameTrace(std::FILE* file) : file_(file) {}
  std::FILE* file_;
  std::string line_;
};

}  // namespace switchboard::server
