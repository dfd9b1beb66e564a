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
    expect_gone(w, {hidden_copy}, {"reply@x", "other@x"});
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
    expect_gone(w, {personal_copy}, {"reply@x"});
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
    expect_one_skip(s, Skip::MailboxMissing);
    EXPECT_FALSE(fs::exists(copy_a));
    EXPECT_FALSE(w.destroyed("both@x"));
    EXPECT_EQ(s.rows_mark_deferred, 1);
    EXPECT_EQ(w.index->last_receipt()->destroyed, 0);

    fs::rename(unmounted, w.shared_b);
    s = w.sweep(kNow + hours(24));
    EXPECT_EQ(s.exit_code, 0);
    expect_gone(w, {copy_b}, {"both@x"});
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
    expect_one_skip(s, Skip::FolderIsLink);
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

TEST(SweepScope, AMissingSharedMailboxIsASkipAnEmptyGlobIsNot) {
    World w;
    fs::remove_all(w.shared_b);
    w.mailbox_extra = "[[sweep.mailbox]]\npath = \"" + (w.dir / "nowhere" / "info").string() +
                      "\"\nkind = \"shared\"\nline = \"mens-advice-line\"\n";
    Summary s = w.sweep(kNow);
    EXPECT_EQ(s.exit_code, 4);  // shared_b and nowhere/info are missing; the staff glob matches nothing
    EXPECT_EQ(skips(s, Skip::MailboxMissing), 2);

    World v;
    s = v.sweep(kNow);
    EXPECT_EQ(s.exit_code, 0);  // no staff folders yet, no Sent anywhere: all normal
}

// An unmounted store leaves an empty mount point, or no folder at all where a glob's
// matches should be: its messages' rows must wait, not be marked "seen nowhere".
TEST(SweepScope, AStoreThatIsNotMountedWritesNothingOff) {
    World w;
    w.row("reply@x", kPast, "respect-phoneline", "outbound");  // its copies live in staff folders
    w.row("inbound@x", kPast);                                 // its copies live in the shared mailbox
    fs::remove_all(w.shared_a);
    fs::create_directories(w.shared_a);  // the mount point, empty
    fs::remove_all(w.staff);             // and the staff glob's folder is gone
    Summary s = w.sweep(kNow);
    expect_one_skip(s, Skip::MailboxEmpty);
    EXPECT_EQ(skips(s, Skip::MailboxMissing), 1);
    EXPECT_FALSE(w.destroyed("reply@x"));
    EXPECT_FALSE(w.destroyed("inbound@x"));

    // Mounted again: the copies are found and destroyed, the rows marked.
    const auto copy = w.deliver(w.shared_a, "inbound@x");
    const auto sent = w.deliver(w.staff / "alice" / ".Sent", "reply@x");
    s = w.sweep(kNow + hours(1));
    EXPECT_EQ(s.exit_code, 0) << w.last_error;
    expect_gone(w, {copy, sent}, {"reply@x", "inbound@x"});
}

TEST(SweepScope, ExpiredRowsAreNotMarkedWhenAStoreCouldNotBeRead) {
    World w;
    fs::remove_all(w.shared_b);  // its copies may still exist
    w.row("somewhere@x", kPast, "mens-advice-line");
    const Summary s = w.sweep(kNow);
    EXPECT_EQ(s.exit_code, 4);
    EXPECT_FALSE(w.destroyed("somewhere@x"));
    EXPECT_EQ(s.rows_unseen_deferred, 1);
}
