#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/participant.hpp"
#include "switchboard/options.hpp"

namespace switchboard::core {

struct Participant {
  ParticipantId id = kNoParticipant;
  Identity identity;
  std::string display_name;
};

// Who is in the call now. Identities are unique within a call.
class Roster {
 public:
  // False when the id or the identity is already present.
  bool add(Participant participant);
  bool remove(ParticipantId id);

  const Participant* find(ParticipantId id) const;
  const Participant* find(std::string_view identity) const;
  bool contains(ParticipantId id) const { return by_id_.contains(id); }
  std::size_t size() const { return by_id_.size(); }
  // Sorted by id.
  std::vector<Participant> participants() const;
  template <typename Fn>
  void for_each(Fn&& fn) const {
    for (const auto& [id, p] : by_id_) fn(p);
  }

  // Changes on every add and remove, so cached lookups know when to refresh.
  std::uint64_t version() const { return version_; }

 private:
  std::unordered_map<ParticipantId, Participant> by_id_;
  std::unordered_map<std::string, ParticipantId> by_identity_;
  std::uint64_t version_ = 0;
};

}  // namespace switchboard::core
