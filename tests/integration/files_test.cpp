// File transfer end to end (docs/protocol.md, "File transfer"): real `switchboard send` and
// `switchboard receive` processes against a real server on 127.0.0.1, and a raw
// `switchboard agent` playing a malicious sender that writes the protocol's bytes itself.
//
// The server runs without its per-sender rate limit (--rate-limit-bytes 0), as a file
// server would be configured: the default 12.5 MB/s would make the 200 MB cases slow.

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include "harness.hpp"

namespace switchboard::integration {
namespace {

namespace fs = std::filesystem;

constexpr std::uint16_t kFileChannel = 10001;

Server::Options unlimited_server() {
  return Server::Options{.flags = {"--rate-limit-bytes", "0", "--rate-limit-messages", "0"}};
}

// The same, for tests that kill a participant's process and wait for the others to see it
// leave: the server keeps such a participant for its resume grace period (docs/protocol.md,
// "Reconnecting and resuming"), half a second here instead of 30.
Server::Options unlimited_server_short_grace() {
  Server::Options options = unlimited_server();
  options.flags.insert(options.flags.end(), {"--resume-grace-ms", "500"});
  return options;
}

class Files : public IntegrationTest {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("switchboard-files-" + std::string(info->name()) + "-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    IntegrationTest::TearDown();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // A file of `size` pseudo-random bytes (xorshift, written 1 MiB at a time).
  fs::path make_file(const std::string& name, std::uint64_t size, std::uint64_t seed) {
    const fs::path path = dir_ / name;
    std::ofstream out(path, std::ios::binary);
    std::vector<std::uint64_t> block(128 * 1024);
    std::uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    for (std::uint64_t left = size; left > 0;) {
      for (auto& word : block) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        word = x;
      }
      const auto n = std::min<std::uint64_t>(left, block.size() * 8);
      out.write(reinterpret_cast<const char*>(block.data()), static_cast<std::streamsize>(n));
      left -= n;
    }
    return path;
  }

  fs::path dir_;
};

std::string sha256_of(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "(cannot open " + path.string() + ")";
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  std::vector<char> buffer(1 << 20);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    EVP_DigestUpdate(ctx, buffer.data(), static_cast<std::size_t>(in.gcount()));
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(ctx, digest, &length);
  EVP_MD_CTX_free(ctx);
  std::string hex;
  static constexpr char digits[] = "0123456789abcdef";
  for (unsigned int i = 0; i < length; ++i) {
    hex += digits[digest[i] >> 4];
    hex += digits[digest[i] & 15];
  }
  return hex;
}

std::string sha256_of_bytes(const std::string& bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr);
  std::string hex;
  static constexpr char digits[] = "0123456789abcdef";
  for (unsigned int i = 0; i < length; ++i) {
    hex += digits[digest[i] >> 4];
    hex += digits[digest[i] & 15];
  }
  return hex;
}

std::vector<std::string> participant(const Server& server, const std::string& call,
                                     const std::string& user, bool p2p) {
  return {"--server", server.url(),        "--call", call, "--user", user, "--dev",
          "--p2p",    p2p ? "auto" : "off"};
}

// A `switchboard COMMAND ...` process whose stdout lines the test reads.
std::unique_ptr<Process> start_cli(const std::string& log_name, std::vector<std::string> args) {
  args.insert(args.begin(), cli_program());
  std::string log = test_log_dir() + "/" + log_name + ".log";
  for (int n = 2; fs::exists(log); ++n) {
    log = test_log_dir() + "/" + log_name + "-" + std::to_string(n) + ".log";
  }
  return std::make_unique<Process>(std::move(args), log);
}

// `switchboard receive --dir DIR --accept-all ...` as `user`, once it says it is receiving.
std::unique_ptr<Process> start_receiver(const Server& server, const std::string& call,
                                        const std::string& user, const fs::path& dir, bool p2p,
                                        std::vector<std::string> extra = {}) {
  auto args = std::vector<std::string>{"receive", "--dir", dir.string(), "--accept-all"};
  const auto common = participant(server, call, user, p2p);
  args.insert(args.end(), common.begin(), common.end());
  args.insert(args.end(), extra.begin(), extra.end());
  auto process = start_cli("receive-" + user, args);
  const auto deadline = Clock::now() + 20s;
  while (auto line = process->read_line(deadline)) {
    if (line->text.starts_with("receiving into")) return process;
  }
  throw HarnessError(user + ": switchboard receive did not say it was receiving within 20 s");
}

// The first stdout line of `process` containing `needle`; the lines before it go to `seen`.
std::string expect_line(Process& process, const std::string& needle,
                        std::chrono::milliseconds timeout, std::string* seen = nullptr) {
  const auto deadline = Clock::now() + timeout;
  std::string passed;
  while (auto line = process.read_line(deadline)) {
    if (line->text.find(needle) != std::string::npos) {
      if (seen != nullptr) *seen += passed;
      return line->text;
    }
    passed += line->text + "\n";
  }
  throw HarnessError(process.name() + ": no line with \"" + needle + "\" within " +
                     std::to_string(timeout.count()) + " ms; got:\n" + passed);
}

std::vector<std::string> send_args(const Server& server, const std::string& call,
                                   const std::string& user, bool p2p,
                                   const std::vector<std::string>& files, const std::string& to) {
  std::vector<std::string> args = {"send"};
  args.insert(args.end(), files.begin(), files.end());
  args.insert(args.end(), {"--to", to, "--timeout", "120"});
  const auto common = participant(server, call, user, p2p);
  args.insert(args.end(), common.begin(), common.end());
  return args;
}

double relayed_messages(const Server& server) {
  const auto response = http_get(server.host(), server.port(), "/metrics");
  if (!response || response->status != 200) throw HarnessError("GET /metrics failed");
  std::istringstream in(response->body);
  const std::string name = "switchboard_relayed_messages_total ";
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(name, 0) == 0) return std::stod(line.substr(name.size()));
  }
  throw HarnessError("GET /metrics has no switchboard_relayed_messages_total");
}

// The names in `dir`, sorted (hidden ones too).
std::vector<std::string> listing(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.push_back(entry.path().filename());
  std::sort(names.begin(), names.end());
  return names;
}

constexpr std::uint64_t k200MB = 200'000'000;

TEST_F(Files, TwoHundredMegabytesThroughTheServerArriveIntact) {
  Server server(unlimited_server());
  const auto call = unique_call_id();
  const auto file = make_file("big.bin", k200MB, 1);
  const auto in = dir_ / "in";
  auto receiver = start_receiver(server, call, "bob", in, false, {"--count", "1"});
  const double relayed_before = relayed_messages(server);
  const auto started = Clock::now();
  const auto sent = run_cli(send_args(server, call, "alice", false, {file.string()}, "bob"), 120s);
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  ASSERT_EQ(sent.status, 0) << sent.out;
  EXPECT_NE(sent.out.find("1 delivered"), std::string::npos) << sent.out;
  expect_line(*receiver, "received big.bin from alice", 10s);
  EXPECT_EQ(receiver->wait_exit(Clock::now() + 10s), 0);
  EXPECT_EQ(sha256_of(in / "big.bin"), sha256_of(file));
  EXPECT_EQ(listing(in), std::vector<std::string>{"big.bin"});  // no partial file left
  // Every 64 KiB chunk went through the server.
  EXPECT_GE(relayed_messages(server) - relayed_before, static_cast<double>(k200MB / 65536));
  std::cout << "[ figures  ] 200 MB through the server in " << seconds
            << " s (with join): " << k200MB / seconds / 1e6 << " MB/s\n";
}

TEST_F(Files, TwoHundredMegabytesPeerToPeerArriveIntactMostlyOffTheServer) {
  Server server(unlimited_server());
  const auto call = unique_call_id();
  const auto file = make_file("big.bin", k200MB, 2);
  const auto in = dir_ / "in";
  auto receiver = start_receiver(server, call, "bob", in, true, {"--count", "1"});
  const double relayed_before = relayed_messages(server);
  const auto sent = run_cli(send_args(server, call, "alice", true, {file.string()}, "bob"), 120s);
  ASSERT_EQ(sent.status, 0) << sent.out;
  expect_line(*receiver, "received big.bin from alice", 10s);
  EXPECT_EQ(receiver->wait_exit(Clock::now() + 10s), 0);
  EXPECT_EQ(sha256_of(in / "big.bin"), sha256_of(file));
  // send waits for the direct path of a call of two before it offers: only the offer may
  // have gone through the server (plus a few messages around the switch).
  const double relayed = relayed_messages(server) - relayed_before;
  EXPECT_LT(relayed, 50) << "messages relayed: " << relayed;
  std::cout << "[ figures  ] messages relayed by the server: " << relayed << "\n";
}

TEST_F(Files, OneFileToThreeRecipientsAtOnce) {
  Server server(unlimited_server());
  const auto call = unique_call_id();
  const auto file = make_file("shared.bin", 30'000'000, 3);
  std::vector<std::unique_ptr<Process>> receivers;
  for (const std::string user : {"bob", "carol", "dave"}) {
    receivers.push_back(start_receiver(server, call, user, dir_ / user, false, {"--count", "1"}));
  }
  const auto sent =
      run_cli(send_args(server, call, "alice", false, {file.string()}, "bob,carol,dave"), 120s);
  ASSERT_EQ(sent.status, 0) << sent.out;
  EXPECT_NE(sent.out.find("3 delivered"), std::string::npos) << sent.out;
  const auto want = sha256_of(file);
  for (std::size_t i = 0; i < receivers.size(); ++i) {
    const std::string user = i == 0 ? "bob" : i == 1 ? "carol" : "dave";
    expect_line(*receivers[i], "received shared.bin from alice", 10s);
    EXPECT_EQ(receivers[i]->wait_exit(Clock::now() + 10s), 0) << user;
    EXPECT_EQ(sha256_of(dir_ / user / "shared.bin"), want) << user;
  }
}

TEST_F(Files, SeveralFilesInOneRunAndNoFileIsOverwritten) {
  Server server(unlimited_server());
  const auto call = unique_call_id();
  const auto a = make_file("a.txt", 1000, 4);
  const auto b = make_file("b.bin", 3'000'000, 5);
  const auto empty = make_file("empty", 0, 6);
  const auto in = dir_ / "in";
  fs::create_directories(in);
  { std::ofstream(in / "a.txt") << "mine"; }
  auto receiver = start_receiver(server, call, "bob", in, false, {"--count", "3"});
  const auto sent = run_cli(
      send_args(server, call, "alice", false, {a.string(), b.string(), empty.string()}, "bob"),
      60s);
  ASSERT_EQ(sent.status, 0) << sent.out;
  EXPECT_NE(sent.out.find("sent 3 files: 3 delivered"), std::string::npos) << sent.out;
  EXPECT_EQ(receiver->wait_exit(Clock::now() + 10s), 0);
  EXPECT_EQ(listing(in), (std::vector<std::string>{"a (1).txt", "a.txt", "b.bin", "empty"}));
  std::ifstream mine(in / "a.txt");
  std::string text;
  std::getline(mine, text);
  EXPECT_EQ(text, "mine");
  EXPECT_EQ(sha256_of(in / "a (1).txt"), sha256_of(a));
  EXPECT_EQ(sha256_of(in / "b.bin"), sha256_of(b));
  EXPECT_EQ(fs::file_size(in / "empty"), 0u);
}

TEST_F(Files, AReceiverKilledMidTransferResumesFromItsPartialFile) {
  Server server(unlimited_server());
  const auto call = unique_call_id();
  const auto file = make_file("resume.bin", k200MB, 7);
  const auto in = dir_ / "in";
  auto receiver = start_receiver(server, call, "bob", in, false);
  auto sender =
      start_cli("send-alice", send_args(server, call, "alice", false, {file.string()}, "bob"));
  expect_line(*receiver, "resume.bin <- alice: 30%", 60s);
  ::kill(receiver->pid(), SIGKILL);
  receiver->wait_exit(Clock::now() + 5s);
  // What the killed receiver left: its partial file and, beside it, the offer its bytes
  // belong to (.meta), nothing else.
  const auto left = listing(in);
  ASSERT_EQ(left.size(), 2u);
  EXPECT_TRUE(left[0].starts_with(".resume.bin.") && left[0].ends_with(".meta")) << left[0];
  EXPECT_TRUE(left[1].starts_with(".resume.bin.") && left[1].ends_with(".part")) << left[1];
  EXPECT_EQ(left[0].substr(0, left[0].size() - 5), left[1].substr(0, left[1].size() - 5));
  {
    std::ifstream meta(in / left[0]);
    std::string line;
    std::getline(meta, line);
    const auto record = Json::parse(line);
    EXPECT_EQ(record.value("from", ""), "alice") << line;
    EXPECT_EQ(record.value("size", std::uint64_t{0}), k200MB) << line;
    EXPECT_EQ(record.value("sha256", ""), sha256_of(file)) << line;
  }
  const auto partial = fs::file_size(in / left[1]);
  EXPECT_GT(partial, k200MB / 4);
  EXPECT_LT(partial, k200MB);

  // bob again: alice offers the same id once he is back, and he continues from his bytes.
  auto again = start_receiver(server, call, "bob", in, false, {"--count", "1"});
  expect_line(*again, "received resume.bin from alice", 60s);
  EXPECT_EQ(again->wait_exit(Clock::now() + 10s), 0);
  const auto status = sender->wait_exit(Clock::now() + 20s);
  EXPECT_EQ(status, 0);
  EXPECT_EQ(sha256_of(in / "resume.bin"), sha256_of(file));
  EXPECT_EQ(listing(in), std::vector<std::string>{"resume.bin"});
  // The second receiver said where it resumed: at least the bytes the first one kept.
  std::ifstream log(test_log_dir() + "/receive-bob-2.log");
  std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  std::smatch match;
  ASSERT_TRUE(std::regex_search(text, match,
                                std::regex(R"(resuming resume\.bin from alice at byte (\d+))")))
      << text;
  EXPECT_GE(std::stoull(match[1].str()), partial);
}

TEST_F(Files, ASenderKilledMidTransferAndRestartedResumesTheReceiversPartialFile) {
  Server server(unlimited_server_short_grace());
  const auto call = unique_call_id();
  const auto file = make_file("again.bin", k200MB, 11);
  const auto in = dir_ / "in";
  auto receiver = start_receiver(server, call, "bob", in, false, {"--count", "1"});
  auto sender =
      start_cli("send-alice", send_args(server, call, "alice", false, {file.string()}, "bob"));
  expect_line(*receiver, "again.bin <- alice: 30%", 60s);
  ::kill(sender->pid(), SIGKILL);
  sender->wait_exit(Clock::now() + 5s);
  expect_line(*receiver, "alice) left", 20s);

  // A new `switchboard send` of the same file: it offers the same (derived) id, and bob,
  // still running, continues from the bytes he holds instead of starting again.
  auto restarted =
      start_cli("send-alice", send_args(server, call, "alice", false, {file.string()}, "bob"));
  expect_line(*receiver, "received again.bin from alice", 60s);
  EXPECT_EQ(receiver->wait_exit(Clock::now() + 10s), 0);
  EXPECT_EQ(restarted->wait_exit(Clock::now() + 20s), 0);
  EXPECT_EQ(sha256_of(in / "again.bin"), sha256_of(file));
  EXPECT_EQ(listing(in), std::vector<std::string>{"again.bin"});
  // bob said (stderr, in his log) where he resumed: past the 30% he had shown.
  std::ifstream log(test_log_dir() + "/receive-bob.log");
  std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  std::smatch match;
  ASSERT_TRUE(std::regex_search(text, match,
                                std::regex(R"(resuming again\.bin from alice at byte (\d+))")))
      << text;
  EXPECT_GE(std::stoull(match[1].str()), k200MB / 4);
  EXPECT_LT(std::stoull(match[1].str()), k200MB);
}

// mallory speaks the protocol through a raw agent: `bytes` of one message.
std::string message(std::uint8_t kind, const std::string& json) {
  return std::string(1, static_cast<char>(kind)) + json;
}

std::string chunk(const std::string& id_hex, std::uint64_t offset, const std::string& data) {
  std::string out(1, '\x03');
  for (std::size_t i = 0; i < 16; ++i) {
    out += static_cast<char>(std::stoi(id_hex.substr(2 * i, 2), nullptr, 16));
  }
  for (int i = 7; i >= 0; --i) out += static_cast<char>((offset >> (8 * i)) & 0xff);
  return out + data;
}

std::string offer_json(const std::string& id, const std::string& name, std::size_t size,
                       const std::string& sha256) {
  return Json{{"id", id}, {"name", name}, {"size", size}, {"sha256", sha256}}.dump();
}

// The next file-transfer message from `from` of `kind` (others from `from` skipped).
std::string expect_file_message(Agent& agent, const std::string& from, std::uint8_t kind,
                                std::chrono::milliseconds timeout = 20s) {
  const auto event = agent.expect(
      std::string("file message ") + std::to_string(kind) + " from " + from,
      [&](const Json& e) {
        if (!is_message_from(from, kFileChannel)(e)) return false;
        const auto text = e.value("text", "");
        return !text.empty() && static_cast<std::uint8_t>(text[0]) == kind;
      },
      timeout);
  return event["text"].get<std::string>();
}

std::uint64_t accepted_offset(const std::string& accept) {
  return Json::parse(accept.substr(1)).value("offset", std::uint64_t{999});
}

// `bytes[from, to)` as CHUNKs of `id`, retried while the SDK says BUFFER_FULL.
void send_chunks(Agent& agent, const std::string& id, const std::string& bytes, std::size_t from,
                 std::size_t to) {
  for (std::size_t at = from; at < to; at += 65536) {
    const auto n = std::min<std::size_t>(65536, to - at);
    std::string why;
    if (!agent.send_retrying(kFileChannel, base64_encode(chunk(id, at, bytes.substr(at, n))), why)) {
      throw HarnessError("chunk at " + std::to_string(at) + ": " + why);
    }
  }
}

// A sender may derive its ids from file metadata (the native SDK does), so an id offered
// again may carry other bytes: the receiver resumes only a partial file of the same size
// and SHA-256, whether it kept the transfer in memory or finds the partial file on disk
// after a restart, and otherwise starts from byte 0.
TEST_F(Files, AReofferOfAnIdWithOtherBytesStartsAgainInMemoryAndFromDisk) {
  Server server(unlimited_server_short_grace());
  const auto call = unique_call_id();
  const auto in = dir_ / "in";
  auto bob = start_receiver(server, call, "bob", in, false);
  Agent mallory(server, call, "mallory");
  mallory.expect_joined();
  mallory.expect_roster({"bob"});
  mallory.create_sender({{"channelId", kFileChannel}, {"participants", {"bob"}}});

  const std::string id = "fedcba9876543210fedcba9876543210";
  constexpr std::size_t kSize = 2 * 1024 * 1024;
  constexpr std::size_t kHalf = kSize / 2;
  const std::string a = random_bytes(kSize, 21);
  const std::string b = random_bytes(kSize, 22);
  const auto offer = [&](const std::string& bytes) {
    mallory.send_bytes(kFileChannel, message(1, offer_json(id, "x.bin", kSize, sha256_of_bytes(bytes))));
  };
  offer(a);
  EXPECT_EQ(accepted_offset(expect_file_message(mallory, "bob", 2)), 0u);
  send_chunks(mallory, id, a, 0, kHalf);
  expect_file_message(mallory, "bob", 5);  // PROGRESS: the first MiB is on disk

  // In memory: the same file again resumes, other bytes under the same id start again.
  offer(a);
  EXPECT_EQ(accepted_offset(expect_file_message(mallory, "bob", 2)), kHalf);
  offer(b);
  EXPECT_EQ(accepted_offset(expect_file_message(mallory, "bob", 2)), 0u);
  send_chunks(mallory, id, b, 0, kHalf);
  expect_file_message(mallory, "bob", 5);

  // On disk: bob is killed holding half of b; a new bob finds the partial file, and its
  // .meta says it is b's, so an offer of a under that id starts from byte 0.
  ::kill(bob->pid(), SIGKILL);
  bob->wait_exit(Clock::now() + 5s);
  mallory.expect("bob left", [](const Json& e) {
    return e.value("event", "") == "participant_left" && e.value("user", "") == "bob";
  });
  ASSERT_EQ(listing(in).size(), 2u);
  auto again = start_receiver(server, call, "bob", in, false, {"--count", "1"});
  mallory.expect_roster({"bob"});
  mallory.set_participants(kFileChannel, {"bob"});
  offer(a);
  EXPECT_EQ(accepted_offset(expect_file_message(mallory, "bob", 2)), 0u);
  send_chunks(mallory, id, a, 0, kSize);
  mallory.send_bytes(kFileChannel, message(4, Json{{"id", id}}.dump()));
  expect_line(*again, "received x.bin from mallory", 20s);
  EXPECT_EQ(again->wait_exit(Clock::now() + 10s), 0);
  EXPECT_EQ(sha256_of(in / "x.bin"), sha256_of_bytes(a));
  EXPECT_EQ(listing(in), std::vector<std::string>{"x.bin"});  // no .part, no .meta left
  std::ifstream log(test_log_dir() + "/receive-bob-2.log");
  std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("x.bin from mallory: the partial file is not of this offer, starting again"),
            std::string::npos)
      << text;
}

TEST_F(Files, ATamperedChunkIsDetectedAndNoFileIsLeft) {
  Server server(unlimited_server());
  const auto call = unique_call_id();
  const auto in = dir_ / "in";
  auto receiver = start_receiver(server, call, "bob", in, false, {"--count", "1"});
  Agent mallory(server, call, "mallory");
  mallory.expect_joined();
  mallory.expect_roster({"bob"});
  mallory.create_sender({{"channelId", kFileChannel}, {"participants", {"bob"}}});

  const std::string id = "0123456789abcdef0123456789abcdef";
  const std::string real = random_bytes(100'000, 9);
  std::string tampered = real;
  tampered[70'000] ^= 0x01;
  mallory.send_bytes(kFileChannel,
                     message(1, offer_json(id, "evil.bin", real.size(), sha256_of_bytes(real))));
  mallory.send_bytes(kFileChannel, chunk(id, 0, tampered.substr(0, 65536)));
  mallory.send_bytes(kFileChannel, chunk(id, 65536, tampered.substr(65536)));
  mallory.send_bytes(kFileChannel, message(4, Json{{"id", id}}.dump()));

  const auto line = expect_line(*receiver, "failed evil.bin from mallory", 10s);
  EXPECT_NE(line.find("HASH_MISMATCH"), std::string::npos) << line;
  EXPECT_EQ(receiver->wait_exit(Clock::now() + 10s), 1);  // a failed transfer
  EXPECT_TRUE(listing(in).empty()) << listing(in).size();
  // bob told mallory: ACCEPT from 0, then CANCEL HASH_MISMATCH.
  const auto accept = mallory.expect_message("bob", kFileChannel);
  const auto cancel = mallory.expect_message("bob", kFileChannel);
  const auto decode = [](const Json& event) {
    std::string bytes;
    if (event.contains("text")) return event["text"].get<std::string>();
    return bytes;
  };
  EXPECT_EQ(decode(accept), message(2, Json{{"id", id}, {"offset", 0}}.dump()));
  const auto answer = decode(cancel);
  ASSERT_FALSE(answer.empty());
  EXPECT_EQ(answer[0], '\x06');
  EXPECT_EQ(Json::parse(answer.substr(1)).value("code", ""), "HASH_MISMATCH");
}

TEST_F(Files, HostileNamesAreSanitisedOrRefused) {
  Server server(unlimited_server());
  const auto call = unique_call_id();
  const auto in = dir_ / "deep" / "in";
  auto receiver = start_receiver(server, call, "bob", in, false, {"--count", "4"});
  Agent mallory(server, call, "mallory");
  mallory.expect_joined();
  mallory.expect_roster({"bob"});
  mallory.create_sender({{"channelId", kFileChannel}, {"participants", {"bob"}}});

  const std::string content = "not really a password file\n";
  const std::string sha = sha256_of_bytes(content);
  // The refused ones first: the receiver stops after the fourth file it saved.
  const std::vector<std::pair<std::string, std::string>> names = {
      {"../..", ""},  // nothing left: refused
      {"/", ""},
      {"../../etc/passwd", "passwd"},
      {".hidden", "hidden"},
      {"dir/sub\\win.txt", "win.txt"},
      {"bell\x07new\nline\x1b.txt", "bellnewline.txt"},
  };
  int n = 0;
  for (const auto& [offered, kept] : names) {
    char id[33];
    std::snprintf(id, sizeof id, "%032x", ++n);
    mallory.send_bytes(kFileChannel, message(1, offer_json(id, offered, content.size(), sha)));
    mallory.send_bytes(kFileChannel, chunk(id, 0, content));
    mallory.send_bytes(kFileChannel, message(4, Json{{"id", id}}.dump()));
  }
  std::string seen;
  EXPECT_EQ(receiver->wait_exit(Clock::now() + 20s), 0);
  while (auto line = receiver->read_line(Clock::now() + 1s)) seen += line->text + "\n";
  EXPECT_EQ(listing(in),
            (std::vector<std::string>{"bellnewline.txt", "hidden", "passwd", "win.txt"}))
      << seen;
  EXPECT_EQ(listing(dir_), (std::vector<std::string>{"deep"}));
  EXPECT_EQ(listing(dir_ / "deep"), (std::vector<std::string>{"in"}));
  // The two names with nothing left were refused, and said so.
  EXPECT_NE(seen.find("refused an offer from mallory (name \"../..\")"), std::string::npos) << seen;
  EXPECT_NE(seen.find("refused an offer from mallory (name \"/\")"), std::string::npos) << seen;
  // mallory got DECLINED for those two.
  int declined = 0;
  for (int i = 0; i < 12; ++i) {
    auto event = mallory.next(is_message_from("bob", kFileChannel), 2s);
    if (!event) break;
    const auto text = event->value("text", "");
    if (!text.empty() && text[0] == '\x06' && text.find("DECLINED") != std::string::npos)
      ++declined;
  }
  EXPECT_EQ(declined, 2);
}

}  // namespace
}  // namespace switchboard::integration
