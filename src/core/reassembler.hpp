#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <tuple>

#include "core/clock.hpp"
#include "core/frame.hpp"

namespace switchboard::core {

// Puts fragmented messages back together. Durable fragments of one sender channel arrive
// in order; lossy ones may arrive in any order or not at all, so partial messages are
// kept per sequence number, bounded in count and bytes, and expire.
class Reassembler {
 public:
  struct Limits {
    std::size_t max_pending_bytes = 64 * 1024 * 1024;
    std::size_t max_partials_per_channel = 4;
    Duration max_age = std::chrono::seconds(10);
  };

  Reassembler() = default;
  explicit Reassembler(Limits limits) : limits_(limits) {}

  // Feeds one Data frame from `from`; returns the whole message once this frame completes it.
  std::optional<Bytes> add(ParticipantId from, const DecodedFrame& frame, TimePoint now);
  void drop(ParticipantId from);
  void drop(ParticipantId from, std::uint16_t channel_id);
  void expire(TimePoint now);
  std::optional<TimePoint> next_expiry() const;
  std::size_t pending_bytes() const { return pending_bytes_; }
  // Fragments discarded: overlapping, inconsistent, or evicted with their partial message.
  std::uint64_t discarded() const { return discarded_; }

 private:
  using Key = std::tuple<ParticipantId, std::uint16_t, std::uint32_t>;
  struct Partial {
    Bytes data;
    std::map<std::uint32_t, std::uint32_t> ranges;  // offset → length
    std::size_t received = 0;
    TimePoint first_seen;
    Reliability reliability;
  };

  void erase(std::map<Key, Partial>::iterator it);
  void evict_for(ParticipantId from, std::uint16_t channel_id, Reliability reliability,
                 std::size_t incoming);

  Limits limits_;
  std::map<Key, Partial> partials_;
  std::size_t pending_bytes_ = 0;
  std::uint64_t discarded_ = 0;
};

}  // namespace switchboard::core
