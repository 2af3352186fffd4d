#include "agent_protocol.hpp"

#include <array>
#include <limits>

namespace switchboard::cli {
namespace {

Error invalid(std::string message) {
  return Error{ErrorCode::InvalidArgument, std::move(message)};
}

// An integer field as int64 (huge unsigned values clamp to the maximum); nullopt when the
// value is not an integer.
std::optional<std::int64_t> integer(const Json& value) {
  if (value.is_number_unsigned()) {
    const auto v = value.get<std::uint64_t>();
    return v > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())
               ? std::numeric_limits<std::int64_t>::max()
               : static_cast<std::int64_t>(v);
  }
  if (value.is_number_integer()) return value.get<std::int64_t>();
  return std::nullopt;
}

// "channelId": required by set_participants, send and close (1..65535); optional for
// create_sender, where 0 or absent asks the SDK to allocate one.
Result<std::uint16_t> channel_id(const Json& command, bool required) {
  const auto it = command.find("channelId");
  if (it == command.end()) {
    if (required) return invalid("missing \"channelId\"");
    return std::uint16_t{0};
  }
  const auto v = integer(*it);
  if (!v) return invalid("\"channelId\" must be an integer");
  if (*v < 0 || *v > kMaxChannelId || (required && *v == 0)) {
    return Error{ErrorCode::InvalidChannelId,
                 "channel id " + std::to_string(*v) +
                     (required ? " is out of range 1..65535" : " is out of range 0..65535")};
  }
  return static_cast<std::uint16_t>(*v);
}

Result<std::vector<Identity>> participants(const Json& value) {
  if (!value.is_array()) return invalid("\"participants\" must be an array of identities");
  std::vector<Identity> out;
  out.reserve(value.size());
  for (const auto& p : value) {
    if (!p.is_string()) return invalid("\"participants\" must be an array of identities");
    out.push_back(p.get<std::string>());
  }
  return out;
}

Result<AgentCommand> parse_create_sender(const Json& command) {
  AgentCommand out;
  out.op = AgentOp::CreateSender;
  auto id = channel_id(command, false);
  if (!id) return std::move(id).error();
  out.sender.channelId = *id;
  if (const auto it = command.find("reliability"); it != command.end()) {
    const auto r =
        it->is_string() ? parse_reliability(it->get_ref<const std::string&>()) : std::nullopt;
    if (!r) return invalid("\"reliability\" must be \"durable\" or \"lossy\"");
    out.sender.reliability = *r;
  }
  if (const auto it = command.find("priority"); it != command.end()) {
    const auto p =
        it->is_string() ? parse_priority(it->get_ref<const std::string&>()) : std::nullopt;
    if (!p) return invalid("\"priority\" must be \"normal\" or \"high\"");
    out.sender.priority = *p;
  }
  if (const auto it = command.find("bitrateKbps"); it != command.end()) {
    const auto v = integer(*it);
    if (!v || *v < 0 || *v > std::numeric_limits<std::uint32_t>::max()) {
      return invalid("\"bitrateKbps\" must be an integer from 0 (no pacing) to 4294967295");
    }
    out.sender.bitrateInKbps = static_cast<std::uint32_t>(*v);
  }
  if (const auto it = command.find("participants"); it != command.end()) {
    auto list = participants(*it);
    if (!list) return std::move(list).error();
    out.sender.participants = std::move(*list);
  }
  return out;
}

Result<AgentCommand> parse_send(const Json& command) {
  AgentCommand out;
  out.op = AgentOp::Send;
  auto id = channel_id(command, true);
  if (!id) return std::move(id).error();
  out.channel_id = *id;
  const auto text = command.find("text");
  const auto b64 = command.find("base64");
  if ((text == command.end()) == (b64 == command.end())) {
    return invalid("send needs exactly one of \"text\" and \"base64\"");
  }
  if (text != command.end()) {
    if (!text->is_string()) return invalid("\"text\" must be a string");
    const auto& s = text->get_ref<const std::string&>();
    out.payload.assign(s.begin(), s.end());
  } else {
    if (!b64->is_string()) return invalid("\"base64\" must be a string");
    auto data = base64_decode(b64->get_ref<const std::string&>());
    if (!data) return invalid("\"base64\" is not valid base64 (RFC 4648, padded)");
    out.payload = std::move(*data);
  }
  return out;
}

Result<AgentCommand> parse_command(const Json& command) {
  const auto op_it = command.find("op");
  if (op_it == command.end() || !op_it->is_string()) {
    return invalid("a command needs \"op\" (a string)");
  }
  const auto& op = op_it->get_ref<const std::string&>();
  if (op == "create_sender") return parse_create_sender(command);
  if (op == "send") return parse_send(command);
  AgentCommand out;
  if (op == "set_participants") {
    out.op = AgentOp::SetParticipants;
    auto id = channel_id(command, true);
    if (!id) return std::move(id).error();
    out.channel_id = *id;
    const auto it = command.find("participants");
    if (it == command.end()) return invalid("missing \"participants\" ([] = everyone)");
    auto list = participants(*it);
    if (!list) return std::move(list).error();
    out.participants = std::move(*list);
    return out;
  }
  if (op == "close") {
    out.op = AgentOp::Close;
    auto id = channel_id(command, true);
    if (!id) return std::move(id).error();
    out.channel_id = *id;
    return out;
  }
  if (op == "participants") {
    out.op = AgentOp::Participants;
    return out;
  }
  if (op == "leave") {
    out.op = AgentOp::Leave;
    return out;
  }
  return invalid("unknown op \"" + op + "\"");
}

constexpr std::string_view kBase64Alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<std::int8_t, 256> make_decode_table() {
  std::array<std::int8_t, 256> table{};
  for (auto& v : table) v = -1;
  for (std::size_t i = 0; i < kBase64Alphabet.size(); ++i) {
    table[static_cast<unsigned char>(kBase64Alphabet[i])] = static_cast<std::int8_t>(i);
  }
  return table;
}
constexpr auto kDecodeTable = make_decode_table();

}  // namespace

ParsedLine parse_agent_line(std::string_view line) {
  ParsedLine out;
  const auto command = Json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (command.is_discarded()) {
    out.command = invalid("not JSON: a command is one JSON object per line");
    return out;
  }
  if (!command.is_object()) {
    out.command = invalid("a command is a JSON object, e.g. {\"op\":\"participants\"}");
    return out;
  }
  if (const auto req = command.find("req"); req != command.end()) out.req = *req;
  out.command = parse_command(command);
  return out;
}

std::string base64_encode(ByteView data) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    const std::uint32_t v = (std::uint32_t{data[i]} << 16) | (std::uint32_t{data[i + 1]} << 8) |
                            std::uint32_t{data[i + 2]};
    out += kBase64Alphabet[(v >> 18) & 63];
    out += kBase64Alphabet[(v >> 12) & 63];
    out += kBase64Alphabet[(v >> 6) & 63];
    out += kBase64Alphabet[v & 63];
  }
  const std::size_t rest = data.size() - i;
  if (rest > 0) {
    std::uint32_t v = std::uint32_t{data[i]} << 16;
    if (rest == 2) v |= std::uint32_t{data[i + 1]} << 8;
    out += kBase64Alphabet[(v >> 18) & 63];
    out += kBase64Alphabet[(v >> 12) & 63];
    out += rest == 2 ? kBase64Alphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::optional<Bytes> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::size_t padding = 0;
  if (!text.empty() && text.back() == '=') ++padding;
  if (text.size() >= 2 && text[text.size() - 2] == '=') ++padding;
  Bytes out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    std::uint32_t v = 0;
    for (std::size_t k = 0; k < 4; ++k) {
      const char c = text[i + k];
      std::int8_t d = 0;
      if (c == '=') {
        if (!last || k < 4 - padding) return std::nullopt;
      } else {
        d = kDecodeTable[static_cast<unsigned char>(c)];
        if (d < 0) return std::nullopt;
      }
      v = (v << 6) | static_cast<std::uint32_t>(d);
    }
    out.push_back(static_cast<std::uint8_t>(v >> 16));
    if (!last || padding < 2) out.push_back(static_cast<std::uint8_t>(v >> 8));
    if (!last || padding < 1) out.push_back(static_cast<std::uint8_t>(v));
  }
  return out;
}

bool is_valid_utf8(ByteView data) noexcept {
  std::size_t i = 0;
  while (i < data.size()) {
    const std::uint8_t c = data[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t n = 0;
    std::uint32_t cp = 0;
    if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n >= data.size()) return false;
    for (std::size_t k = 1; k <= n; ++k) {
      if ((data[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (data[i + k] & 0x3F);
    }
    static constexpr std::uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n + 1;
  }
  return true;
}

Json message_event(std::uint16_t channel_id, std::string_view from, std::uint32_t sequence_number,
                   ByteView data) {
  Json event;
  event["event"] = "message";
  event["channelId"] = channel_id;
  event["from"] = from;
  event["sequenceNumber"] = sequence_number;
  event["size"] = data.size();
  event["base64"] = base64_encode(data);
  if (is_valid_utf8(data)) event["text"] = as_string(data);
  return event;
}

Json error_event(const std::optional<Json>& req, const Error& error) {
  Json event;
  event["event"] = "error";
  if (req) event["req"] = *req;
  event["code"] = to_string(error.code);
  event["message"] = error.message;
  return event;
}

std::string to_line(const Json& event) {
  auto line = event.dump(-1, ' ', false, Json::error_handler_t::replace);
  line += '\n';
  return line;
}

}  // namespace switchboard::cli
