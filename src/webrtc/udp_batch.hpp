#pragma once

// Fewer system calls per datagram. SCTP emits bursts of equal-size packets within one
// turn of the loop; sending them as one UDP GSO write (UDP_SEGMENT) and receiving
// coalesced runs (UDP_GRO) cuts the per-packet cost that otherwise caps throughput.
// Falls back to one datagram per call where the kernel lacks either.

#include <functional>
#include <vector>

#include <sys/socket.h>

#include "core/bytes.hpp"
#include "webrtc/socket_address.hpp"

namespace switchboard::webrtc {

// Outgoing datagrams queued during one turn of the loop, then written together; or as
// soon as this many wait, so that a turn spent on a long receive backlog does not hold
// back the SCTP acknowledgements it produced (the peer's window would stall meanwhile).
inline constexpr std::size_t kFlushEarly = 32;

class DatagramBatch {
 public:
  void add(const SocketAddress& to, ByteView datagram);
  bool empty() const { return items_.empty(); }
  std::size_t size() const { return items_.size(); }
  // Writes everything queued to `fd`; returns the number of datagrams the kernel refused.
  std::size_t flush(int fd);

 private:
  struct Item {
    SocketAddress to;
    std::size_t offset;
    std::size_t size;
  };
  std::size_t send_run(int fd, std::size_t first, std::size_t count);

  Bytes data_;
  std::vector<Item> items_;
  bool gso_ = true;  // cleared when the kernel says no
};

// Asks the kernel to hand over coalesced runs of datagrams (UDP_GRO); false if it can't.
bool enable_receive_coalescing(int fd);

// Reads what is waiting on non-blocking `fd` (at most `max_reads` reads) and calls `on`
// once per datagram, splitting coalesced runs. Returns the number of datagrams.
std::size_t receive_datagrams(int fd, std::span<std::uint8_t> buffer, int max_reads,
                              const std::function<void(ByteView, const SocketAddress&)>& on);

}  // namespace switchboard::webrtc
