// The command line: parses argv, runs the chosen subcommand, and returns the process exit code
// (model/exit_codes.h).
#pragma once

namespace ipctrail {

int run_cli(int argc, char** argv);

}  // namespace ipctrail
