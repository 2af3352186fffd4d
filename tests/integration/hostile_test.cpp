// The hostile-input suite: while two honest agents exchange durable messages through a real
// switchboard-server, the test throws at it what an attacker or a broken client would:
// garbage and oversized WebSocket messages, JSON of the wrong shape, joins with missing,
// forged and expired tokens, bogus SDP, a STUN flood, malformed DataChannel frames over a
// real data connection, connections that never finish their request or their join, a join
// flood and a thousand connections opened and dropped. Each case must end in a clear error
// (code) or be ignored and counted in /metrics; at the end the honest call has lost
// nothing and the server still serves. The outcome table is docs/security.md.
//
// Each attacking case uses its own source address (127.0.0.N) so that the per-address
// limits it may trip never touch the honest agents on 127.0.0.1.

#include <atomic>
#include <iostream>
#include <mutex>
#include <random>
#include <thread>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "data_client.hpp"  // tests/server: a raw participant with a real data connection
#include "harness.hpp"
#include "signaling/token.hpp"
#include "webrtc/stun.hpp"

namespace switchboard::integration {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using asio::ip::tcp;
using asio::ip::udp;

using Hostile = IntegrationTest;

constexpr std::uint16_t kAliceChannel = 10000;
constexpr std::uint16_t kBobChannel = 10001;
constexpr std::string_view kDevSecret = signaling::kDevelopmentSecret;

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// ---- /metrics ----------------------------------------------------------------------------

std::string metrics_text(const Server& server) {
  auto response = http_get(server.port(), "/metrics");
  if (!response || response->status != 200) throw HarnessError("GET /metrics failed");
  return response->body;
}

// The value of one series (`name` or `name{labels}`) in an exposition text; ~0 when absent.
std::uint64_t series(const std::string& text, const std::string& name) {
  const auto at = text.find("\n" + name + " ");
  if (at == std::string::npos) return ~0ull;
  return std::stoull(text.substr(at + name.size() + 2));
}

std::string refused(const std::string& reason) {
  return "switchboard_refused_total{reason=\"" + reason + "\"}";
}
std::string dropped(const std::string& reason) {
  return "switchboard_dropped_messages_total{reason=\"" + reason + "\"}";
}
std::string ignored(const std::string& reason) {
  return "switchboard_ignored_datagrams_total{reason=\"" + reason + "\"}";
}

// Polls /metrics until `series` reaches `at_least` (bounded); its last value.
std::uint64_t await_metric(const Server& server, const std::string& name, std::uint64_t at_least,
                           std::chrono::milliseconds timeout = kWait) {
  const auto deadline = Clock::now() + timeout;
  std::uint64_t value = 0;
  do {
    value = series(metrics_text(server), name);
    if (value != ~0ull && value >= at_least) return value;
    std::this_thread::sleep_for(50ms);
  } while (Clock::now() < deadline);
  return value;
}

// ---- the outcome table -------------------------------------------------------------------

struct Outcome {
  std::string attack;
  std::string observed;
};

class OutcomeTable {
 public:
  void add(std::string attack, std::string observed) {
    rows_.push_back({std::move(attack), std::move(observed)});
  }
  // Printed, and written to the test's log directory, for docs/security.md.
  void publish() const {
    std::string table = "| attack | outcome |\n| --- | --- |\n";
    for (const auto& row : rows_) table += "| " + row.attack + " | " + row.observed + " |\n";
    std::cout << "\nHostile cases and outcomes:\n" << table << std::flush;
    write_test_file("outcomes.md", table);
  }

 private:
  std::vector<Outcome> rows_;
};

// ---- raw clients ---------------------------------------------------------------------------

// Runs `io` until `done` or 5 s passed (blocking reads would wait out SO_RCVTIMEO: asio
// polls again); false on time-out, with the pending operation cancelled and finished.
bool run_bounded(asio::io_context& io, const bool& done) {
  io.restart();
  const auto deadline = Clock::now() + 5s;
  while (!done && Clock::now() < deadline) io.run_one_for(deadline - Clock::now());
  return done;
}

// After a time-out, with the operation's socket closed: runs the cancelled operation to
// its end, so that its handler never touches what the caller is about to free.
void finish_cancelled(asio::io_context& io, const bool& done) {
  io.restart();
  for (int i = 0; i < 100 && !done; ++i) io.run_one_for(50ms);
}

// A WebSocket client from a chosen loopback source address. Reads give up after 5 s
// (closing the connection). Never throws: failures show as a closed connection.
class RawSignal {
 public:
  RawSignal(std::uint16_t port, const std::string& source) : ws_(io_) {
    beast::error_code ec;
    auto& socket = ws_.next_layer();
    socket.open(tcp::v4(), ec);
    if (!ec) socket.bind({asio::ip::make_address(source), 0}, ec);
    if (!ec) socket.connect({asio::ip::make_address("127.0.0.1"), port}, ec);
    if (!ec) {
      ws_.read_message_max(std::size_t{8} * 1024 * 1024);
      ws_.handshake("127.0.0.1", "/v1/signal", ec);
    }
    open_ = !ec;
  }
  bool open() const { return open_; }

  void send_text(const std::string& text) {
    beast::error_code ec;
    ws_.text(true);
    ws_.write(asio::buffer(text), ec);
  }
  void send_binary(const std::string& bytes) {
    beast::error_code ec;
    ws_.binary(true);
    ws_.write(asio::buffer(bytes), ec);
  }
  void send(const Json& message) { send_text(message.dump()); }

  // The next message; nullopt once the connection ended (closed_with() tells how).
  std::optional<Json> receive() {
    if (!open_) return std::nullopt;
    beast::flat_buffer buffer;
    bool done = false;
    ws_.async_read(buffer, [&](beast::error_code ec, std::size_t) {
      error_ = ec;
      done = true;
    });
    if (!run_bounded(io_, done)) {
      // Nothing within the bound: give up on this connection.
      error_ = asio::error::timed_out;
      beast::error_code ignored;
      ws_.next_layer().close(ignored);
      finish_cancelled(io_, done);
      error_ = asio::error::timed_out;
      open_ = false;
      return std::nullopt;
    }
    if (error_) return std::nullopt;
    return Json::parse(beast::buffers_to_string(buffer.data()), nullptr, false);
  }
  // The next message of `type`, skipping others; nullopt when the connection ends first.
  std::optional<Json> receive(const std::string& type) {
    for (int i = 0; i < 50; ++i) {
      auto m = receive();
      if (!m) return std::nullopt;
      if (m->value("type", "") == type) return m;
    }
    return std::nullopt;
  }
  // The server's close code once it closed the WebSocket with a close frame (reading on
  // until then); nullopt when the connection ended otherwise or stayed open.
  std::optional<unsigned> closed_with() {
    while (receive()) {
    }
    if (error_ != websocket::error::closed) return std::nullopt;
    return static_cast<unsigned>(ws_.reason().code);
  }
  // Joins `call` with a development token; the answer.
  Json join(const std::string& user, const std::string& call) {
    send(Json{
        {"type", "join"},
        {"req", "j"},
        {"call", call},
        {"token",
         signaling::mint_token(
             {.sub = user, .call = call, .name = "", .exp = unix_now() + 600, .iat = unix_now()},
             kDevSecret)}});
    auto reply = receive();
    return reply ? *reply : Json::object();
  }

 private:
  asio::io_context io_;
  websocket::stream<tcp::socket> ws_;
  beast::error_code error_;
  bool open_ = false;
};

// A plain TCP connection from a chosen source address.
class RawTcp {
 public:
  RawTcp(std::uint16_t port, const std::string& source) : socket_(io_) {
    boost::system::error_code ec;
    socket_.open(tcp::v4(), ec);
    if (!ec) socket_.bind({asio::ip::make_address(source), 0}, ec);
    if (!ec) socket_.connect({asio::ip::make_address("127.0.0.1"), port}, ec);
    connected_ = !ec;
  }
  bool connected() const { return connected_; }
  void write(std::string_view data) {
    boost::system::error_code ec;
    asio::write(socket_, asio::buffer(data), ec);
  }
  // Everything the server sends until it closes the connection or the timeout passes;
  // `closed` tells which.
  std::string read_all(bool& closed) {
    std::string out;
    char buffer[4096];
    for (;;) {
      boost::system::error_code ec;
      std::size_t n = 0;
      bool done = false;
      socket_.async_read_some(asio::buffer(buffer),
                              [&](boost::system::error_code e, std::size_t k) {
                                ec = e;
                                n = k;
                                done = true;
                              });
      if (!run_bounded(io_, done)) {
        closed = false;
        socket_.close(ec);
        finish_cancelled(io_, done);
        return out;
      }
      out.append(buffer, n);
      if (ec) {
        closed = ec == asio::error::eof || ec == asio::error::connection_reset;
        return out;
      }
    }
  }

 private:
  asio::io_context io_;
  tcp::socket socket_;
  bool connected_ = false;
};

// ---- the honest call -----------------------------------------------------------------------

// alice and bob in one call through the server, each sending a numbered durable message
// every few milliseconds from a thread of its own until stop(); verify() then checks that
// every message arrived at the other, complete and in order.
class HonestCall {
 public:
  HonestCall(const Server& server, const std::string& call)
      : agents_(join_call(server, call, {"alice", "bob"})) {
    alice().create_sender({{"channelId", kAliceChannel}, {"reliability", "durable"}});
    bob().create_sender({{"channelId", kBobChannel}, {"reliability", "durable"}});
    thread_ = std::thread([this] { run(); });
  }
  ~HonestCall() { stop(); }

  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::size_t sent() const { return sent_; }

  // After stop(): each message reached the other agent, in order, and neither was
  // disconnected. `mallory_text` must have reached both on `mallory_channel`.
  void verify(const std::string& mallory_text, std::uint16_t mallory_channel) {
    ASSERT_TRUE(failure_.empty()) << "the honest call failed while under attack: " << failure_;
    ASSERT_GT(sent_, 0u);
    collect();
    auto complete = [&](Agent& to, const std::string& from, std::uint16_t channel,
                        std::vector<Json>& got) {
      while (got.size() < sent_) got.push_back(to.expect_message(from, channel, 20s));
    };
    complete(bob(), "alice", kAliceChannel, bob_got_);
    complete(alice(), "bob", kBobChannel, alice_got_);
    auto in_order = [&](const std::vector<Json>& got, const std::string& prefix) {
      for (std::size_t i = 0; i < got.size(); ++i) {
        ASSERT_EQ(got[i].value("text", ""), prefix + std::to_string(i)) << "message " << i;
        ASSERT_EQ(got[i].value("sequenceNumber", 0u), i + 1) << "message " << i;
      }
    };
    in_order(bob_got_, "a-");
    in_order(alice_got_, "b-");
    for (Agent* agent : {&alice(), &bob()}) {
      EXPECT_TRUE(agent->take_received(is_event("disconnected")).empty()) << agent->user();
      auto from_mallory = agent->take_received(is_message_from("mallory", mallory_channel));
      const bool seen = std::any_of(from_mallory.begin(), from_mallory.end(), [&](const Json& m) {
        return m.value("text", "") == mallory_text;
      });
      EXPECT_TRUE(seen || agent->next(
                              [&](const Json& e) {
                                return is_message_from("mallory", mallory_channel)(e) &&
                                       e.value("text", "") == mallory_text;
                              },
                              5s))
          << agent->user() << " never got mallory's frame on channel " << mallory_channel;
    }
  }

 private:
  Agent& alice() { return *agents_[0]; }
  Agent& bob() { return *agents_[1]; }

  void run() {
    try {
      while (!stop_) {
        alice().send_text(kAliceChannel, "a-" + std::to_string(sent_));
        bob().send_text(kBobChannel, "b-" + std::to_string(sent_));
        ++sent_;
        collect();
        std::this_thread::sleep_for(5ms);
      }
    } catch (const std::exception& e) {
      failure_ = e.what();
    }
  }
  void collect() {
    for (auto& m : bob().take_received(is_message_from("alice", kAliceChannel))) {
      bob_got_.push_back(std::move(m));
    }
    for (auto& m : alice().take_received(is_message_from("bob", kBobChannel))) {
      alice_got_.push_back(std::move(m));
    }
  }

  std::vector<std::unique_ptr<Agent>> agents_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<std::size_t> sent_{0};
  std::vector<Json> bob_got_, alice_got_;
  std::string failure_;
};

// ---- helpers for the cases -----------------------------------------------------------------

std::string error_code_of(const std::optional<Json>& reply) {
  if (!reply) return "(no reply)";
  if (reply->value("type", "") != "error") return "(" + reply->value("type", "?") + ")";
  return reply->value("code", "?");
}

std::string describe_close(std::optional<unsigned> code) {
  return code ? "close " + std::to_string(*code) : "no close frame";
}

// A data-channel offer as a browser would make it, with its own ICE credentials.
std::string valid_offer_sdp(const webrtc::Fingerprint& fingerprint) {
  webrtc::SessionDescription offer;
  const auto ice = webrtc::random_ice_credentials();
  offer.ice_ufrag = ice.ufrag;
  offer.ice_pwd = ice.pwd;
  offer.fingerprint = fingerprint;
  offer.setup = webrtc::DtlsSetup::ActPass;
  offer.session_id = 1;
  offer.session_version = 1;
  return webrtc::write_sdp(offer);
}

TEST_F(Hostile, AnHonestCallLosesNothingWhileTheServerIsAttacked) {
  const auto suite_start = Clock::now();
  Server server({.flags = {"--join-timeout", "2", "--http-request-timeout", "2",
                           "--data-connect-timeout", "2"}});
  const std::uint16_t port = server.port();
  const std::string call = unique_call_id();
  OutcomeTable table;
  HonestCall honest(server, call);
  const std::string before = metrics_text(server);
  auto grew = [&](const std::string& name) {
    return series(metrics_text(server), name) - series(before, name);
  };

  // Started first, checked at the end: they take the timeouts (2 s) to resolve.
  RawSignal lurker(port, "127.0.0.11");  // opens a WebSocket and never joins
  ASSERT_TRUE(lurker.open());
  RawTcp slowloris(port, "127.0.0.12");  // half a request, then nothing
  ASSERT_TRUE(slowloris.connected());
  slowloris.write("GET /healthz HTTP/1.1\r\nHost: x\r\n");
  RawTcp mute(port, "127.0.0.12");  // not a byte
  ASSERT_TRUE(mute.connected());

  // Garbage, binary and oversized WebSocket messages, each on a connection of its own.
  {
    RawSignal garbage(port, "127.0.0.13");
    garbage.send_text("}{ not json at all \x01");
    const std::string code = error_code_of(garbage.receive());
    const auto close = garbage.closed_with();
    EXPECT_EQ(code, "INVALID_ARGUMENT");
    EXPECT_EQ(close, 1000u);
    table.add("text message that is not JSON", code + ", " + describe_close(close));

    RawSignal binary(port, "127.0.0.13");
    binary.send_binary(random_bytes(1000, 7));
    const auto reply = binary.receive();
    const auto binary_close = binary.closed_with();
    // Not UTF-8 as a text message would have to be: the WebSocket layer rejects it (1007)
    // or the server answers that it is not JSON.
    EXPECT_TRUE((reply && error_code_of(reply) == "INVALID_ARGUMENT" && binary_close == 1000u) ||
                (!reply && binary_close == 1007u))
        << error_code_of(reply) << " " << describe_close(binary_close);
    table.add("1000 random bytes as a binary message",
              (reply ? error_code_of(reply) + ", " : "") + describe_close(binary_close));

    RawSignal invalid_utf8(port, "127.0.0.13");
    invalid_utf8.send_text("{\"type\":\"ping\",\"req\":\"\xff\xfe\"}");
    const auto utf8_close = invalid_utf8.closed_with();
    EXPECT_EQ(utf8_close, 1007u);  // invalid frame payload data
    table.add("text message that is not UTF-8", "WebSocket " + describe_close(utf8_close) +
                                                    " (invalid payload), from the WebSocket layer");

    RawSignal oversized(port, "127.0.0.13");
    oversized.send(Json{{"type", "ping"}, {"req", "big"}, {"pad", std::string(1 << 20, 'x')}});
    const std::string big_code = error_code_of(oversized.receive());
    const auto big_close = oversized.closed_with();
    EXPECT_EQ(big_code, "INVALID_ARGUMENT");
    EXPECT_EQ(big_close, 1009u);  // message too big
    table.add("1 MiB signaling message (limit 64 KiB)",
              big_code + ", " + describe_close(big_close) + ", `refused{message_too_large}`");
  }
  EXPECT_EQ(grew(refused("message_too_large")), 1u);

  // JSON of the wrong shape: wrong types, missing fields, huge numbers, deep nesting.
  {
    const std::string deep = std::string(30000, '[') + std::string(30000, ']');
    const std::vector<std::pair<std::string, std::string>> shapes = {
        {"null", "INVALID_ARGUMENT"},
        {"[]", "INVALID_ARGUMENT"},
        {"{}", "INVALID_ARGUMENT"},
        {R"({"type":5})", "INVALID_ARGUMENT"},
        {R"({"type":"join","token":7,"call":"c"})", "INVALID_ARGUMENT"},
        {R"({"type":"join","token":"a.b.c","call":12})", "INVALID_ARGUMENT"},
        {R"({"type":"join","call":"c"})", "UNAUTHORIZED"},
        {R"({"type":"join","token":"a.b.c","call":"c","p2p":1e400})", "INVALID_ARGUMENT"},
        {R"({"type":"join","token":"a.b.c","call":"c","p2p":123456789012345678901234567890})",
         "INVALID_ARGUMENT"},
        {R"({"type":"ping","req":123456789012345678901234567890})", "INVALID_ARGUMENT"},
        {R"({"type":"offer","sdp":"v=0"})", "INVALID_ARGUMENT"},         // before joining
        {R"({"type":"joined","participantId":1})", "INVALID_ARGUMENT"},  // a server message
        {deep, "INVALID_ARGUMENT"},
    };
    std::uint64_t bad = 0;
    std::uint64_t unauthorized = 0;
    std::string summary;
    for (const auto& [text, expected] : shapes) {
      RawSignal client(port, "127.0.0.14");
      client.send_text(text);
      const auto reply = client.receive();
      const std::string code = error_code_of(reply);
      const auto close = client.closed_with();
      EXPECT_EQ(code, expected) << text.substr(0, 80);
      EXPECT_EQ(close, 1000u) << text.substr(0, 80);
      (expected == "UNAUTHORIZED" ? unauthorized : bad) += 1;
      if (summary.find(code) == std::string::npos)
        summary += (summary.empty() ? "" : " or ") + code;
    }
    // Unknown fields are ignored, however deep: a ping carrying 30,000 nested arrays is a ping.
    {
      RawSignal client(port, "127.0.0.14");
      client.send_text(R"({"type":"ping","req":"deep","x":)" + deep + "}");
      const auto reply = client.receive();
      EXPECT_EQ(reply.value_or(Json::object()).value("type", ""), "pong");
      EXPECT_EQ(reply.value_or(Json::object()).value("req", ""), "deep");
      table.add("`ping` with an unknown field holding 30,000 nested arrays (60 KB)",
                "answered `pong`: unknown fields are ignored; parsing is not recursive, nothing "
                "is refused");
    }
    EXPECT_EQ(grew(refused("bad_message")), 2 + bad);  // + the two garbage messages above
    EXPECT_EQ(grew(refused("unauthorized")), unauthorized);
    table.add("JSON of the wrong shape (" + std::to_string(shapes.size()) +
                  " kinds: null, [], wrong types, missing token, 1e400, 30-digit integers, "
                  "a server message, `offer` before `join`, 30,000-deep nesting)",
              summary +
                  " with `req` echoed when readable, close 1000, `refused{bad_message}` / "
                  "`refused{unauthorized}`");
  }

  // Joins without a token, with a forged signature, expired, for another call.
  {
    auto join_with = [&](Json join) {
      RawSignal client(port, "127.0.0.15");
      join["type"] = "join";
      join["req"] = "r";
      client.send(join);
      const auto reply = client.receive();
      EXPECT_EQ(reply ? reply->value("req", "") : "", "r");
      const auto close = client.closed_with();
      EXPECT_EQ(close, 1000u);
      return error_code_of(reply);
    };
    const std::int64_t now = unix_now();
    const std::string forged = signaling::mint_token(
        {.sub = "eve", .call = call, .name = "", .exp = now + 600, .iat = now}, "not-the-secret");
    const std::string expired = signaling::mint_token(
        {.sub = "eve", .call = call, .name = "", .exp = now - 60, .iat = now - 3600}, kDevSecret);
    const std::string other_call = signaling::mint_token(
        {.sub = "eve", .call = "elsewhere", .name = "", .exp = now + 600, .iat = now}, kDevSecret);
    EXPECT_EQ(join_with({{"call", call}}), "UNAUTHORIZED");
    EXPECT_EQ(join_with({{"call", call}, {"token", ""}}), "UNAUTHORIZED");
    EXPECT_EQ(join_with({{"call", call}, {"token", forged}}), "UNAUTHORIZED");
    EXPECT_EQ(join_with({{"call", call}, {"token", expired}}), "UNAUTHORIZED");
    EXPECT_EQ(join_with({{"call", call}, {"token", other_call}}), "UNAUTHORIZED");
    EXPECT_EQ(join_with({{"call", call}, {"token", "x.y.z"}}), "UNAUTHORIZED");
    table.add(
        "join without a token, with an empty one, a forged signature, an expired "
        "token, another call's token, garbage",
        "UNAUTHORIZED with the join's `req`, close 1000, `refused{unauthorized}`");
  }

  // SDP: bogus fingerprints, absurd sizes, and a good offer whose connection never comes.
  {
    RawSignal eve(port, "127.0.0.16");
    ASSERT_EQ(eve.join("eve", call + "-eve").value("type", ""), "joined");
    webrtc::Fingerprint nobodys{};
    nobodys.fill(0xAB);
    const std::string good = valid_offer_sdp(nobodys);
    auto offer = [&](const std::string& sdp) {
      eve.send(Json{{"type", "offer"}, {"req", "o"}, {"sdp", sdp}});
      return eve.receive();
    };
    auto replace = [](std::string sdp, const std::string& from, const std::string& to) {
      const auto at = sdp.find(from);
      if (at == std::string::npos) return sdp;
      const auto end = sdp.find("\r\n", at);
      return sdp.replace(at, end - at, to);
    };
    const std::vector<std::pair<std::string, std::string>> bad_sdps = {
        {"fingerprint not hex", replace(good, "a=fingerprint:", "a=fingerprint:sha-256 ZZ:ZZ")},
        {"fingerprint of 31 bytes", replace(
                                        good, "a=fingerprint:",
                                        "a=fingerprint:sha-256 " +
                                            [] {
                                              std::string f;
                                              for (int i = 0; i < 31; ++i) f += i ? ":AB" : "AB";
                                              return f;
                                            }())},
        {"fingerprint md5", replace(good, "a=fingerprint:", "a=fingerprint:md5 AB:CD")},
        {"no fingerprint", replace(good, "a=fingerprint:", "a=x-nothing:1")},
        {"20 KB attribute", replace(good, "a=setup:", "a=setup:" + std::string(20000, 'a'))},
        {"200 candidates (limit 64)",
         [&] {
           std::string sdp = good;
           for (int i = 0; i < 200; ++i) {
             sdp += "a=candidate:" + std::to_string(i) + " 1 udp 2122260223 10.0.0.1 " +
                    std::to_string(1000 + i) + " typ host\r\n";
           }
           return sdp;
         }()},
        {"sctp-port 99999999", replace(good, "a=sctp-port:", "a=sctp-port:99999999")},
        {"max-message-size 10^30", replace(good, "a=max-message-size:",
                                           "a=max-message-size:1000000000000000000000000000000")},
        {"not SDP", "hello"},
    };
    std::string outcomes;
    for (const auto& [what, sdp] : bad_sdps) {
      const auto reply = offer(sdp);
      const std::string code = error_code_of(reply);
      EXPECT_EQ(code, "INVALID_ARGUMENT") << what << ": " << reply.value_or(Json::object()).dump();
      outcomes += (outcomes.empty() ? "" : ", ") + what;
    }
    EXPECT_EQ(grew(refused("bad_offer")), bad_sdps.size());
    // The connection stays usable after each refusal.
    eve.send(Json{{"type", "ping"}, {"req", "still"}});
    EXPECT_EQ(eve.receive("pong").value_or(Json::object()).value("req", ""), "still");
    table.add("SDP offers: " + outcomes,
              "INVALID_ARGUMENT naming the problem, connection kept, `refused{bad_offer}`");
    {
      RawSignal big(port, "127.0.0.16");
      ASSERT_EQ(big.join("eve2", call + "-eve2").value("type", ""), "joined");
      big.send(Json{{"type", "offer"},
                    {"req", "o"},
                    {"sdp", replace(good, "a=setup:", "a=setup:" + std::string(50000, 'a'))}});
      const std::string code = error_code_of(big.receive("error"));
      const auto close = big.closed_with();
      EXPECT_EQ(code, "INVALID_ARGUMENT");
      EXPECT_EQ(close, 1000u);
      table.add("SDP offer of 50 KB (the `sdp` field holds at most 32 KiB)",
                code + ", close 1000, `refused{bad_message}`");
    }

    // Well-formed, fingerprint of no certificate anyone holds, and then silence: no ICE
    // check, no DTLS.
    eve.send(Json{{"type", "offer"}, {"req", "o"}, {"sdp", good}});
    const auto answer = eve.receive("answer");
    ASSERT_EQ(answer.value_or(Json::object()).value("type", ""), "answer");
    const auto disconnect = eve.receive("disconnect");
    ASSERT_TRUE(disconnect);
    EXPECT_NE(disconnect->value("reason", "").find("data connection not established"),
              std::string::npos);
    EXPECT_EQ(eve.closed_with(), 1000u);
    EXPECT_EQ(grew(refused("data_connect_timeout")), 1u);
    table.add("offer with a fingerprint no one holds, then no ICE or DTLS",
              "answered; after `data_connect_timeout_s` `disconnect` (\"data connection not "
              "established within 2 s\"), close 1000, participant removed, "
              "`refused{data_connect_timeout}`");
  }

  // A join flood from one address: 60 attempts at once (20/s, 40 at once allowed).
  {
    int limited = 0;
    int unauthorized = 0;
    for (int i = 0; i < 60; ++i) {
      RawSignal client(port, "127.0.0.17");
      client.send(Json{{"type", "join"}, {"req", "r"}, {"call", call}, {"token", "a.b.c"}});
      const std::string code = error_code_of(client.receive());
      limited += code == "TRAFFIC_LIMITED" ? 1 : 0;
      unauthorized += code == "UNAUTHORIZED" ? 1 : 0;
    }
    EXPECT_GE(unauthorized, 40);
    EXPECT_GE(limited, 1);
    EXPECT_EQ(limited + unauthorized, 60);
    EXPECT_EQ(grew(refused("join_rate")), static_cast<std::uint64_t>(limited));
    table.add("60 join attempts at once from one address",
              std::to_string(unauthorized) + " checked (UNAUTHORIZED), " + std::to_string(limited) +
                  " TRAFFIC_LIMITED before the token is looked at, `refused{join_rate}`");
  }

  // A STUN flood on the UDP port: binding requests with random usernames from 50 ports of
  // 127.0.0.1, and non-STUN datagrams from addresses no check validated.
  {
    asio::io_context io;
    std::mt19937 rng(4242);
    std::vector<std::unique_ptr<udp::socket>> sockets;
    for (int i = 0; i < 50; ++i) {
      sockets.push_back(std::make_unique<udp::socket>(io, udp::endpoint(udp::v4(), 0)));
      sockets.back()->non_blocking(true);
    }
    const udp::endpoint target(asio::ip::make_address("127.0.0.1"), port);
    auto random_name = [&](std::size_t n) {
      static constexpr char kChars[] = "abcdefghijklmnopqrstuvwxyz0123456789+/";
      std::string s;
      for (std::size_t i = 0; i < n; ++i) s += kChars[rng() % (sizeof kChars - 1)];
      return s;
    };
    constexpr int kPerSocket = 100;
    std::size_t stun_sent = 0;
    for (int round = 0; round < kPerSocket; ++round) {
      for (auto& socket : sockets) {
        webrtc::StunTransactionId txid{};
        for (auto& b : txid) b = static_cast<std::uint8_t>(rng());
        webrtc::StunWriter writer(webrtc::kStunBindingMethod, webrtc::StunClass::Request, txid);
        writer.add_username(random_name(8) + ":" + random_name(4))
            .add_priority(static_cast<std::uint32_t>(rng()));
        // Half claim integrity with a password the server cannot know.
        const Bytes request =
            (round % 2 == 0) ? writer.finish(random_name(24), true) : writer.finish({}, true);
        boost::system::error_code ec;
        socket->send_to(asio::buffer(request), target, 0, ec);
        if (!ec) ++stun_sent;
      }
      // Keep within the server's receive buffer: loopback drops what does not fit.
      std::this_thread::sleep_for(2ms);
    }
    std::size_t junk_sent = 0;
    for (int i = 0; i < 500; ++i) {
      const std::string junk = random_bytes(100 + i % 200, static_cast<std::uint32_t>(i));
      boost::system::error_code ec;
      sockets[static_cast<std::size_t>(i) % sockets.size()]->send_to(asio::buffer(junk), target, 0,
                                                                     ec);
      if (!ec) ++junk_sent;
      if (i % 50 == 49) std::this_thread::sleep_for(2ms);
    }
    const std::uint64_t stun_before = series(before, ignored("stun_unauthenticated"));
    const std::uint64_t junk_before = series(before, ignored("unknown_source"));
    const std::uint64_t stun_now =
        await_metric(server, ignored("stun_unauthenticated"), stun_before + stun_sent);
    const std::uint64_t junk_now =
        await_metric(server, ignored("unknown_source"), junk_before + junk_sent);
    EXPECT_GE(stun_now - stun_before, stun_sent);
    EXPECT_GE(junk_now - junk_before, junk_sent);
    // Nothing came back: the port reflects nothing at unknown senders.
    std::size_t answers = 0;
    for (auto& socket : sockets) {
      std::array<char, 1500> buffer{};
      udp::endpoint from;
      boost::system::error_code ec;
      while (socket->receive_from(asio::buffer(buffer), from, 0, ec) > 0 && !ec) ++answers;
    }
    EXPECT_EQ(answers, 0u);
    table.add(std::to_string(stun_sent) +
                  " STUN binding requests with random usernames from 50 ports of 127.0.0.1, "
                  "and " +
                  std::to_string(junk_sent) + " non-STUN datagrams",
              "no answer to any; every one counted in "
              "`ignored_datagrams{stun_unauthenticated}` / `{unknown_source}`");
  }

  // Malformed frames over a real data connection: mallory joins the honest call.
  const std::string mallory_text = "wrapped channel";
  const std::uint16_t wrapped_channel = static_cast<std::uint16_t>(70000);  // 70000 mod 65536
  {
    asio::io_context io;
    server::testing::DataClient mallory(io, port, "mallory", call, kDevSecret);
    ASSERT_TRUE(mallory.connect()) << "mallory could not connect its data channel";
    const std::uint64_t malformed0 = series(metrics_text(server), dropped("malformed"));
    const std::uint64_t forged0 = series(metrics_text(server), dropped("forged_sender"));
    const std::uint64_t too_large0 = series(metrics_text(server), dropped("too_large"));
    using server::testing::client_frame;
    const Bytes good = client_frame(5, 1, "ok");
    std::vector<std::pair<std::string, Bytes>> malformed = {
        {"random bytes",
         [] {
           const std::string r = random_bytes(300, 99);
           return Bytes(r.begin(), r.end());
         }()},
        {"header cut at 7 bytes", Bytes(good.begin(), good.begin() + 7)},
        {"payload cut short", Bytes(good.begin(), good.end() - 1)},
        {"version 9",
         [&] {
           Bytes b = good;
           b[0] = 9;
           return b;
         }()},
        {"type 77",
         [&] {
           Bytes b = good;
           b[1] = 77;
           return b;
         }()},
        {"unknown flag bits",
         [&] {
           Bytes b = good;
           b[2] = 0x80;
           return b;
         }()},
        {"DATA on channel 0", client_frame(0, 1, "zero")},
        {"10,000 recipients",
         [] {
           std::vector<core::ParticipantId> to(10000);
           for (std::size_t i = 0; i < to.size(); ++i)
             to[i] = static_cast<core::ParticipantId>(i + 1);
           return client_frame(6, 1, "many", to);
         }()},
        {"empty recipient list flag",
         [&] {
           Bytes b = good;
           b[2] |= 0x10;  // TO flag, then a count of 0 where the payload begins
           b.insert(b.begin() + 14, {0, 0});
           return b;
         }()},
        {"fragment beyond its message",
         [] {
           core::FrameHeader h;
           h.channel_id = 7;
           h.sequence = 1;
           h.fragmented = true;
           h.message_size = 4;
           h.fragment_offset = 2;
           Bytes out;
           core::encode_frame(h, {}, as_bytes(std::string_view("abcdef")), out);
           return out;
         }()},
    };
    for (const auto& [what, frame] : malformed) {
      ASSERT_TRUE(mallory.send(0, frame)) << what;
    }
    // Forged sender, a message over the limit, and channel 70000, which the 16-bit field
    // cannot hold: written as 70000 mod 65536 = 4464 it is an ordinary channel.
    ASSERT_TRUE(mallory.send(0, client_frame(8, 1, "forged", {}, Reliability::Durable,
                                             Priority::Normal, core::ParticipantId{1})));
    {
      core::FrameHeader h;
      h.channel_id = 9;
      h.sequence = 1;
      h.fragmented = true;
      h.message_size = 16 * 1024 * 1024;  // 16 MiB, over the server's 256 KiB
      h.fragment_offset = 0;
      Bytes out;
      core::encode_frame(h, {}, as_bytes(std::string_view("first piece")), out);
      ASSERT_TRUE(mallory.send(0, out));
    }
    ASSERT_TRUE(mallory.send(0, client_frame(wrapped_channel, 1, mallory_text)));

    std::optional<Json> forged_error, too_large_error;
    server::testing::run_until(
        io,
        [&] {
          while (auto e = mallory.signal.take("error")) {
            const std::string code = e->value("code", "");
            if (code == "INVALID_ARGUMENT" && e->value("channelId", 0) == 8) forged_error = e;
            if (code == "MESSAGE_TOO_LARGE" && e->value("channelId", 0) == 9) too_large_error = e;
          }
          return forged_error && too_large_error;
        },
        5s);
    EXPECT_TRUE(forged_error) << "no INVALID_ARGUMENT for the forged sender";
    EXPECT_TRUE(too_large_error) << "no MESSAGE_TOO_LARGE";
    EXPECT_EQ(
        await_metric(server, dropped("malformed"), malformed0 + malformed.size()) - malformed0,
        malformed.size());
    EXPECT_EQ(series(metrics_text(server), dropped("forged_sender")) - forged0, 1u);
    EXPECT_EQ(series(metrics_text(server), dropped("too_large")) - too_large0, 1u);
    std::string kinds;
    for (const auto& [what, frame] : malformed) kinds += (kinds.empty() ? "" : ", ") + what;
    table.add("malformed DataChannel frames over a real data connection: " + kinds,
              "dropped, each counted in `dropped_messages{malformed}`; the connection and the "
              "call go on");
    table.add("frame naming another participant as its sender",
              "dropped, INVALID_ARGUMENT with `channelId` on signaling, "
              "`dropped_messages{forged_sender}`");
    table.add("fragment announcing a 16 MiB message (limit 256 KiB)",
              "dropped, MESSAGE_TOO_LARGE with `channelId`, `dropped_messages{too_large}`");
    table.add("frame for channel 70000",
              "not expressible: the channel field is 16 bits; written as 70000 mod 65536 = "
              "4464 it is an ordinary channel and is delivered as such");
    // Let the last frames reach everyone, then leave.
    server::testing::run_until(
        io, [] { return false; }, 300ms);
  }

  // A thousand connections opened at once from one address, then dropped.
  {
    constexpr int kConnections = 1000;
    asio::io_context io;
    std::vector<std::unique_ptr<tcp::socket>> sockets;
    int opened = 0;
    for (int i = 0; i < kConnections; ++i) {
      auto socket = std::make_unique<tcp::socket>(io);
      boost::system::error_code ec;
      socket->open(tcp::v4(), ec);
      if (!ec) socket->bind({asio::ip::make_address("127.0.0.18"), 0}, ec);
      if (!ec) socket->connect({asio::ip::make_address("127.0.0.1"), port}, ec);
      if (!ec) {
        ++opened;
        if (i % 2 == 0) asio::write(*socket, asio::buffer(std::string_view("GET / HT")), ec);
      }
      sockets.push_back(std::move(socket));
    }
    EXPECT_EQ(opened, kConnections);
    const std::uint64_t over = static_cast<std::uint64_t>(kConnections - 64);
    const std::uint64_t base = series(before, refused("connections_per_address"));
    const std::uint64_t refused_now =
        await_metric(server, refused("connections_per_address"), base + over);
    EXPECT_EQ(refused_now - base, over);
    sockets.clear();  // drop them all
    // Their places are free again: this address is served.
    bool closed = false;
    RawTcp again(port, "127.0.0.18");
    again.write("GET /healthz HTTP/1.0\r\n\r\n");
    EXPECT_EQ(again.read_all(closed).substr(0, 12), "HTTP/1.0 200");
    table.add(
        "1,000 TCP connections opened at once from one address (half with a partial "
        "request), then dropped",
        "64 accepted (`max_connections_per_address`), " + std::to_string(over) +
            " closed at accept, `refused{connections_per_address}`; all places free "
            "again once dropped");
  }

  // The ones started first: closed by their timeouts, and counted.
  {
    const std::string code = error_code_of(lurker.receive());
    const auto close = lurker.closed_with();
    EXPECT_EQ(code, "INVALID_ARGUMENT");
    EXPECT_EQ(close, 1000u);
    EXPECT_EQ(grew(refused("join_timeout")), 1u);
    table.add("WebSocket opened and never joined", code + " (\"no successful join within 2 s\"), " +
                                                       describe_close(close) +
                                                       ", `refused{join_timeout}`");
    bool slow_closed = false;
    bool mute_closed = false;
    EXPECT_EQ(slowloris.read_all(slow_closed), "");
    EXPECT_EQ(mute.read_all(mute_closed), "");
    EXPECT_TRUE(slow_closed);
    EXPECT_TRUE(mute_closed);
    EXPECT_EQ(grew(refused("request_timeout")), 2u);
    table.add("half an HTTP request and then nothing; a connection that sends nothing",
              "closed after `http_request_timeout_s`, `refused{request_timeout}`");
  }

  // Let the honest call run a while longer, then check it lost nothing.
  std::this_thread::sleep_for(1s);
  honest.stop();
  honest.verify(mallory_text, wrapped_channel);
  EXPECT_GT(honest.sent(), 100u);

  // The server is alive and serving: the process runs, /healthz answers, a new call works.
  EXPECT_FALSE(server.process().wait_exit(Clock::now()).has_value());
  auto health = http_get(port, "/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  {
    auto fresh = join_call(server, call + "-after", {"carol", "dave"});
    const std::uint16_t channel = fresh[0]->create_sender({{"channelId", 3}});
    fresh[0]->send_text(channel, "still serving");
    EXPECT_EQ(fresh[1]->expect_message("carol", channel).value("text", ""), "still serving");
  }
  table.add("(at the end)", "every durable message of the honest call arrived, in order (" +
                                std::to_string(honest.sent()) +
                                " each way); the server process alive, /healthz 200, a new "
                                "call works");
  table.publish();
  const double seconds = std::chrono::duration<double>(Clock::now() - suite_start).count();
  std::cout << "hostile suite ran " << seconds << " s\n";
}

}  // namespace
}  // namespace switchboard::integration
