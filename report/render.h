// The three layouts of a Report: text for a terminal and a ticket, JSON for programs (a stable,
// versioned contract documented in the README), and one self-contained HTML file for a browser
// (inline SVG and CSS only: no script, no URL, nothing fetched). They carry the same facts.
#pragma once

#include <string>

#include "report/report.h"

namespace ipctrail {

// The JSON contract's version: raised when a field changes meaning or goes away (adding fields
// does not raise it).
inline constexpr int kReportJsonVersion = 1;

std::string render_text(const Report& report);
std::string render_json(const Report& report);
std::string render_html(const Report& report);

// Every character of `text` that HTML gives a meaning to (& < > " ') as an entity, and control
// characters other than tab and newline as U+FFFD, so text from the history file (keys,
// summaries, process names) can never become markup.
std::string html_escape(std::string_view text);

}  // namespace ipctrail
