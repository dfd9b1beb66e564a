// `retentionctl report`: counts, expiries, holds, the last sweep, and the warning when
// the sweeper has fallen behind.
#include <gtest/gtest.h>

#include "core/config.hpp"
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
