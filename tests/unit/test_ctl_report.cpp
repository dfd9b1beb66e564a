// `retentionctl report`: counts, expiries, holds, the last sweep, and the warning when
// the sweeper has fallen behind.
#include <gtest/gtest.h>

#include <set>

#include "core/config.hpp"
#include "core/strings.hpp"
#include "ctl/holds.hpp"
#include "ctl/report.hpp"
#include "config_test_util.hpp"
#include "ctl_test_util.hpp"

using namespace rm;
using namespace rm::ctl;
using namespace ctltest;
using namespace std::chrono;

namespace {

Config config() { return test::one_line_config(); }

bool mentions(const std::vector<std::string>& warnings, const std::string& what) {
    for (const auto& w : warnings) {
        if (w.find(what) != std::string::npos) return true;
    }
    return false;
}

Receipt receipt(system_clock::time_point when, int exit_code) {
    Receipt r;
    r.run_at = when;
    r.exit_code = exit_code;
    r.counts_json = R"({"destroyed": 1})";
    r.destroyed = 1;
    return r;
}

const auto kNow = at(date(2026, 3, 10));

}  // namespace

TEST(CtlReport, EmptyIndexReportsNothingAndDoesNotWarn) {
    IndexScene s;
    const ReportData d = build_report(*s.index, kNow);
    EXPECT_TRUE(d.counts.buckets.empty());
    EXPECT_TRUE(d.warnings.empty());
    const std::string text = render_report_text(config(), d);
    EXPECT_NE(text.find("no messages yet"), std::string::npos) << text;
    EXPECT_NE(text.find("Last sweep: none recorded"), std::string::npos) << text;
    const auto j = report_json(d);
    EXPECT_TRUE(j["counts"].empty());
    EXPECT_TRUE(j["last_sweep"].is_null());
    EXPECT_EQ(j["behind"], false);
}

TEST(CtlReport, CountsExpiriesAndHolds) {
    IndexScene s;
    s.add("a@x", "mens-advice-line", date(2025, 9, 12), date(2026, 3, 12));                 // in 2 days
    s.add("b@x", "mens-advice-line", date(2025, 10, 1), date(2026, 4, 1), "outbound");     // in 22 days
    s.add("c@x", "mens-advice-line", date(2026, 1, 1), date(2026, 7, 1));                  // later
    s.add("d@x", "mens-advice-line", date(2025, 9, 1), date(2026, 3, 1));                  // overdue, but held
    place_hold(*s.index, s.key.digest("d@x"), {"safeguarding", "SG-9", "alice", kNow}, true);
    s.index->add_receipt(receipt(kNow - hours(9), 0), {});
    const ReportData d = build_report(*s.index, kNow);
    EXPECT_EQ(d.counts.expiring_7, 1);
    EXPECT_EQ(d.counts.expiring_30, 2);
    EXPECT_EQ(d.counts.overdue, 0);
    EXPECT_EQ(d.counts.active_holds, 1);
    ASSERT_EQ(d.holds.size(), 1u);
    EXPECT_EQ(d.holds[0].hold.ref, "SG-9");
    EXPECT_TRUE(d.warnings.empty()) << d.warnings.front();
    const std::string text = render_report_text(config(), d);
    for (const char* want : {"mens-advice-line", "inbound", "outbound", "Expiring in the next 7 days:  1",
                             "Expiring in the next 30 days: 2", "Holds in force: 1", "SG-9", "completed",
                             "ok: the sweeper is keeping up"})
        EXPECT_NE(text.find(want), std::string::npos) << want << "\n" << text;
    const auto j = report_json(d);
    EXPECT_EQ(j["counts"].size(), 2u);  // (line, direction, state): inbound and outbound present
    EXPECT_EQ(j["holds"][0]["reason"], "safeguarding");
    EXPECT_EQ(j["last_sweep"]["counts"]["destroyed"], 1);
}

TEST(CtlReport, WarnsWhenRowsPastTheirDateAreNotDestroyed) {
    IndexScene s;
    s.add("a@x", "mens-advice-line", date(2025, 9, 1), date(2026, 3, 1));
    s.index->add_receipt(receipt(kNow - hours(3), 0), {});
    const ReportData d = build_report(*s.index, kNow);
    EXPECT_EQ(d.counts.overdue, 1);
    EXPECT_TRUE(mentions(d.warnings, "1 record is past its retention date")) << d.warnings.size();
    EXPECT_NE(render_report_text(config(), d).find("warning: "), std::string::npos);
    EXPECT_EQ(report_json(d)["behind"], true);
}

TEST(CtlReport, WarnsWhenNoSuccessfulSweepForTwoDays) {
    ReportData d;
    d.now = kNow;
    d.counts.buckets.push_back({"mens-advice-line", "inbound", "present", 3});
    d.last_successful = receipt(kNow - hours(47), 4);  // 4: finished with skips, still a sweep
    d.last_sweep = d.last_successful;
    add_warnings(d);
    EXPECT_TRUE(d.warnings.empty());

    d.last_successful = receipt(kNow - hours(49), 0);
    d.last_sweep = d.last_successful;
    add_warnings(d);
    EXPECT_TRUE(mentions(d.warnings, "fallen behind")) << d.warnings.size();
    EXPECT_TRUE(mentions(d.warnings, "2 days ago"));
}

TEST(CtlReport, WarnsWhenTheLastSweepFailedOrNeverSucceeded) {
    ReportData d;
    d.now = kNow;
    d.counts.buckets.push_back({"mens-advice-line", "inbound", "present", 3});
    add_warnings(d);
    EXPECT_TRUE(mentions(d.warnings, "no successful sweep has been recorded"));

    d.warnings.clear();
    d.last_successful = receipt(kNow - hours(20), 0);
    d.last_sweep = receipt(kNow - hours(2), 3);
    d.last_sweep->id = 2;
    add_warnings(d);
    ASSERT_EQ(d.warnings.size(), 1u);
    EXPECT_NE(d.warnings[0].find("safety stop"), std::string::npos) << d.warnings[0];
}

TEST(CtlReport, SuccessfulSweepsAreExitZeroOrFour) {
    EXPECT_TRUE(sweep_succeeded(receipt(kNow, 0)));
    EXPECT_TRUE(sweep_succeeded(receipt(kNow, 4)));
    for (int rc : {1, 2, 3}) EXPECT_FALSE(sweep_succeeded(receipt(kNow, rc)));
}

TEST(CtlReport, LastSuccessfulSweepSkipsLaterFailures) {
    IndexScene s;
    s.index->add_receipt(receipt(kNow - hours(72), 0), {});
    s.index->add_receipt(receipt(kNow - hours(48), 3), {});
    s.index->add_receipt(receipt(kNow - hours(24), 1), {});
    const ReportData d = build_report(*s.index, kNow);
    ASSERT_TRUE(d.last_successful);
    EXPECT_EQ(d.last_successful->exit_code, 0);
    EXPECT_EQ(d.last_sweep->exit_code, 1);
    EXPECT_TRUE(mentions(d.warnings, "fallen behind"));
    EXPECT_TRUE(mentions(d.warnings, "did not succeed"));
}

namespace {

// A scene with something in every part of the page: rows of two directions, one expiring
// within 7 days, a hold with a reference, and a sweep.
ReportData full_report(IndexScene& s, const std::string& ref = "SG-9") {
    s.add("a@x", "mens-advice-line", date(2025, 9, 12), date(2026, 3, 12));
    s.add("b@x", "mens-advice-line", date(2025, 10, 1), date(2026, 4, 1), "outbound");
    s.add("d@x", "mens-advice-line", date(2025, 9, 1), date(2026, 3, 1));
    s.index->hold(s.key.digest("d@x"), "safeguarding", ref, "alice", kNow - days(12) - hours(3));
    s.index->add_receipt(receipt(kNow - hours(9), 0), {});
    return build_report(*s.index, kNow);
}

bool has(const std::string& html, const std::string& what) { return html.find(what) != std::string::npos; }

}  // namespace

TEST(CtlReportHtml, ShowsCountsExpiriesHoldsAndTheLastSweep) {
    IndexScene s;
    const std::string html = render_report_html(config(), full_report(s));
    for (const char* want :
         {"<!DOCTYPE html>", "<title>Retention report for 2026-03-10</title>", "Men&#39;s Advice Line",
          "<td>inbound</td>", "<td>outbound</td>", "<th>Destroyed in the next 7 days</th><td class=\"n\">1</td>",
          "<th>Destroyed in the next 30 days</th><td class=\"n\">2</td>", "Holds in force: 1",
          "<td>safeguarding</td><td>SG-9</td><td>admin</td><td>alice</td><td>2026-02-26 09:00 UTC</td>"
          "<td class=\"n\">12</td>",
          "<td>2026-03-01</td>", "<td>last</td><td>2026-03-10 03:00 UTC</td><td>completed</td>",
          "The sweeper is keeping up.", "</html>"})
        EXPECT_TRUE(has(html, want)) << want << "\n" << html;
}

// A team leader sees the week's runs, and the last good one even when it is older.
TEST(CtlReportHtml, ListsTheSweepersRecentRuns) {
    IndexScene s;
    s.index->add_receipt(receipt(kNow - hours(24 * 10), 0), {});
    for (int day = 9; day >= 1; --day) s.index->add_receipt(receipt(kNow - hours(24 * day), 3), {});
    const ReportData d = build_report(*s.index, kNow);
    ASSERT_EQ(d.recent_sweeps.size(), static_cast<size_t>(kRecentSweeps));
    EXPECT_EQ(d.recent_sweeps.front().run_at, kNow - hours(24)) << "newest first";
    const std::string html = render_report_html(config(), d);
    auto rows = [&](const std::string& what) {
        size_t n = 0;
        for (size_t at = html.find(what); at != std::string::npos; at = html.find(what, at + 1)) ++n;
        return n;
    };
    EXPECT_EQ(rows("<td>last</td>"), 1u) << html;
    EXPECT_EQ(rows("<td>earlier</td>"), static_cast<size_t>(kRecentSweeps - 1)) << html;
    EXPECT_EQ(rows("<td>last successful</td><td>2026-02-28 12:00 UTC</td><td>completed</td>"), 1u) << html;
    const auto j = nlohmann::json::parse(render_report(config(), d, ReportFormat::Json));
    EXPECT_EQ(j["recent_sweeps"].size(), static_cast<size_t>(kRecentSweeps));
}

TEST(CtlReportHtml, LoadsNothingFromOutside) {
    IndexScene s;
    const std::string html = render_report_html(config(), full_report(s));
    EXPECT_TRUE(has(html, "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
                          "style-src 'unsafe-inline'\">"))
        << html;
    for (const char* never : {"http:", "https:", "//", "src=", "href=", "url(", "@import", "<link", "<script", "<img"})
        EXPECT_FALSE(has(html, never)) << never << "\n" << html;
}

TEST(CtlReportHtml, EscapesLineNamesAndReferences) {
    IndexScene s;
    const Config evil = parse_config(
        replace_all(test::kOneLineConfig, "Men's Advice Line", "<img src=http://127.0.0.1:9/x> & co"),
        "/etc/retention-milter/retention.toml");
    const std::string html = render_report_html(evil, full_report(s, "<script>alert(1)</script>"));
    EXPECT_FALSE(has(html, "<script")) << html;
    EXPECT_FALSE(has(html, "<img")) << html;
    EXPECT_TRUE(has(html, "<td>&lt;script&gt;alert(1)&lt;/script&gt;</td>")) << html;
    EXPECT_TRUE(has(html, "&lt;img src=http://127.0.0.1:9/x&gt; &amp; co")) << html;
}

TEST(CtlReportHtml, WarningsAreShownAndAnEmptyIndexSaysSo) {
    IndexScene s;
    s.add("a@x", "mens-advice-line", date(2025, 9, 1), date(2026, 3, 1));
    std::string html = render_report_html(config(), build_report(*s.index, kNow));
    EXPECT_TRUE(has(html, "class=\"warn\"")) << html;
    EXPECT_TRUE(has(html, "1 record is past its retention date")) << html;
    EXPECT_TRUE(has(html, "No sweep has been recorded yet.")) << html;
    EXPECT_FALSE(has(html, "keeping up")) << html;

    IndexScene empty;
    html = render_report_html(config(), build_report(*empty.index, kNow));
    EXPECT_TRUE(has(html, "The index holds no messages yet.")) << html;
    EXPECT_TRUE(has(html, "Holds in force: 0")) << html;
}

TEST(CtlReportHtml, NamesNoMessage) {
    IndexScene s;
    const ReportData d = full_report(s);
    const std::string html = render_report_html(config(), d);
    for (const char* id : {"a@x", "b@x", "d@x"}) {
        EXPECT_FALSE(has(html, id)) << id;
        EXPECT_FALSE(has(html, to_hex(s.key.digest(id)))) << id;
    }
    EXPECT_FALSE(has(html, "4ABCDEF")) << "queue id";
}

TEST(CtlReport, FormatsAreTextJsonAndHtml) {
    EXPECT_EQ(parse_report_format("text"), ReportFormat::Text);
    EXPECT_EQ(parse_report_format("json"), ReportFormat::Json);
    EXPECT_EQ(parse_report_format("html"), ReportFormat::Html);
    for (const char* bad : {"", "HTML", "markdown", "htm"}) EXPECT_FALSE(parse_report_format(bad)) << bad;
    IndexScene s;
    const ReportData d = full_report(s);
    EXPECT_EQ(nlohmann::json::parse(render_report(config(), d, ReportFormat::Json)), report_json(d));
    EXPECT_EQ(render_report(config(), d, ReportFormat::Text), render_report_text(config(), d));
    EXPECT_EQ(render_report(config(), d, ReportFormat::Html), render_report_html(config(), d));
}

TEST(CtlReport, HoldsSayTheirKindAndAge) {
    IndexScene s;
    const ReportData d = full_report(s);
    const std::string text = render_report_text(config(), d);
    EXPECT_NE(text.find("safeguarding SG-9, admin hold placed by alice on 2026-02-26 09:00 UTC (12 days ago)"),
              std::string::npos)
        << text;
    const auto j = report_json(d);
    EXPECT_EQ(j["holds"][0]["kind"], "admin");
    EXPECT_EQ(j["holds"][0]["age_days"], 12);
}

TEST(CtlReport, FolderHoldsNameTheirFolderAndSitBesideAdminHolds) {
    IndexScene s;
    full_report(s);  // d@x: an admin hold
    const Digest d = s.key.digest("d@x");
    ASSERT_EQ(s.index->hold_from_folder(d, "police-request", folder_hold_label("Hold/<Police & Co>", "mens-advice-line"),
                                        kNow - days(3)),
              FolderHold::Placed);
    const ReportData r = build_report(*s.index, kNow);
    ASSERT_EQ(r.holds.size(), 2u);

    const std::string html = render_report_html(config(), r);
    EXPECT_TRUE(has(html, "Holds in force: 2")) << html;
    EXPECT_TRUE(has(html, "<td>police-request</td><td></td><td>folder</td>"
                          "<td>folder Hold/&lt;Police &amp; Co&gt; of the mens-advice-line mailbox</td>"))
        << html;
    EXPECT_TRUE(has(html, "<td>safeguarding</td><td>SG-9</td><td>admin</td><td>alice</td>")) << html;

    const std::string text = render_report_text(config(), r);
    EXPECT_NE(text.find("police-request, folder hold placed by folder Hold/<Police & Co> of the mens-advice-line "
                        "mailbox on 2026-03-07 12:00 UTC (3 days ago)"),
              std::string::npos)
        << text;
    const auto j = report_json(r);
    std::set<std::string> kinds;
    for (const auto& h : j["holds"]) kinds.insert(h["kind"].get<std::string>());
    EXPECT_EQ(kinds, (std::set<std::string>{"admin", "folder"}));
}
