// `ipctrail sample` output: the JSON contract and the table for people.
#pragma once

#include <string>

#include "model/sample.h"

namespace ipctrail {

// {"ts", "time", "charts": {id: {"units", "dimensions"}}, "limits": {...}, "queues": [...]}.
// All six charts are always present; an unknown limit is null.
// When the sample has BPF call counts: the four call charts (the calls made during the window,
// as integers) and "ipc_calls": {"attach_mode", "calls_total": {call: n},
// "failures_total": {"<call>_<ERRNO>": n}, "window_ms", "syscall_tax": {"before_ns", "after_ns",
// "ratio"}}; window_ms is the time the charts' counts cover, syscall_tax what attaching added to an
// unrelated syscall (getppid), measured when the programs attached. One line, without the final
// newline; keys in the order above. Limits are the kernel's numbers, "unlimited" ones included.
std::string sample_to_json(const Sample& sample);

// Aligned text, one unit per line, with each total's limit and percentage used beside it; a limit
// the kernel treats as none (is_unlimited) reads "unlimited".
std::string sample_to_table(const Sample& sample);

}  // namespace ipctrail
