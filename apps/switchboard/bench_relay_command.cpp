// `switchboard bench relay`: placeholder while the benchmark is written.
#include "commands.hpp"

namespace switchboard::cli {

void add_bench_command(CLI::App& app, int& exit_code) {
  (void)app;
  (void)exit_code;
}

}  // namespace switchboard::cli
