#include "core/reassembler.hpp"

#include <algorithm>
#include <cstring>

namespace switchboard::core {

void Reassembler::erase(std::map<Key, Partial>::iterator it) {
  pending_bytes_ -= it->second.data.size();
  partials_.erase(it);
}

void Reassembler::evict_for(ParticipantId from, std::uint16_t channel_id, Reliability reliability,
                            std::size_t incoming) {
  // A durable channel has one message in flight at a time: a new one abandons the old.
  // A lossy channel keeps a few, dropping the oldest.
  auto lo = partials_.lower_bound(Key{from, channel_id, 0});
  std::size_t count = 0;
  for (auto it = lo; it != partials_.end() && std::get<0>(it->first) == from &&
                     std::get<1>(it->first) == channel_id;
       ++it) {
    ++count;
  }
  const std::size_t keep = reliability == Reliability::Durable ? 0 : limits_.max_partials_per_channel - 1;
  while (count > keep) {
    auto oldest = partials_.end();
    for (auto it = partials_.lower_bound(Key{from, channel_id, 0});
         it != partials_.end() && std::get<0>(it->first) == from &&
         std::get<1>(it->first) == channel_id;
         ++it) {
      if (oldest == partials_.end() || it->second.first_seen < oldest->second.first_seen) oldest = it;
    }
    discarded_ += oldest->second.ranges.size();
    erase(oldest);
    --count;
  }
  while (!partials_.empty() && pending_bytes_ + incoming > limits_.max_pending_bytes) {
    auto oldest = std::min_element(partials_.begin(), partials_.end(), [](const auto& a, const auto& b) {
      return a.second.first_seen < b.second.first_seen;
    });
    discarded_ += oldest->second.ranges.size();
    erase(oldest);
  }
}

std::optional<Bytes> Reassembler::add(ParticipantId from, const DecodedFrame& frame, TimePoint now) {
  const FrameHeader& h = frame.header;
  if (!h.fragmented || (h.fragment_offset == 0 && frame.payload.size() == h.message_size)) {
    return Bytes(frame.payload.begin(), frame.payload.end());
  }
  const Key key{from, h.channel_id, h.sequence};
  auto it = partials_.find(key);
  if (it == partials_.end()) {
    if (h.message_size > limits_.max_pending_bytes) {
      ++discarded_;
      return std::nullopt;
    }
    evict_for(from, h.channel_id, h.reliability, h.message_size);
    Partial p;
    p.data.resize(h.message_size);
    p.first_seen = now;
    p.reliability = h.reliability;
    pending_bytes_ += h.message_size;
    it = partials_.emplace(key, std::move(p)).first;
  }
  Partial& p = it->second;
  const auto offset = h.fragment_offset;
  const auto length = static_cast<std::uint32_t>(frame.payload.size());
  // Fragments of one message agree on its size and never overlap.
  bool consistent = p.data.size() == h.message_size;
  if (consistent) {
    auto next = p.ranges.lower_bound(offset);
    if (next != p.ranges.end() && next->first < offset + length) consistent = false;
    if (next != p.ranges.begin()) {
      auto prev = std::prev(next);
      if (prev->first + prev->second > offset) consistent = false;
    }
  }
  if (!consistent) {
    ++discarded_;
    return std::nullopt;
  }
  std::memcpy(p.data.data() + offset, frame.payload.data(), length);
  p.ranges.emplace(offset, length);
  p.received += length;
  if (p.received < p.data.size()) return std::nullopt;
  Bytes whole = std::move(p.data);
  pending_bytes_ -= whole.size();
  partials_.erase(it);
  return whole;
}

void Reassembler::drop(ParticipantId from) {
  for (auto it = partials_.lower_bound(Key{from, 0, 0});
       it != partials_.end() && std::get<0>(it->first) == from;) {
    auto victim = it++;
    erase(victim);
  }
}

void Reassembler::drop(ParticipantId from, std::uint16_t channel_id) {
  for (auto it = partials_.lower_bound(Key{from, channel_id, 0});
       it != partials_.end() && std::get<0>(it->first) == from &&
       std::get<1>(it->first) == channel_id;) {
    auto victim = it++;
    erase(victim);
  }
}

void Reassembler::expire(TimePoint now) {
  for (auto it = partials_.begin(); it != partials_.end();) {
    auto victim = it++;
    if (victim->second.reliability == Reliability::Lossy &&
        now - victim->second.first_seen >= limits_.max_age) {
      discarded_ += victim->second.ranges.size();
      erase(victim);
    }
  }
}

std::optional<TimePoint> Reassembler::next_expiry() const {
  std::optional<TimePoint> earliest;
  for (const auto& [key, p] : partials_) {
    if (p.reliability != Reliability::Lossy) continue;
    const TimePoint at = p.first_seen + limits_.max_age;
    if (!earliest || at < *earliest) earliest = at;
  }
  return earliest;
}

}  // namespace switchboard::core
