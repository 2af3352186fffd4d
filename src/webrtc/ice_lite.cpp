#include "webrtc/ice_lite.hpp"

#include <algorithm>
#include <span>

#include "webrtc/stun.hpp"

namespace switchboard::webrtc {
namespace {

Bytes error_response(const StunMessage& request, std::uint16_t code, std::string_view reason,
                     std::optional<std::string_view> key,
                     std::span<const std::uint16_t> unknown = {}) {
  StunWriter writer(request.method, StunClass::ErrorResponse, request.transaction_id);
  writer.add_error_code(code, reason);
  if (!unknown.empty()) writer.add_unknown_attributes(unknown);
  return writer.finish(key);
}

}  // namespace

IceLiteServer::IceLiteServer(core::Duration consent_timeout) : consent_timeout_(consent_timeout) {}

bool IceLiteServer::add_session(SessionId id, IceCredentials local, std::string remote_ufrag) {
  if (local.ufrag.empty() || local.pwd.empty()) return false;
  if (sessions_.contains(id) || by_ufrag_.contains(local.ufrag)) return false;
  by_ufrag_.emplace(local.ufrag, id);
  sessions_.emplace(id, Session{std::move(local), std::move(remote_ufrag), {}, {}, {}, {}, false});
  return true;
}

void IceLiteServer::remove_session(SessionId id) {
  const auto it = sessions_.find(id);
  if (it == sessions_.end()) return;
  for (const KnownAddress& known : it->second.addresses) {
    const auto owner = by_address_.find(known.address);
    if (owner != by_address_.end() && owner->second == id) by_address_.erase(owner);
  }
  by_ufrag_.erase(it->second.local.ufrag);
  sessions_.erase(it);
}

IceLiteServer::StunOutcome IceLiteServer::handle_stun(ByteView datagram, const SocketAddress& from,
                                                      core::TimePoint now) {
  StunOutcome outcome;
  auto parsed = parse_stun(datagram);
  if (!parsed) return outcome;
  const StunMessage& request = *parsed;
  // A lite agent sends no requests, so responses and indications are not for us.
  if (request.cls != StunClass::Request || request.method != kStunBindingMethod) return outcome;
  // Without a good FINGERPRINT the datagram is not STUN at all (RFC 8489 section 14.7).
  if (!verify_fingerprint(datagram, request)) return outcome;
  if (!request.username || !request.has_message_integrity()) return outcome;

  // USERNAME is "our ufrag:their ufrag" (RFC 8445 section 7.2.2).
  const std::string_view username = *request.username;
  const std::size_t colon = username.find(':');
  if (colon == std::string_view::npos) return outcome;
  const auto owner = by_ufrag_.find(username.substr(0, colon));
  if (owner == by_ufrag_.end()) return outcome;
  const SessionId id = owner->second;
  Session& session = sessions_.at(id);
  // A different remote ufrag is a check for another ICE generation; answering it would
  // only mislead the peer.
  if (!session.remote_ufrag.empty() && username.substr(colon + 1) != session.remote_ufrag) {
    return outcome;
  }
  if (session.expired) return outcome;

  if (!verify_integrity(datagram, request, session.local.pwd)) {
    // No MESSAGE-INTEGRITY: we cannot sign with a key the peer evidently lacks.
    outcome.response =
        error_response(request, stun_error::kUnauthorized, "Unauthorized", std::nullopt);
    return outcome;
  }
  outcome.session = id;
  const std::string_view pwd = session.local.pwd;

  if (!request.unknown_required.empty()) {
    outcome.response = error_response(request, stun_error::kUnknownAttribute, "Unknown Attribute",
                                      pwd, request.unknown_required);
    return outcome;
  }
  // Both sides think they are controlled. A lite agent cannot take the controlling role, so
  // whatever the tie-breakers say, the full agent must switch (RFC 8445 section 7.3.1.1).
  if (request.ice_controlled && !request.ice_controlling) {
    outcome.response = error_response(request, stun_error::kRoleConflict, "Role Conflict", pwd);
    return outcome;
  }

  const std::optional<SocketAddress> nominated_before = session.nominated;
  record_valid_check(id, session, from, now);
  if (request.use_candidate) {
    session.nominated = from;
    outcome.nominated = nominated_before != from;
  }
  outcome.response =
      StunWriter(kStunBindingMethod, StunClass::SuccessResponse, request.transaction_id)
          .add_xor_mapped_address(from)
          .finish(pwd);
  return outcome;
}

void IceLiteServer::record_valid_check(SessionId id, Session& session, const SocketAddress& from,
                                       core::TimePoint now) {
  session.consent_since = now;
  session.latest = from;

  const auto [slot, inserted] = by_address_.try_emplace(from, id);
  if (!inserted && slot->second != id) {
    // The address belonged to another session: a NAT reused the port, and the newest
    // authenticated check is the truth.
    const auto previous = sessions_.find(slot->second);
    if (previous != sessions_.end()) forget_address(previous->second, from);
    slot->second = id;
  }

  auto& addresses = session.addresses;
  const auto known = std::find_if(addresses.begin(), addresses.end(),
                                  [&](const KnownAddress& k) { return k.address == from; });
  if (known != addresses.end()) {
    known->last_valid = now;
    return;
  }
  if (addresses.size() >= kMaxAddressesPerSession) {
    // Forget the least recently valid address, never the nominated one.
    auto oldest = addresses.end();
    for (auto it = addresses.begin(); it != addresses.end(); ++it) {
      if (it->address == session.nominated) continue;
      if (oldest == addresses.end() || it->last_valid < oldest->last_valid) oldest = it;
    }
    by_address_.erase(oldest->address);
    addresses.erase(oldest);
  }
  addresses.push_back({from, now});
}

void IceLiteServer::forget_address(Session& session, const SocketAddress& address) {
  auto& addresses = session.addresses;
  std::erase_if(addresses, [&](const KnownAddress& k) { return k.address == address; });
  if (session.nominated == address) session.nominated.reset();
  if (session.latest == address) {
    session.latest.reset();
    const auto newest = std::max_element(
        addresses.begin(), addresses.end(),
        [](const KnownAddress& a, const KnownAddress& b) { return a.last_valid < b.last_valid; });
    if (newest != addresses.end()) session.latest = newest->address;
  }
}

std::optional<IceLiteServer::SessionId> IceLiteServer::session_for(
    const SocketAddress& from) const {
  const auto it = by_address_.find(from);
  if (it == by_address_.end()) return std::nullopt;
  return it->second;
}

std::optional<SocketAddress> IceLiteServer::selected_address(SessionId id) const {
  const auto it = sessions_.find(id);
  if (it == sessions_.end()) return std::nullopt;
  return it->second.nominated ? it->second.nominated : it->second.latest;
}

std::vector<IceLiteServer::SessionId> IceLiteServer::expire(core::TimePoint now) {
  std::vector<SessionId> expired;
  for (auto& [id, session] : sessions_) {
    if (session.expired) continue;
    if (!session.consent_since) {
      session.consent_since = now;
      continue;
    }
    if (now - *session.consent_since >= consent_timeout_) {
      session.expired = true;
      expired.push_back(id);
    }
  }
  std::sort(expired.begin(), expired.end());
  return expired;
}

}  // namespace switchboard::webrtc
