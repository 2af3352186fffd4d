// `switchboard token`: mints an access token (docs/protocol.md, "Access tokens").
#include <iostream>
#include <string>

#include "commands.hpp"
#include "credentials.hpp"

namespace switchboard::cli {
namespace {

struct TokenArgs {
  std::string user;
  std::string call;
  std::string name;
  std::string ttl = "1h";
  bool dev = false;
  std::string secret_file;
};

int run_token(const TokenArgs& args) {
  const auto ttl = parse_ttl(args.ttl);
  if (!ttl) {
    std::cerr << "switchboard token: " << ttl.error().message << "\n";
    return 2;
  }
  const auto secret = resolve_secret(args.dev, args.secret_file);
  if (!secret) {
    std::cerr << "switchboard token: " << secret.error().message << "\n";
    return 2;
  }
  const auto token = mint_access_token(args.user, args.call, args.name, *ttl, *secret, unix_now());
  if (!token) {
    std::cerr << "switchboard token: " << token.error().message << "\n";
    return 2;
  }
  std::cout << *token << "\n";
  return 0;
}

}  // namespace

void add_token_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<TokenArgs>();
  auto* cmd = app.add_subcommand("token", "Mint an access token for one participant");
  cmd->add_option("--user", args->user, "Participant identity (the token's sub)")->required();
  cmd->add_option("--call", args->call, "Call id, or * for any call")->required();
  cmd->add_option("--name", args->name, "Display name");
  cmd->add_option("--ttl", args->ttl, "Lifetime: 1h, 30m, 3600s")->capture_default_str();
  auto* dev = cmd->add_flag("--dev", args->dev, "Sign with the development secret");
  cmd->add_option("--secret-file", args->secret_file,
                  "Sign with the secret in FILE (default: $SWITCHBOARD_SECRET)")
      ->excludes(dev);
  cmd->callback([args, &exit_code] { exit_code = run_token(*args); });
}

}  // namespace switchboard::cli
