#include "harness.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <regex>
#include <sstream>

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace switchboard::integration {
namespace {

int remaining_ms(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return static_cast<int>(std::clamp<std::int64_t>(left.count(), 0, 60'000));
}

std::string truncated(const std::string& text, std::size_t max) {
  if (text.size() <= max) return text;
  return text.substr(0, max) + "...(" + std::to_string(text.size()) + " chars)";
}

// <log dir>/<name>, or <name>-2, -3... when a process of this test already used it.
std::string fresh_log_path(const std::string& name) {
  const std::filesystem::path dir = test_log_dir();
  std::filesystem::path path = dir / (name + ".log");
  for (int n = 2; std::filesystem::exists(path); ++n) {
    path = dir / (name + "-" + std::to_string(n) + ".log");
  }
  return path.string();
}

void ignore_sigpipe() {
  static std::once_flag once;
  std::call_once(once, [] { std::signal(SIGPIPE, SIG_IGN); });
}

}  // namespace

// The environment may point the tests at other builds of the programs.
std::string server_program() {
  const char* path = std::getenv("SWITCHBOARD_TEST_SERVER");
  return path != nullptr ? path : SWITCHBOARD_SERVER_PROGRAM;
}
std::string cli_program() {
  const char* path = std::getenv("SWITCHBOARD_TEST_CLI");
  return path != nullptr ? path : SWITCHBOARD_CLI_PROGRAM;
}

std::string test_log_dir() {
  static std::string prepared_for;
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const std::string name =
      info != nullptr ? std::string(info->test_suite_name()) + "." + info->name() : "no-test";
  const std::filesystem::path dir = std::filesystem::path(SWITCHBOARD_INTEGRATION_LOG_DIR) / name;
  if (prepared_for != name) {
    // Logs of an earlier run of the same test go away; this run's stay until the next.
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    prepared_for = name;
  }
  return dir.string();
}

std::string unique_call_id(std::string_view suffix) {
  static int counter = 0;
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string id = info != nullptr ? std::string(info->name()) : "call";
  id += "-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
  if (!suffix.empty()) id += "-" + std::string(suffix);
  return id;
}

std::string log_tails(std::size_t lines) {
  std::ostringstream out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(test_log_dir(), ec)) {
    if (entry.path().extension() != ".log") continue;
    std::ifstream in(entry.path());
    std::deque<std::string> tail;
    for (std::string line; std::getline(in, line);) {
      tail.push_back(truncated(line, 400));
      if (tail.size() > lines) tail.pop_front();
    }
    out << "---- " << entry.path().string() << " (last " << tail.size() << " lines)\n";
    for (const auto& line : tail) out << line << "\n";
  }
  return out.str();
}

// ---------------------------------------------------------------------------- Process

Process::Process(std::vector<std::string> argv, const std::string& stderr_log) {
  ignore_sigpipe();
  name_ = std::filesystem::path(argv.at(0)).filename().string();
  if (argv.size() > 1) name_ += " " + argv[1];

  int in[2];
  int out[2];
  if (::pipe2(in, O_CLOEXEC) != 0) throw HarnessError("pipe2 failed");
  if (::pipe2(out, O_CLOEXEC) != 0) {
    ::close(in[0]);
    ::close(in[1]);
    throw HarnessError("pipe2 failed");
  }

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_addopen(&actions, 2, stderr_log.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                   0644);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // The test ignores SIGPIPE; the child gets the default back, and no blocked signals.
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (auto& arg : argv) args.push_back(arg.data());
  args.push_back(nullptr);
  const int rc = ::posix_spawn(&pid_, argv[0].c_str(), &actions, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(in[0]);
  ::close(out[1]);
  if (rc != 0) {
    ::close(in[1]);
    ::close(out[0]);
    throw HarnessError("cannot start " + argv[0] + ": " + std::strerror(rc));
  }
  stdin_fd_ = in[1];
  stdout_fd_ = out[0];
  ::fcntl(stdin_fd_, F_SETFL, ::fcntl(stdin_fd_, F_GETFL) | O_NONBLOCK);
  ::fcntl(stdout_fd_, F_SETFL, ::fcntl(stdout_fd_, F_GETFL) | O_NONBLOCK);
  reader_ = std::thread([this] { read_loop(); });
}

Process::~Process() {
  close_stdin();
  terminate();
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  reader_.join();
  ::close(stdout_fd_);
}

void Process::read_loop() {
  std::string partial;
  std::vector<char> chunk(std::size_t{64} * 1024);
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      cv_.wait(lock, [&] { return !paused_ || stop_; });
      if (stop_) return;
    }
    pollfd pfd{stdout_fd_, POLLIN, 0};
    const int ready = ::poll(&pfd, 1, 100);
    if (ready <= 0) continue;
    const ssize_t n = ::read(stdout_fd_, chunk.data(), chunk.size());
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    const auto now = Clock::now();
    std::vector<Line> complete;
    if (n > 0) {
      const std::size_t old_size = partial.size();
      partial.append(chunk.data(), static_cast<std::size_t>(n));
      std::size_t start = 0;
      for (std::size_t pos = partial.find('\n', old_size); pos != std::string::npos;
           pos = partial.find('\n', start)) {
        complete.push_back(Line{now, partial.substr(start, pos - start)});
        start = pos + 1;
      }
      partial.erase(0, start);
    }
    std::lock_guard lock(mutex_);
    if (!discard_) {
      for (auto& line : complete) lines_.push_back(std::move(line));
    }
    if (n <= 0) {
      if (!partial.empty() && !discard_) lines_.push_back(Line{now, std::move(partial)});
      eof_ = true;
      cv_.notify_all();
      return;
    }
    if (!complete.empty()) cv_.notify_all();
  }
}

bool Process::write(std::string_view data, Clock::time_point deadline) {
  while (!data.empty()) {
    if (stdin_fd_ < 0) return false;
    const ssize_t n = ::write(stdin_fd_, data.data(), data.size());
    if (n > 0) {
      data.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN) return false;
    const int wait = remaining_ms(deadline);
    if (wait == 0) return false;
    pollfd pfd{stdin_fd_, POLLOUT, 0};
    ::poll(&pfd, 1, wait);
  }
  return true;
}

void Process::close_stdin() {
  if (stdin_fd_ >= 0) {
    ::close(stdin_fd_);
    stdin_fd_ = -1;
  }
}

std::optional<Process::Line> Process::read_line(Clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  cv_.wait_until(lock, deadline, [&] { return !lines_.empty() || eof_; });
  if (lines_.empty()) return std::nullopt;
  Line line = std::move(lines_.front());
  lines_.pop_front();
  return line;
}

bool Process::drained() {
  std::lock_guard lock(mutex_);
  return eof_ && lines_.empty();
}

void Process::pause_reading(bool paused) {
  {
    std::lock_guard lock(mutex_);
    paused_ = paused;
  }
  cv_.notify_all();
}

void Process::discard_output() {
  std::lock_guard lock(mutex_);
  discard_ = true;
  lines_.clear();
}

bool Process::reap(bool block) {
  if (status_) return true;
  int status = 0;
  const pid_t r = ::waitpid(pid_, &status, block ? 0 : WNOHANG);
  if (r == pid_) {
    status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return true;
  }
  if (r < 0 && errno != EINTR) {
    status_ = -1;
    return true;
  }
  return false;
}

std::optional<int> Process::wait_exit(Clock::time_point deadline) {
  for (;;) {
    if (reap(false)) return status_;
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(10ms);
  }
}

int Process::terminate() {
  if (!reap(false)) {
    ::kill(pid_, SIGTERM);
    if (!wait_exit(Clock::now() + 3s)) {
      ::kill(pid_, SIGKILL);
      while (!reap(true)) {
      }
    }
  }
  return *status_;
}

void Process::kill(int signal) {
  if (reap(false)) return;
  ::kill(pid_, signal);
  if (signal == SIGKILL) {
    while (!reap(true)) {
    }
  }
}

// ---------------------------------------------------------------------------- Server

Server::Server() : Server(Options{}) {}

Server::Server(Options options) {
  std::vector<std::string> argv = {server_program(), "--port", std::to_string(options.port)};
  if (options.dev) argv.emplace_back("--dev");
  argv.insert(argv.end(), options.flags.begin(), options.flags.end());
  const std::string log = fresh_log_path("server");
  process_ = std::make_unique<Process>(argv, log);

  static const std::regex ready(
      R"(switchboard-server listening on ([^ ]+):(\d+) \((tcp|tls)\+udp\))");
  const auto deadline = Clock::now() + kWait;
  while (auto line = process_->read_line(deadline)) {
    std::smatch match;
    if (std::regex_search(line->text, match, ready)) {
      host_ = match[1].str();
      port_ = static_cast<std::uint16_t>(std::stoul(match[2].str()));
      tls_ = match[3].str() == "tls";
      break;
    }
  }
  if (port_ == 0) {
    std::string why = "switchboard-server did not say it was listening within 10 s";
    if (auto status = process_->wait_exit(Clock::now())) {
      why += " (exited with status " + std::to_string(*status) + ")";
    }
    throw HarnessError(why + "; see " + log);
  }
  // Nobody reads the server's stdout from here on; keep draining it.
  process_->discard_output();
}

std::string Server::url() const {
  return (tls_ ? "wss://" : "ws://") + host_ + ":" + std::to_string(port_);
}

// ---------------------------------------------------------------------------- Agent

Agent::Agent(const Server& server, const std::string& call, const std::string& user)
    : Agent(server, Options{.call = call, .user = user}) {}

Agent::Agent(const Server& server, Options options) : options_(std::move(options)) {
  std::vector<std::string> argv = options_.launcher;
  const std::vector<std::string> agent = {cli_program(), "agent",       "--server", server.url(),
                                          "--call",      options_.call, "--user",   options_.user};
  argv.insert(argv.end(), agent.begin(), agent.end());
  if (options_.token.empty()) {
    argv.emplace_back("--dev");
  } else {
    argv.emplace_back("--token");
    argv.push_back(options_.token);
  }
  argv.emplace_back("--p2p");
  argv.emplace_back(options_.p2p ? "auto" : "off");
  argv.insert(argv.end(), options_.extra_args.begin(), options_.extra_args.end());
  process_ = std::make_unique<Process>(argv, fresh_log_path("agent-" + options_.user));
}

std::string Agent::write_command(Json command) {
  if (!command.contains("req")) command["req"] = "r" + std::to_string(next_req_++);
  std::string req = command["req"].get<std::string>();
  std::string line = command.dump();
  line += '\n';
  if (!process_->write(line, Clock::now() + kWait)) {
    throw HarnessError(options_.user + ": cannot write command " + truncated(command.dump(), 200) +
                       " (agent gone or not reading stdin)");
  }
  return req;
}

Json Agent::answer(const std::string& req, std::chrono::milliseconds timeout) {
  return expect(
      "answer to req " + req, [&](const Json& e) { return e.contains("req") && e["req"] == req; },
      timeout);
}

Json Agent::command(Json command, std::chrono::milliseconds timeout) {
  return answer(write_command(std::move(command)), timeout);
}

std::optional<std::uint32_t> Agent::send_retrying(std::uint16_t channel, const std::string& base64,
                                                  std::string& why,
                                                  std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    const Json answer = command({{"op", "send"}, {"channelId", channel}, {"base64", base64}});
    if (answer.value("event", "") == "sent")
      return answer.at("sequenceNumber").get<std::uint32_t>();
    if (answer.value("code", "") != "BUFFER_FULL") {
      why = answer.dump();
      return std::nullopt;
    }
    if (Clock::now() > deadline) {
      why = "stayed BUFFER_FULL for " + std::to_string(timeout.count()) + " ms";
      return std::nullopt;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

bool Agent::pull(Clock::time_point deadline) {
  auto line = process_->read_line(deadline);
  if (!line) return false;
  Json event = Json::parse(line->text, nullptr, false);
  if (event.is_discarded() || !event.is_object()) {
    // stdout carries only events: anything else is a contract violation a test will see.
    event = Json{{"event", "_not_json"}, {"line", truncated(line->text, 200)}};
  }
  track_roster(event);
  event["_rx"] = line->received.time_since_epoch().count();
  pending_.push_back(std::move(event));
  return true;
}

void Agent::track_roster(const Json& event) {
  const std::string name = event.value("event", "");
  if (name == "joined" && event.contains("participants") && event["participants"].is_array()) {
    for (const auto& p : event["participants"]) {
      if (p.is_object() && p.contains("user")) roster_.insert(p["user"].get<std::string>());
    }
  } else if (name == "participant_joined" && event.contains("user")) {
    roster_.insert(event["user"].get<std::string>());
  } else if (name == "participant_left" && event.contains("user")) {
    roster_.erase(event["user"].get<std::string>());
  }
}

std::optional<Json> Agent::next(const std::function<bool(const Json&)>& predicate,
                                std::chrono::milliseconds timeout) {
  for (auto it = pending_.begin(); it != pending_.end(); ++it) {
    if (predicate(*it)) {
      Json found = std::move(*it);
      pending_.erase(it);
      return found;
    }
  }
  const auto deadline = Clock::now() + timeout;
  while (pull(deadline)) {
    if (predicate(pending_.back())) {
      Json found = std::move(pending_.back());
      pending_.pop_back();
      return found;
    }
  }
  return std::nullopt;
}

Json Agent::expect(const std::string& what, const std::function<bool(const Json&)>& predicate,
                   std::chrono::milliseconds timeout) {
  if (auto found = next(predicate, timeout)) return std::move(*found);
  std::string why = options_.user + " (call " + options_.call + "): no " + what + " within " +
                    std::to_string(timeout.count()) + " ms";
  if (process_->drained()) {
    why += "; its output ended";
    if (auto status = process_->wait_exit(Clock::now() + 1s)) {
      why += " (exit status " + std::to_string(*status) + ")";
    }
  }
  throw HarnessError(why + "; " + describe_pending());
}

std::vector<Json> Agent::take_received(const std::function<bool(const Json&)>& predicate) {
  // Whatever already sits in the pipe counts as received too.
  while (pull(Clock::now())) {
  }
  std::vector<Json> taken;
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (predicate(*it)) {
      taken.push_back(std::move(*it));
      it = pending_.erase(it);
    } else {
      ++it;
    }
  }
  return taken;
}

Json Agent::expect_joined(std::chrono::milliseconds timeout) {
  return expect("joined event", is_event("joined"), timeout);
}

void Agent::expect_roster(const std::set<std::string>& users, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  auto complete = [&] {
    return std::all_of(users.begin(), users.end(), [&](const std::string& u) {
      return u == options_.user || roster_.count(u) > 0;
    });
  };
  while (!complete()) {
    if (!pull(deadline)) {
      std::string known;
      for (const auto& u : roster_) known += u + " ";
      throw HarnessError(options_.user + ": does not see every participant within " +
                         std::to_string(timeout.count()) + " ms; knows: " + known + "; " +
                         describe_pending());
    }
  }
}

std::uint16_t Agent::create_sender(Json options) {
  options["op"] = "create_sender";
  const Json answer = command(options);
  if (answer.value("event", "") != "sender_created" || !answer.contains("channelId")) {
    throw HarnessError(options_.user + ": create_sender " + options.dump() + " answered " +
                       answer.dump());
  }
  return answer["channelId"].get<std::uint16_t>();
}

void Agent::set_participants(std::uint16_t channel, const std::vector<std::string>& users) {
  const Json answer =
      command({{"op", "set_participants"}, {"channelId", channel}, {"participants", users}});
  if (answer.value("event", "") != "participants_set") {
    throw HarnessError(options_.user + ": set_participants answered " + answer.dump());
  }
}

std::uint32_t Agent::send_text(std::uint16_t channel, const std::string& text) {
  const Json answer = command({{"op", "send"}, {"channelId", channel}, {"text", text}});
  if (answer.value("event", "") != "sent" || !answer.contains("sequenceNumber")) {
    throw HarnessError(options_.user + ": send of \"" + truncated(text, 40) + "\" answered " +
                       answer.dump());
  }
  return answer["sequenceNumber"].get<std::uint32_t>();
}

std::uint32_t Agent::send_bytes(std::uint16_t channel, const std::string& bytes) {
  const Json answer =
      command({{"op", "send"}, {"channelId", channel}, {"base64", base64_encode(bytes)}});
  if (answer.value("event", "") != "sent" || !answer.contains("sequenceNumber")) {
    throw HarnessError(options_.user + ": send of " + std::to_string(bytes.size()) +
                       " bytes answered " + truncated(answer.dump(), 300));
  }
  return answer["sequenceNumber"].get<std::uint32_t>();
}

Json Agent::expect_message(const std::string& from, std::uint16_t channel,
                           std::chrono::milliseconds timeout) {
  return expect("message from " + from + " on channel " + std::to_string(channel),
                is_message_from(from, channel), timeout);
}

std::string Agent::describe_pending(std::size_t max_events) const {
  std::string text = std::to_string(pending_.size()) + " events queued";
  if (pending_.empty()) return text;
  text += ", the last ones:";
  const std::size_t first = pending_.size() > max_events ? pending_.size() - max_events : 0;
  for (std::size_t i = first; i < pending_.size(); ++i) {
    Json shown = pending_[i];
    shown.erase("_rx");
    text += "\n  " + truncated(shown.dump(), 300);
  }
  return text;
}

std::vector<std::unique_ptr<Agent>> join_call(const Server& server, const std::string& call,
                                              const std::vector<std::string>& users) {
  std::vector<std::unique_ptr<Agent>> agents;
  agents.reserve(users.size());
  for (const auto& user : users) agents.push_back(std::make_unique<Agent>(server, call, user));
  const std::set<std::string> everyone(users.begin(), users.end());
  for (auto& agent : agents) agent->expect_joined();
  for (auto& agent : agents) agent->expect_roster(everyone);
  return agents;
}

// ---------------------------------------------------------------------------- helpers

RunResult run_cli(const std::vector<std::string>& args, std::chrono::milliseconds timeout) {
  std::vector<std::string> argv = {cli_program()};
  argv.insert(argv.end(), args.begin(), args.end());
  Process process(argv, fresh_log_path("cli"));
  process.close_stdin();
  const auto deadline = Clock::now() + timeout;
  RunResult result;
  while (auto line = process.read_line(deadline)) {
    if (!result.out.empty()) result.out += '\n';
    result.out += line->text;
  }
  auto status = process.wait_exit(deadline);
  if (!status) throw HarnessError("switchboard " + (args.empty() ? "" : args[0]) + " hung");
  result.status = *status;
  return result;
}

std::optional<HttpResponse> http_get(std::uint16_t port, const std::string& path,
                                     std::chrono::milliseconds timeout) {
  return http_get("127.0.0.1", port, path, timeout);
}

std::optional<HttpResponse> http_get(const std::string& host, std::uint16_t port,
                                     const std::string& path, std::chrono::milliseconds timeout) {
  in_addr address{};
  if (::inet_pton(AF_INET, host.c_str(), &address) != 1) return std::nullopt;
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>(timeout.count() % 1000 * 1000);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr = address;
  std::string response;
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0) {
    const std::string request =
        "GET " + path + " HTTP/1.0\r\nHost: " + host + "\r\nConnection: close\r\n\r\n";
    if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
        static_cast<ssize_t>(request.size())) {
      char buffer[4096];
      for (ssize_t n; (n = ::recv(fd, buffer, sizeof buffer, 0)) > 0;) {
        response.append(buffer, static_cast<std::size_t>(n));
      }
    }
  }
  ::close(fd);
  // "HTTP/1.x NNN reason\r\n...headers...\r\n\r\nbody"
  const auto header_end = response.find("\r\n\r\n");
  if (response.rfind("HTTP/1.", 0) != 0 || response.size() < 12 ||
      header_end == std::string::npos) {
    return std::nullopt;
  }
  return HttpResponse{std::stoi(response.substr(9, 3)), response.substr(header_end + 4)};
}

std::string write_test_file(const std::string& name, std::string_view contents) {
  std::string path = (std::filesystem::path(test_log_dir()) / name).string();
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
  out.close();
  ::chmod(path.c_str(), 0600);
  return path;
}

std::string base64_encode(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  auto byte = [&](std::size_t k) {
    return static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[k]));
  };
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t v = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
    out += kAlphabet[v >> 18 & 63];
    out += kAlphabet[v >> 12 & 63];
    out += kAlphabet[v >> 6 & 63];
    out += kAlphabet[v & 63];
  }
  if (const std::size_t rest = bytes.size() - i; rest > 0) {
    std::uint32_t v = byte(i) << 16;
    if (rest == 2) v |= byte(i + 1) << 8;
    out += kAlphabet[v >> 18 & 63];
    out += kAlphabet[v >> 12 & 63];
    out += rest == 2 ? kAlphabet[v >> 6 & 63] : '=';
    out += '=';
  }
  return out;
}

std::string random_bytes(std::size_t size, std::uint32_t seed) {
  std::mt19937 engine(seed);
  std::string out(size, '\0');
  for (auto& c : out) c = static_cast<char>(engine() & 0xff);
  return out;
}

std::function<bool(const Json&)> is_event(std::string name) {
  return [name = std::move(name)](const Json& e) { return e.value("event", "") == name; };
}

std::function<bool(const Json&)> is_message_from(std::string from, std::uint16_t channel) {
  return [from = std::move(from), channel](const Json& e) {
    return e.value("event", "") == "message" && e.value("from", "") == from &&
           e.value("channelId", -1) == static_cast<int>(channel);
  };
}

std::function<bool(const Json&)> is_error(std::string code) {
  return [code = std::move(code)](const Json& e) {
    return e.value("event", "") == "error" && e.value("code", "") == code;
  };
}

void IntegrationTest::TearDown() {
  if (HasFailure()) std::cerr << "logs of " << test_log_dir() << ":\n" << log_tails(40);
}

Clock::time_point received_at(const Json& event) {
  return Clock::time_point(Clock::duration(event.at("_rx").get<Clock::duration::rep>()));
}

}  // namespace switchboard::integration
