#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace switchboard {

// The error codes of the DataChannel API. The same names appear in the agent's JSON
// events and the Web SDK's error `code` strings (apps/switchboard/README.md, "switchboard agent").
enum class ErrorCode : std::uint8_t {
  InvalidArgument,
  InvalidChannelId,
  NoAvailableChannelId,
  SenderClosed,
  MessageEmpty,
  MessageTooLarge,
  BufferFull,
  TrafficLimited,
  TooManyParticipants,
  NoValidParticipant,
  NotConnected,
  Unauthorized,
  CallFull,
  Internal,
  // End-to-end encryption: a received message could not be opened (wrong key, unknown
  // key id, not sealed, or altered on the way). It is not delivered.
  DecryptionFailed,
  // The server hosts as many calls as it is configured for: a join that would start
  // another is refused. Joining an existing call still works; try again later.
  ServerFull,
  // A wss:// server's certificate did not verify: not signed by a trusted authority (the
  // system's, or JoinOptions::caFile), expired, or not for the host name in the URL. The
  // join fails; retrying will not help until the certificate or the trust changes.
  TlsVerificationFailed,
};

// "INVALID_ARGUMENT", "SENDER_CLOSED", ...
std::string_view to_string(ErrorCode code) noexcept;
// The inverse of to_string; false when `name` is not a code.
bool parse_error_code(std::string_view name, ErrorCode& out) noexcept;

struct Error {
  ErrorCode code = ErrorCode::Internal;
  std::string message;
};

}  // namespace switchboard
