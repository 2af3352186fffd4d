// End-to-end encryption between `switchboard agent` processes (--e2ee-key-file) through a
// real server: agents sharing a key file talk, the server's --trace-frames record never
// holds the plaintext, and an agent with another key gets error events, never messages.

#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "harness.hpp"

namespace switchboard::integration {
namespace {

using E2ee = IntegrationTest;

std::string hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::unique_ptr<Agent> join_with_keys(const Server& server, const std::string& call,
                                      const std::string& user, const std::string& key_file) {
  std::vector<std::string> args;
  if (!key_file.empty()) args = {"--e2ee-key-file", key_file};
  auto agent = std::make_unique<Agent>(
      server, Agent::Options{.call = call, .user = user, .extra_args = std::move(args)});
  agent->expect_joined();
  return agent;
}

TEST_F(E2ee, AgentsSharingAKeyFileTalkAndTheServerTraceNeverHoldsThePlaintext) {
  const std::string trace = test_log_dir() + "/frames.trace";
  Server server({.flags = {"--trace-frames", trace}});
  const std::string call = unique_call_id();
  // A passphrase (stretched per call) and an older raw key: the passphrase's id is higher,
  // so it seals.
  const std::string shared = write_test_file("shared.keys",
                                             "# the team's keys\n"
                                             "1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"
                                             "2:passphrase:tulip seven lantern\n");
  const std::string other =
      write_test_file("other.keys", "2:ZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmY=\n");
  auto alice = join_with_keys(server, call, "alice", shared);
  auto bob = join_with_keys(server, call, "bob", shared);
  auto carol = join_with_keys(server, call, "carol", other);
  auto dave = join_with_keys(server, call, "dave", "");  // no E2EE at all
  for (Agent* a : {alice.get(), bob.get(), carol.get(), dave.get()}) {
    a->expect_roster({"alice", "bob", "carol", "dave"});
  }

  const std::string secret = "ZEBRA-CROSSING-7319: the vault code is 4417";
  const std::uint16_t channel = alice->create_sender({{"channelId", 10000}});
  alice->send_text(channel, secret);
  alice->send_text(channel, secret + " (again)");
  EXPECT_EQ(bob->expect_message("alice", channel).value("text", ""), secret);
  EXPECT_EQ(bob->expect_message("alice", channel).value("text", ""), secret + " (again)");

  const std::uint16_t reply =
      bob->create_sender({{"channelId", 10000}, {"participants", {"alice"}}});
  bob->send_text(reply, "ZEBRA-CROSSING-7319 acknowledged");
  EXPECT_EQ(alice->expect_message("bob", reply).value("text", ""),
            "ZEBRA-CROSSING-7319 acknowledged");

  // Carol holds key 2, but not the team's key 2: every message is an error event.
  for (int i = 0; i < 2; ++i) {
    const Json error = carol->expect("error DECRYPTION_FAILED from alice", [](const Json& e) {
      return is_error("DECRYPTION_FAILED")(e) && e.value("from", "") == "alice";
    });
    EXPECT_EQ(error.value("channelId", 0), channel) << error.dump();
    EXPECT_EQ(error.value("from", ""), "alice") << error.dump();
    EXPECT_NE(error.value("message", "").find("could not be opened"), std::string::npos)
        << error.dump();
    EXPECT_FALSE(error.contains("req")) << error.dump();
  }
  // Dave has no key: he sees the sealed bytes, 33 more than the text, never the text.
  const Json opaque = dave->expect_message("alice", channel);
  EXPECT_EQ(opaque.value("size", 0u), secret.size() + 33) << opaque.dump();
  EXPECT_EQ(opaque.dump().find("ZEBRA"), std::string::npos) << opaque.dump();
  dave->expect_message("alice", channel);

  // Dave's message in the clear: the trace demonstrably records payloads, and Alice, who
  // expects sealed messages only, refuses it.
  const std::uint16_t plain =
      dave->create_sender({{"channelId", 20000}, {"participants", {"alice"}}});
  const std::string marker = "PLAINTEXT-CONTROL-MARKER";
  dave->send_text(plain, marker);
  const Json refused = alice->expect("error from dave", [](const Json& e) {
    return is_error("DECRYPTION_FAILED")(e) && e.value("from", "") == "dave";
  });
  EXPECT_NE(refused.value("message", "").find("not a sealed message"), std::string::npos)
      << refused.dump();
  EXPECT_TRUE(alice->take_received(is_message_from("dave", plain)).empty());
  EXPECT_TRUE(carol->take_received(is_message_from("alice", channel)).empty())
      << "carol read a message she has no key for";

  server.process().terminate();  // a clean shutdown leaves the whole trace on disk
  const std::string recorded = read_file(trace);
  ASSERT_NE(recorded.find(hex(marker)), std::string::npos) << "the trace lacks the control marker";
  EXPECT_EQ(recorded.find(hex("ZEBRA-CROSSING")), std::string::npos);
  EXPECT_EQ(recorded.find(hex("vault code")), std::string::npos);
  EXPECT_EQ(recorded.find("ZEBRA"), std::string::npos);
  // The sealed layout: version 01, key id 00000002.
  EXPECT_NE(recorded.find("from=alice to=bob channel=10000 seq=1 type=data payload=0100000002"),
            std::string::npos)
      << recorded.substr(0, 2000);
}

TEST_F(E2ee, AMalformedKeyFileStopsTheAgentNamingTheLine) {
  Server server;
  const std::string keys = write_test_file("bad.keys", "# ok\n1:not base64\n");
  const RunResult run = run_cli({"agent", "--server", server.url(), "--call", unique_call_id(),
                                 "--user", "alice", "--dev", "--e2ee-key-file", keys});
  EXPECT_EQ(run.status, 2) << run.out;
  const Json error = Json::parse(run.out);
  EXPECT_EQ(error.value("event", ""), "error");
  EXPECT_EQ(error.value("code", ""), "INVALID_ARGUMENT");
  EXPECT_NE(error.value("message", "").find("bad.keys line 2:"), std::string::npos) << run.out;
}

}  // namespace
}  // namespace switchboard::integration
