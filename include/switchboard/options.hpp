#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard {

// Durable: ordered and lossless, or the send fails. Lossy: may drop or reorder, never
// reports a delivery error.
enum class Reliability : std::uint8_t { Durable, Lossy };

// High-priority traffic leaves before Normal traffic.
enum class Priority : std::uint8_t { Normal, High };

// Why a receiver closed.
enum class ReceiverCloseReason : std::uint8_t { SenderClosed, ParticipantLeft, Idle };

std::string_view to_string(Reliability r) noexcept;
// "sender_closed", "participant_left", "idle": the agent's and Web SDK's names.
std::string_view to_string(ReceiverCloseReason reason) noexcept;
std::string_view to_string(Priority p) noexcept;
// Case-insensitive: "durable", "Durable", "LOSSY".
std::optional<Reliability> parse_reliability(std::string_view name) noexcept;
std::optional<Priority> parse_priority(std::string_view name) noexcept;

// The participant identity, as carried in the access token's `sub`.
using Identity = std::string;

inline constexpr std::uint16_t kMinChannelId = 1;
inline constexpr std::uint16_t kMaxChannelId = 65535;
// channelId 0 asks the SDK to allocate one from this range, as ACS does.
inline constexpr std::uint16_t kFirstAllocatedChannelId = 1024;
inline constexpr std::size_t kMaxRecipients = 64;
inline constexpr std::size_t kDefaultMaxMessageSize = 256 * 1024;
inline constexpr std::size_t kLargestMaxMessageSize = 16 * 1024 * 1024;

struct SenderOptions {
  // 0 = let the SDK pick a free id in 1024..65535.
  std::uint32_t channelId = 0;
  Reliability reliability = Reliability::Durable;
  Priority priority = Priority::Normal;
  // 0 = no pacing; otherwise the sender's average rate is held to this.
  std::uint32_t bitrateInKbps = 0;
  // Empty = everyone in the call, including those who join later.
  std::vector<Identity> participants;
};

}  // namespace switchboard
