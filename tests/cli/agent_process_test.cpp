// `switchboard agent` as a process: what it prints and how it exits when it cannot join,
// and (with a real switchboard-server) that bad lines never stop it and EOF leaves.
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

using Clock = std::chrono::steady_clock;
using Json = nlohmann::json;
using namespace std::chrono_literals;

constexpr auto kWait = 20s;

// A child process with its stdin and stdout piped to us; stderr goes to ours.
class Child {
 public:
  explicit Child(std::vector<std::string> args) {
    int in[2];
    int out[2];
    if (::pipe(in) != 0 || ::pipe(out) != 0) return;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    for (int fd : {in[0], in[1], out[0], out[1]}) posix_spawn_file_actions_addclose(&actions, fd);
    std::vector<char*> argv;
    argv.reserve(args.size() + 1);
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
    ::close(in[0]);
    ::close(out[1]);
    stdin_ = in[1];
    stdout_ = out[0];
  }
  ~Child() {
    close_stdin();
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (stdout_ >= 0) ::close(stdout_);
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  bool started() const { return pid_ > 0; }

  void write_line(const std::string& line) {
    const std::string text = line + "\n";
    ASSERT_EQ(::write(stdin_, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  }
  void close_stdin() {
    if (stdin_ >= 0) ::close(stdin_);
    stdin_ = -1;
  }

  // The next stdout line, or nullopt at EOF or after `timeout`.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout = kWait) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      if (const auto nl = buffer_.find('\n'); nl != std::string::npos) {
        auto line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return line;
      }
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd fd{stdout_, POLLIN, 0};
      if (::poll(&fd, 1, static_cast<int>(left.count())) <= 0) continue;
      char chunk[4096];
      const auto n = ::read(stdout_, chunk, sizeof chunk);
      if (n <= 0) return std::nullopt;
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }

  // The next event; every stdout line must be one JSON object.
  Json next_event() {
    const auto line = read_line();
    if (!line) return Json{{"event", "_eof_or_timeout"}};
    auto event = Json::parse(*line, nullptr, false);
    EXPECT_TRUE(event.is_object()) << "not a JSON object on stdout: " << *line;
    return event;
  }

  Json expect_event(const std::string& name) {
    for (;;) {
      auto e = next_event();
      if (e.value("event", "") == name || e.value("event", "") == "_eof_or_timeout") return e;
    }
  }

  // Exit status, or nullopt when it is still running after `timeout`.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout = kWait) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        exited_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(10ms);
    }
    return std::nullopt;
  }

 private:
  pid_t pid_ = -1;
  int stdin_ = -1;
  int stdout_ = -1;
  bool exited_ = false;
  std::string buffer_;
};

std::vector<std::string> agent_args(const std::string& server, std::vector<std::string> extra) {
  std::vector<std::string> args = {
      SWITCHBOARD_CLI_PATH, "agent", "--server", server, "--call", "c1", "--user", "alice"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

// Before joining: a key file the agent cannot use is an error event and exit status 2,
// never a call without encryption.
TEST(AgentProcess, AnUnusableE2eeKeyFileFailsClearlyBeforeJoining) {
  Child agent(agent_args("ws://127.0.0.1:9", {"--dev", "--e2ee-key-file", "/dev/null"}));
  ASSERT_TRUE(agent.started());
  const auto e = agent.next_event();
  EXPECT_EQ(e.value("event", ""), "error");
  EXPECT_EQ(e.value("code", ""), "INVALID_ARGUMENT");
  EXPECT_EQ(e.value("message", "").rfind("--e2ee-key-file: ", 0), 0u) << e.dump();
  EXPECT_NE(e.value("message", "").find("/dev/null"), std::string::npos) << e.dump();
  const auto status = agent.wait_exit();
  ASSERT_TRUE(status);
  EXPECT_EQ(*status, 2);
}

TEST(AgentProcess, NoTokenAndNoDevIsAnErrorEvent) {
  Child agent(agent_args("ws://127.0.0.1:9", {}));
  const auto e = agent.next_event();
  EXPECT_EQ(e.value("event", ""), "error");
  EXPECT_EQ(e.value("code", ""), "INVALID_ARGUMENT");
  const auto status = agent.wait_exit();
  ASSERT_TRUE(status);
  EXPECT_NE(*status, 0);
}

TEST(AgentProcess, UnreachableServerIsAnErrorEventAndANonZeroExit) {
  // Port 9 (discard) on loopback: nothing listens there in the test environment.
  Child agent(agent_args("ws://127.0.0.1:9", {"--dev"}));
  const auto e = agent.next_event();
  EXPECT_EQ(e.value("event", ""), "error");
  EXPECT_EQ(e.value("code", ""), "NOT_CONNECTED");
  const auto status = agent.wait_exit();
  ASSERT_TRUE(status);
  EXPECT_NE(*status, 0);
}

#ifdef SWITCHBOARD_SERVER_PATH
// A dev server on a free port, stopped with the test.
class ServerFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<Child>(
        std::vector<std::string>{SWITCHBOARD_SERVER_PATH, "--dev", "--port", "0"});
    ASSERT_TRUE(server_->started());
    const auto line = server_->read_line();
    ASSERT_TRUE(line) << "the server printed no listening line";
    const auto at = line->find("listening on ");
    ASSERT_NE(at, std::string::npos) << *line;
    const auto begin = at + 13;
    url_ = "ws://" + line->substr(begin, line->find(' ', begin) - begin);
  }
  std::unique_ptr<Child> server_;
  std::string url_;
};

using AgentAgainstServer = ServerFixture;

TEST_F(AgentAgainstServer, BadLinesAreAnsweredWithInvalidArgumentAndTheAgentKeepsRunning) {
  Child agent(agent_args(url_, {"--dev", "--p2p", "off"}));
  ASSERT_EQ(agent.expect_event("joined").value("user", ""), "alice");
  for (const std::string line :
       {"{not json", R"({"op":"fly","req":"a"})", R"({"op":"send","req":"b"})",
        R"({"op":"send","channelId":"x","text":"t","req":"c"})",
        R"({"op":"send","channelId":5,"base64":"%%%%","req":"d"})"}) {
    agent.write_line(line);
    const auto e = agent.next_event();
    EXPECT_EQ(e.value("event", ""), "error") << line;
    EXPECT_EQ(e.value("code", ""), "INVALID_ARGUMENT") << line;
  }
  // Still alive and answering.
  agent.write_line(R"({"op":"create_sender","req":"s","channelId":10000})");
  const auto created = agent.expect_event("sender_created");
  EXPECT_EQ(created.value("req", ""), "s");
  EXPECT_EQ(created.value("channelId", 0), 10000);
  agent.write_line(R"({"op":"participants","req":"p"})");
  const auto roster = agent.expect_event("participants");
  EXPECT_EQ(roster.value("req", ""), "p");
  EXPECT_TRUE(roster["participants"].is_array());
}

TEST_F(AgentAgainstServer, EndOfInputLeavesAndExitsZero) {
  Child agent(agent_args(url_, {"--dev"}));
  agent.expect_event("joined");
  agent.close_stdin();
  EXPECT_EQ(agent.expect_event("left").value("event", ""), "left");
  EXPECT_EQ(agent.wait_exit(), std::optional<int>(0));
}

TEST_F(AgentAgainstServer, BinaryMessagesCarryBase64OnlyAndTextCarriesBoth) {
  Child alice(agent_args(url_, {"--dev", "--p2p", "off"}));
  alice.expect_event("joined");
  Child bob({SWITCHBOARD_CLI_PATH, "agent", "--server", url_, "--call", "c1", "--user", "bob",
             "--dev", "--p2p", "off"});
  bob.expect_event("joined");
  alice.expect_event("participant_joined");
  alice.write_line(R"({"op":"create_sender","channelId":7})");
  alice.expect_event("sender_created");
  alice.write_line(R"({"op":"send","channelId":7,"base64":"/wA="})");
  alice.write_line(R"({"op":"send","channelId":7,"text":"hé"})");
  const auto created = bob.next_event();
  EXPECT_EQ(created.value("event", ""), "receiver_created") << "before the first message";
  EXPECT_EQ(created.value("from", ""), "alice");
  const auto binary = bob.expect_event("message");
  EXPECT_EQ(binary.value("base64", ""), "/wA=");
  EXPECT_EQ(binary.value("size", 0), 2);
  EXPECT_FALSE(binary.contains("text"));
  const auto text = bob.expect_event("message");
  EXPECT_EQ(text.value("text", ""), "hé");
  EXPECT_EQ(text.value("sequenceNumber", 0), 2);
}
// Reads lines until one contains `text` (or the output ends).
std::optional<std::string> line_with(Child& child, const std::string& text) {
  while (auto line = child.read_line()) {
    if (line->find(text) != std::string::npos) return line;
  }
  return std::nullopt;
}

TEST_F(AgentAgainstServer, ChatPrintsMessagesWithSenderAndSequenceNumberAndArrivals) {
  auto chat = [&](const std::string& user) {
    return std::make_unique<Child>(std::vector<std::string>{
        SWITCHBOARD_CLI_PATH, "chat", "--server", url_, "--call", "chat", "--user", user, "--dev"});
  };
  auto alice = chat("alice");
  ASSERT_TRUE(line_with(*alice, "* joined chat as alice"));
  auto bob = chat("bob");
  ASSERT_TRUE(line_with(*bob, "* joined chat as bob"));
  EXPECT_EQ(line_with(*alice, "joined"), std::optional<std::string>("* bob joined"));
  bob->write_line("hi alice");
  bob->write_line("/to nobody-here");
  bob->write_line("lost");
  bob->write_line("/all");
  bob->write_line("still there?");
  EXPECT_EQ(line_with(*alice, "[bob"), std::optional<std::string>("[bob #1] hi alice"));
  // The line for an absent recipient is refused (NO_VALID_PARTICIPANT) and never reaches
  // alice: the next one she sees is the one sent after /all.
  const auto next = line_with(*alice, "[bob");
  ASSERT_TRUE(next);
  EXPECT_NE(next->find("] still there?"), std::string::npos) << *next;
  bob->write_line("/quit");
  EXPECT_EQ(bob->wait_exit(), std::optional<int>(0));
  EXPECT_EQ(line_with(*alice, "left"), std::optional<std::string>("* bob left"));
}
#endif

}  // namespace
