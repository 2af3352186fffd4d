// The C++ SDK against a server that speaks only TLS (--tls-cert): it joins over wss://
// when it trusts the server's CA (JoinOptions::caFile) and the certificate is for the
// host it dialled, and the join fails with TLS_VERIFICATION_FAILED otherwise.

#include <string>

#include <gtest/gtest.h>

#include <switchboard/switchboard.hpp>

#include "client/websocket_client.hpp"
#include "inbox.hpp"
#include "real_server.hpp"
#include "test_pki.hpp"

namespace switchboard {
namespace {

using namespace std::chrono_literals;
using testing::Inbox;
using testing::TestPki;

// One CA and a certificate for DNS:localhost only, for the whole suite.
const TestPki& pki() {
  static const TestPki instance({"DNS:localhost"});
  return instance;
}

class WssServer : public testing::RealServer {
 protected:
  WssServer()
      : RealServer([](server::ServerConfig& c) {
          c.tls_cert = pki().server_cert();
          c.tls_key = pki().server_key();
        }) {}

  std::string wss(const std::string& host) const {
    return "wss://" + host + ":" + std::to_string(server_->port());
  }
};

TEST_F(WssServer, TwoParticipantsTrustingTheCaJoinOverWssAndExchangeMessages) {
  auto alice = client().join(wss("localhost"), "c1", token("alice", "c1"),
                             {.p2p = false, .caFile = pki().ca_cert()});
  ASSERT_TRUE(alice.ok()) << alice.error().message;
  Inbox alice_inbox(*alice);
  auto bob = client().join(wss("localhost"), "c1", token("bob", "c1"),
                           {.p2p = false, .caFile = pki().ca_cert()});
  ASSERT_TRUE(bob.ok()) << bob.error().message;
  Inbox bob_inbox(*bob);
  ASSERT_TRUE(alice_inbox.wait_log("joined bob"));

  auto sender = (*alice)->dataChannel().createSender({.channelId = 10000});
  ASSERT_TRUE(sender.ok());
  for (int i = 1; i <= 50; ++i)
    ASSERT_TRUE((*sender)->sendMessage("over wss " + std::to_string(i)).ok());
  ASSERT_TRUE(bob_inbox.wait_messages(50));
  EXPECT_EQ(bob_inbox.texts().front(), "over wss 1");
  EXPECT_EQ(bob_inbox.texts().back(), "over wss 50");
  auto reply = (*bob)->dataChannel().createSender({.participants = {"alice"}});
  ASSERT_TRUE(reply.ok());
  ASSERT_TRUE((*reply)->sendMessage("back").ok());
  ASSERT_TRUE(alice_inbox.wait_messages(1));
  EXPECT_EQ(alice_inbox.texts()[0], "back");
}

TEST_F(WssServer, WithoutTheCaFileTheUntrustedCertificateFailsTheJoin) {
  auto call = client().join(wss("localhost"), "c1", token("alice", "c1"), {.p2p = false});
  ASSERT_FALSE(call.ok());
  EXPECT_EQ(call.error().code, ErrorCode::TlsVerificationFailed) << call.error().message;
  EXPECT_NE(call.error().message.find("did not verify"), std::string::npos) << call.error().message;
  EXPECT_NE(call.error().message.find("--ca-file"), std::string::npos) << call.error().message;
}

TEST_F(WssServer, ACertificateForAnotherHostFailsTheJoin) {
  // Trusted CA, but the certificate names localhost and we dialled 127.0.0.1.
  auto call = client().join(wss("127.0.0.1"), "c1", token("alice", "c1"),
                            {.p2p = false, .caFile = pki().ca_cert()});
  ASSERT_FALSE(call.ok());
  EXPECT_EQ(call.error().code, ErrorCode::TlsVerificationFailed) << call.error().message;
  EXPECT_NE(call.error().message.find("mismatch"), std::string::npos) << call.error().message;
}

TEST_F(WssServer, AnotherCasCertificateIsNotTrusted) {
  const TestPki other;
  auto call = client().join(wss("localhost"), "c1", token("alice", "c1"),
                            {.p2p = false, .caFile = other.ca_cert()});
  ASSERT_FALSE(call.ok());
  EXPECT_EQ(call.error().code, ErrorCode::TlsVerificationFailed) << call.error().message;
}

TEST_F(WssServer, AnUnreadableCaFileIsAnInvalidArgument) {
  auto call = client().join(wss("localhost"), "c1", token("alice", "c1"),
                            {.p2p = false, .caFile = "/nonexistent/ca.pem"});
  ASSERT_FALSE(call.ok());
  EXPECT_EQ(call.error().code, ErrorCode::InvalidArgument) << call.error().message;
  EXPECT_NE(call.error().message.find("/nonexistent/ca.pem"), std::string::npos);
}

TEST_F(WssServer, PlainWsToTheTlsPortFailsAsNotConnected) {
  auto call = client().join("ws://localhost:" + std::to_string(server_->port()), "c1",
                            token("alice", "c1"), {.p2p = false, .caFile = pki().ca_cert()});
  ASSERT_FALSE(call.ok());
  EXPECT_EQ(call.error().code, ErrorCode::NotConnected) << call.error().message;
}

TEST(WebSocketUrl, WssUrlsAreTlsWithPort443ByDefault) {
  auto url = client::parse_websocket_url("wss://switchboard.example.org");
  ASSERT_TRUE(url.ok()) << url.error().message;
  EXPECT_TRUE(url->tls);
  EXPECT_EQ(url->host, "switchboard.example.org");
  EXPECT_EQ(url->port, 443);
  auto v6 = client::parse_websocket_url("wss://[::1]:9443/v1/signal");
  ASSERT_TRUE(v6.ok());
  EXPECT_TRUE(v6->tls);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 9443);
  EXPECT_EQ(v6->target, "/v1/signal");
  auto plain = client::parse_websocket_url("ws://127.0.0.1:8480");
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->tls);
  EXPECT_EQ(plain->port, 8480);
  EXPECT_FALSE(client::parse_websocket_url("https://example.org").ok());
}

}  // namespace
}  // namespace switchboard
