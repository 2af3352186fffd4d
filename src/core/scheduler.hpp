#pragma once

#include <array>
#include <deque>
#include <memory>
#include <optional>

#include "core/clock.hpp"
#include "core/sender_channel.hpp"

namespace switchboard::core {

// Decides which sender's frame leaves next: High before Normal; within a priority,
// deficit round robin by bytes, so channels share fairly and a large message, cut into
// fragments, never holds up another channel. Paced senders wait for their token bucket.
class FrameScheduler {
 public:
  explicit FrameScheduler(std::size_t quantum) : quantum_(quantum) {}

  void add(std::shared_ptr<SenderChannel> sender);

  // Appends the next frame to `out` and returns its class; nothing when no sender may send
  // now (see next_wakeup).
  std::optional<TrafficClass> next(TimePoint now, Bytes& out);
  // The earliest time a paced sender with queued data may send again.
  std::optional<TimePoint> next_wakeup(TimePoint now) const;
  bool idle() const;
  // Every sender still scheduled (open ones, and closed ones that have not finished).
  template <typename Fn>
  void for_each_sender(Fn&& fn) const {
    for (const auto& ring : rings_) {
      for (const Flow& flow : ring) fn(*flow.sender);
    }
  }

 private:
  struct Flow {
    std::shared_ptr<SenderChannel> sender;
    std::size_t deficit = 0;
  };

  std::optional<TrafficClass> next_in(std::deque<Flow>& ring, TimePoint now, Bytes& out);

  std::size_t quantum_;
  std::array<std::deque<Flow>, 2> rings_;  // [0] High, [1] Normal
};

}  // namespace switchboard::core
