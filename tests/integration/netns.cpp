#include "netns.hpp"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <unistd.h>

namespace switchboard::integration {

std::optional<Namespaces> namespaces_from_environment() {
  const char* a = std::getenv("SWITCHBOARD_NETNS_A");
  const char* b = std::getenv("SWITCHBOARD_NETNS_B");
  const char* ip = std::getenv("SWITCHBOARD_NETNS_SERVICE_IP");
  if (a == nullptr || b == nullptr || ip == nullptr) return std::nullopt;
  const char* forward = std::getenv("SWITCHBOARD_NETNS_FORWARD");
  return Namespaces{a, b, ip, forward != nullptr && std::string(forward) == "1"};
}

std::string find_ip() {
  for (const char* path : {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"}) {
    if (::access(path, X_OK) == 0) return path;
  }
  throw HarnessError("no ip command (iproute2)");
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void apply_nft(const std::string& name, const std::string& ruleset) {
  std::string nft;
  for (const char* path : {"/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft"}) {
    if (::access(path, X_OK) == 0) nft = path;
  }
  if (nft.empty()) throw HarnessError("no nft command (nftables)");
  const std::string file = write_test_file(name + ".nft", ruleset);
  const std::string log = test_log_dir() + "/" + name + ".log";
  Process process({nft, "-f", file}, log);
  process.close_stdin();
  const auto status = process.wait_exit(Clock::now() + kWait);
  if (status != 0) throw HarnessError("nft -f " + file + " failed: " + read_text(log));
}

NetnsCall::NetnsCall(const Namespaces& ns, std::vector<std::string> extra_flags)
    : secret_file(write_test_file("secret", "switchboard-p2p-integration-secret")),
      server([&] {
        Server::Options options{.flags = {"--bind", ns.service_ip, "--secret-file", secret_file},
                                .dev = false};
        options.flags.insert(options.flags.end(), extra_flags.begin(), extra_flags.end());
        return options;
      }()),
      call(unique_call_id()) {}

std::unique_ptr<Agent> NetnsCall::join(const std::string& ns, const std::string& user, bool p2p,
                                       std::vector<std::string> extra_args) {
  const RunResult token =
      run_cli({"token", "--user", user, "--call", call, "--secret-file", secret_file});
  if (token.status != 0) throw HarnessError("switchboard token failed: " + token.out);
  auto agent = std::make_unique<Agent>(server, Agent::Options{.call = call,
                                                              .user = user,
                                                              .token = token.out,
                                                              .extra_args = std::move(extra_args),
                                                              .p2p = p2p,
                                                              .launcher = {find_ip(), "netns",
                                                                           "exec", ns}});
  agent->expect_joined();
  return agent;
}

}  // namespace switchboard::integration
