// `ipctrail sample` output: the JSON contract and the table for people.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "model/sample.h"

namespace ipctrail {

// {"ts", "time", "charts": {id: {"units", "dimensions"}}, "limits": {...}, "queues": [...]}.
// All six charts are always present; an unknown limit is null.
// When the sample has BPF call counts: the four call charts (the calls made during the window,
// as integers) and "ipc_calls": {"attach_mode", "window_ms", "calls_total": {call: n},
// "failures_total": {"<call>_<ERRNO>": n}}; window_ms is the time the charts' counts cover.
nlohmann::json sample_to_json(const Sample& sample);

// Aligned text with units, and each total's limit and percentage used beside it.
std::string sample_to_table(const Sample& sample);

}  // namespace ipctrail
