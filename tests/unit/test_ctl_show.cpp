// `retentionctl show`: what a message's records say, and nothing that identifies anyone.
#include <gtest/gtest.h>

#include "config_test_util.hpp"
#include "core/config.hpp"
#include "ctl/holds.hpp"
#include "ctl/show.hpp"
#include "ctl_test_util.hpp"

using namespace rm;
using namespace rm::ctl;
using namespace ctltest;

namespace {
const auto kNow = at(date(2026, 3, 1));
}  // namespace

TEST(CtlShow, ShowsEveryRecordAndTheHoldButNothingIdentifying) {
    IndexScene s;
    const Config c = test::one_line_config("[holds]\nreasons = [\"safeguarding\"]\n");
    s.add("a@example.org", "mens-advice-line", date(2026, 1, 10), date(2026, 7, 10));
    s.add("a@example.org", "mens-advice-line", date(2026, 1, 12), date(2026, 7, 12), "outbound");
    const Digest d = s.key.digest("a@example.org");
    place_hold(*s.index, d, {"safeguarding", "SG-1", "alice", kNow}, true);
    const MessageView v = lookup_message(*s.index, d);
    const std::string text = render_show_text(c, v, date(2026, 3, 1));
    for (const char* want : {"2 records", "mens-advice-line (Men's Advice Line)", "inbound", "outbound", "2026-01-10",
                             "2026-07-12", "held", "safeguarding (reference SG-1), placed by alice"}) {
        EXPECT_NE(text.find(want), std::string::npos) << want << "\n" << text;
    }
    EXPECT_EQ(text.find("4ABCDEF"), std::string::npos) << "queue id shown";
    EXPECT_EQ(text.find("example.org"), std::string::npos);
    const auto j = show_json(c, v, date(2026, 3, 1));
    EXPECT_EQ(j["records"].size(), 2u);
    EXPECT_EQ(j["records"][0]["state"], "held");
    EXPECT_EQ(j["hold"]["ref"], "SG-1");
    EXPECT_EQ(j["records"][1]["lines"][0]["name"], "Men's Advice Line");
}

// Staff moved the message into a hold folder, then an admin held it too: both holds are
// shown, the folder's naming its folder, never who moved the message.
TEST(CtlShow, ShowsAFolderHoldBesideAnAdminsNamingTheFolder) {
    IndexScene s;
    const Config c = test::one_line_config("[holds]\nreasons = [\"safeguarding\", \"legal\"]\n");
    s.add("a@example.org", "mens-advice-line", date(2026, 1, 10), date(2026, 7, 10));
    const Digest d = s.key.digest("a@example.org");
    s.index->hold_from_folder(d, "safeguarding", folder_hold_label("Hold/Safeguarding", "mens-advice-line"), kNow);
    place_hold(*s.index, d, {"legal", "", "alice", kNow}, true);
    const MessageView v = lookup_message(*s.index, d);
    const std::string text = render_show_text(c, v, date(2026, 3, 1));
    for (const char* want : {"hold: legal, placed by alice",
                             "hold: safeguarding, placed by folder Hold/Safeguarding of the mens-advice-line mailbox"}) {
        EXPECT_NE(text.find(want), std::string::npos) << want << "\n" << text;
    }
    const auto j = show_json(c, v, date(2026, 3, 1));
    EXPECT_EQ(j["hold"]["kind"], "admin");
    ASSERT_EQ(j["holds"].size(), 2u);
    EXPECT_EQ(j["holds"][0]["kind"], "folder");
    EXPECT_EQ(j["holds"][1]["kind"], "admin");

    release_hold(*s.index, d, "bob", kNow, true, HoldKind::Folder);
    const std::string after = render_show_text(c, lookup_message(*s.index, d), date(2026, 3, 1));
    EXPECT_NE(after.find("earlier hold: safeguarding, placed by folder Hold/Safeguarding of the mens-advice-line "
                         "mailbox on 2026-03-01 12:00 UTC, released by bob"),
              std::string::npos)
        << after;
}

TEST(CtlShow, DescribesEachStateInWords) {
    MessageRow r;
    r.retain_until = date(2026, 7, 10);
    EXPECT_EQ(describe_state(r, date(2026, 3, 1), false), "kept until 2026-07-10 (destroyed on or after that day)");
    EXPECT_NE(describe_state(r, date(2026, 7, 10), false).find("due"), std::string::npos);
    EXPECT_NE(describe_state(r, date(2026, 8, 1), true).find("held"), std::string::npos);
    r.state = RowState::Destroyed;
    r.destroyed_at = at(date(2026, 7, 11), 3);
    r.copies = 3;
    EXPECT_EQ(describe_state(r, date(2026, 8, 1), false), "destroyed 2026-07-11 03:00 UTC (3 copies)");
}
