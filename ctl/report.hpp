// `retentionctl report`: counts by line, direction and state, what expires soon, the
// holds in force, the last sweep, and a warning when the sweeper has fallen behind; as
// text for the terminal, JSON for monitoring, or an HTML page to mail to a team leader.
#pragma once

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.hpp"
#include "db/index.hpp"

namespace rm::ctl {

struct ReportData {
    std::chrono::system_clock::time_point now;
    Date today{};
    std::string index;  // what the index is named by in messages (its file, or server and database)
    ReportCounts counts;
    std::optional<Receipt> last_sweep;       // the last run, whatever its result
    std::optional<Receipt> last_successful;  // the last run that ended 0 or 4
    std::vector<Receipt> recent_sweeps;      // the last kRecentSweeps runs, newest first
    std::vector<HeldMessage> holds;          // holds in force
    std::vector<std::string> warnings;       // filled by add_warnings()
};

// How many of the sweeper's runs the report lists: a week of nightly runs.
inline constexpr int kRecentSweeps = 7;

// Reads everything the report needs; the index is only read.
ReportData build_report(const Index& index, std::chrono::system_clock::time_point now);

// The sweeper has fallen behind when no run has succeeded for two days, or records
// past their date are still not destroyed. Pure, so tests can feed it any history.
void add_warnings(ReportData& data);

// A run "succeeded" when it ended 0 or 4 (receipts are written by real runs only:
// a --dry-run changes nothing, the index included).
bool sweep_succeeded(const Receipt& r);
std::string describe_exit(int exit_code);

// The counts arranged for display: a row per (line tag, direction), a column per state,
// the usual states first and any newer one after them.
struct CountTable {
    std::vector<std::string> states;
    std::map<std::pair<std::string, std::string>, std::map<std::string, std::int64_t>> rows;
};
CountTable count_table(const ReportCounts& counts);

// Whole days since the hold was placed.
std::int64_t hold_age_days(const Hold& hold, std::chrono::system_clock::time_point now);

enum class ReportFormat { Text, Json, Html };
std::optional<ReportFormat> parse_report_format(std::string_view name);

std::string render_report_text(const Config& config, const ReportData& data);
nlohmann::json report_json(const ReportData& data);
// A complete page that loads nothing (inline CSS, a CSP that forbids everything else),
// every value escaped, and nothing that names a person who wrote to a line.
std::string render_report_html(const Config& config, const ReportData& data);
std::string render_report(const Config& config, const ReportData& data, ReportFormat format);

}  // namespace rm::ctl
