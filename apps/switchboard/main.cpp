// `switchboard`: the command-line participant. Subcommands live in their own files.
#include <CLI/CLI.hpp>

#include "commands.hpp"

int main(int argc, char** argv) {
  CLI::App app{"switchboard: real-time DataChannels for calls"};
  app.require_subcommand(1);
  int exit_code = 0;
  switchboard::cli::add_demo_command(app, exit_code);
  switchboard::cli::add_token_command(app, exit_code);
  switchboard::cli::add_agent_command(app, exit_code);
  switchboard::cli::add_chat_command(app, exit_code);
  switchboard::cli::add_send_command(app, exit_code);
  switchboard::cli::add_receive_command(app, exit_code);
  switchboard::cli::add_bench_command(app, exit_code);
  CLI11_PARSE(app, argc, argv);
  return exit_code;
}
