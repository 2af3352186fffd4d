#include "signaling/messages.hpp"

#include <limits>
#include <type_traits>

#include <nlohmann/json.hpp>

#include "signaling/token.hpp"

namespace switchboard::signaling {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

Error field_error(std::string_view field, std::string_view what) {
  std::string message = "signaling message: \"";
  message += field;
  message += "\" ";
  message += what;
  return Error{ErrorCode::InvalidArgument, std::move(message)};
}

std::string bound_text(std::size_t min, std::size_t max) {
  return "must be a string of " + std::to_string(min) + ".." + std::to_string(max) + " bytes";
}

Result<std::string> required_string(const json& object, const char* field, std::size_t max,
                                    std::size_t min = 0) {
  const auto it = object.find(field);
  if (it == object.end()) return field_error(field, "is missing");
  if (!it->is_string()) return field_error(field, bound_text(min, max));
  const auto& text = it->get_ref<const std::string&>();
  if (text.size() < min || text.size() > max) return field_error(field, bound_text(min, max));
  return text;
}

Result<std::optional<std::string>> optional_string(const json& object, const char* field,
                                                   std::size_t max) {
  if (!object.contains(field)) return std::optional<std::string>{};
  auto text = required_string(object, field, max);
  if (!text) return std::move(text).error();
  return std::optional<std::string>{std::move(*text)};
}

Result<std::uint32_t> required_u32(const json& object, const char* field) {
  const auto it = object.find(field);
  if (it == object.end()) return field_error(field, "is missing");
  if (!it->is_number_unsigned() ||
      it->get<std::uint64_t>() > std::numeric_limits<std::uint32_t>::max()) {
    return field_error(field, "must be an integer in 0..4294967295");
  }
  return static_cast<std::uint32_t>(it->get<std::uint64_t>());
}

Result<std::optional<std::uint32_t>> optional_u32(const json& object, const char* field) {
  if (!object.contains(field)) return std::optional<std::uint32_t>{};
  auto value = required_u32(object, field);
  if (!value) return std::move(value).error();
  return std::optional<std::uint32_t>{*value};
}

Result<std::optional<bool>> optional_bool(const json& object, const char* field) {
  const auto it = object.find(field);
  if (it == object.end()) return std::optional<bool>{};
  if (!it->is_boolean()) return field_error(field, "must be true or false");
  return std::optional<bool>{it->get<bool>()};
}

Result<DurableCounts> required_counts(const json& object, const char* field) {
  const auto it = object.find(field);
  if (it == object.end()) return field_error(field, "is missing");
  DurableCounts counts{};
  if (!it->is_array() || it->size() != counts.size()) {
    return field_error(field, "must be an array of 2 integers in 0..4294967295");
  }
  for (std::size_t i = 0; i < counts.size(); ++i) {
    const json& n = (*it)[i];
    if (!n.is_number_unsigned() ||
        n.get<std::uint64_t>() > std::numeric_limits<std::uint32_t>::max()) {
      return field_error(field, "must be an array of 2 integers in 0..4294967295");
    }
    counts[i] = static_cast<std::uint32_t>(n.get<std::uint64_t>());
  }
  return counts;
}

Result<std::optional<DurableCounts>> optional_counts(const json& object, const char* field) {
  if (!object.contains(field)) return std::optional<DurableCounts>{};
  auto counts = required_counts(object, field);
  if (!counts) return std::move(counts).error();
  return std::optional<DurableCounts>{*counts};
}

Result<std::optional<ResumeRequest>> optional_resume(const json& object) {
  const auto it = object.find("resume");
  if (it == object.end()) return std::optional<ResumeRequest>{};
  if (!it->is_object()) return field_error("resume", "must be an object");
  ResumeRequest resume;
  auto token = required_string(*it, "token", kMaxReqSize, 1);
  if (!token) return std::move(token).error();
  resume.token = std::move(*token);
  auto received = required_counts(*it, "received");
  if (!received) return std::move(received).error();
  resume.received = *received;
  return std::optional<ResumeRequest>{std::move(resume)};
}

Result<ParticipantInfo> parse_participant(const json& object) {
  if (!object.is_object()) return field_error("participants", "must hold objects");
  ParticipantInfo info;
  auto id = required_u32(object, "participantId");
  if (!id) return std::move(id).error();
  info.participant_id = *id;
  auto identity = required_string(object, "identity", kMaxIdentitySize, 1);
  if (!identity) return std::move(identity).error();
  info.identity = std::move(*identity);
  auto name = required_string(object, "displayName", kMaxDisplayNameSize);
  if (!name) return std::move(name).error();
  info.display_name = std::move(*name);
  return info;
}

Result<IceServer> parse_ice_server(const json& object) {
  if (!object.is_object()) return field_error("iceServers", "must hold objects");
  IceServer server;
  const auto urls = object.find("urls");
  if (urls == object.end()) return field_error("urls", "is missing");
  if (!urls->is_array() || urls->empty() || urls->size() > kMaxIceUrls) {
    return field_error("urls",
                       "must be an array of 1.." + std::to_string(kMaxIceUrls) + " strings");
  }
  for (const auto& url : *urls) {
    if (!url.is_string() || url.get_ref<const std::string&>().empty() ||
        url.get_ref<const std::string&>().size() > kMaxShortStringSize) {
      return field_error(
          "urls", "must hold strings of 1.." + std::to_string(kMaxShortStringSize) + " bytes");
    }
    server.urls.push_back(url.get<std::string>());
  }
  auto username = optional_string(object, "username", kMaxShortStringSize);
  if (!username) return std::move(username).error();
  server.username = std::move(*username);
  auto credential = optional_string(object, "credential", kMaxShortStringSize);
  if (!credential) return std::move(credential).error();
  server.credential = std::move(*credential);
  return server;
}

// Offer and Answer share one shape.
template <typename T>
Result<Message> parse_description(const json& object, std::optional<std::string> req) {
  T message;
  message.req = std::move(req);
  auto sdp = required_string(object, "sdp", kMaxSdpSize);
  if (!sdp) return std::move(sdp).error();
  message.sdp = std::move(*sdp);
  auto peer = optional_u32(object, "peer");
  if (!peer) return std::move(peer).error();
  message.peer = *peer;
  auto session = optional_u32(object, "session");
  if (!session) return std::move(session).error();
  message.session = *session;
  return Message{std::move(message)};
}

// `p2p` and `p2p_failed`: the peer (a participant id, nonzero) and the direct session.
std::optional<Error> read_peer_session(const json& object, std::uint32_t& peer,
                                       std::uint32_t& session) {
  auto id = required_u32(object, "peer");
  if (!id) return std::move(id).error();
  if (*id == 0) return field_error("peer", "must be a participant id (nonzero)");
  auto number = required_u32(object, "session");
  if (!number) return std::move(number).error();
  peer = *id;
  session = *number;
  return std::nullopt;
}

Result<Message> parse_body(std::string_view type, const json& object,
                           std::optional<std::string> req) {
  if (type == "join") {
    Join join;
    join.req = std::move(req);
    auto token = required_string(object, "token", kMaxTokenSize, 1);
    if (!token) return std::move(token).error();
    join.token = std::move(*token);
    auto name = optional_string(object, "displayName", kMaxDisplayNameSize);
    if (!name) return std::move(name).error();
    join.display_name = std::move(*name);
    auto p2p = optional_bool(object, "p2p");
    if (!p2p) return std::move(p2p).error();
    join.p2p = *p2p;
    auto call = optional_string(object, "call", kMaxCallIdSize);
    if (!call) return std::move(call).error();
    if (*call && (*call)->empty()) return field_error("call", bound_text(1, kMaxCallIdSize));
    join.call = std::move(*call);
    auto resumable = optional_bool(object, "resumable");
    if (!resumable) return std::move(resumable).error();
    join.resumable = *resumable;
    auto resume = optional_resume(object);
    if (!resume) return std::move(resume).error();
    join.resume = std::move(*resume);
    return Message{std::move(join)};
  }
  if (type == "leave") return Message{Leave{std::move(req)}};
  if (type == "ping") return Message{Ping{std::move(req)}};
  if (type == "pong") return Message{Pong{std::move(req)}};
  if (type == "offer") return parse_description<Offer>(object, std::move(req));
  if (type == "answer") return parse_description<Answer>(object, std::move(req));
  if (type == "candidate") {
    Candidate candidate;
    candidate.req = std::move(req);
    auto text = required_string(object, "candidate", kMaxCandidateSize);
    if (!text) return std::move(text).error();
    candidate.candidate = std::move(*text);
    auto peer = optional_u32(object, "peer");
    if (!peer) return std::move(peer).error();
    candidate.peer = *peer;
    auto session = optional_u32(object, "session");
    if (!session) return std::move(session).error();
    candidate.session = *session;
    return Message{std::move(candidate)};
  }
  if (type == "joined") {
    Joined joined;
    joined.req = std::move(req);
    auto self = parse_participant(object);
    if (!self) return std::move(self).error();
    joined.participant_id = self->participant_id;
    joined.identity = std::move(self->identity);
    joined.display_name = std::move(self->display_name);
    auto call = required_string(object, "call", kMaxCallIdSize, 1);
    if (!call) return std::move(call).error();
    joined.call = std::move(*call);
    const auto participants = object.find("participants");
    if (participants == object.end()) return field_error("participants", "is missing");
    if (!participants->is_array() || participants->size() > kMaxParticipants) {
      return field_error("participants",
                         "must be an array of at most " + std::to_string(kMaxParticipants));
    }
    for (const auto& entry : *participants) {
      auto info = parse_participant(entry);
      if (!info) return std::move(info).error();
      joined.participants.push_back(std::move(*info));
    }
    const auto servers = object.find("iceServers");
    if (servers == object.end()) return field_error("iceServers", "is missing");
    if (!servers->is_array() || servers->size() > kMaxIceServers) {
      return field_error("iceServers",
                         "must be an array of at most " + std::to_string(kMaxIceServers));
    }
    for (const auto& entry : *servers) {
      auto server = parse_ice_server(entry);
      if (!server) return std::move(server).error();
      joined.ice_servers.push_back(std::move(*server));
    }
    auto max_size = required_u32(object, "maxMessageSize");
    if (!max_size) return std::move(max_size).error();
    joined.max_message_size = *max_size;
    auto rate_bytes = optional_u32(object, "rateLimitBytesPerSecond");
    if (!rate_bytes) return std::move(rate_bytes).error();
    joined.rate_limit_bytes_per_second = *rate_bytes;
    auto rate_messages = optional_u32(object, "rateLimitMessagesPerSecond");
    if (!rate_messages) return std::move(rate_messages).error();
    joined.rate_limit_messages_per_second = *rate_messages;
    auto resume_token = optional_string(object, "resumeToken", kMaxReqSize);
    if (!resume_token) return std::move(resume_token).error();
    joined.resume_token = std::move(*resume_token);
    auto grace = optional_u32(object, "resumeGraceMs");
    if (!grace) return std::move(grace).error();
    joined.resume_grace_ms = *grace;
    auto resumed = optional_bool(object, "resumed");
    if (!resumed) return std::move(resumed).error();
    joined.resumed = resumed->value_or(false);
    auto received = optional_counts(object, "received");
    if (!received) return std::move(received).error();
    joined.received = *received;
    if (joined.resumed && !joined.received) return field_error("received", "is missing");
    return Message{std::move(joined)};
  }
  if (type == "participant_joined") {
    auto info = parse_participant(object);
    if (!info) return std::move(info).error();
    return Message{ParticipantJoined{std::move(req), std::move(*info)}};
  }
  if (type == "participant_left") {
    ParticipantLeft left;
    left.req = std::move(req);
    auto id = required_u32(object, "participantId");
    if (!id) return std::move(id).error();
    left.participant_id = *id;
    auto identity = required_string(object, "identity", kMaxIdentitySize, 1);
    if (!identity) return std::move(identity).error();
    left.identity = std::move(*identity);
    return Message{std::move(left)};
  }
  if (type == "error") {
    ErrorReply reply;
    reply.req = std::move(req);
    auto code = required_string(object, "code", kMaxReqSize, 1);
    if (!code) return std::move(code).error();
    if (!parse_error_code(*code, reply.code)) {
      return field_error("code", "is not an error code (INVALID_ARGUMENT, UNAUTHORIZED, ...)");
    }
    auto text = required_string(object, "message", kMaxShortStringSize);
    if (!text) return std::move(text).error();
    reply.message = std::move(*text);
    auto channel = optional_u32(object, "channelId");
    if (!channel) return std::move(channel).error();
    reply.channel_id = *channel;
    return Message{std::move(reply)};
  }
  if (type == "redirect") {
    auto url = required_string(object, "url", kMaxShortStringSize, 1);
    if (!url) return std::move(url).error();
    return Message{Redirect{std::move(req), std::move(*url)}};
  }
  if (type == "disconnect") {
    auto reason = required_string(object, "reason", kMaxShortStringSize);
    if (!reason) return std::move(reason).error();
    return Message{Disconnect{std::move(req), std::move(*reason)}};
  }
  if (type == "p2p") {
    P2p p2p;
    p2p.req = std::move(req);
    if (auto error = read_peer_session(object, p2p.peer, p2p.session)) return std::move(*error);
    auto offer = optional_bool(object, "offer");
    if (!offer) return std::move(offer).error();
    p2p.offer = offer->value_or(false);
    return Message{std::move(p2p)};
  }
  if (type == "p2p_failed") {
    P2pFailed failed;
    failed.req = std::move(req);
    if (auto error = read_peer_session(object, failed.peer, failed.session)) {
      return std::move(*error);
    }
    return Message{std::move(failed)};
  }
  if (type == "ack") {
    auto received = required_counts(object, "received");
    if (!received) return std::move(received).error();
    return Message{Ack{std::move(req), *received}};
  }
  return field_error("type", "is not a known message type");
}

ordered_json participant_json(std::uint32_t id, const std::string& identity,
                              const std::string& display_name) {
  ordered_json out = ordered_json::object();
  out["participantId"] = id;
  out["identity"] = identity;
  out["displayName"] = display_name;
  return out;
}

// The fields after "type" and "req".
void write_body(ordered_json& out, const Join& m) {
  out["token"] = m.token;
  if (m.display_name) out["displayName"] = *m.display_name;
  if (m.p2p) out["p2p"] = *m.p2p;
  if (m.call) out["call"] = *m.call;
  if (m.resumable) out["resumable"] = *m.resumable;
  if (m.resume) {
    ordered_json resume = ordered_json::object();
    resume["token"] = m.resume->token;
    resume["received"] = m.resume->received;
    out["resume"] = std::move(resume);
  }
}
void write_body(ordered_json&, const Leave&) {}
void write_body(ordered_json&, const Ping&) {}
void write_body(ordered_json&, const Pong&) {}
void write_body(ordered_json& out, const Offer& m) {
  out["sdp"] = m.sdp;
  if (m.peer) out["peer"] = *m.peer;
  if (m.session) out["session"] = *m.session;
}
void write_body(ordered_json& out, const Answer& m) {
  out["sdp"] = m.sdp;
  if (m.peer) out["peer"] = *m.peer;
  if (m.session) out["session"] = *m.session;
}
void write_body(ordered_json& out, const Candidate& m) {
  out["candidate"] = m.candidate;
  if (m.peer) out["peer"] = *m.peer;
  if (m.session) out["session"] = *m.session;
}
void write_body(ordered_json& out, const Joined& m) {
  out["participantId"] = m.participant_id;
  out["identity"] = m.identity;
  out["displayName"] = m.display_name;
  out["call"] = m.call;
  ordered_json participants = ordered_json::array();
  for (const auto& p : m.participants) {
    participants.push_back(participant_json(p.participant_id, p.identity, p.display_name));
  }
  out["participants"] = std::move(participants);
  ordered_json servers = ordered_json::array();
  for (const auto& s : m.ice_servers) {
    ordered_json server = ordered_json::object();
    server["urls"] = s.urls;
    if (s.username) server["username"] = *s.username;
    if (s.credential) server["credential"] = *s.credential;
    servers.push_back(std::move(server));
  }
  out["iceServers"] = std::move(servers);
  out["maxMessageSize"] = m.max_message_size;
  if (m.rate_limit_bytes_per_second) out["rateLimitBytesPerSecond"] = *m.rate_limit_bytes_per_second;
  if (m.rate_limit_messages_per_second) {
    out["rateLimitMessagesPerSecond"] = *m.rate_limit_messages_per_second;
  }
  if (m.resume_token) out["resumeToken"] = *m.resume_token;
  if (m.resume_grace_ms) out["resumeGraceMs"] = *m.resume_grace_ms;
  if (m.resumed) out["resumed"] = true;
  if (m.received) out["received"] = *m.received;
}
void write_body(ordered_json& out, const ParticipantJoined& m) {
  out.update(participant_json(m.participant.participant_id, m.participant.identity,
                              m.participant.display_name));
}
void write_body(ordered_json& out, const ParticipantLeft& m) {
  out["participantId"] = m.participant_id;
  out["identity"] = m.identity;
}
void write_body(ordered_json& out, const ErrorReply& m) {
  out["code"] = std::string(to_string(m.code));
  out["message"] = m.message;
  if (m.channel_id) out["channelId"] = *m.channel_id;
}
void write_body(ordered_json& out, const Redirect& m) {
  out["url"] = m.url;
}
void write_body(ordered_json& out, const Disconnect& m) {
  out["reason"] = m.reason;
}
void write_body(ordered_json& out, const P2p& m) {
  out["peer"] = m.peer;
  out["session"] = m.session;
  out["offer"] = m.offer;
}
void write_body(ordered_json& out, const Ack& m) {
  out["received"] = m.received;
}
void write_body(ordered_json& out, const P2pFailed& m) {
  out["peer"] = m.peer;
  out["session"] = m.session;
}

}  // namespace

std::string_view message_type(const Message& message) noexcept {
  constexpr std::string_view kTypes[] = {"join",
                                         "leave",
                                         "ping",
                                         "offer",
                                         "answer",
                                         "candidate",
                                         "joined",
                                         "participant_joined",
                                         "participant_left",
                                         "error",
                                         "pong",
                                         "redirect",
                                         "disconnect",
                                         "p2p",
                                         "ack",
                                         "p2p_failed"};
  static_assert(std::size(kTypes) == std::variant_size_v<Message>);
  return kTypes[message.index()];
}

Result<Message> parse_message(std::string_view text, std::size_t max_size) {
  if (text.size() > max_size) {
    return Error{ErrorCode::InvalidArgument,
                 "signaling message: longer than " + std::to_string(max_size) + " bytes"};
  }
  const json object = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (object.is_discarded()) {
    return Error{ErrorCode::InvalidArgument, "signaling message: not valid JSON"};
  }
  if (!object.is_object()) {
    return Error{ErrorCode::InvalidArgument, "signaling message: not a JSON object"};
  }
  auto type = required_string(object, "type", kMaxReqSize, 1);
  if (!type) return std::move(type).error();
  auto req = optional_string(object, "req", kMaxReqSize);
  if (!req) return std::move(req).error();
  return parse_body(*type, object, std::move(*req));
}

std::string serialize(const Message& message) {
  ordered_json out = ordered_json::object();
  out["type"] = std::string(message_type(message));
  std::visit(
      [&out](const auto& m) {
        if (m.req) out["req"] = *m.req;
        write_body(out, m);
      },
      message);
  // Strings came from parse_message or our own code; replace keeps dump from throwing on
  // invalid UTF-8 a caller may have put in a field.
  return out.dump(-1, ' ', false, ordered_json::error_handler_t::replace);
}

}  // namespace switchboard::signaling
