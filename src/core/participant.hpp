#pragma once

#include <cstdint>

namespace switchboard::core {

// A participant's number within one call, assigned by the server when it joins and never
// reused in that call. Frames name participants by it; the roster maps it to identities.
using ParticipantId = std::uint32_t;
inline constexpr ParticipantId kNoParticipant = 0;

}  // namespace switchboard::core
