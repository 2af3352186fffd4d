#include "webrtc/ice_lite.hpp"

#include <chrono>

#include <gtest/gtest.h>

#include "webrtc/stun.hpp"

namespace switchboard::webrtc {
namespace {

using namespace std::chrono_literals;

constexpr IceLiteServer::SessionId kSession = 7;
const IceCredentials kServer{"srvU", "server-password-0123456789"};
const char* const kBrowserUfrag = "brwz";
const core::TimePoint kStart{};

SocketAddress addr(const char* ip, std::uint16_t port) {
  return *SocketAddress::parse(ip, port);
}

struct Check {
  std::string username = std::string(kServer.ufrag) + ":" + kBrowserUfrag;
  std::string key = kServer.pwd;
  bool use_candidate = false;
  bool controlled = false;
  bool fingerprint = true;
  StunTransactionId id = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2};
};

// What Chromium sends as the controlling full agent.
Bytes browser_check(const Check& c) {
  StunWriter writer(kStunBindingMethod, StunClass::Request, c.id);
  writer.add_username(c.username).add_priority(0x6e7f1eff);
  if (c.controlled) {
    writer.add_ice_controlled(0x1122334455667788ull);
  } else {
    writer.add_ice_controlling(0x1122334455667788ull);
  }
  if (c.use_candidate) writer.add_use_candidate();
  return writer.finish(c.key, c.fingerprint);
}

class IceLite : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server.add_session(kSession, kServer, kBrowserUfrag)); }

  IceLiteServer::StunOutcome send(const Check& c, const SocketAddress& from,
                                  core::TimePoint now = kStart) {
    return server.handle_stun(browser_check(c), from, now);
  }

  IceLiteServer server{30s};
};

StunMessage parse_response(const Bytes& response) {
  auto parsed = parse_stun(response);
  EXPECT_TRUE(parsed.ok());
  return parsed.ok() ? *parsed : StunMessage{};
}

TEST_F(IceLite, AnswersValidCheckWithSignedXorMappedAddress) {
  const Check check;
  const auto from = addr("198.51.100.7", 61000);
  const auto outcome = send(check, from);
  ASSERT_EQ(outcome.session, kSession);
  ASSERT_FALSE(outcome.response.empty());
  const StunMessage response = parse_response(outcome.response);
  EXPECT_EQ(response.cls, StunClass::SuccessResponse);
  EXPECT_EQ(response.method, kStunBindingMethod);
  EXPECT_EQ(response.transaction_id, check.id);
  EXPECT_EQ(response.xor_mapped_address, from);
  EXPECT_TRUE(verify_integrity(outcome.response, response, kServer.pwd));
  EXPECT_TRUE(verify_fingerprint(outcome.response, response));
}

TEST_F(IceLite, AnswersIpv6Check) {
  const auto from = addr("2001:db8::5", 50000);
  const auto outcome = send({}, from);
  EXPECT_EQ(parse_response(outcome.response).xor_mapped_address, from);
  EXPECT_EQ(server.session_for(from), kSession);
}

TEST_F(IceLite, WrongPasswordGetsUnsignedUnauthorized) {
  Check check;
  check.key = "not-the-password";
  const auto from = addr("198.51.100.7", 61000);
  const auto outcome = send(check, from);
  EXPECT_FALSE(outcome.session);
  const StunMessage response = parse_response(outcome.response);
  EXPECT_EQ(response.cls, StunClass::ErrorResponse);
  EXPECT_EQ(response.error_code, std::optional<std::uint16_t>(401));
  EXPECT_EQ(response.transaction_id, check.id);
  EXPECT_FALSE(response.has_message_integrity());
  EXPECT_TRUE(verify_fingerprint(outcome.response, response));
  EXPECT_FALSE(server.session_for(from));
  EXPECT_FALSE(server.selected_address(kSession));
}

TEST_F(IceLite, UnknownUfragGetsNoResponse) {
  Check check;
  check.username = std::string("nope:") + kBrowserUfrag;
  const auto outcome = send(check, addr("198.51.100.7", 61000));
  EXPECT_FALSE(outcome.session);
  EXPECT_TRUE(outcome.response.empty());
}

TEST_F(IceLite, WrongRemoteUfragGetsNoResponse) {
  Check check;
  check.username = kServer.ufrag + ":other";
  EXPECT_TRUE(send(check, addr("198.51.100.7", 61000)).response.empty());
}

TEST_F(IceLite, CheckWithoutFingerprintGetsNoResponse) {
  Check check;
  check.fingerprint = false;
  EXPECT_TRUE(send(check, addr("198.51.100.7", 61000)).response.empty());
}

TEST_F(IceLite, MalformedOrNonRequestDatagramsGetNoResponse) {
  const auto from = addr("198.51.100.7", 61000);
  Bytes truncated = browser_check({});
  truncated.resize(truncated.size() - 4);
  EXPECT_TRUE(server.handle_stun(truncated, from, kStart).response.empty());
  const Bytes indication =
      StunWriter(kStunBindingMethod, StunClass::Indication, StunTransactionId{})
          .finish(std::nullopt);
  EXPECT_TRUE(server.handle_stun(indication, from, kStart).response.empty());
  EXPECT_FALSE(server.session_for(from));
}

TEST_F(IceLite, ControlledPeerGetsSignedRoleConflict) {
  Check check;
  check.controlled = true;
  check.use_candidate = false;
  const auto from = addr("198.51.100.7", 61000);
  const auto outcome = send(check, from);
  EXPECT_EQ(outcome.session, kSession);
  const StunMessage response = parse_response(outcome.response);
  EXPECT_EQ(response.cls, StunClass::ErrorResponse);
  EXPECT_EQ(response.error_code, std::optional<std::uint16_t>(487));
  EXPECT_TRUE(verify_integrity(outcome.response, response, kServer.pwd));
  EXPECT_TRUE(verify_fingerprint(outcome.response, response));
  // Not a successful check: the address is not adopted.
  EXPECT_FALSE(server.session_for(from));
}

TEST_F(IceLite, UnknownComprehensionRequiredAttributeGets420) {
  const StunTransactionId id{};
  const Bytes request = StunWriter(kStunBindingMethod, StunClass::Request, id)
                            .add_username(kServer.ufrag + ":" + kBrowserUfrag)
                            .add_ice_controlling(1)
                            .add_raw(0x7001, {})
                            .finish(kServer.pwd);
  const auto outcome = server.handle_stun(request, addr("198.51.100.7", 61000), kStart);
  const StunMessage response = parse_response(outcome.response);
  EXPECT_EQ(response.error_code, std::optional<std::uint16_t>(420));
  EXPECT_EQ(response.unknown_attributes, std::vector<std::uint16_t>{0x7001});
  EXPECT_TRUE(verify_integrity(outcome.response, response, kServer.pwd));
}

TEST_F(IceLite, FirstValidCheckRoutesDtlsBeforeNomination) {
  const auto from = addr("198.51.100.7", 61000);
  EXPECT_FALSE(server.session_for(from));
  const auto outcome = send({}, from);
  EXPECT_FALSE(outcome.nominated);
  EXPECT_EQ(server.session_for(from), kSession);
  EXPECT_EQ(server.selected_address(kSession), from);
}

TEST_F(IceLite, UseCandidateNominatesOnce) {
  Check check;
  check.use_candidate = true;
  const auto from = addr("198.51.100.7", 61000);
  EXPECT_TRUE(send(check, from).nominated);
  EXPECT_EQ(server.selected_address(kSession), from);
  EXPECT_EQ(server.session_for(from), kSession);
  // Chromium keeps USE-CANDIDATE on its consent checks; nothing changes, nothing to report.
  EXPECT_FALSE(send(check, from, kStart + 5s).nominated);
}

TEST_F(IceLite, NominationSticksWhenOtherPairsAreChecked) {
  Check nominate;
  nominate.use_candidate = true;
  const auto chosen = addr("198.51.100.7", 61000);
  const auto other = addr("10.0.0.2", 61001);
  send(nominate, chosen);
  send({}, other, kStart + 1s);
  EXPECT_EQ(server.selected_address(kSession), chosen);
  EXPECT_EQ(server.session_for(other), kSession);
}

TEST_F(IceLite, NominationFromNewAddressRepointsSession) {
  Check nominate;
  nominate.use_candidate = true;
  const auto wifi = addr("198.51.100.7", 61000);
  const auto cellular = addr("203.0.113.9", 40000);
  send(nominate, wifi);
  const auto outcome = send(nominate, cellular, kStart + 10s);
  EXPECT_TRUE(outcome.nominated);
  EXPECT_EQ(server.selected_address(kSession), cellular);
  EXPECT_EQ(server.session_for(cellular), kSession);
}

TEST_F(IceLite, ConsentExpiresWithoutChecksAndIsReportedOnce) {
  const auto from = addr("198.51.100.7", 61000);
  send({}, from, kStart);
  EXPECT_TRUE(server.expire(kStart + 29s).empty());
  send({}, from, kStart + 20s);  // a consent check refreshes
  EXPECT_TRUE(server.expire(kStart + 49s).empty());
  EXPECT_EQ(server.expire(kStart + 50s), std::vector<IceLiteServer::SessionId>{kSession});
  EXPECT_TRUE(server.expire(kStart + 60s).empty());
  // Consent once lost is not regained by a late check.
  EXPECT_TRUE(send({}, from, kStart + 61s).response.empty());
}

TEST_F(IceLite, SessionThatNeverConnectsExpires) {
  EXPECT_TRUE(server.expire(kStart).empty());  // starts the clock
  EXPECT_TRUE(server.expire(kStart + 29s).empty());
  EXPECT_EQ(server.expire(kStart + 30s), std::vector<IceLiteServer::SessionId>{kSession});
}

TEST_F(IceLite, RemoveSessionForgetsUfragAndAddresses) {
  const auto a = addr("198.51.100.7", 61000);
  const auto b = addr("198.51.100.7", 61001);
  send({}, a);
  send({}, b);
  server.remove_session(kSession);
  EXPECT_EQ(server.session_count(), 0u);
  EXPECT_FALSE(server.session_for(a));
  EXPECT_FALSE(server.session_for(b));
  EXPECT_FALSE(server.selected_address(kSession));
  EXPECT_TRUE(send({}, a).response.empty());
  // The ufrag is free again.
  EXPECT_TRUE(server.add_session(kSession + 1, kServer, kBrowserUfrag));
}

TEST_F(IceLite, RejectsDuplicateSessionOrUfrag) {
  EXPECT_FALSE(server.add_session(kSession, {"othr", "pw-pw-pw-pw-pw-pw-pw-pw"}, "x"));
  EXPECT_FALSE(server.add_session(kSession + 1, kServer, "x"));
  EXPECT_FALSE(server.add_session(kSession + 2, {"", "pw"}, "x"));
  EXPECT_EQ(server.session_count(), 1u);
}

TEST_F(IceLite, KeepsSessionsApart) {
  const IceCredentials second{"sec2", "second-password-0123456789"};
  ASSERT_TRUE(server.add_session(kSession + 1, second, "peer"));
  const auto a = addr("198.51.100.7", 61000);
  const auto b = addr("198.51.100.8", 61000);
  send({}, a);
  Check check;
  check.username = second.ufrag + ":peer";
  check.key = second.pwd;
  EXPECT_EQ(send(check, b).session, kSession + 1);
  EXPECT_EQ(server.session_for(a), kSession);
  EXPECT_EQ(server.session_for(b), kSession + 1);
  // The first session's password does not open the second.
  check.key = kServer.pwd;
  EXPECT_FALSE(send(check, a).session);
}

TEST_F(IceLite, AddressReusedByAnotherSessionMovesToIt) {
  const IceCredentials second{"sec2", "second-password-0123456789"};
  ASSERT_TRUE(server.add_session(kSession + 1, second, "peer"));
  const auto shared = addr("198.51.100.7", 61000);
  Check nominate;
  nominate.use_candidate = true;
  send(nominate, shared);
  Check check;
  check.username = second.ufrag + ":peer";
  check.key = second.pwd;
  send(check, shared, kStart + 1s);
  EXPECT_EQ(server.session_for(shared), kSession + 1);
  EXPECT_FALSE(server.selected_address(kSession));
  // Removing the first session must not drop the address the second one now owns.
  server.remove_session(kSession);
  EXPECT_EQ(server.session_for(shared), kSession + 1);
}

TEST_F(IceLite, RemembersBoundedAddressesAndKeepsNominated) {
  Check nominate;
  nominate.use_candidate = true;
  const auto chosen = addr("198.51.100.7", 1000);
  send(nominate, chosen);
  const std::size_t flood = IceLiteServer::kMaxAddressesPerSession * 4;
  for (std::size_t i = 0; i < flood; ++i) {
    send({}, addr("203.0.113.1", static_cast<std::uint16_t>(2000 + i)),
         kStart + std::chrono::seconds(i + 1));
  }
  std::size_t remembered = 0;
  for (std::size_t i = 0; i < flood; ++i) {
    if (server.session_for(addr("203.0.113.1", static_cast<std::uint16_t>(2000 + i)))) {
      ++remembered;
    }
  }
  EXPECT_EQ(remembered, IceLiteServer::kMaxAddressesPerSession - 1);
  // The newest ones are kept, and the nominated address survives the flood.
  EXPECT_TRUE(
      server.session_for(addr("203.0.113.1", static_cast<std::uint16_t>(2000 + flood - 1))));
  EXPECT_FALSE(server.session_for(addr("203.0.113.1", 2000)));
  EXPECT_EQ(server.session_for(chosen), kSession);
  EXPECT_EQ(server.selected_address(kSession), chosen);
}

}  // namespace
}  // namespace switchboard::webrtc
