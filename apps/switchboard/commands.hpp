#pragma once

#include <CLI/CLI.hpp>

namespace switchboard::cli {

// Each subcommand registers its options on `app` and returns the exit status when run.
void add_demo_command(CLI::App& app, int& exit_code);

}  // namespace switchboard::cli
