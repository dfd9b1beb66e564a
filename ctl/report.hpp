// `retentionctl report`: counts by line, direction and state, what expires soon, the
// holds in force, the last sweep, and a warning when the sweeper has fallen behind.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
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
    std::vector<HeldMessage> holds;          // holds in force
    std::vector<std::string> warnings;       // filled by add_warnings()
};

// Reads everything the report needs; the index is only read.
ReportData build_report(const Index& index, std::chrono::system_clock::time_point now);

// The sweeper has fallen behind when no run has succeeded for two days, or records
// past their date are still not destroyed. Pure, so tests can feed it any history.
void add_warnings(ReportData& data);

// A run "succeeded" when it ended 0 or 4 (receipts are written by real runs only:
// a --dry-run changes nothing, the index included).
bool sweep_succeeded(const Receipt& r);
std::string describe_exit(int exit_code);

std::string render_report_text(const Config& config, const ReportData& data);
nlohmann::json report_json(const ReportData& data);

}  // namespace rm::ctl
