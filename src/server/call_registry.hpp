#pragma once

// The calls this server hosts: a call exists from its first join until its last
// participant leaves. Participant ids count from 1 within a call and are never reused.
// No I/O: the server wires sessions and connections around it.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/roster.hpp"
#include "server/participant.hpp"
#include "switchboard/result.hpp"

namespace switchboard::server {

struct Call {
  std::string id;
  core::Roster roster;
  std::unordered_map<core::ParticipantId, std::shared_ptr<Participant>> members;
  core::ParticipantId next_id = 1;
  // Kept while empty (a re-joining identity replaces the call's only participant, and
  // must still get a new id).
  bool pinned = false;
  // Direct sessions handed out so far (the `p2p` message's `session`; the first is 1).
  std::uint32_t p2p_sessions = 0;
  // Pairing again after `p2p_failed`: when the current session was handed out, the
  // sessions that failed in a row (the next try's backoff), and whether the current one's
  // failure already has its try scheduled.
  core::TimePoint p2p_paired_at{};
  std::uint32_t p2p_failures = 0;
  bool p2p_retry_scheduled = false;

  Participant* member(core::ParticipantId pid) const {
    auto it = members.find(pid);
    return it == members.end() ? nullptr : it->second.get();
  }
};

class CallRegistry {
 public:
  explicit CallRegistry(std::size_t max_participants_per_call)
      : max_participants_(max_participants_per_call) {}

  Call* find(std::string_view call_id);
  // The call, created when absent. A call that exists is returned even when full.
  Call& find_or_create(const std::string& call_id);

  // Adds a participant with the next id; `make` builds it from that id. CALL_FULL when the
  // call holds max_participants_per_call already (the caller replaces a re-joining
  // identity first). The identity must not be in the call.
  template <typename Make>
  Result<std::shared_ptr<Participant>> add(Call& call, Make&& make) {
    if (call.members.size() >= max_participants_) {
      return Error{ErrorCode::CallFull, "call \"" + call.id + "\" is full (" +
                                            std::to_string(max_participants_) +
                                            " participants); try again later"};
    }
    std::shared_ptr<Participant> p = make(call.next_id++);
    p->call = &call;
    call.roster.add({p->id, p->identity, p->display_name});
    call.members.emplace(p->id, p);
    ++participants_;
    return p;
  }

  // Removes the participant from its call, and the call when it is then empty (the
  // participant's `call` pointer is cleared). The removed shared_ptr is returned.
  std::shared_ptr<Participant> remove(Participant& participant);

  std::size_t call_count() const { return calls_.size(); }
  std::size_t participant_count() const { return participants_; }
  template <typename Fn>
  void for_each_participant(Fn&& fn) const {
    for (const auto& [id, call] : calls_) {
      for (const auto& [pid, p] : call->members) fn(p);
    }
  }

 private:
  std::size_t max_participants_;
  std::unordered_map<std::string, std::unique_ptr<Call>> calls_;
  std::size_t participants_ = 0;
};

}  // namespace switchboard::server
