#include "transfer_display.hpp"

#include <cmath>
#include <cstdio>
#include <iostream>

namespace switchboard::cli {
namespace {

std::string fixed(double value, int decimals) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  return text;
}

std::string row_key(const TransferStatus& s) {
  return std::string(s.direction == TransferDirection::Outgoing ? "o " : "i ") + s.id + " " +
         s.peer;
}

std::string arrow(const TransferStatus& s) {
  return s.name + (s.direction == TransferDirection::Outgoing ? " -> " : " <- ") + s.peer;
}

}  // namespace

std::string human_bytes(std::uint64_t bytes) {
  const double b = static_cast<double>(bytes);
  if (b >= 1e9) return fixed(b / 1e9, 2) + " GB";
  if (b >= 1e6) return fixed(b / 1e6, 1) + " MB";
  if (b >= 1e3) return fixed(b / 1e3, 0) + " kB";
  return std::to_string(bytes) + " B";
}

std::string human_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0 || seconds > 360000) return "--:--";
  const auto total = static_cast<long>(std::lround(seconds));
  char text[32];
  if (total >= 3600) {
    std::snprintf(text, sizeof text, "%ld:%02ld:%02ld", total / 3600, total / 60 % 60, total % 60);
  } else {
    std::snprintf(text, sizeof text, "%ld:%02ld", total / 60, total % 60);
  }
  return text;
}

std::string progress_line(const TransferStatus& s, std::size_t width) {
  const double fraction = s.size == 0 ? (s.state == TransferState::Done ? 1.0 : 0.0)
                                      : static_cast<double>(s.bytes) / static_cast<double>(s.size);
  const auto filled = static_cast<std::size_t>(std::floor(fraction * static_cast<double>(width)));
  std::string bar(filled, '#');
  bar.resize(width, '.');
  std::string text = arrow(s) + "  [" + bar + "] " + fixed(std::floor(fraction * 100), 0) + "%  " +
                     human_bytes(s.bytes) + "/" + human_bytes(s.size);
  switch (s.state) {
    case TransferState::Transferring:
    case TransferState::Sent: {
      text += "  " + human_bytes(static_cast<std::uint64_t>(s.bytesPerSecond)) + "/s";
      const double eta =
          s.bytesPerSecond > 0 ? static_cast<double>(s.size - s.bytes) / s.bytesPerSecond : -1;
      text += "  ETA " + human_duration(eta);
      break;
    }
    case TransferState::Failed:
    case TransferState::Declined:
      text += "  " + std::string(to_string(s.state));
      if (s.error) text += ": " + s.error->code;
      break;
    default:
      text += "  " + std::string(to_string(s.state));
  }
  return text;
}

TransferDisplay::TransferDisplay(bool terminal) : terminal_(terminal) {}

TransferDisplay::~TransferDisplay() {
  close();
}

void TransferDisplay::update(const TransferStatus& status) {
  const std::lock_guard lock(mutex_);
  if (closed_) return;
  const auto key = row_key(status);
  auto [it, added] = rows_.try_emplace(key);
  if (added) order_.push_back(key);
  const TransferState before = it->second.status.state;
  const bool state_changed = added || before != status.state;
  it->second.status = status;
  if (terminal_) {
    redraw_locked(state_changed);
    return;
  }
  // Plain: a line per state change and per 10 % while bytes flow.
  auto& row = it->second;
  const int decile = status.size == 0 ? 10 : static_cast<int>(status.bytes * 10 / status.size);
  if (status.state == TransferState::Transferring && decile > row.printed_decile) {
    row.printed_decile = decile;
    std::cout << arrow(status) << ": " << decile * 10 << "% (" << human_bytes(status.bytes) << "/"
              << human_bytes(status.size) << ", "
              << human_bytes(static_cast<std::uint64_t>(status.bytesPerSecond)) << "/s)"
              << std::endl;
  } else if (state_changed && status.state != TransferState::Transferring) {
    std::cout << arrow(status) << ": " << to_string(status.state);
    if (status.error) std::cout << ": " << status.error->code << ": " << status.error->message;
    std::cout << std::endl;
  }
}

void TransferDisplay::line(const std::string& text) {
  const std::lock_guard lock(mutex_);
  if (terminal_ && !closed_) erase_bars_locked();
  std::cout << text << "\n";
  if (terminal_ && !closed_) {
    redraw_locked(true);
  } else {
    std::cout.flush();
  }
}

void TransferDisplay::close() {
  const std::lock_guard lock(mutex_);
  if (closed_) return;
  if (terminal_) redraw_locked(true);
  closed_ = true;
}

void TransferDisplay::erase_bars_locked() {
  // Up to the first bar line, then clear to the end of the screen.
  if (drawn_ > 0) std::cout << "\x1b[" << drawn_ << "F\x1b[J";
  drawn_ = 0;
}

void TransferDisplay::redraw_locked(bool force) {
  const auto now = std::chrono::steady_clock::now();
  if (!force && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  std::string out;
  if (drawn_ > 0) out += "\x1b[" + std::to_string(drawn_) + "F";
  for (const auto& key : order_) out += "\r\x1b[2K" + progress_line(rows_[key].status) + "\n";
  out += "\x1b[J";
  drawn_ = order_.size();
  std::cout << out << std::flush;
}

}  // namespace switchboard::cli
