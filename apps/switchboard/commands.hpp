#pragma once

#include <CLI/CLI.hpp>

namespace switchboard::cli {

// Each subcommand registers its options on `app` and stores its exit status when run.
void add_demo_command(CLI::App& app, int& exit_code);
void add_token_command(CLI::App& app, int& exit_code);
void add_agent_command(CLI::App& app, int& exit_code);
void add_chat_command(CLI::App& app, int& exit_code);
void add_bench_command(CLI::App& app, int& exit_code);

}  // namespace switchboard::cli
