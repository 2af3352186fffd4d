#pragma once

namespace switchboard::server_app {

// `switchboard-server cluster ...` (argv[0] is "cluster"). The process's exit status.
int run_cluster_command(int argc, char** argv);

}  // namespace switchboard::server_app
