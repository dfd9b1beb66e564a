// What a sweep that could not read every location of its mail stores may and may not do:
// destroy the expired copies it found, mark no index row destroyed, and say which
// [[sweep.mailbox]] entry was not read without naming anyone.
#include <nlohmann/json.hpp>

#include "sweep_test_util.hpp"

using namespace sweeptest;
using rm::sweep::Skip;
using rm::sweep::Summary;
using rm::sweep::SweepOptions;

namespace {

std::string text_of(const Summary& s) {
    std::ostringstream out;
    rm::sweep::print_text(out, s);
    return out.str();
}

// Root reads every folder, whatever its mode: these tests need a sweep that cannot.
void skip_unless_root() {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to run the sweep as another user";
}

}  // namespace

TEST(SweepScope, AnUnreadablePersonalFolderKeepsTheRowsOfCopiesDestroyedElsewhere) {
    skip_unless_root();
    World w;
    const auto shared_copy = w.deliver(w.shared_a, "reply@x");
    const auto hidden_copy = w.deliver(w.staff / "alice" / ".Sent", "reply@x");
    const auto bobs_copy = w.deliver(w.staff / "bob" / ".Sent", "other@x");
    w.row("reply@x", kPast, "respect-phoneline", "outbound");
    w.row("other@x", kPast, "respect-phoneline", "outbound");
    // A folder restored from backup with the wrong owner: the sweep's user cannot open it.
    fs::permissions(w.staff / "alice" / ".Sent", fs::perms::none);
    Summary s = w.sweep_as_unprivileged(kNow);
    fs::permissions(w.staff / "alice" / ".Sent", fs::perms::owner_all);
    EXPECT_EQ(s.exit_code, 4) << w.last_error;
    EXPECT_EQ(skips(s, Skip::FolderUnreadable), 1);
    EXPECT_FALSE(fs::exists(shared_copy));  // what could be read still goes on its date
    EXPECT_FALSE(fs::exists(bobs_copy));
    EXPECT_TRUE(fs::exists(hidden_copy));
    // Neither row is marked: "destroyed" would let digest_grace erase the digest that finds
    // the copy still in alice's folder.
    EXPECT_FALSE(w.destroyed("reply@x"));
    EXPECT_FALSE(w.destroyed("other@x"));

    // The folder readable again: the next run finds the rest and marks both.
    s = w.sweep(kNow + hours(24));
    EXPECT_EQ(s.exit_code, 0) << w.last_error;
    EXPECT_FALSE(fs::exists(hidden_copy));
    EXPECT_TRUE(w.destroyed("reply@x"));
    EXPECT_TRUE(w.destroyed("other@x"));
}

TEST(SweepScope, AGlobWhoseParentCannotBeReadIsASkipNotAnEmptyMatch) {
    skip_unless_root();
    World w;
    const auto shared_copy = w.deliver(w.shared_a, "reply@x");
    const auto personal_copy = w.deliver(w.staff / "alice" / ".Sent", "reply@x");
    w.row("reply@x", kPast, "respect-phoneline", "outbound");
    // An unmounted or re-permissioned store: glob(3) alone would say "no match".
    fs::permissions(w.staff, fs::perms::none);
    Summary s = w.sweep_as_unprivileged(kNow);
    fs::permissions(w.staff, fs::perms::owner_all);
    EXPECT_EQ(s.exit_code, 4) << w.last_error;
    EXPECT_EQ(skips(s, Skip::MailboxUnreadable), 1);
    EXPECT_FALSE(fs::exists(shared_copy));
    EXPECT_TRUE(fs::exists(personal_copy));
    EXPECT_FALSE(w.destroyed("reply@x"));

    s = w.sweep(kNow + hours(24));
    EXPECT_EQ(s.exit_code, 0) << w.last_error;
    EXPECT_FALSE(fs::exists(personal_copy));
    EXPECT_TRUE(w.destroyed("reply@x"));
}

TEST(SweepScope, AMissingSharedMailboxKeepsTheRowsOfCopiesDestroyedInAnother) {
    World w;
    // The same message went to both lines; one line's store is not mounted tonight.
    const auto copy_a = w.deliver(w.shared_a, "both@x");
    const auto copy_b = w.deliver(w.shared_b, "both@x");
    w.row("both@x", kPast, "respect-phoneline,mens-advice-line");
    const fs::path unmounted = w.dir / "unmounted";
    fs::rename(w.shared_b, unmounted);
    Summary s = w.sweep(kNow);
    EXPECT_EQ(s.exit_code, 4);
    EXPECT_EQ(skips(s, Skip::MailboxMissing), 1);
    EXPECT_FALSE(fs::exists(copy_a));
    EXPECT_FALSE(w.destroyed("both@x"));
    EXPECT_EQ(s.rows_mark_deferred, 1);
    EXPECT_EQ(w.index->last_receipt()->destroyed, 0);

    fs::rename(unmounted, w.shared_b);
    s = w.sweep(kNow + hours(24));
    EXPECT_EQ(s.exit_code, 0);
    EXPECT_FALSE(fs::exists(copy_b));
    EXPECT_TRUE(w.destroyed("both@x"));
}

TEST(SweepScope, TheSummaryNamesTheEntryNotReadAndNoStaffMember) {
    World w;
    const fs::path elsewhere = w.dir / "elsewhere";
    w.deliver(elsewhere, "kept@x");
    w.deliver(w.shared_a, "gone@x");
    w.row("gone@x", kPast);
    fs::create_directories(w.staff / "alice");
    make_maildir(w.staff / "alice");
    // A Sent folder that is a link is never followed, so never read.
    fs::create_directory_symlink(elsewhere, w.staff / "alice" / ".Sent");
    Summary s = w.sweep(kNow);
    EXPECT_EQ(s.exit_code, 4);
    EXPECT_EQ(skips(s, Skip::FolderIsLink), 1);
    const std::string pattern = (w.staff / "*").string();
    const std::string text = text_of(s);
    const std::string json = rm::sweep::to_json(s);
    EXPECT_NE(text.find("[[sweep.mailbox]] number 3 (path = \"" + pattern + "\")"), std::string::npos) << text;
    EXPECT_NE(text.find("no index row was marked destroyed"), std::string::npos) << text;
    for (const auto& out : {text, json}) EXPECT_EQ(out.find("alice"), std::string::npos) << out;
    const auto j = nlohmann::json::parse(json);
    ASSERT_EQ(j["mailboxes_not_read"].size(), 1u) << json;
    EXPECT_EQ(j["mailboxes_not_read"][0]["entry"], 3);
    EXPECT_EQ(j["mailboxes_not_read"][0]["path"], pattern);
    EXPECT_FALSE(w.destroyed("gone@x"));

    // --list is the admin asking for paths: then the folder is named.
    SweepOptions o;
    o.dry_run = true;
    o.list = true;
    s = w.sweep(kNow, o);
    EXPECT_NE(text_of(s).find(w.staff.string() + "/alice/.Sent"), std::string::npos);
}

TEST(SweepScope, APersonalEntryWithoutAGlobIsNamedByNumberOnly) {
    World w;
    w.mailbox_extra = "[[sweep.mailbox]]\npath = \"" + (w.dir / "vmail" / "carol.jones").string() +
                      "\"\nkind = \"personal\"\nuser = \"carol@respect.org.uk\"\n";
    const Summary s = w.sweep(kNow);
    EXPECT_EQ(s.exit_code, 4);
    const std::string text = text_of(s);
    EXPECT_NE(text.find("[[sweep.mailbox]] number 4 (kind = \"personal\")"), std::string::npos) << text;
    for (const auto& out : {text, rm::sweep::to_json(s)}) EXPECT_EQ(out.find("carol"), std::string::npos) << out;
}
