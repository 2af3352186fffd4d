#include "core/scheduler.hpp"

namespace switchboard::core {

void FrameScheduler::add(std::shared_ptr<SenderChannel> sender) {
  auto& ring = rings_[sender->priority() == Priority::High ? 0 : 1];
  ring.push_back(Flow{std::move(sender), 0});
}

std::optional<TrafficClass> FrameScheduler::next(TimePoint now, Bytes& out) {
  for (auto& ring : rings_) {
    if (auto cls = next_in(ring, now, out)) return cls;
  }
  return std::nullopt;
}

std::optional<TrafficClass> FrameScheduler::next_in(std::deque<Flow>& ring, TimePoint now,
                                                    Bytes& out) {
  // Each pass either sends, drops a finished flow, or rotates; one full rotation without
  // a frame means nothing in this ring can go now.
  for (std::size_t visited = 0; visited <= ring.size() && !ring.empty();) {
    Flow& flow = ring.front();
    SenderChannel& s = *flow.sender;
    if (s.finished()) {
      ring.pop_front();
      continue;
    }
    if (!s.has_frame() || !s.paced_ready(now)) {
      flow.deficit = 0;  // an idle flow does not bank credit
      ring.push_back(std::move(flow));
      ring.pop_front();
      ++visited;
      continue;
    }
    const std::size_t cost = s.next_frame_cost();
    if (flow.deficit < cost) flow.deficit += quantum_;
    flow.deficit -= cost;
    const std::size_t before = out.size();
    const TrafficClass cls = s.write_next_frame(out);
    // The flow keeps the turn while its credit covers its next frame.
    if (s.finished() || !s.has_frame() || flow.deficit < s.next_frame_cost()) {
      if (!s.has_frame()) flow.deficit = 0;
      ring.push_back(std::move(flow));
      ring.pop_front();
    }
    if (out.size() != before) return cls;
    // A close with nobody to notify writes nothing; look further.
  }
  return std::nullopt;
}

std::optional<TimePoint> FrameScheduler::next_wakeup(TimePoint now) const {
  std::optional<TimePoint> earliest;
  for (const auto& ring : rings_) {
    for (const Flow& flow : ring) {
      if (!flow.sender->has_frame()) continue;
      if (auto at = flow.sender->paced_ready_at(now); at && (!earliest || *at < *earliest)) {
        earliest = at;
      }
    }
  }
  return earliest;
}

bool FrameScheduler::idle() const {
  for (const auto& ring : rings_) {
    for (const Flow& flow : ring) {
      if (flow.sender->has_frame()) return false;
    }
  }
  return true;
}

}  // namespace switchboard::core
