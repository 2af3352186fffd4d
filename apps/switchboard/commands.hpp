#pragma once

#include <CLI/CLI.hpp>

namespace switchboard::cli {

// Each subcommand registers its options on `app` and stores its exit status when run.
void add_demo_command(CLI::App& app, int& exit_code);
void add_token_command(CLI::App& app, int& exit_code);
void add_agent_command(CLI::App& app, int& exit_code);
void add_chat_command(CLI::App& app, int& exit_code);
// `send` and `receive` (file_commands.cpp).
void add_send_command(CLI::App& app, int& exit_code);
void add_receive_command(CLI::App& app, int& exit_code);
// `bench` with `relay` (bench_relay_command.cpp), which also adds `p2p` on `bench`
// (bench_p2p_command.cpp).
void add_bench_command(CLI::App& app, int& exit_code);
void add_bench_p2p_command(CLI::App& bench, int& exit_code);

}  // namespace switchboard::cli
