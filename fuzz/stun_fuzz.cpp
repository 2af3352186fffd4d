// STUN parser and ICE-lite agent: any bytes parse to a message or an error, never a crash
// or an overread; verification never reads outside the datagram; the agent answers only
// with well-formed STUN and never remembers more addresses than its bound.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "webrtc/ice_lite.hpp"
#include "webrtc/stun.hpp"

using namespace switchboard;
using namespace switchboard::webrtc;

namespace {

// The seed corpus' requests are signed for this session.
const IceCredentials kLocal{"srvU", "server-password-0123456789"};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteView input(data, size);

  auto parsed = parse_stun(input);
  if (parsed) {
    (void)verify_fingerprint(input, *parsed);
    (void)verify_integrity(input, *parsed, kLocal.pwd);
    // A message parses only with the cookie and with the type's top two bits clear.
    if ((input[0] & 0xC0) != 0 || load_u32(input.data() + 4) != kStunMagicCookie) std::abort();
  }

  // One session; the source address comes from the input's size so several map entries
  // are exercised across runs.
  IceLiteServer server{std::chrono::seconds(30)};
  if (!server.add_session(1, kLocal, "brwz")) std::abort();
  const auto from = SocketAddress::v4({198, 51, 100, 7}, static_cast<std::uint16_t>(size));
  const auto outcome = server.handle_stun(input, from, core::TimePoint{});
  if (!outcome.response.empty()) {
    auto response = parse_stun(outcome.response);
    if (!response || !verify_fingerprint(outcome.response, *response)) std::abort();
    if (response->transaction_id != parsed->transaction_id) std::abort();
  }
  if (outcome.session && outcome.session != 1) std::abort();
  if (server.session_for(from) && server.selected_address(1) != from) std::abort();
  return 0;
}
