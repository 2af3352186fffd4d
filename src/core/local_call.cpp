#include "core/local_call.hpp"

#include <algorithm>

#include "core/routing.hpp"

namespace switchboard::core {

DataChannelEndpoint& LocalCall::join(const Identity& identity, TimePoint now) {
  const ParticipantId id = next_id_++;
  EndpointConfig config = config_;
  config.seed = config_.seed == 0 ? 0 : config_.seed + id;
  auto endpoint = std::make_unique<DataChannelEndpoint>(id, config);
  const Participant me{id, identity, identity};
  for (const auto& other : endpoints_) {
    other->participant_joined(me, now);
    endpoint->participant_joined(*other->roster().find(other->self()), now);
  }
  endpoint->participant_joined(me, now);
  roster_.add(me);
  endpoints_.push_back(std::move(endpoint));
  return *endpoints_.back();
}

void LocalCall::leave(DataChannelEndpoint& endpoint) {
  const ParticipantId id = endpoint.self();
  roster_.remove(id);
  std::erase_if(endpoints_, [&](const auto& e) { return e->self() == id; });
  for (const auto& other : endpoints_) other->participant_left(id);
}

DataChannelEndpoint* LocalCall::find(ParticipantId id) {
  for (const auto& e : endpoints_) {
    if (e->self() == id) return e.get();
  }
  return nullptr;
}

std::size_t LocalCall::pump(TimePoint now) {
  std::size_t moved = 0;
  Bytes batch;
  bool progress = true;
  while (progress) {
    progress = false;
    for (std::size_t i = 0; i < endpoints_.size(); ++i) {
      batch.clear();
      if (!endpoints_[i]->poll(now, batch, 64 * 1024)) continue;
      relay(*endpoints_[i], batch, now);
      progress = true;
      ++moved;
    }
  }
  return moved;
}

void LocalCall::relay(DataChannelEndpoint& from, ByteView batch, TimePoint now) {
  std::vector<ParticipantId> recipients;
  Bytes stamped;
  while (!batch.empty()) {
    auto frame = decode_frame(batch);
    if (!frame || (frame->header.from && *frame->header.from != from.self())) {
      ++rejected_;
      return;
    }
    recipients.clear();
    route_frame(roster_, from.self(), frame->to, recipients);
    stamped.clear();
    restamp_frame(*frame, from.self(), stamped);
    for (ParticipantId id : recipients) {
      if (DataChannelEndpoint* to = find(id)) (void)to->ingest(stamped, now);
    }
  }
}

}  // namespace switchboard::core
