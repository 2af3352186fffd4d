#include "switchboard/error.hpp"

#include <array>
#include <utility>

namespace switchboard {
namespace {

constexpr std::array<std::pair<ErrorCode, std::string_view>, 17> kNames{{
    {ErrorCode::InvalidArgument, "INVALID_ARGUMENT"},
    {ErrorCode::InvalidChannelId, "INVALID_CHANNEL_ID"},
    {ErrorCode::NoAvailableChannelId, "NO_AVAILABLE_CHANNEL_ID"},
    {ErrorCode::SenderClosed, "SENDER_CLOSED"},
    {ErrorCode::MessageEmpty, "MESSAGE_EMPTY"},
    {ErrorCode::MessageTooLarge, "MESSAGE_TOO_LARGE"},
    {ErrorCode::BufferFull, "BUFFER_FULL"},
    {ErrorCode::TrafficLimited, "TRAFFIC_LIMITED"},
    {ErrorCode::TooManyParticipants, "TOO_MANY_PARTICIPANTS"},
    {ErrorCode::NoValidParticipant, "NO_VALID_PARTICIPANT"},
    {ErrorCode::NotConnected, "NOT_CONNECTED"},
    {ErrorCode::Unauthorized, "UNAUTHORIZED"},
    {ErrorCode::CallFull, "CALL_FULL"},
    {ErrorCode::Internal, "INTERNAL"},
    {ErrorCode::DecryptionFailed, "DECRYPTION_FAILED"},
    {ErrorCode::ServerFull, "SERVER_FULL"},
    {ErrorCode::TlsVerificationFailed, "TLS_VERIFICATION_FAILED"},
}};

}  // namespace

std::string_view to_string(ErrorCode code) noexcept {
  for (const auto& [c, name] : kNames) {
    if (c == code) return name;
  }
  return "INTERNAL";
}

bool parse_error_code(std::string_view name, ErrorCode& out) noexcept {
  for (const auto& [c, n] : kNames) {
    if (n == name) {
      out = c;
      return true;
    }
  }
  return false;
}

}  // namespace switchboard
