// The report as an HTML page, for a cron job that mails it to a team leader. The page
// must render the same in a mail client, a browser or a webmail's sandbox, and must not
// tell anyone outside that it was opened: its CSS is inline and its Content-Security-Policy
// forbids loading anything at all. Line names come from the config and references from
// the admins, so every value is escaped.
#include <sstream>

#include "ctl/report.hpp"
#include "ctl/show.hpp"
#include "ctl/statement.hpp"
#include "ctl/words.hpp"

namespace rm::ctl {

namespace {

constexpr const char* kStyle =
    "body{font-family:sans-serif;margin:1.5em;color:#222;max-width:60em}"
    "h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em}"
    "table{border-collapse:collapse}th,td{border:1px solid #bbb;padding:.25em .6em;text-align:left}"
    "td.n{text-align:right}.warn{background:#fde8e8;border-left:4px solid #c00;padding:.5em 1em}"
    ".ok{background:#e8f5e8;border-left:4px solid #080;padding:.5em 1em}.note{color:#555;font-size:.9em}";

std::string td(const std::string& text) { return "<td>" + escape_html(text) + "</td>"; }
std::string td(std::int64_t n) { return "<td class=\"n\">" + std::to_string(n) + "</td>"; }

void write_head(std::ostream& out, const ReportData& d) {
    const std::string title = "Retention report for " + format_date(d.today);
    out << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        << "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
        << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        << "<title>" << escape_html(title) << "</title>\n<style>" << kStyle << "</style>\n</head>\n<body>\n"
        << "<h1>" << escape_html(title) << "</h1>\n"
        << "<p class=\"note\">Made " << escape_html(format_utc(d.now))
        << " by retentionctl report. It names no caller: no address, subject or Message-ID.</p>\n";
}

void write_status(std::ostream& out, const ReportData& d) {
    if (d.warnings.empty()) {
        out << "<p class=\"ok\">The sweeper is keeping up.</p>\n";
        return;
    }
    out << "<div class=\"warn\"><p><strong>Warning</strong></p>\n<ul>\n";
    for (const auto& w : d.warnings) out << "<li>" << escape_html(w) << "</li>\n";
    out << "</ul></div>\n";
}

void write_counts(std::ostream& out, const Config& config, const ReportCounts& c) {
    out << "<h2>Messages by line</h2>\n";
    if (c.buckets.empty()) {
        out << "<p>The index holds no messages yet.</p>\n";
        return;
    }
    const CountTable t = count_table(c);
    out << "<table>\n<tr><th>Line</th><th>Direction</th>";
    for (const auto& s : t.states) out << "<th>" << escape_html(s) << "</th>";
    out << "</tr>\n";
    for (const auto& [key, states] : t.rows) {
        out << "<tr>" << td(describe_lines(config, key.first)) << td(key.second);
        for (const auto& s : t.states) {
            const auto it = states.find(s);
            out << td(it == states.end() ? 0 : it->second);
        }
        out << "</tr>\n";
    }
    out << "</table>\n";
}

void write_expiries(std::ostream& out, const ReportCounts& c) {
    out << "<h2>Retention dates</h2>\n<table>\n"
        << "<tr><th>Destroyed in the next 7 days</th>" << td(c.expiring_7) << "</tr>\n"
        << "<tr><th>Destroyed in the next 30 days</th>" << td(c.expiring_30) << "</tr>\n"
        << "<tr><th>Past their date, not held, not yet destroyed</th>" << td(c.overdue) << "</tr>\n"
        << "</table>\n";
}

void write_holds(std::ostream& out, const Config& config, const ReportData& d) {
    out << "<h2>Holds in force: " << d.holds.size() << "</h2>\n";
    if (d.holds.empty()) return;
    out << "<table>\n<tr><th>Reason</th><th>Reference</th><th>Kind</th><th>Placed by</th><th>Placed</th>"
        << "<th>Age (days)</th><th>Line</th><th>Retention date</th></tr>\n";
    for (const auto& h : d.holds) {
        out << "<tr>" << td(h.hold.reason) << td(h.hold.ref) << td(std::string(hold_kind_name(h.hold.kind))) << td(h.hold.placed_by)
            << td(format_utc(h.hold.placed_at)) << td(hold_age_days(h.hold, d.now))
            << td(describe_lines(config, h.lines)) << td(format_date(h.retain_until)) << "</tr>\n";
    }
    out << "</table>\n";
}

void write_sweep_row(std::ostream& out, const std::string& which, const Receipt& r) {
    out << "<tr>" << td(which) << td(format_utc(r.run_at)) << td(describe_exit(r.exit_code)) << td(r.destroyed)
        << "</tr>\n";
}

void write_sweeps(std::ostream& out, const ReportData& d) {
    out << "<h2>The sweeper's last runs</h2>\n";
    if (!d.last_sweep) {
        out << "<p>No sweep has been recorded yet.</p>\n";
        return;
    }
    out << "<table>\n<tr><th>Run</th><th>Started</th><th>Result</th><th>Messages destroyed</th></tr>\n";
    bool successful_listed = false;
    for (size_t i = 0; i < d.recent_sweeps.size(); ++i) {
        const Receipt& r = d.recent_sweeps[i];
        write_sweep_row(out, i == 0 ? "last" : "earlier", r);
        successful_listed = successful_listed || (d.last_successful && d.last_successful->id == r.id);
    }
    if (d.recent_sweeps.empty()) write_sweep_row(out, "last", *d.last_sweep);
    if (d.last_successful && !successful_listed && d.last_successful->id != d.last_sweep->id)
        write_sweep_row(out, "last successful", *d.last_successful);
    out << "</table>\n";
}

}  // namespace

std::string render_report_html(const Config& config, const ReportData& d) {
    std::ostringstream out;
    write_head(out, d);
    write_status(out, d);
    write_counts(out, config, d.counts);
    write_expiries(out, d.counts);
    write_holds(out, config, d);
    write_sweeps(out, d);
    out << "</body>\n</html>\n";
    return out.str();
}

}  // namespace rm::ctl
