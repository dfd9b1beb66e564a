#include "ctl/report.hpp"

#include <algorithm>
#include <iomanip>
#include <map>
#include <set>
#include <sstream>

#include "ctl/show.hpp"
#include "ctl/words.hpp"

namespace rm::ctl {

using namespace std::chrono;

namespace {

constexpr auto kBehind = hours{48};  // "no successful sweep for two days"

std::int64_t total(const ReportCounts& c) {
    std::int64_t n = 0;
    for (const auto& b : c.buckets) n += b.count;
    return n;
}

}  // namespace

ReportData build_report(const Index& index, system_clock::time_point now) {
    ReportData d;
    d.index = index.path();
    d.now = now;
    d.today = utc_date(now);
    d.counts = index.report(d.today);
    d.last_sweep = index.last_receipt();
    d.last_successful = index.last_successful_receipt();
    d.recent_sweeps = index.recent_receipts(kRecentSweeps);
    d.holds = index.holds_in_force();
    add_warnings(d);
    return d;
}

bool sweep_succeeded(const Receipt& r) { return r.exit_code == kExitOk || r.exit_code == kExitSkipped; }

std::string describe_exit(int exit_code) {
    switch (exit_code) {
        case kExitOk: return "completed";
        case kExitSkipped: return "completed, but skipped something it could not handle (see its log)";
        case kExitSafetyStop: return "safety stop: destroyed nothing (see its log for why; --force after checking)";
        case kExitConfig: return "refused a bad config";
        default: return "failed (exit " + std::to_string(exit_code) + ")";
    }
}

void add_warnings(ReportData& d) {
    if (!d.last_successful) {
        if (total(d.counts) > 0)
            d.warnings.push_back("no successful sweep has been recorded (expected only before the first nightly "
                                 "run after installation).");
    } else if (d.now - d.last_successful->run_at > kBehind) {
        const auto days_ago = duration_cast<hours>(d.now - d.last_successful->run_at).count() / 24;
        d.warnings.push_back("the sweeper has fallen behind: the last successful sweep was " +
                             format_utc(d.last_successful->run_at) + ", " + std::to_string(days_ago) + " days ago.");
    }
    if (d.last_sweep && !sweep_succeeded(*d.last_sweep))
        d.warnings.push_back("the last sweep (" + format_utc(d.last_sweep->run_at) +
                             ") did not succeed: " + describe_exit(d.last_sweep->exit_code) + ".");
    if (d.counts.overdue > 0) {
        const bool one = d.counts.overdue == 1;
        d.warnings.push_back(std::to_string(d.counts.overdue) +
                             (one ? " record is past its" : " records are past their") +
                             " retention date, not held, and not yet destroyed: the sweeper has fallen behind or "
                             "cannot reach those copies.");
    }
    // Every one of these is answered the same way; say how once.
    if (!d.warnings.empty())
        d.warnings.front() += " Check that the timer runs (systemctl status retention-sweep.timer) and read the "
                              "sweeper's log (journalctl -u retention-sweep).";
}

CountTable count_table(const ReportCounts& c) {
    CountTable t;
    t.states = {"present", "destroyed"};
    for (const auto& b : c.buckets) {
        if (std::find(t.states.begin(), t.states.end(), b.state) == t.states.end()) t.states.push_back(b.state);
        t.rows[{b.line, b.direction}][b.state] += b.count;
    }
    return t;
}

std::int64_t hold_age_days(const Hold& hold, system_clock::time_point now) {
    return duration_cast<days>(now - hold.placed_at).count();
}

std::optional<ReportFormat> parse_report_format(std::string_view name) {
    if (name == "text") return ReportFormat::Text;
    if (name == "json") return ReportFormat::Json;
    if (name == "html") return ReportFormat::Html;
    return std::nullopt;
}

namespace {

void write_counts(std::ostream& out, const ReportCounts& c) {
    if (c.buckets.empty()) {
        out << "The index holds no messages yet.\n";
        return;
    }
    const CountTable t = count_table(c);
    size_t width = 4;
    for (const auto& b : c.buckets) width = std::max(width, b.line.size());
    out << "Messages in the index, by line, direction and state:\n  " << std::left << std::setw(static_cast<int>(width))
        << "line" << "  " << std::setw(9) << "direction";
    for (const auto& s : t.states) out << std::right << std::setw(10) << s;
    out << "\n";
    for (const auto& [key, states] : t.rows) {
        out << "  " << std::left << std::setw(static_cast<int>(width)) << key.first << "  " << std::setw(9) << key.second;
        for (const auto& s : t.states) {
            const auto it = states.find(s);
            out << std::right << std::setw(10) << (it == states.end() ? 0 : it->second);
        }
        out << "\n";
    }
}

std::string describe_receipt(const Receipt& r) {
    return format_utc(r.run_at) + ": " + describe_exit(r.exit_code) + "; " + std::to_string(r.destroyed) +
           (r.destroyed == 1 ? " message" : " messages") + " destroyed";
}

void write_holds(std::ostream& out, const Config& config, const ReportData& d) {
    out << "Holds in force: " << d.holds.size() << "\n";
    for (const auto& h : d.holds) {
        out << "  - " << h.hold.reason << (h.hold.ref.empty() ? "" : " " + h.hold.ref) << ", "
            << hold_kind_name(h.hold.kind) << " hold placed by " << h.hold.placed_by << " on " << format_utc(h.hold.placed_at)
            << " (" << hold_age_days(h.hold, d.now) << " days ago); " << describe_lines(config, h.lines)
            << ", retention date " << format_date(h.retain_until) << "\n";
    }
}

void write_sweeps(std::ostream& out, const ReportData& d) {
    out << "Last sweep: " << (d.last_sweep ? describe_receipt(*d.last_sweep) : std::string("none recorded")) << "\n";
    if (d.last_sweep && d.last_successful && d.last_successful->id != d.last_sweep->id)
        out << "Last successful sweep: " << describe_receipt(*d.last_successful) << "\n";
}

nlohmann::json receipt_json(const std::optional<Receipt>& r) {
    if (!r) return nullptr;
    nlohmann::json counts = nlohmann::json::parse(r->counts_json, nullptr, false);
    if (counts.is_discarded()) counts = r->counts_json;
    return {{"run_at", format_utc_iso(r->run_at)}, {"exit_code", r->exit_code},
            {"result", describe_exit(r->exit_code)}, {"succeeded", sweep_succeeded(*r)},
            {"destroyed", r->destroyed},             {"counts", counts},
            {"chain", r->chain_hex}};
}

nlohmann::json recent_json(const std::vector<Receipt>& runs) {
    nlohmann::json out = nlohmann::json::array();
    for (const Receipt& r : runs) out.push_back(receipt_json(r));
    return out;
}

}  // namespace

std::string render_report_text(const Config& config, const ReportData& d) {
    std::ostringstream out;
    out << "Retention report for " << format_date(d.today) << " (UTC), index " << (d.index.empty() ? config.index.path : d.index) << "\n\n";
    write_counts(out, d.counts);
    out << "\nExpiring in the next 7 days:  " << d.counts.expiring_7 << "\n"
        << "Expiring in the next 30 days: " << d.counts.expiring_30 << "\n"
        << "Past their date, not yet destroyed: " << d.counts.overdue << "\n";
    write_holds(out, config, d);
    write_sweeps(out, d);
    for (const auto& w : d.warnings) out << "warning: " << w << "\n";
    if (d.warnings.empty()) out << "ok: the sweeper is keeping up\n";
    return out.str();
}

nlohmann::json report_json(const ReportData& d) {
    nlohmann::json counts = nlohmann::json::array();
    for (const auto& b : d.counts.buckets)
        counts.push_back({{"line", b.line}, {"direction", b.direction}, {"state", b.state}, {"count", b.count}});
    nlohmann::json holds = nlohmann::json::array();
    for (const auto& h : d.holds)
        holds.push_back({{"reason", h.hold.reason}, {"ref", h.hold.ref}, {"kind", hold_kind_name(h.hold.kind)},
                         {"placed_by", h.hold.placed_by}, {"placed_at", format_utc_iso(h.hold.placed_at)},
                         {"age_days", hold_age_days(h.hold, d.now)}, {"lines", h.lines},
                         {"retain_until", format_date(h.retain_until)}});
    return {{"today", format_date(d.today)},
            {"generated_at", format_utc_iso(d.now)},
            {"counts", counts},
            {"expiring_7_days", d.counts.expiring_7},
            {"expiring_30_days", d.counts.expiring_30},
            {"overdue", d.counts.overdue},
            {"active_holds", d.counts.active_holds},
            {"holds", holds},
            {"last_sweep", receipt_json(d.last_sweep)},
            {"last_successful_sweep", receipt_json(d.last_successful)},
            {"recent_sweeps", recent_json(d.recent_sweeps)},
            {"behind", !d.warnings.empty()},
            {"warnings", d.warnings}};
}

std::string render_report(const Config& config, const ReportData& d, ReportFormat format) {
    switch (format) {
        case ReportFormat::Json: return report_json(d).dump(2) + "\n";
        case ReportFormat::Html: return render_report_html(config, d);
        case ReportFormat::Text: break;
    }
    return render_report_text(config, d);
}

}  // namespace rm::ctl
