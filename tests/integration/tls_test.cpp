// TLS end to end: a real switchboard-server with --tls-cert/--tls-key, and `switchboard
// agent` processes joining over wss:// with --ca-file (the CA made at run time).

#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "harness.hpp"
#include "test_pki.hpp"

namespace switchboard::integration {
namespace {

using Tls = IntegrationTest;
using switchboard::testing::TestPki;

// The harness dials the address the server prints (127.0.0.1): the certificate names it.
Server tls_server(const TestPki& pki) {
  return Server({.flags = {"--tls-cert", pki.server_cert(), "--tls-key", pki.server_key()}});
}

Agent::Options trusting(const TestPki& pki, const std::string& call, const std::string& user) {
  return {.call = call, .user = user, .extra_args = {"--ca-file", pki.ca_cert()}};
}

TEST_F(Tls, AgentsTrustingTheCaJoinOverWssAndTalk) {
  const TestPki pki({"IP:127.0.0.1"});
  Server server = tls_server(pki);
  ASSERT_TRUE(server.url().starts_with("wss://")) << server.url();
  const std::string call = unique_call_id();
  Agent alice(server, trusting(pki, call, "alice"));
  alice.expect_joined();
  Agent bob(server, trusting(pki, call, "bob"));
  bob.expect_joined();
  alice.expect_roster({"bob"});
  bob.expect_roster({"alice"});

  const std::uint16_t channel = alice.create_sender({{"channelId", 10000}});
  EXPECT_EQ(alice.send_text(channel, "hello over wss"), 1u);
  const Json m = bob.expect_message("alice", channel);
  EXPECT_EQ(m.value("text", ""), "hello over wss");

  const std::uint16_t back = bob.create_sender({{"channelId", 10001}});
  EXPECT_EQ(bob.send_text(back, "and back"), 1u);
  EXPECT_EQ(alice.expect_message("bob", back).value("text", ""), "and back");
}

TEST_F(Tls, AnAgentThatDoesNotTrustTheCertificateSaysTlsVerificationFailedAndExits) {
  const TestPki pki({"IP:127.0.0.1"});
  Server server = tls_server(pki);
  Agent agent(server, {.call = unique_call_id(), .user = "mallory-victim"});
  const Json error = agent.expect("error event", [](const Json& e) {
    return e.value("event", "") == "error" || e.value("event", "") == "joined";
  });
  EXPECT_EQ(error.value("event", ""), "error") << error.dump();
  EXPECT_EQ(error.value("code", ""), "TLS_VERIFICATION_FAILED") << error.dump();
  const auto status = agent.process().wait_exit(Clock::now() + kWait);
  ASSERT_TRUE(status.has_value()) << "the agent did not exit after failing to join";
  EXPECT_NE(*status, 0);
}

TEST_F(Tls, AServerWithAMissingCertificateExitsNonZeroSayingWhich) {
  const TestPki pki;
  const std::string missing = (pki.dir() / "missing.pem").string();
  const std::string log = test_log_dir() + "/server-missing-cert.log";
  Process server({server_program(), "--port", "0", "--dev", "--tls-cert", missing, "--tls-key",
                  pki.server_key()},
                 log);
  const auto status = server.wait_exit(Clock::now() + kWait);
  ASSERT_TRUE(status.has_value()) << "the server kept running with a missing certificate";
  EXPECT_NE(*status, 0);
  std::stringstream err;
  err << std::ifstream(log).rdbuf();
  EXPECT_NE(err.str().find("missing.pem"), std::string::npos) << err.str();
  EXPECT_NE(err.str().find("No such file"), std::string::npos) << err.str();
}

}  // namespace
}  // namespace switchboard::integration
