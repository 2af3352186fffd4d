#include "server/frame_trace.hpp"

#include <cerrno>
#include <cstring>

namespace switchboard::server {
namespace {

std::string_view type_name(core::FrameType type) {
  switch (type) {
    case core::FrameType::Data:
      return "data";
    case core::FrameType::Close:
      return "close";
    case core::FrameType::Switch:
      return "switch";
    case core::FrameType::Resent:
      return "resent";
  }
  return "unknown";
}

}  // namespace

void format_trace_line(const TraceRecord& r, std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.append(std::to_string(r.unix_ms));
  out.append(" call=").append(r.call);
  out.append(" from=").append(r.from);
  out.append(" to=").append(r.to);
  out.append(" channel=").append(std::to_string(r.channel));
  out.append(" seq=").append(std::to_string(r.sequence));
  out.append(" type=").append(type_name(r.type));
  out.append(" payload=");
  for (std::uint8_t b : r.payload) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  out.push_back('\n');
}

Result<std::unique_ptr<FrameTrace>> FrameTrace::open(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "ab");
  if (file == nullptr) {
    return Error{ErrorCode::InvalidArgument,
                 "cannot open trace file " + path + ": " + std::strerror(errno)};
  }
  return std::unique_ptr<FrameTrace>(new FrameTrace(file));
}

FrameTrace::~FrameTrace() {
  std::fclose(file_);
}

void FrameTrace::write(const TraceRecord& record) {
  line_.clear();
  format_trace_line(record, line_);
  std::fwrite(line_.data(), 1, line_.size(), file_);
}

void FrameTrace::flush() {
  std::fflush(file_);
}

}  // namespace switchboard::server
