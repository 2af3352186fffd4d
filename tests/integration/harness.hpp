#pragma once

// Test harness for the end-to-end tests: real `switchboard-server` and `switchboard agent`
// processes on loopback, driven through the agent's JSON-lines contract
// (shared/agent-protocol.md).
//
// Every wait is bounded. A failed wait throws HarnessError, which GoogleTest reports as a
// failure of the test with the message (what was awaited, what arrived instead).

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/types.h>

namespace switchboard::integration {

using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// The default bound of every wait.
inline constexpr std::chrono::milliseconds kWait = 10s;

class HarnessError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Paths of the programs under test (compile definitions set by CMake).
std::string server_program();
std::string cli_program();

// The log directory of the running test: <build>/logs/<Suite>.<Test>/ (created).
std::string test_log_dir();
// A call id no other test (or run) uses: <Suite>-<Test>-<pid>-<suffix>.
std::string unique_call_id(std::string_view suffix = {});
// The last `lines` lines of every log of the running test (for failure reports).
std::string log_tails(std::size_t lines);

// A child process started with posix_spawn: stdin and stdout are pipes, stderr goes to
// `stderr_log`. A reader thread drains stdout into a queue of lines (unless paused), so
// the child never blocks on a full pipe unless a test asks for it. The destructor sends
// SIGTERM, then SIGKILL after 3 s, and reaps the child.
class Process {
 public:
  struct Line {
    Clock::time_point received;
    std::string text;
  };

  Process(std::vector<std::string> argv, const std::string& stderr_log);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  const std::string& name() const { return name_; }

  // Writes all of `data` to the child's stdin; false if the child closed it or the
  // deadline passed first.
  bool write(std::string_view data, Clock::time_point deadline);
  void close_stdin();

  // The next line of stdout (without '\n'); nullopt once the deadline passes or stdout
  // has ended with no line left.
  std::optional<Line> read_line(Clock::time_point deadline);
  // True once stdout ended and every line was read.
  bool drained();

  // Stops (true) or resumes (false) reading the child's stdout: once the pipe is full the
  // child blocks on its next write.
  void pause_reading(bool paused);
  // Discards further lines instead of queueing them.
  void discard_output();

  // The exit status (128+signal when killed) once the child exited before the deadline.
  std::optional<int> wait_exit(Clock::time_point deadline);
  // SIGTERM, SIGKILL after 3 s; returns the exit status.
  int terminate();
  // Sends `signal` (e.g. SIGKILL) and, for SIGKILL, waits until the child is reaped.
  void kill(int signal);

 private:
  void read_loop();
  bool reap(bool block);

  std::string name_;
  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  int stdout_fd_ = -1;
  std::optional<int> status_;

  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Line> lines_;
  bool eof_ = false;
  bool paused_ = false;
  bool discard_ = false;
  bool stop_ = false;
  std::thread reader_;
};

// `switchboard-server --port 0 [--dev] FLAGS...`, ready once it printed its port.
class Server {
 public:
  struct Options {
    std::vector<std::string> flags;
    bool dev = true;
    // 0: any free port.
    std::uint16_t port = 0;
  };
  Server();
  explicit Server(Options options);

  std::uint16_t port() const { return port_; }
  // The address it listens on, as it printed it (127.0.0.1 unless --bind said otherwise).
  const std::string& host() const { return host_; }
  // ws://HOST:PORT (ws://127.0.0.1:PORT by default); wss:// when it speaks TLS.
  std::string url() const;
  Process& process() { return *process_; }

 private:
  std::unique_ptr<Process> process_;
  std::string host_;
  std::uint16_t port_ = 0;
  bool tls_ = false;
};

// One `switchboard agent` process: one participant of one call.
class Agent {
 public:
  struct Options {
    std::string call;
    std::string user;
    // Empty: --dev (a development token minted by the agent).
    std::string token;
    std::vector<std::string> extra_args;
    // false: --p2p off (every message through the server, what the routing tests are
    // about); true: --p2p auto.
    bool p2p = false;
    // Put before the program, e.g. {"ip", "netns", "exec", NAME} to run it in a namespace.
    std::vector<std::string> launcher;
  };
  Agent(const Server& server, Options options);
  Agent(const Server& server, const std::string& call, const std::string& user);

  const std::string& user() const { return options_.user; }
  const std::string& call() const { return options_.call; }
  Process& process() { return *process_; }

  // Writes one command line; gives it a fresh "req" unless it has one. Returns the req.
  std::string write_command(Json command);
  // The event that answers `req` (sender_created, sent, error, ...).
  Json answer(const std::string& req, std::chrono::milliseconds timeout = kWait);
  // write_command + answer.
  Json command(Json command, std::chrono::milliseconds timeout = kWait);
  // Sends `base64` on `channel`, again while the SDK answers BUFFER_FULL (its flow
  // control) for up to `timeout`. The sequence number; nullopt with `why` set otherwise.
  std::optional<std::uint32_t> send_retrying(std::uint16_t channel, const std::string& base64,
                                             std::string& why,
                                             std::chrono::milliseconds timeout = kWait);

  // The first event, in arrival order, that satisfies `predicate`; events passed over stay
  // queued, in order, for later calls. Throws HarnessError (naming `what` and the events
  // seen) when none arrives within `timeout` or the agent's output ended.
  Json expect(const std::string& what, const std::function<bool(const Json&)>& predicate,
              std::chrono::milliseconds timeout = kWait);
  // Like expect, but nullopt instead of throwing.
  std::optional<Json> next(const std::function<bool(const Json&)>& predicate,
                           std::chrono::milliseconds timeout);
  // Removes and returns every already received event satisfying `predicate` (no waiting).
  std::vector<Json> take_received(const std::function<bool(const Json&)>& predicate);

  // The `joined` event (waits for it).
  Json expect_joined(std::chrono::milliseconds timeout = 20s);
  // Waits until this agent knows every user of `users` (other than itself) as present.
  void expect_roster(const std::set<std::string>& users, std::chrono::milliseconds timeout = kWait);
  // The users this agent has seen join and not leave so far.
  const std::set<std::string>& roster() const { return roster_; }

  // Convenience wrappers that throw HarnessError when the answer is not the expected one.
  std::uint16_t create_sender(Json options = Json::object());
  void set_participants(std::uint16_t channel, const std::vector<std::string>& users);
  std::uint32_t send_text(std::uint16_t channel, const std::string& text);
  std::uint32_t send_bytes(std::uint16_t channel, const std::string& bytes);

  // The next `message` event from `from` on `channel`.
  Json expect_message(const std::string& from, std::uint16_t channel,
                      std::chrono::milliseconds timeout = kWait);

  // Every event received so far and still queued (for diagnostics).
  std::string describe_pending(std::size_t max_events = 12) const;

 private:
  // Parses one line into the queue; false once output ended or the deadline passed.
  bool pull(Clock::time_point deadline);
  void track_roster(const Json& event);

  Options options_;
  std::unique_ptr<Process> process_;
  std::deque<Json> pending_;
  std::set<std::string> roster_;
  std::uint64_t next_req_ = 1;
};

// Starts one agent per user in `call` and waits until each joined and knows all others.
std::vector<std::unique_ptr<Agent>> join_call(const Server& server, const std::string& call,
                                              const std::vector<std::string>& users);

// Runs `switchboard ARGS...` to completion (bounded); returns stdout and the exit status.
struct RunResult {
  int status = -1;
  std::string out;
};
RunResult run_cli(const std::vector<std::string>& args, std::chrono::milliseconds timeout = kWait);

// GET http://127.0.0.1:PORT/PATH (HTTP/1.0): the status code and the body; nullopt when the
// server does not answer within the timeout.
struct HttpResponse {
  int status = 0;
  std::string body;
};
std::optional<HttpResponse> http_get(std::uint16_t port, const std::string& path,
                                     std::chrono::milliseconds timeout = kWait);
// The same to http://HOST:PORT/PATH (HOST an IPv4 address).
std::optional<HttpResponse> http_get(const std::string& host, std::uint16_t port,
                                     const std::string& path,
                                     std::chrono::milliseconds timeout = kWait);

// Writes `contents` to a fresh file in the test's log directory; returns its path.
std::string write_test_file(const std::string& name, std::string_view contents);

// RFC 4648 section 4 base64 with padding, as the agent prints it.
std::string base64_encode(std::string_view bytes);
// Deterministic pseudo-random bytes.
std::string random_bytes(std::size_t size, std::uint32_t seed);

// Predicates on events.
std::function<bool(const Json&)> is_event(std::string name);
std::function<bool(const Json&)> is_message_from(std::string from, std::uint16_t channel);
std::function<bool(const Json&)> is_error(std::string code);

// The event's milliseconds (steady clock) of arrival, stored in "_rx" by the harness.
Clock::time_point received_at(const Json& event);

// Base fixture: on failure, prints the tail of every process log of the test.
class IntegrationTest : public ::testing::Test {
 protected:
  void TearDown() override;
};

}  // namespace switchboard::integration
