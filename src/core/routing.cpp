#include "core/routing.hpp"

#include <algorithm>
#include <string>

namespace switchboard::core {

Result<std::vector<ParticipantId>> resolve_recipients(const Roster& roster, ParticipantId self,
                                                      std::span<const Identity> participants) {
  std::vector<ParticipantId> ids;
  if (participants.empty()) return ids;
  if (participants.size() > kMaxRecipients) {
    return Error{ErrorCode::TooManyParticipants,
                 std::to_string(participants.size()) + " recipients listed; at most 64 are allowed"};
  }
  for (const Identity& identity : participants) {
    const Participant* p = roster.find(identity);
    if (p == nullptr || p->id == self) continue;
    if (std::find(ids.begin(), ids.end(), p->id) == ids.end()) ids.push_back(p->id);
  }
  if (ids.empty()) {
    return Error{ErrorCode::NoValidParticipant, "none of the listed participants is in the call"};
  }
  return ids;
}

void route_frame(const Roster& roster, ParticipantId from, RecipientsView to,
                 std::vector<ParticipantId>& out) {
  const std::size_t first = out.size();
  if (to.empty()) {
    roster.for_each([&](const Participant& p) {
      if (p.id != from) out.push_back(p.id);
    });
    return;
  }
  for (std::size_t i = 0; i < to.size(); ++i) {
    ParticipantId id = to[i];
    if (id == from || !roster.contains(id)) continue;
    if (std::find(out.begin() + static_cast<std::ptrdiff_t>(first), out.end(), id) == out.end()) {
      out.push_back(id);
    }
  }
}

void restamp_frame(const DecodedFrame& frame, ParticipantId from, Bytes& out) {
  FrameHeader header = frame.header;
  header.from = from;
  encode_frame(header, {}, frame.payload, out);
}

}  // namespace switchboard::core
