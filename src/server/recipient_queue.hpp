#pragma once

// What waits to go to one recipient when its SCTP send buffer is full: transport messages
// (batches of frames of one traffic class), High classes first, FIFO within a class so
// durable order holds. Lossy batches older than the latency target are dropped; durable
// ones are never dropped here — the owner disconnects a recipient whose durable backlog
// passes the bound. Pure: the caller passes the time.

#include <array>
#include <cstdint>
#include <deque>

#include "core/bytes.hpp"
#include "core/clock.hpp"

namespace switchboard::server {

// The data channel stream of a traffic class: (lossy ? 2 : 0) + (high ? 1 : 0).
using StreamIndex = std::uint8_t;
inline constexpr StreamIndex kStreamCount = 4;
inline constexpr bool is_lossy_stream(StreamIndex s) {
  return (s & 2) != 0;
}
inline constexpr bool is_high_stream(StreamIndex s) {
  return (s & 1) != 0;
}

struct QueuedBatch {
  Bytes data;
  core::TimePoint enqueued{};
  std::uint32_t messages = 0;       // DATA messages that start in this batch (for metrics)
  std::uint64_t payload_bytes = 0;  // their payload bytes (for metrics)
};

class RecipientQueue {
 public:
  RecipientQueue(core::Duration latency_target, std::size_t durable_bound)
      : latency_target_(latency_target), durable_bound_(durable_bound) {}

  // Queues a batch; stale lossy batches at the front of the queues are dropped first.
  void push(StreamIndex stream, Bytes data, std::uint32_t messages, std::uint64_t payload_bytes,
            core::TimePoint now);

  // The batch to send next (stale lossy ones are dropped on the way), or null. `stream`
  // receives its class.
  QueuedBatch* next(core::TimePoint now, StreamIndex& stream);
  // Removes the batch next() returned and hands its buffer back for reuse.
  Bytes pop(StreamIndex stream);

  // Drops lossy batches that waited longer than the latency target.
  void expire(core::TimePoint now);

  bool empty() const { return batches_ == 0; }
  std::size_t durable_bytes() const { return durable_bytes_; }
  std::size_t lossy_bytes() const { return lossy_bytes_; }
  bool over_durable_bound() const { return durable_bytes_ > durable_bound_; }

  // Lossy messages dropped for age since the last call.
  std::uint64_t take_latency_drops() {
    std::uint64_t n = latency_drops_;
    latency_drops_ = 0;
    return n;
  }
  // Empties the queue; returns the DATA messages it held.
  std::uint64_t clear();

 private:
  void expire_stream(StreamIndex stream, core::TimePoint now);

  core::Duration latency_target_;
  std::size_t durable_bound_;
  std::array<std::deque<QueuedBatch>, kStreamCount> queues_;
  std::size_t batches_ = 0;
  std::size_t durable_bytes_ = 0;
  std::size_t lossy_bytes_ = 0;
  std::uint64_t latency_drops_ = 0;
};

}  // namespace switchboard::server
