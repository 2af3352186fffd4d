#pragma once

// Reading stdin line by line while another thread may ask the reader to stop: the agent
// and chat commands wait on stdin and on the SDK's disconnection at once.

#include <cerrno>
#include <string>
#include <string_view>

#include <poll.h>
#include <unistd.h>

namespace switchboard::cli {

// Wakes the stdin loop from the event thread (a self-pipe: poll() watches both).
class Wakeup {
 public:
  Wakeup() {
    if (::pipe(fds_) != 0) fds_[0] = fds_[1] = -1;
  }
  ~Wakeup() {
    if (fds_[0] >= 0) ::close(fds_[0]);
    if (fds_[1] >= 0) ::close(fds_[1]);
  }
  Wakeup(const Wakeup&) = delete;
  Wakeup& operator=(const Wakeup&) = delete;
  void signal() {
    const char byte = 1;
    [[maybe_unused]] const auto n = ::write(fds_[1], &byte, 1);
  }
  int fd() const { return fds_[0]; }

 private:
  int fds_[2] = {-1, -1};
};

// Feeds complete stdin lines to `on_line` until EOF, `on_line` returns false, or the
// wakeup fires. Returns true on EOF or a leave, false when woken.
template <typename OnLine>
inline bool read_lines(Wakeup& wakeup, OnLine&& on_line) {
  std::string buffer;
  char chunk[65536];
  const auto run_line = [&](std::string_view line) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) return true;
    return on_line(line);
  };
  for (;;) {
    pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {wakeup.fd(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return true;
    }
    if (fds[1].revents != 0) return false;
    if (fds[0].revents == 0) continue;
    const auto n = ::read(STDIN_FILENO, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (!buffer.empty()) run_line(buffer);
      return true;
    }
    buffer.append(chunk, static_cast<std::size_t>(n));
    std::size_t start = 0;
    for (auto nl = buffer.find('\n'); nl != std::string::npos; nl = buffer.find('\n', start)) {
      if (!run_line(std::string_view(buffer).substr(start, nl - start))) return true;
      start = nl + 1;
    }
    buffer.erase(0, start);
  }
}

}  // namespace switchboard::cli
