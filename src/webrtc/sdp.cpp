#include "webrtc/sdp.hpp"

#include <charconv>
#include <limits>
#include <utility>

#include "webrtc/certificate.hpp"

namespace switchboard::webrtc {
namespace {

constexpr std::string_view kCandidatePrefix = "candidate:";
constexpr std::string_view kProto = "UDP/DTLS/SCTP";
constexpr std::string_view kFormat = "webrtc-datachannel";
constexpr std::size_t kMaxIceFieldSize = 256;

Error invalid(const std::string& what) {
  return {ErrorCode::InvalidArgument, "invalid SDP: " + what};
}
Error fail(std::string what) {
  return {ErrorCode::InvalidArgument, std::move(what)};
}
Error bad_candidate(const std::string& what) {
  return {ErrorCode::InvalidArgument, "invalid ICE candidate: " + what};
}

// ASCII only: SDP is not locale-dependent, so <cctype> is not used.
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_alnum(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_ice_char(char c) {
  return is_alnum(c) || c == '+' || c == '/';
}
// RFC 8866 token-char.
bool is_token_char(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u == 0x21 || (u >= 0x23 && u <= 0x27) || u == 0x2a || u == 0x2b || u == 0x2d ||
         u == 0x2e || (u >= 0x30 && u <= 0x39) || (u >= 0x41 && u <= 0x5a) ||
         (u >= 0x5e && u <= 0x7e);
}
// IPv4, IPv6 (with an optional %zone) and host names such as mDNS "<uuid>.local".
bool is_address_char(char c) {
  return is_alnum(c) || c == '.' || c == ':' || c == '-' || c == '_' || c == '%';
}
bool is_control(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u < 0x20 || u == 0x7f;
}

template <typename Pred>
bool all_chars(std::string_view s, Pred pred) {
  for (char c : s) {
    if (!pred(c)) return false;
  }
  return true;
}

char to_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = to_lower(c);
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (to_lower(a[i]) != to_lower(b[i])) return false;
  }
  return true;
}

// Decimal digits only (no sign, no spaces); nullopt when empty, not digits, or too big.
template <typename T>
std::optional<T> parse_uint(std::string_view s) {
  if (s.empty() || !all_chars(s, is_digit)) return std::nullopt;
  T value{};
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
  return value;
}

// Fields separated by one or more spaces.
std::vector<std::string_view> split_fields(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    if (s[i] == ' ') {
      ++i;
      continue;
    }
    std::size_t end = s.find(' ', i);
    if (end == std::string_view::npos) end = s.size();
    out.push_back(s.substr(i, end - i));
    i = end;
  }
  return out;
}

std::string quoted(std::string_view s) {
  // Error messages echo input; keep them short.
  constexpr std::size_t kMaxEcho = 40;
  if (s.size() > kMaxEcho) return "\"" + std::string(s.substr(0, kMaxEcho)) + "...\"";
  return "\"" + std::string(s) + "\"";
}

bool valid_address(std::string_view s) {
  return !s.empty() && s.size() <= 255 && all_chars(s, is_address_char);
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Result<void> check_ice_credential(std::string_view name, std::string_view value,
                                  std::size_t min_size) {
  if (value.size() < min_size || value.size() > kMaxIceFieldSize) {
    return fail("a=" + std::string(name) + " must be " + std::to_string(min_size) + ".." +
                std::to_string(kMaxIceFieldSize) + " characters, got " +
                std::to_string(value.size()));
  }
  if (!all_chars(value, is_ice_char)) {
    return fail("a=" + std::string(name) + " may only contain letters, digits, '+' and '/'");
  }
  return {};
}

// Attributes that may appear at session level and be overridden at media level.
struct LevelAttributes {
  std::optional<std::string> ufrag;
  std::optional<std::string> pwd;
  std::optional<DtlsSetup> setup;
  std::optional<bool> trickle;
  std::optional<Fingerprint> fingerprint;
  std::string other_fingerprint_algorithm;  // the last non-sha-256 one seen, for the error
  bool ice_lite = false;
  bool end_of_candidates = false;
};

struct ParseState {
  SessionDescription description;
  LevelAttributes session;
  LevelAttributes media;
  bool have_origin = false;
  std::size_t media_sections = 0;
  std::optional<std::string> mid;
  std::optional<std::uint16_t> sctp_port;
  std::optional<std::size_t> max_message_size;
};

Result<void> parse_origin(std::string_view value, ParseState& state) {
  if (state.have_origin) return fail("more than one o= line");
  if (state.media_sections > 0) return fail("o= must come before the m= line");
  const auto fields = split_fields(value);
  if (fields.size() != 6) return fail("o= needs 6 fields, got " + std::to_string(fields.size()));
  const auto id = parse_uint<std::uint64_t>(fields[1]);
  const auto version = parse_uint<std::uint64_t>(fields[2]);
  if (!id || !version) return fail("o= session id and version must be 64-bit decimal numbers");
  state.description.session_id = *id;
  state.description.session_version = *version;
  state.have_origin = true;
  return {};
}

Result<void> parse_media(std::string_view value, ParseState& state) {
  const auto fields = split_fields(value);
  if (fields.size() < 4) return fail("m= needs at least 4 fields");
  if (fields[0] != "application") {
    return fail("only data sessions are supported; found m=" + std::string(fields[0]));
  }
  if (fields[2] != kProto) {
    if (fields[2] == "DTLS/SCTP") {
      return fail("legacy m=application ... DTLS/SCTP is not supported; use UDP/DTLS/SCTP");
    }
    return fail("m=application protocol must be UDP/DTLS/SCTP, got " + quoted(fields[2]));
  }
  if (fields.size() != 4 || fields[3] != kFormat) {
    return fail("m=application format must be exactly \"webrtc-datachannel\"");
  }
  const auto port = parse_uint<std::uint16_t>(fields[1]);
  if (!port) return fail("m= port " + quoted(fields[1]) + " is not a port number");
  if (*port == 0) return fail("the data m= section was rejected (port 0)");
  if (++state.media_sections > 1) return fail("only one m=application section is supported");
  return {};
}

Result<void> parse_fingerprint_attribute(std::string_view value, LevelAttributes& level) {
  const auto fields = split_fields(value);
  if (fields.size() != 2) return fail("a=fingerprint needs \"<algorithm> <hex pairs>\"");
  if (!iequals(fields[0], "sha-256")) {
    // RFC 8122 allows several fingerprints; one we support is enough.
    level.other_fingerprint_algorithm = std::string(fields[0].substr(0, 16));
    return {};
  }
  if (level.fingerprint) return fail("more than one sha-256 a=fingerprint");
  auto digest = parse_fingerprint(fields[1]);
  if (!digest) return fail(digest.error().message);
  level.fingerprint = *digest;
  return {};
}

Result<void> parse_attribute(std::string_view line, ParseState& state) {
  const std::string_view body = line.substr(2);
  const std::size_t colon = body.find(':');
  const std::string_view name = body.substr(0, colon);
  const bool has_value = colon != std::string_view::npos;
  const std::string_view value = has_value ? body.substr(colon + 1) : std::string_view{};
  const bool media_level = state.media_sections > 0;
  LevelAttributes& level = media_level ? state.media : state.session;

  auto need_value = [&]() -> Result<void> {
    if (!has_value || value.empty()) return fail("a=" + std::string(name) + " needs a value");
    return {};
  };
  auto media_only = [&]() -> Result<void> {
    if (!media_level) return fail("a=" + std::string(name) + " belongs in the m= section");
    return need_value();
  };

  if (name == "ice-ufrag" || name == "ice-pwd") {
    if (auto ok = need_value(); !ok) return ok;
    const bool ufrag = name == "ice-ufrag";
    std::optional<std::string>& slot = ufrag ? level.ufrag : level.pwd;
    if (slot) return fail("more than one a=" + std::string(name));
    if (auto ok = check_ice_credential(name, value, ufrag ? 4 : 22); !ok) return ok;
    slot = std::string(value);
  } else if (name == "ice-options") {
    if (auto ok = need_value(); !ok) return ok;
    if (level.trickle) return fail("more than one a=ice-options");
    level.trickle = false;
    for (std::string_view option : split_fields(value)) {
      if (option == "trickle") level.trickle = true;
    }
  } else if (name == "ice-lite") {
    level.ice_lite = true;
  } else if (name == "end-of-candidates") {
    level.end_of_candidates = true;
  } else if (name == "fingerprint") {
    if (auto ok = need_value(); !ok) return ok;
    return parse_fingerprint_attribute(value, level);
  } else if (name == "setup") {
    if (auto ok = need_value(); !ok) return ok;
    if (level.setup) return fail("more than one a=setup");
    if (value == "actpass") {
      level.setup = DtlsSetup::ActPass;
    } else if (value == "active") {
      level.setup = DtlsSetup::Active;
    } else if (value == "passive") {
      level.setup = DtlsSetup::Passive;
    } else {
      return fail("a=setup:" + std::string(value.substr(0, 16)) +
                  " is not supported; use actpass, active or passive");
    }
  } else if (name == "mid") {
    if (auto ok = media_only(); !ok) return ok;
    if (state.mid) return fail("more than one a=mid");
    if (value.size() > 64 || !all_chars(value, is_token_char)) {
      return fail("a=mid must be 1..64 token characters");
    }
    state.mid = std::string(value);
  } else if (name == "candidate") {
    if (auto ok = media_only(); !ok) return ok;
    if (state.description.candidates.size() >= kMaxSdpCandidates) {
      return fail("more than " + std::to_string(kMaxSdpCandidates) + " candidates");
    }
    auto candidate = parse_candidate(line);
    if (!candidate) return std::move(candidate).error();
    state.description.candidates.push_back(std::move(candidate).value());
  } else if (name == "sctp-port") {
    if (auto ok = media_only(); !ok) return ok;
    if (state.sctp_port) return fail("more than one a=sctp-port");
    const auto port = parse_uint<std::uint16_t>(value);
    if (!port || *port == 0) return fail("a=sctp-port must be a number in 1..65535");
    state.sctp_port = *port;
  } else if (name == "max-message-size") {
    if (auto ok = media_only(); !ok) return ok;
    if (state.max_message_size) return fail("more than one a=max-message-size");
    if (!all_chars(value, is_digit)) return fail("a=max-message-size must be a decimal number");
    const auto size = parse_uint<std::uint64_t>(value);
    if (!size) return fail("a=max-message-size is out of range");
    // 0 = unlimited (RFC 8841 §6); bigger than we ever send is the same thing to us.
    state.max_message_size = (*size == 0 || *size > kSdpUnlimitedMaxMessageSize)
                                 ? kSdpUnlimitedMaxMessageSize
                                 : static_cast<std::size_t>(*size);
  }
  // Anything else (group, msid-semantic, extmap-allow-mixed, sctpmap, ...) is not ours.
  return {};
}

Result<void> parse_line(std::string_view line, ParseState& state) {
  switch (line[0]) {
    case 'v':
      return fail("v= may only appear once, as the first line");
    case 'o':
      return parse_origin(line.substr(2), state);
    case 'm':
      return parse_media(line.substr(2), state);
    case 'a':
      return parse_attribute(line, state);
    default:
      return {};  // s=, t=, c=, b=, ...: nothing a data session needs
  }
}

template <typename T>
const std::optional<T>& media_wins(const std::optional<T>& media, const std::optional<T>& session) {
  return media ? media : session;
}

Result<SessionDescription> finish(ParseState& state) {
  if (!state.have_origin) return invalid("missing o= line");
  if (state.media_sections == 0) {
    return invalid("no m= line; a data session needs m=application ... webrtc-datachannel");
  }
  SessionDescription& d = state.description;
  const auto& ufrag = media_wins(state.media.ufrag, state.session.ufrag);
  const auto& pwd = media_wins(state.media.pwd, state.session.pwd);
  const auto& fingerprint = media_wins(state.media.fingerprint, state.session.fingerprint);
  const auto& setup = media_wins(state.media.setup, state.session.setup);
  const auto& trickle = media_wins(state.media.trickle, state.session.trickle);
  if (!ufrag) return invalid("missing a=ice-ufrag");
  if (!pwd) return invalid("missing a=ice-pwd");
  if (!fingerprint) {
    const std::string& other = state.media.other_fingerprint_algorithm.empty()
                                   ? state.session.other_fingerprint_algorithm
                                   : state.media.other_fingerprint_algorithm;
    if (!other.empty()) {
      return invalid("fingerprint algorithm " + quoted(other) + " is not supported; use sha-256");
    }
    return invalid("missing a=fingerprint");
  }
  if (!setup) return invalid("missing a=setup");
  if (!state.mid) return invalid("missing a=mid in the m= section");
  d.ice_ufrag = *ufrag;
  d.ice_pwd = *pwd;
  d.fingerprint = *fingerprint;
  d.setup = *setup;
  d.trickle = trickle.value_or(false);
  d.ice_lite = state.session.ice_lite || state.media.ice_lite;
  d.end_of_candidates = state.session.end_of_candidates || state.media.end_of_candidates;
  d.mid = *state.mid;
  d.sctp_port = state.sctp_port.value_or(kSdpDefaultSctpPort);
  d.max_message_size = state.max_message_size.value_or(kSdpDefaultMaxMessageSize);
  return std::move(d);
}

}  // namespace

std::string_view to_string(DtlsSetup setup) noexcept {
  switch (setup) {
    case DtlsSetup::ActPass:
      return "actpass";
    case DtlsSetup::Active:
      return "active";
    case DtlsSetup::Passive:
      return "passive";
  }
  return "actpass";
}

Result<IceCandidate> parse_candidate(std::string_view line) {
  if (line.starts_with("a=")) line.remove_prefix(2);
  if (!line.starts_with(kCandidatePrefix)) return bad_candidate("must start with \"candidate:\"");
  line.remove_prefix(kCandidatePrefix.size());
  if (!all_chars(line, [](char c) { return !is_control(c); })) {
    return bad_candidate("contains a control character");
  }
  const auto f = split_fields(line);
  if (f.size() < 8) {
    return bad_candidate("needs at least 8 fields, got " + std::to_string(f.size()));
  }
  IceCandidate c;
  if (f[0].size() > 32 || !all_chars(f[0], is_ice_char)) {
    return bad_candidate("foundation must be 1..32 letters, digits, '+' or '/'");
  }
  c.foundation = std::string(f[0]);
  const auto component = f[1].size() <= 3 ? parse_uint<std::uint32_t>(f[1]) : std::nullopt;
  if (!component || *component < 1 || *component > 256) {
    return bad_candidate("component id must be 1..256, got " + quoted(f[1]));
  }
  c.component = *component;
  if (f[2].size() > 32 || !all_chars(f[2], is_token_char)) {
    return bad_candidate("bad transport " + quoted(f[2]));
  }
  c.transport = lower(f[2]);
  const auto priority = f[3].size() <= 10 ? parse_uint<std::uint32_t>(f[3]) : std::nullopt;
  if (!priority) return bad_candidate("priority must be a 32-bit number, got " + quoted(f[3]));
  c.priority = *priority;
  if (!valid_address(f[4])) return bad_candidate("bad address " + quoted(f[4]));
  c.address = std::string(f[4]);
  const auto port = parse_uint<std::uint16_t>(f[5]);
  if (!port) return bad_candidate("bad port " + quoted(f[5]));
  c.port = *port;
  if (!iequals(f[6], "typ")) return bad_candidate("expected \"typ\", got " + quoted(f[6]));
  c.type = lower(f[7]);
  if (c.type != "host" && c.type != "srflx" && c.type != "prflx" && c.type != "relay") {
    return bad_candidate("unknown candidate type " + quoted(f[7]));
  }

  std::size_t i = 8;
  if (i + 1 < f.size() && iequals(f[i], "raddr")) {
    if (!valid_address(f[i + 1])) return bad_candidate("bad raddr " + quoted(f[i + 1]));
    c.related_address = std::string(f[i + 1]);
    i += 2;
  }
  if (i + 1 < f.size() && iequals(f[i], "rport")) {
    const auto related_port = parse_uint<std::uint16_t>(f[i + 1]);
    if (!related_port) return bad_candidate("bad rport " + quoted(f[i + 1]));
    c.related_port = *related_port;
    i += 2;
  }
  // Extension attributes come in name/value pairs (RFC 8839 §5.1).
  for (; i < f.size(); i += 2) {
    if (i + 1 >= f.size()) return bad_candidate("attribute " + quoted(f[i]) + " has no value");
    if (iequals(f[i], "tcptype")) {
      std::string tcp_type = lower(f[i + 1]);
      if (tcp_type != "active" && tcp_type != "passive" && tcp_type != "so") {
        return bad_candidate("bad tcptype " + quoted(f[i + 1]));
      }
      c.tcp_type = std::move(tcp_type);
    }
  }
  return c;
}

std::string write_candidate(const IceCandidate& c) {
  std::string out(kCandidatePrefix);
  out += c.foundation;
  out += ' ' + std::to_string(c.component);
  out += ' ' + c.transport;
  out += ' ' + std::to_string(c.priority);
  out += ' ' + c.address;
  out += ' ' + std::to_string(c.port);
  out += " typ " + c.type;
  if (c.related_address) out += " raddr " + *c.related_address;
  if (c.related_port) out += " rport " + std::to_string(*c.related_port);
  if (!c.tcp_type.empty()) out += " tcptype " + c.tcp_type;
  return out;
}

std::string format_fingerprint(std::span<const std::uint8_t, 32> digest) {
  Fingerprint fingerprint;
  std::copy(digest.begin(), digest.end(), fingerprint.begin());
  return to_fingerprint_string(fingerprint);
}

Result<Fingerprint> parse_fingerprint(std::string_view text) {
  Fingerprint digest{};
  constexpr std::size_t kSize = digest.size() * 3 - 1;
  if (text.size() != kSize) {
    return Error{ErrorCode::InvalidArgument,
                 "sha-256 fingerprint must be 32 hex pairs joined by ':' (" +
                     std::to_string(kSize) + " characters), got " + std::to_string(text.size()) +
                     " characters"};
  }
  for (std::size_t i = 0; i < digest.size(); ++i) {
    const std::size_t at = i * 3;
    const int hi = hex_value(text[at]);
    const int lo = hex_value(text[at + 1]);
    if (hi < 0 || lo < 0 || (i + 1 < digest.size() && text[at + 2] != ':')) {
      return Error{ErrorCode::InvalidArgument,
                   "sha-256 fingerprint is malformed at character " + std::to_string(at + 1)};
    }
    digest[i] = static_cast<std::uint8_t>((hi << 4) | lo);
  }
  return digest;
}

Result<SessionDescription> parse_sdp(std::string_view text) {
  if (text.size() > kMaxSdpSize) {
    return invalid("description of " + std::to_string(text.size()) + " bytes exceeds " +
                   std::to_string(kMaxSdpSize));
  }
  // The final line's terminator, and any blank lines after it, are not lines.
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  if (text.empty()) return invalid("empty description");

  ParseState state;
  std::size_t line_number = 0;
  while (!text.empty()) {
    const std::size_t newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    text = newline == std::string_view::npos ? std::string_view{} : text.substr(newline + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    ++line_number;

    const std::string where = "line " + std::to_string(line_number) + ": ";
    const bool well_formed = line.size() >= 2 && line[0] >= 'a' && line[0] <= 'z' &&
                             line[1] == '=' &&
                             all_chars(line, [](char c) { return c != '\0' && c != '\r'; });
    if (!well_formed) return invalid(where + "not of the form <letter>=<value>");
    if (line_number == 1) {
      if (line != "v=0") return invalid(where + "an SDP description must start with v=0");
      continue;
    }
    if (auto ok = parse_line(line, state); !ok) return invalid(where + ok.error().message);
  }
  return finish(state);
}

std::string write_sdp(const SessionDescription& d) {
  std::string out;
  auto line = [&out](std::string_view text) {
    out += text;
    out += "\r\n";
  };
  line("v=0");
  line("o=- " + std::to_string(d.session_id) + ' ' + std::to_string(d.session_version) +
       " IN IP4 127.0.0.1");
  line("s=-");
  line("t=0 0");
  if (d.ice_lite) line("a=ice-lite");
  line("a=group:BUNDLE " + d.mid);
  // Port 9 and 0.0.0.0 are the "no default candidate" values (RFC 8840 §4.1.1); the real
  // addresses are in the candidates.
  line("m=application 9 UDP/DTLS/SCTP webrtc-datachannel");
  line("c=IN IP4 0.0.0.0");
  for (const IceCandidate& candidate : d.candidates) line("a=" + write_candidate(candidate));
  if (d.end_of_candidates) line("a=end-of-candidates");
  line("a=ice-ufrag:" + d.ice_ufrag);
  line("a=ice-pwd:" + d.ice_pwd);
  if (d.trickle) line("a=ice-options:trickle");
  line("a=fingerprint:sha-256 " + format_fingerprint(d.fingerprint));
  line("a=setup:" + std::string(to_string(d.setup)));
  line("a=mid:" + d.mid);
  line("a=sctp-port:" + std::to_string(d.sctp_port));
  line("a=max-message-size:" + std::to_string(d.max_message_size));
  return out;
}

}  // namespace switchboard::webrtc
