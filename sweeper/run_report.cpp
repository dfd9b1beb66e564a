#include "sweeper/run_report.hpp"

#include <charconv>
#include <optional>
#include <spdlog/spdlog.h>
#include <string>

#include "sweeper/sweep.hpp"

namespace rm::sweep {

using namespace std::chrono;

std::optional<std::int64_t> meta_seconds(const Index& index, const char* key) {
    const auto s = index.get_meta(key);
    if (!s || s->empty()) return std::nullopt;
    std::int64_t v = 0;
    const auto [end, ec] = std::from_chars(s->data(), s->data() + s->size(), v);
    if (ec != std::errc{} || end != s->data() + s->size()) return std::nullopt;
    return v;
}

void write_metrics_file(const Config& config, const Index& index, Summary& summary, Date today,
                        system_clock::time_point now, steady_clock::time_point started) {
    if (config.sweep.metrics_file.empty()) return;
    try {
        std::optional<system_clock::time_point> last_success;
        summary.duration_seconds = duration<double>(steady_clock::now() - started).count();
        if (auto t = meta_seconds(index, kMetaLastSuccess)) last_success = system_clock::time_point(seconds(*t));
        const long overdue = static_cast<long>(index.expired(today).size());
        write_metrics(config.sweep.metrics_file, summary, now, last_success, overdue);
    } catch (const std::exception& e) {
        spdlog::error("{}", e.what());
        summary.warn(std::string("metrics not written: ") + e.what());
    }
}

void log_result(const Summary& summary) {
    LineCounts total;
    for (const auto& [tag, c] : summary.lines) {
        total.destroyed += c.destroyed;
        total.moved += c.moved;
        total.kept += c.kept;
        total.held += c.held;
        total.orphans += c.orphans;
        total.orphans_destroyed += c.orphans_destroyed;
    }
    long files = 0;
    for (const auto& [p, c] : summary.files) files += c.destroyed;
    for (const auto& [why, n] : summary.skips) spdlog::warn("skipped {} x {}", n, skip_text(why));
    for (const auto& [number, pattern] : summary.mailboxes_not_read)
        spdlog::warn("not read completely: {}; no index row marked destroyed in this run",
                     mailbox_entry_text(number, pattern));
    spdlog::info("sweep finished with exit code {}: destroyed {} message copies, {} orphans, {} files; moved {}; "
                 "kept {}; held {}; orphans left {}; skipped {}",
                 summary.exit_code, total.destroyed, total.orphans_destroyed, files, total.moved, total.kept,
                 total.held, total.orphans, summary.skip_count());
}

}  // namespace rm::sweep
