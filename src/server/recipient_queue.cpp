#include "server/recipient_queue.hpp"

namespace switchboard::server {
namespace {

// High before Normal; within a priority, durable first (it cannot be dropped, so it is
// the backlog that matters).
constexpr std::array<StreamIndex, kStreamCount> kServiceOrder = {1, 3, 0, 2};

}  // namespace

void RecipientQueue::push(StreamIndex stream, Bytes data, std::uint32_t messages,
                          std::uint64_t payload_bytes, core::TimePoint now) {
  if (is_lossy_stream(stream)) {
    expire_stream(stream, now);
    lossy_bytes_ += data.size();
  } else {
    durable_bytes_ += data.size();
  }
  queues_[stream].push_back(QueuedBatch{std::move(data), now, messages, payload_bytes});
  ++batches_;
}

void RecipientQueue::expire_stream(StreamIndex stream, core::TimePoint now) {
  auto& q = queues_[stream];
  while (!q.empty() && now - q.front().enqueued > latency_target_) {
    lossy_bytes_ -= q.front().data.size();
    latency_drops_ += q.front().messages;
    q.pop_front();
    --batches_;
  }
}

void RecipientQueue::expire(core::TimePoint now) {
  expire_stream(2, now);
  expire_stream(3, now);
}

QueuedBatch* RecipientQueue::next(core::TimePoint now, StreamIndex& stream) {
  for (StreamIndex s : kServiceOrder) {
    if (is_lossy_stream(s)) expire_stream(s, now);
    if (!queues_[s].empty()) {
      stream = s;
      return &queues_[s].front();
    }
  }
  return nullptr;
}

Bytes RecipientQueue::pop(StreamIndex stream) {
  auto& q = queues_[stream];
  Bytes data = std::move(q.front().data);
  (is_lossy_stream(stream) ? lossy_bytes_ : durable_bytes_) -= data.size();
  q.pop_front();
  --batches_;
  return data;
}

std::uint64_t RecipientQueue::clear() {
  std::uint64_t messages = 0;
  for (auto& q : queues_) {
    for (const auto& batch : q) messages += batch.messages;
    q.clear();
  }
  batches_ = 0;
  durable_bytes_ = 0;
  lossy_bytes_ = 0;
  return messages;
}

}  // namespace switchboard::server
