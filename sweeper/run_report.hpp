// How a finished run is told outside the summary main.cpp prints: the Prometheus textfile
// (when metrics_file is set) and one log line with the totals.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

#include "core/config.hpp"
#include "db/index.hpp"
#include "sweeper/summary.hpp"

namespace rm::sweep {

// A time the sweeper keeps in the index's meta table (kMetaLastRun...), in seconds.
std::optional<std::int64_t> meta_seconds(const Index& index, const char* key);

// Writes the metrics file; a failure is a warning in the summary, never a failed run.
// `started`: when the run began, for its duration.
void write_metrics_file(const Config& config, const Index& index, Summary& summary, Date today,
                        std::chrono::system_clock::time_point now, std::chrono::steady_clock::time_point started);

void log_result(const Summary& summary);

}  // namespace rm::sweep
