#pragma once

// Who a message reaches. The same rules serve the sending SDK (to fail early) and the
// server (which decides for real).

#include <span>
#include <vector>

#include "core/frame.hpp"
#include "core/roster.hpp"
#include "switchboard/result.hpp"

namespace switchboard::core {

// A sender's recipient identities → participant ids in the call now. Empty list = everyone
// (returns an empty list). More than 64 → TOO_MANY_PARTICIPANTS; identities not in the call,
// and the sender itself, are skipped; none left → NO_VALID_PARTICIPANT.
Result<std::vector<ParticipantId>> resolve_recipients(const Roster& roster, ParticipantId self,
                                                      std::span<const Identity> participants);

// The participants a frame from `from` goes to: those in `to` still in the call (each once),
// or everyone but the sender when `to` is empty. Appends to `out`.
void route_frame(const Roster& roster, ParticipantId from, RecipientsView to,
                 std::vector<ParticipantId>& out);

// Re-encodes a received client frame for its recipients: the sender stamped from the
// authenticated connection, the recipient list removed. Appends to `out`.
void restamp_frame(const DecodedFrame& frame, ParticipantId from, Bytes& out);

}  // namespace switchboard::core
