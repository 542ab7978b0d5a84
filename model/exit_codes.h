// The process exit codes every command and the agent share (documented in the README and man page).
#pragma once

namespace ipctrail {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // the work itself failed
inline constexpr int kExitUsage = 2;    // bad arguments, bad configuration, not an ipctrail file

}  // namespace ipctrail
