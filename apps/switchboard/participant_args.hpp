#pragma once

// The options every command that joins a call shares: where, which call, who, and how it
// is admitted.

#include <memory>
#include <string>

#include <CLI/CLI.hpp>

namespace switchboard::cli {

struct ParticipantArgs {
  std::string server;
  std::string call;
  std::string user;
  std::string token;
  bool dev = false;
  std::string display_name;
  std::string ca_file;
};

inline void add_participant_options(CLI::App& cmd, ParticipantArgs& args) {
  cmd.add_option("--server", args.server,
                 "Server base URL, e.g. ws://127.0.0.1:8480 or wss://host (TLS)")
      ->required();
  cmd.add_option("--call", args.call, "Call id")->required();
  cmd.add_option("--user", args.user, "Participant identity")->required();
  auto* token = cmd.add_option("--token", args.token, "Access token (see `switchboard token`)");
  cmd.add_flag("--dev", args.dev,
               "Mint a one-hour token with the development secret (server run with --dev)")
      ->excludes(token);
  cmd.add_option("--display-name", args.display_name, "Display name shown to the others");
  cmd.add_option("--ca-file", args.ca_file,
                 "wss://: trust only the certificate authorities in this PEM file (default: the "
                 "system's)");
}

}  // namespace switchboard::cli
