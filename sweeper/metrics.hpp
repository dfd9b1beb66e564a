// The Prometheus textfile a run leaves for node_exporter (metrics_file): what the last run
// did, when one last succeeded, and how many rows are past their date.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "core/config.hpp"
#include "db/index.hpp"
#include "sweeper/summary.hpp"

namespace rm::sweep {

// Writes the Prometheus textfile: a temporary file in the same folder, synced, renamed
// over `path`. `last_success` is the time of the last run that ended 0 or 4, if any.
// Throws std::runtime_error when it cannot be written.
void write_metrics(const std::string& path, const Summary& s, std::chrono::system_clock::time_point run_at,
                   std::optional<std::chrono::system_clock::time_point> last_success, long overdue_rows);

// Writes the metrics file of `config`, if any; a failure is a warning in the summary, never
// a failed run. `started`: when the run began, for its duration.
void write_metrics_file(const Config& config, const Index& index, Summary& summary, Date today,
                        std::chrono::system_clock::time_point now, std::chrono::steady_clock::time_point started);

}  // namespace rm::sweep
