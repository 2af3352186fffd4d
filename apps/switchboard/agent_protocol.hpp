#pragma once

// The pure half of `switchboard agent` (../shared/agent-protocol.md, docs/agent.md): one
// stdin line to a command, and the pieces of the events it prints. No I/O here, so
// tests/cli pins every parsing rule without a server.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/bytes.hpp"
#include "switchboard/options.hpp"
#include "switchboard/result.hpp"

namespace switchboard::cli {

// Events keep their fields in the order they were set ("event" first).
using Json = nlohmann::ordered_json;

enum class AgentOp { CreateSender, SetParticipants, Send, Close, Participants, Leave };

struct AgentCommand {
  AgentOp op = AgentOp::Participants;
  // create_sender: everything but the op is optional (channelId 0 = allocate).
  SenderOptions sender;
  // set_participants, send, close.
  std::uint16_t channel_id = 0;
  // set_participants.
  std::vector<Identity> participants;
  // send: the text's UTF-8 bytes or the decoded base64.
  Bytes payload;
};

// A parsed line: the command, or the error to answer with; `req` is the line's "req"
// (any JSON value, echoed as given) whenever the line was a JSON object carrying one.
struct ParsedLine {
  Result<AgentCommand> command = Error{ErrorCode::InvalidArgument, "empty line"};
  std::optional<Json> req;
};

ParsedLine parse_agent_line(std::string_view line);

// RFC 4648 section 4 base64 with padding.
std::string base64_encode(ByteView data);
// Strict: the padded standard alphabet only, no whitespace.
std::optional<Bytes> base64_decode(std::string_view text);

// Well-formed UTF-8 (no overlongs, surrogates or code points past U+10FFFF).
bool is_valid_utf8(ByteView data) noexcept;

// {"event":"message",...}: base64 always, text only when the payload is UTF-8.
Json message_event(std::uint16_t channel_id, std::string_view from, std::uint32_t sequence_number,
                   ByteView data);

// {"event":"error",["req":…,]"code":…,"message":…}
Json error_event(const std::optional<Json>& req, const Error& error);

// One line of output: compact JSON, never throws (invalid UTF-8 in strings is replaced).
std::string to_line(const Json& event);

}  // namespace switchboard::cli
