#include "core/roster.hpp"

#include <algorithm>

namespace switchboard::core {

bool Roster::add(Participant participant) {
  if (participant.id == kNoParticipant || by_id_.contains(participant.id) ||
      by_identity_.contains(participant.identity)) {
    return false;
  }
  by_identity_.emplace(participant.identity, participant.id);
  by_id_.emplace(participant.id, std::move(participant));
  ++version_;
  return true;
}

bool Roster::remove(ParticipantId id) {
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return false;
  by_identity_.erase(it->second.identity);
  by_id_.erase(it);
  ++version_;
  return true;
}

const Participant* Roster::find(ParticipantId id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &it->second;
}

const Participant* Roster::find(std::string_view identity) const {
  auto it = by_identity_.find(std::string(identity));
  return it == by_identity_.end() ? nullptr : find(it->second);
}

std::vector<Participant> Roster::participants() const {
  std::vector<Participant> all;
  all.reserve(by_id_.size());
  for (const auto& [id, p] : by_id_) all.push_back(p);
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  return all;
}

}  // namespace switchboard::core
