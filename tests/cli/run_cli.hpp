#pragma once

// Runs the `switchboard` program under test through the shell, as a user would.

#include <array>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include <unistd.h>

#include <sys/wait.h>

namespace switchboard::cli {

struct CliRun {
  int status = -1;  // exit status, -1 when it did not exit normally
  std::string out;  // stdout without trailing newlines
  std::string err;  // stderr, for failure messages
};

// `switchboard ARGS` with `env` before it on the command line (e.g. "VAR=value").
inline CliRun run_cli(const std::string& args, const std::string& env = "") {
  char err_path[] = "/tmp/switchboard-cli-stderr-XXXXXX";
  const int err_fd = ::mkstemp(err_path);
  if (err_fd >= 0) ::close(err_fd);
  const std::string command = env + " " SWITCHBOARD_CLI_PATH " " + args + " 2>" +
                              (err_fd >= 0 ? std::string(err_path) : std::string("/dev/null"));
  CliRun result;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe != nullptr) {
    std::array<char, 4096> buffer{};
    std::size_t n = 0;
    while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0)
      result.out.append(buffer.data(), n);
    const int status = pclose(pipe);
    result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    while (!result.out.empty() && result.out.back() == '\n') result.out.pop_back();
  }
  if (err_fd >= 0) {
    std::ostringstream text;
    text << std::ifstream(err_path).rdbuf();
    result.err = text.str();
    ::unlink(err_path);
  }
  return result;
}

}  // namespace switchboard::cli
