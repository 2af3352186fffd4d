#pragma once

// How `send`, `receive` and `chat` show file transfers: on a terminal, one progress bar per
// transfer (bytes, rate, ETA) redrawn in place under the scrolling messages; otherwise one
// plain line per 10 % and per state change.

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <switchboard/file_transfer.hpp>

namespace switchboard::cli {

// "1.5 MB", "340 kB", "12 B" (10^3 units, as the benchmarks).
std::string human_bytes(std::uint64_t bytes);
// "0:07", "12:03", "1:02:03"; "--:--" when unknown.
std::string human_duration(double seconds);

// The bar line of one transfer without terminal codes, `width` cells of bar:
// "report.pdf -> bob  [#####.....]  48%  1.2 MB/2.5 MB  10.3 MB/s  ETA 0:01"
std::string progress_line(const TransferStatus& status, std::size_t width = 24);

class TransferDisplay {
 public:
  // `terminal`: redraw bars in place (stdout is a tty).
  explicit TransferDisplay(bool terminal);
  ~TransferDisplay();
  TransferDisplay(const TransferDisplay&) = delete;
  TransferDisplay& operator=(const TransferDisplay&) = delete;

  // From FileTransferOptions::onProgress (any thread).
  void update(const TransferStatus& status);
  // A line of text above the bars (any thread).
  void line(const std::string& text);
  // Stops redrawing: the bars stay as they are, later output goes below them.
  void close();

 private:
  struct Row {
    TransferStatus status;
    int printed_decile = -1;  // plain mode
  };
  void redraw_locked(bool force);
  void erase_bars_locked();

  const bool terminal_;
  std::mutex mutex_;
  std::vector<std::string> order_;
  std::map<std::string, Row> rows_;
  std::size_t drawn_ = 0;  // bar lines on screen under the cursor
  std::chrono::steady_clock::time_point last_draw_{};
  bool closed_ = false;
};

}  // namespace switchboard::cli
