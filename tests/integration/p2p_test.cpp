// Peer-to-peer 1:1 calls, end to end: real agents with --p2p auto against a real server.
//
// - PeerToPeer.*: on 127.0.0.1 in the test's own network namespace.
// - PeerToPeerNetns.*: two clients in namespaces that cannot reach each other (or, with
//   `scripts/p2p-netns --forward`, reach each other only through the third one), the
//   server (and coturn) in a third one both reach. They need scripts/p2p-netns around the
//   test binary (ctest runs them so) and skip without it or with the other topology.
//
// "Through the server or not" is read off the server's switchboard_relayed_messages_total,
// which counts every DATA message the server delivered (per recipient). SWITCH and RESENT
// frames are not counted.

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <unistd.h>

#include "harness.hpp"
#include "netns.hpp"

namespace switchboard::integration {
namespace {

using PeerToPeer = IntegrationTest;

// How long two agents may take to find each other and open the direct path.
constexpr auto kDirectSetup = 20s;

std::function<bool(const Json&)> is_transport(std::string mode) {
  return [mode = std::move(mode)](const Json& e) {
    return e.value("event", "") == "transport" && e.value("mode", "") == mode;
  };
}

// Waits for transport p2p with `peer`.
void expect_direct(Agent& agent, const std::string& peer,
                   std::chrono::milliseconds timeout = kDirectSetup) {
  const Json event = agent.expect("transport p2p", is_transport("p2p"), timeout);
  if (event.value("peer", "") != peer) {
    throw HarnessError(agent.user() + ": transport p2p names peer " + event.value("peer", "") +
                       ", not " + peer);
  }
}

// switchboard_relayed_messages_total from the server's GET /metrics.
double relayed_messages(const Server& server) {
  const auto response = http_get(server.host(), server.port(), "/metrics");
  if (!response || response->status != 200) throw HarnessError("GET /metrics failed");
  std::istringstream in(response->body);
  const std::string name = "switchboard_relayed_messages_total ";
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(name, 0) == 0) return std::stod(line.substr(name.size()));
  }
  throw HarnessError("GET /metrics has no switchboard_relayed_messages_total:\n" + response->body);
}

// The messages one sender sends on one channel: payload i starts with its channel and
// index, random bytes after (so a message in the wrong place or cut short shows).
struct Stream {
  std::uint16_t channel = 0;
  std::vector<std::string> encoded;     // base64 of each payload
  std::vector<std::uint32_t> sequence;  // as `sent` answered, filled while sending
};

Stream make_stream(std::uint16_t channel, std::size_t first, std::size_t count, std::size_t size) {
  Stream stream;
  stream.channel = channel;
  for (std::size_t i = first; i < first + count; ++i) {
    std::string payload = "ch" + std::to_string(channel) + "#" + std::to_string(i) + ":";
    payload +=
        random_bytes(size - payload.size(), static_cast<std::uint32_t>(channel) * 1'000'003U +
                                                static_cast<std::uint32_t>(i));
    stream.encoded.push_back(base64_encode(payload));
  }
  return stream;
}

// Sends the streams' messages interleaved (one of each in turn), each as soon as the SDK
// accepts it. `after_each(n)` runs after the n-th message. An empty string, or why not.
std::string send_interleaved(Agent& sender, const std::vector<Stream*>& streams,
                             const std::function<void(std::size_t)>& after_each = {}) {
  std::size_t n = 0;
  for (std::size_t i = 0;; ++i) {
    bool any = false;
    for (Stream* stream : streams) {
      if (i >= stream->encoded.size()) continue;
      any = true;
      std::string why;
      const auto sequence = sender.send_retrying(stream->channel, stream->encoded[i], why);
      if (!sequence) {
        return sender.user() + ": message " + std::to_string(i) + " on channel " +
               std::to_string(stream->channel) + ": " + why;
      }
      stream->sequence.push_back(*sequence);
      if (after_each) after_each(++n);
    }
    if (!any) return {};
  }
}

// Takes `receiver`'s messages from `from` on the streams' channels in arrival order until
// every stream's messages arrived, each once, in order, intact. Fails at the first message
// out of place.
::testing::AssertionResult receive_in_order(Agent& receiver, const std::string& from,
                                            const std::vector<const Stream*>& streams,
                                            std::chrono::milliseconds quiet = kWait) {
  std::map<int, const Stream*> by_channel;
  std::map<int, std::size_t> next;
  std::size_t left = 0;
  for (const Stream* stream : streams) {
    by_channel[stream->channel] = stream;
    next[stream->channel] = 0;
    left += stream->encoded.size();
  }
  const auto wanted = [&](const Json& e) {
    return e.value("event", "") == "message" && e.value("from", "") == from &&
           by_channel.count(e.value("channelId", -1)) > 0;
  };
  while (left > 0) {
    const auto m = receiver.next(wanted, quiet);
    std::ostringstream progress;
    for (const auto& [channel, index] : next) {
      progress << " channel " << channel << ": " << index << " of "
               << by_channel[channel]->encoded.size() << ";";
    }
    if (!m) {
      return ::testing::AssertionFailure()
             << receiver.user() << ": nothing more from " << from << " within " << quiet.count()
             << " ms;" << progress.str() << " " << receiver.describe_pending();
    }
    const int channel = m->value("channelId", -1);
    const Stream& stream = *by_channel[channel];
    std::size_t& index = next[channel];
    const auto sequence = m->value("sequenceNumber", 0u);
    if (index >= stream.encoded.size()) {
      return ::testing::AssertionFailure() << receiver.user() << ": an extra message #" << sequence
                                           << " on channel " << channel << ";" << progress.str();
    }
    if (sequence != stream.sequence.at(index)) {
      return ::testing::AssertionFailure()
             << receiver.user() << ": on channel " << channel << " message " << index
             << " should be #" << stream.sequence[index] << ", got #" << sequence
             << " (lost, duplicated or reordered);" << progress.str();
    }
    if (m->value("base64", "") != stream.encoded[index]) {
      return ::testing::AssertionFailure()
             << receiver.user() << ": message #" << sequence << " on channel " << channel
             << " arrived with other bytes";
    }
    ++index;
    --left;
  }
  return ::testing::AssertionSuccess();
}

// Sends "fence" on each channel; the next message `receiver` gets on it must be that fence
// (a duplicate of anything before would arrive first).
void expect_fences(Agent& sender, Agent& receiver, const std::vector<std::uint16_t>& channels) {
  for (std::uint16_t channel : channels) sender.send_text(channel, "fence");
  for (std::uint16_t channel : channels) {
    const Json m = receiver.expect_message(sender.user(), channel);
    EXPECT_EQ(m.value("text", ""), "fence")
        << "channel " << channel << ": #" << m.value("sequenceNumber", 0) << " after the end";
  }
}

std::uint16_t durable_sender(Agent& agent, std::uint16_t channel,
                             const std::vector<std::string>& to = {}) {
  return agent.create_sender(
      {{"channelId", channel}, {"reliability", "durable"}, {"participants", to}});
}

// `count` messages each way at once (alice on channel 1, bob on channel 2), then each side
// checks it got the other's, once, in order, intact.
void exchange_both_ways(Agent& alice, Agent& bob, std::size_t count, std::size_t size,
                        std::size_t first_index = 0) {
  Stream from_alice = make_stream(1, first_index, count, size);
  Stream from_bob = make_stream(2, first_index, count, size);
  std::string alice_error;
  std::string bob_error;
  std::thread alice_sends([&] { alice_error = send_interleaved(alice, {&from_alice}); });
  std::thread bob_sends([&] { bob_error = send_interleaved(bob, {&from_bob}); });
  alice_sends.join();
  bob_sends.join();
  ASSERT_EQ(alice_error, "");
  ASSERT_EQ(bob_error, "");
  EXPECT_TRUE(receive_in_order(bob, alice.user(), {&from_alice}));
  EXPECT_TRUE(receive_in_order(alice, bob.user(), {&from_bob}));
}

TEST_F(PeerToPeer, OneToOneGoesDirectAndTheServerRelaysNone) {
  Server server;
  const std::string call = unique_call_id();
  Agent alice(server, {.call = call, .user = "alice", .p2p = true});
  Agent bob(server, {.call = call, .user = "bob", .p2p = true});
  alice.expect_joined();
  bob.expect_joined();
  expect_direct(alice, "bob");
  expect_direct(bob, "alice");
  ASSERT_EQ(durable_sender(alice, 1), 1);
  ASSERT_EQ(durable_sender(bob, 2), 2);

  const double before = relayed_messages(server);
  exchange_both_ways(alice, bob, 1000, 1000);
  expect_fences(alice, bob, {1});
  expect_fences(bob, alice, {2});
  EXPECT_EQ(relayed_messages(server), before) << "messages went through the server";
  // Nobody fell back to the server on the way.
  EXPECT_TRUE(alice.take_received(is_transport("server")).empty());
  EXPECT_TRUE(bob.take_received(is_transport("server")).empty());
}

// Phase of the mid-stream test: alice sends the messages of `streams`,
// interleaved; once `trigger_at` are accepted, `change` runs on the main thread and must
// return once bob saw the path change. Messages after `hold_at` wait for that, so the
// change always falls in the middle of the stream.
void send_across_a_change(Agent& alice, const std::vector<Stream*>& streams, std::size_t trigger_at,
                          std::size_t hold_at, const std::function<void()>& change) {
  std::atomic<std::size_t> accepted{0};
  std::atomic<bool> changed{false};
  std::string error;
  std::thread sending([&] {
    error = send_interleaved(alice, streams, [&](std::size_t n) {
      accepted = n;
      if (n == hold_at) {
        const auto deadline = Clock::now() + 30s;
        while (!changed && Clock::now() < deadline) std::this_thread::sleep_for(5ms);
      }
    });
    accepted = SIZE_MAX;
  });
  const auto deadline = Clock::now() + 30s;
  while (accepted < trigger_at && Clock::now() < deadline) std::this_thread::sleep_for(1ms);
  const std::size_t at_start = accepted;
  try {
    change();
  } catch (...) {
    changed = true;
    sending.join();
    throw;
  }
  const std::size_t at_end = accepted;
  changed = true;
  sending.join();
  ASSERT_EQ(error, "");
  std::printf("path change began after message %zu, bob saw it after message %zu\n", at_start,
              at_end);
}

TEST_F(PeerToPeer, AThirdParticipantMovesTheCallToTheServerAndBackWithoutLossOrReordering) {
  constexpr std::size_t kPerChannel = 5000;  // 10,000 in flight over two channels
  constexpr std::size_t kSize = 200;
  const std::string trace = test_log_dir() + "/frames.trace";
  Server server(Server::Options{.flags = {"--trace-frames", trace}});
  const std::string call = unique_call_id();
  Agent alice(server, {.call = call, .user = "alice", .p2p = true});
  Agent bob(server, {.call = call, .user = "bob", .p2p = true});
  alice.expect_joined();
  bob.expect_joined();
  expect_direct(alice, "bob");
  expect_direct(bob, "alice");
  // Both channels to bob only: carol's presence changes the path, not the recipients.
  ASSERT_EQ(durable_sender(alice, 1, {"bob"}), 1);
  ASSERT_EQ(durable_sender(alice, 2, {"bob"}), 2);

  // Phase 1: carol joins mid-stream, the call goes back to the server.
  Stream one = make_stream(1, 0, kPerChannel, kSize);
  Stream two = make_stream(2, 0, kPerChannel, kSize);
  std::unique_ptr<Agent> carol;
  send_across_a_change(alice, {&one, &two}, 3000, 7000, [&] {
    // bob stops taking messages in (his agent blocks on its full stdout), so alice's direct
    // messages pile up unacknowledged, and carol joins while they do.
    bob.process().pause_reading(true);
    std::this_thread::sleep_for(1s);
    carol =
        std::make_unique<Agent>(server, Agent::Options{.call = call, .user = "carol", .p2p = true});
    carol->expect_joined();
    std::this_thread::sleep_for(500ms);
    bob.process().pause_reading(false);
    bob.expect("transport server after carol joined", is_transport("server"), kDirectSetup);
  });
  alice.expect("transport server after carol joined", is_transport("server"), kDirectSetup);
  EXPECT_TRUE(receive_in_order(bob, "alice", {&one, &two}));
  EXPECT_EQ(one.sequence.front(), 1u);
  EXPECT_EQ(one.sequence.back(), kPerChannel);
  EXPECT_EQ(two.sequence.back(), kPerChannel);

  // Phase 2: carol leaves mid-stream, alice and bob go direct again.
  Stream three = make_stream(1, kPerChannel, kPerChannel, kSize);
  Stream four = make_stream(2, kPerChannel, kPerChannel, kSize);
  send_across_a_change(alice, {&three, &four}, 3000, 7000, [&] {
    carol->write_command({{"op", "leave"}});
    carol->expect("left", is_event("left"));
    expect_direct(bob, "alice");
  });
  expect_direct(alice, "bob");
  EXPECT_TRUE(receive_in_order(bob, "alice", {&three, &four}));
  EXPECT_EQ(three.sequence.front(), kPerChannel + 1);
  EXPECT_EQ(four.sequence.back(), 2 * kPerChannel);
  expect_fences(alice, bob, {1, 2});
  EXPECT_TRUE(carol->take_received(is_event("message")).empty()) << "carol was not a recipient";
  std::istringstream frames(read_text(trace));
  std::map<std::string, std::size_t> types;
  for (std::string line; std::getline(frames, line);) {
    const auto at = line.find(" type=");
    if (at != std::string::npos) ++types[line.substr(at + 6, line.find(' ', at + 6) - at - 6)];
  }
  for (const auto& [type, count] : types) {
    std::printf("server relayed %zu %s\n", count, type.c_str());
  }
  // The premise: direct messages bob had not acknowledged when carol joined went again
  // through the server (RESENT frames in the server's frame trace).
  EXPECT_GT(types["resent"], 0U) << "nothing was in flight on the direct path at the switch";
}

// ------------------------------------------------------------------ network namespaces

// Skips unless scripts/p2p-netns runs the test.
class PeerToPeerNetns : public IntegrationTest {
 protected:
  void SetUp() override {
    auto found = namespaces_from_environment();
    if (!found) {
      GTEST_SKIP() << "needs the namespaces of scripts/p2p-netns: run "
                      "`scripts/p2p-netns -- integration_tests --gtest_filter=PeerToPeerNetns.*`"
                      " (ctest does)";
    }
    ns_ = *found;
  }

  // Skips unless S forwards between A and B (`forward`) or does not.
  bool wrong_topology(bool forward) {
    if (ns_.forward == forward) return false;
    std::printf("needs scripts/p2p-netns %s (ctest runs it so)\n",
                forward ? "--forward" : "without --forward");
    return true;
  }

  Namespaces ns_;
};

constexpr const char* kTurnSecret = "switchboard-p2p-test-turn-secret";
constexpr std::uint16_t kTurnPort = 3478;

std::string find_turnserver() {
  if (const char* chosen = std::getenv("SWITCHBOARD_TURNSERVER")) return chosen;
  for (const char* path : {"/usr/bin/turnserver", "/usr/sbin/turnserver"}) {
    if (::access(path, X_OK) == 0) return path;
  }
  return {};
}

// The SDK's log line for a direct connection (stderr of the agent, "direct connection to
// participant N is up: LOCAL -> REMOTE (local-type/remote-type)" or "... failed (why)"):
// the first line of `user`'s agent log that holds `what`, waiting up to `timeout` for it.
std::optional<std::string> direct_log_line(const std::string& user, const std::string& what,
                                           std::chrono::milliseconds timeout) {
  const std::string path = test_log_dir() + "/agent-" + user + ".log";
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    std::istringstream lines(read_text(path));
    for (std::string line; std::getline(lines, line);) {
      if (line.find("direct connection to participant") != std::string::npos &&
          line.find(what) != std::string::npos) {
        return line;
      }
    }
    if (Clock::now() > deadline) return std::nullopt;
    std::this_thread::sleep_for(50ms);
  }
}

// coturn on the service address with TURN REST auth (the server mints the credentials),
// logging to the test's log directory.
class Coturn {
 public:
  explicit Coturn(const std::string& ip) {
    const std::string binary = find_turnserver();
    if (binary.empty()) {
      throw HarnessError("coturn's turnserver is not installed (scripts/setup installs it)");
    }
    const std::string dir = test_log_dir();
    log_ = dir + "/turnserver.log";
    process_ = std::make_unique<Process>(
        std::vector<std::string>{
            binary,
            "-n",  // no configuration file
            "--listening-ip=" + ip, "--relay-ip=" + ip,
            "--listening-port=" + std::to_string(kTurnPort), "--use-auth-secret",
            std::string("--static-auth-secret=") + kTurnSecret, "--realm=switchboard", "--no-tls",
            "--no-dtls", "--no-cli", "--pidfile=" + dir + "/turnserver.pid",
            "--db=" + dir + "/turndb", "--log-file=" + log_, "--simple-log", "--verbose"},
        dir + "/turnserver-output.log");
    process_->discard_output();
    const auto deadline = Clock::now() + kWait;
    while (!logged("UDP listener opened on: " + ip + ":" + std::to_string(kTurnPort))) {
      if (Clock::now() > deadline || process_->wait_exit(Clock::now())) {
        throw HarnessError("turnserver did not open its UDP listener; see " + log_);
      }
      std::this_thread::sleep_for(20ms);
    }
  }

  bool logged(const std::string& text, const std::string& also = {}) const {
    std::istringstream lines(read_text(log_));
    for (std::string line; std::getline(lines, line);) {
      if (line.find(text) != std::string::npos && line.find(also) != std::string::npos) {
        return true;
      }
    }
    return false;
  }

 private:
  std::string log_;
  std::unique_ptr<Process> process_;
};

TEST_F(PeerToPeerNetns, ClientsThatOnlyReachTurnGoDirectThroughTheRelay) {
  if (wrong_topology(false)) GTEST_SKIP();
  const Namespaces& ns = ns_;
  Coturn coturn(ns.service_ip);
  NetnsCall netns(ns, {"--turn-url",
                       "turn:" + ns.service_ip + ":" + std::to_string(kTurnPort) + "?transport=udp",
                       "--turn-secret-file", write_test_file("turn-secret", kTurnSecret)});
  auto alice = netns.join(ns.a, "alice");
  auto bob = netns.join(ns.b, "bob");
  expect_direct(*alice, "bob");
  expect_direct(*bob, "alice");
  // Both allocated a relay with the credentials the server minted for them, and the pair
  // libnice selected has a relay end on both sides' view (host/relay or relay/relay).
  EXPECT_TRUE(coturn.logged("ALLOCATE processed, success", ":alice>"));
  EXPECT_TRUE(coturn.logged("ALLOCATE processed, success", ":bob>"));
  for (const std::string user : {"alice", "bob"}) {
    const auto up = direct_log_line(user, "is up:", 2s);
    ASSERT_TRUE(up.has_value()) << user << " logged no selected pair";
    const auto open = up->rfind('(');
    const std::string types = open == std::string::npos ? "" : up->substr(open);  // "(l/r)"
    EXPECT_NE(types.find("relay"), std::string::npos) << user << ": " << *up;
  }
  ASSERT_EQ(durable_sender(*alice, 1), 1);
  ASSERT_EQ(durable_sender(*bob, 2), 2);

  const double before = relayed_messages(netns.server);
  // A and B have no route to each other: whatever arrives without the server came
  // through coturn.
  exchange_both_ways(*alice, *bob, 1000, 1000);
  expect_fences(*alice, *bob, {1});
  expect_fences(*bob, *alice, {2});
  EXPECT_EQ(relayed_messages(netns.server), before) << "messages went through the server";
  EXPECT_TRUE(alice->take_received(is_transport("server")).empty());
  EXPECT_TRUE(bob->take_received(is_transport("server")).empty());
}

TEST_F(PeerToPeerNetns, ClientsWithNoPathToEachOtherStayOnTheServer) {
  if (wrong_topology(false)) GTEST_SKIP();
  const Namespaces& ns = ns_;
  NetnsCall netns(ns, {});  // no TURN: no candidate pair can work
  auto alice = netns.join(ns.a, "alice");
  auto bob = netns.join(ns.b, "bob");
  alice->expect_roster({"bob"});
  bob->expect_roster({"alice"});
  ASSERT_EQ(durable_sender(*alice, 1), 1);
  ASSERT_EQ(durable_sender(*bob, 2), 2);

  const double before = relayed_messages(netns.server);
  // While they try to connect directly...
  exchange_both_ways(*alice, *bob, 500, 1000);
  // ...and once both tried and gave up (ICE runs out of pairs to check in about 8 s).
  for (const std::string user : {"alice", "bob"}) {
    const auto failed = direct_log_line(user, "failed", 20s);
    EXPECT_TRUE(failed.has_value()) << user << " logged no failed direct connection";
  }
  exchange_both_ways(*alice, *bob, 500, 1000, 500);
  expect_fences(*alice, *bob, {1});
  expect_fences(*bob, *alice, {2});
  // Every message went through the server, once: 2 x 1,000 plus the two fences.
  EXPECT_EQ(relayed_messages(netns.server), before + 2 * 1000 + 2);
  EXPECT_TRUE(alice->take_received(is_transport("p2p")).empty());
  EXPECT_TRUE(bob->take_received(is_transport("p2p")).empty());
}

// Counts the server's --trace-frames lines by their type= field.
std::map<std::string, std::size_t> traced_frame_types(const std::string& trace) {
  std::istringstream frames(read_text(trace));
  std::map<std::string, std::size_t> types;
  for (std::string line; std::getline(frames, line);) {
    const auto at = line.find(" type=");
    if (at != std::string::npos) ++types[line.substr(at + 6, line.find(' ', at + 6) - at - 6)];
  }
  return types;
}

TEST_F(PeerToPeerNetns, WhenTheDirectPathDiesMidStreamTheCallMovesToTheServerLosingNothing) {
  if (wrong_topology(true)) GTEST_SKIP();
  constexpr std::size_t kPerChannel = 3000;
  constexpr std::size_t kSize = 200;
  // How soon after the cut both must have left the direct path: kDirectSilence (5 s)
  // after the last ACK, checked every kAckInterval (1 s), plus slack. Only the SDK's
  // silence detection notices: the ICE agent runs no consent checks (webrtc::IceAgent).
  constexpr auto kNoticeDeath = 8s;
  constexpr std::size_t kCutAt = 1000;   // messages accepted when S cuts the path
  constexpr std::size_t kHoldAt = 4000;  // the rest waits until both left it
  const Namespaces& ns = ns_;
  const std::string trace = test_log_dir() + "/frames.trace";
  NetnsCall netns(ns, {"--trace-frames", trace});
  auto alice = netns.join(ns.a, "alice");
  auto bob = netns.join(ns.b, "bob");
  expect_direct(*alice, "bob");
  expect_direct(*bob, "alice");
  // No TURN here: the direct path is host to host ("(host)": both ends host), forwarded
  // by S.
  for (const std::string user : {"alice", "bob"}) {
    const auto up = direct_log_line(user, "is up:", 2s);
    ASSERT_TRUE(up.has_value()) << user << " logged no selected pair";
    EXPECT_NE(up->find("(host)"), std::string::npos) << user << ": " << *up;
  }
  ASSERT_EQ(durable_sender(*alice, 1, {"bob"}), 1);
  ASSERT_EQ(durable_sender(*alice, 2, {"bob"}), 2);
  ASSERT_EQ(durable_sender(*bob, 3, {"alice"}), 3);

  // Mid-stream, S starts dropping forwarded UDP between A and B: the direct path dies
  // without a word (no ICE failure, no close), while A<->S and B<->S (S is their
  // endpoint, nothing forwarded) keep working. alice's messages 1,000 to 4,000 go into
  // the dead path; the last 2,000 wait until both sides left it (alice's log says so:
  // her Agent is busy sending), so they go through the server as new messages, after
  // the RESENT ones.
  Stream one = make_stream(1, 0, kPerChannel, kSize);
  Stream two = make_stream(2, 0, kPerChannel, kSize);
  const double before = relayed_messages(netns.server);
  Clock::time_point cut{};
  const auto until_notice = [&] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::max(Clock::duration{}, cut + kNoticeDeath - Clock::now())) +
           1ms;
  };
  send_across_a_change(*alice, {&one, &two}, kCutAt, kHoldAt, [&] {
    apply_nft("cut-direct-path",
              "table inet switchboard_cut {\n"
              "  chain forward {\n"
              "    type filter hook forward priority 0;\n"
              "    ip saddr 10.77.1.0/24 ip daddr 10.77.2.0/24 meta l4proto udp drop\n"
              "    ip saddr 10.77.2.0/24 ip daddr 10.77.1.0/24 meta l4proto udp drop\n"
              "  }\n"
              "}\n");
    cut = Clock::now();
    bob->expect("transport server after the cut", is_transport("server"), until_notice());
    // She notices herself ("failed"), or bob noticed first and the server's next try
    // replaced the session before she did ("replaced").
    const auto deadline = Clock::now() + until_notice();
    while (!direct_log_line("alice", "failed", 0ms) && !direct_log_line("alice", "replaced", 0ms)) {
      if (Clock::now() > deadline) {
        throw HarnessError("alice did not leave the dead direct path within 8 s");
      }
      std::this_thread::sleep_for(50ms);
    }
  });
  const auto left_after = [&](const Json& event) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(received_at(event) - cut).count();
  };
  const Json alice_moved =
      alice->expect("transport server after the cut", is_transport("server"), until_notice());
  EXPECT_LE(left_after(alice_moved), std::chrono::milliseconds(kNoticeDeath).count())
      << "alice took the dead direct path for dead too late";
  std::printf("alice left the direct path %lld ms after the cut\n",
              static_cast<long long>(left_after(alice_moved)));

  // Every message once, in order per channel, intact: those acknowledged before the cut,
  // those lost on the dead path (RESENT through the server) and those sent after.
  EXPECT_TRUE(receive_in_order(*bob, "alice", {&one, &two}));
  EXPECT_EQ(one.sequence.front(), 1u);
  EXPECT_EQ(two.sequence.back(), kPerChannel);
  expect_fences(*alice, *bob, {1, 2});

  // bob -> alice after the cut goes through the server too.
  Stream back = make_stream(3, 0, 500, kSize);
  ASSERT_EQ(send_interleaved(*bob, {&back}), "");
  EXPECT_TRUE(receive_in_order(*alice, "bob", {&back}));
  expect_fences(*bob, *alice, {3});
  // The server relayed alice's last 2,000, bob's 500 and the three fences as messages;
  // the RESENT ones are not counted, and nothing went through it twice.
  EXPECT_EQ(relayed_messages(netns.server), before + 2 * kPerChannel - kHoldAt + 500 + 3);
  // Nobody went back to the dead path.
  EXPECT_TRUE(alice->take_received(is_transport("p2p")).empty());
  EXPECT_TRUE(bob->take_received(is_transport("p2p")).empty());

  // The premise: direct messages lost with the path went again through the server.
  const auto types = traced_frame_types(trace);
  for (const auto& [type, count] : types) {
    std::printf("server relayed %zu %s\n", count, type.c_str());
  }
  EXPECT_GT(types.count("resent") ? types.at("resent") : 0, 0U)
      << "nothing lost on the dead path was resent";

  // Both reported the failure (`p2p_failed`), and the server keeps pairing them again with
  // backoff; while the path is cut those tries fail. Once it works again, the next try
  // takes the call direct again: a try fails within 15 s, and the backoff is at most 16 s
  // by now.
  apply_nft("restore-direct-path", "delete table inet switchboard_cut\n");
  const auto restored = Clock::now();
  alice->expect("transport p2p once the path works again", is_transport("p2p"), 45s);
  bob->expect("transport p2p once the path works again", is_transport("p2p"), 45s);
  std::printf("direct again %lld ms after the path was restored\n",
              static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                         Clock::now() - restored)
                                         .count()));
  EXPECT_NE(read_text(test_log_dir() + "/server.log").find("failed; pairing again in"),
            std::string::npos)
      << "the server logged no p2p_failed";
  // And it carries: bob's next messages go direct, in order, none through the server.
  const double relayed_before_direct = relayed_messages(netns.server);
  Stream again = make_stream(3, 500, 500, kSize);
  ASSERT_EQ(send_interleaved(*bob, {&again}), "");
  EXPECT_TRUE(receive_in_order(*alice, "bob", {&again}));
  EXPECT_EQ(relayed_messages(netns.server), relayed_before_direct);
}

}  // namespace
}  // namespace switchboard::integration
