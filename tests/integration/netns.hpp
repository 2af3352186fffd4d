#pragma once

// Helpers for the end-to-end tests that run inside the namespaces of scripts/p2p-netns
// (peer-to-peer across namespaces, network drops): the namespaces from its environment,
// a server on the service address with agents in the client namespaces, and nftables.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "harness.hpp"

namespace switchboard::integration {

struct Namespaces {
  std::string a;
  std::string b;
  std::string service_ip;
  bool forward = false;  // S forwards between A and B (p2p-netns --forward)
};

// The namespaces scripts/p2p-netns made, from its environment.
std::optional<Namespaces> namespaces_from_environment();

// posix_spawn does not search PATH.
std::string find_ip();

// The whole file (empty when it cannot be read).
std::string read_text(const std::string& path);

// Runs nft (in the test's namespace, S) on `ruleset`; throws unless it succeeds. `name`
// names the ruleset file and log in the test's log directory.
void apply_nft(const std::string& name, const std::string& ruleset);

// A server on the service address that admits tokens signed with a secret of this test
// (--dev only binds loopback), with the given extra flags.
struct NetnsCall {
  NetnsCall(const Namespaces& ns, std::vector<std::string> extra_flags);

  // An agent for `user` in namespace `ns`, with a token for this call (--p2p auto unless
  // `p2p` is false), once it joined.
  std::unique_ptr<Agent> join(const std::string& ns, const std::string& user, bool p2p = true,
                              std::vector<std::string> extra_args = {});

  std::string secret_file;
  Server server;
  std::string call;
};

}  // namespace switchboard::integration
