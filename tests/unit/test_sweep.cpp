// retention-sweep's rules, on generated Maildir++ trees and a real index.
#include <sqlite3.h>
#include <sys/file.h>

#include <nlohmann/json.hpp>
#include <openssl/sha.h>

#include <thread>

#include "core/strings.hpp"
#include "sweep_test_util.hpp"
#include "sweeper/destroy.hpp"
#include "sweeper/move.hpp"
#include "sweeper/own_files.hpp"
#include "sweeper/scan.hpp"
#include "sweeper/safety.hpp"

using namespace sweeptest;
using rm::sweep::Skip;
using rm::sweep::SweepOptions;
using rm::sweep::Summary;

namespace {

constexpr const char* kToday = "2026-06-15";  // kNow's date

SweepOptions dry() {
    SweepOptions o;
    o.dry_run = true;
    return o;
}

SweepOptions forced() {
    SweepOptions o;
    o.force = true;
    return o;
}

// The record a run writes before it renames anything, as a run killed then leaves it:
// the marker files that are its own.
void record_as_a_killed_run(World& w, const std::vector<fs::path>& markers, const std::vector<std::string>& tmp_names = {}) {
    rm::sweep::OwnFiles own;
    for (const auto& p : markers) {
        struct stat st {};
        ASSERT_EQ(::stat(p.c_str(), &st), 0);
        own.inodes.insert({st.st_dev, st.st_ino});
    }
    for (const auto& n : tmp_names) own.tmp_names.insert(rm::sweep::OwnFiles::tmp_key(*w.key, n));
    w.index->set_meta(rm::sweep::kMetaInProgress, "{\"own\":" + own.to_json() + "}");
}

// A staff member's Sent copy as their mail client named it, and the shared mailbox's
// Sent folder it is to move into.
fs::path sent_copy_to_move(World& w, const std::string& who, const std::string& name, const std::string& message_id) {
    make_maildir(w.shared_a / ".Sent");
    const fs::path source = w.staff / who / ".Sent" / "cur" / name;
    spit(source, "Message-ID: <" + message_id + ">\n\nbody\n");
    return source;
}

// A file outside the store that holds an expired message (<target@x>), reached through a
// symlink named `name` in the shared mailbox's cur/.
fs::path expired_file_linked_from_cur(World& w, const std::string& name) {
    const fs::path outside = w.dir / "outside-the-store";
    spit(outside, "Message-ID: <target@x>\n\nprecious\n");
    fs::create_symlink(outside, w.shared_a / "cur" / name);
    w.row("target@x", kPast);
    return outside;
}

}  // namespace

// --- the destroy rule ----------------------------------------------------------------

TEST(Sweep, DestroysWhatHasExpiredAndKeepsTheRest) {
    World w;
    const auto old_msg = w.deliver(w.shared_a, "old@x");
    const auto due_today = w.deliver(w.shared_a / ".Sent", "today@x", "new");
    const auto young = w.deliver(w.shared_a, "young@x");
    w.row("old@x", kPast);
    w.row("today@x", kToday);
    w.row("young@x", kFuture);

    const Summary s = w.sweep(kNow);
    EXPECT_EQ(s.exit_code, 0) << w.last_error;
    EXPECT_FALSE(fs::exists(old_msg));
    EXPECT_FALSE(fs::exists(due_today));  // the retention date is the first day it may go
    EXPECT_TRUE(fs::exists(young));
    EXPECT_TRUE(w.destroyed("old@x"));
    EXPECT_TRUE(w.destroyed("today@x"));
    EXPECT_FALSE(w.destroyed("young@x"));
    EXPECT_EQ(w.rows("old@x").at(0).copies, 1);
    EXPECT_TRUE(w.rows("old@x").at(0).destroyed_at.has_value());
    EXPECT_EQ(s.lines.at("respect-phoneline").destroyed, 2);
    EXPECT_EQ(s.lines.at("respect-phoneline").kept, 1);
}

TEST(Sweep, AKeyTheIndexDisownsStopsTheSweep) {
    World w;
    const auto old_msg = w.deliver(w.shared_a, "old@x");
    w.row("old@x", kPast);
    w.index->remember_key(*w.key);
    // Another key of the right size and mode: every lookup would miss, and the expired row
    // would look copy-less. The sweep must stop, not mark it destroyed.
    {
        std::ofstream out(w.key_path, std::ios::binary | std::ios::trunc);
        out << std::string(32, 'k');
    }
    const Summary s = w.sweep(kNow);
    EXPECT_EQ(s.exit_code, 3);
    EXPECT_NE(w.last_error.find("not the key the index"), std::string::npos) << w.last_error;
    EXPECT_TRUE(fs::exists(old_msg));
    EXPECT_FALSE(w.destroyed("old@x"));
}

TEST(Sweep, OneUnexpiredRowKeepsTheMessage) {
    World w;
    const auto msg = w.deliver(w.shared_a, "twice@x");
    w.row("twice@x", kPast);
    w.row("twice@x", kFuture, "respect-phoneline", "internal");  // it passed the milter again later
    const Summary s = w.sweep(kNow);
    EXPECT_EQ(s.exit_code, 0);
    EXPECT_TRUE(fs::exists(msg));
    EXPECT_FALSE(w.destroyed("twice@x"));
    EXPECT_EQ(s.lines.at("respect-phoneline").kept, 1);
}

TEST(Sweep, AHeldMessageIsNeverDestroyed) {
    World w;
    const auto msg = w.deliver(w.shared_a, "held@x");
    w.row("held@x", kPast);
    w.index->hold(w.digest("held@x"), "safeguarding", "CASE-1", "tester", kNow - days(30));
    const Summary s = w.sweep(kNow);
    EXPECT_EQ(s.exit_code, 0);
    EXPECT_TRUE(fs::exists(msg));
    EXPECT_FALSE(w.destroyed("held@x"));
    EXPECT_EQ(s.lines.at("respect-phoneline").held, 1);

    w.index->release(w.digest("held@x"), "tester", kNow);
    EXPECT_EQ(w.sweep(kNow + hours(1)).exit_code, 0);
    expect_gone(w, {msg}, {"held@x"});
}

TEST(Sweep, AHoldPlacedDuringTheScanStillWins) {
    World w;
    const auto held = w.deliver(w.shared_a, "held-late@x");
    const auto other = w.deliver(w.shared_a, "not-held@x");
    w.row("held-late@x", kPast);
    w.row("not-held@x", kPast);
    rm::sweep::SweepOptions o;
    o.between_phases = [&] { w.index->hold(w.digest("held-late@x"), "safeguarding", "CASE-2", "tester", kNow); };
    const Summary s = w.sweep(kNow, o);
    EXPECT_EQ(s.exit_code, 0);
    EXPECT_TRUE(fs::exists(held));
    EXPECT_FALSE(w.destroyed("held-late@x"));
    expect_gone(w, {other}, {"not-held@x"});
    EXPECT_EQ(s.lines.at("respect-phoneline").held, 1);
    EXPECT_EQ(s.lines.at("respect-phoneline").destroyed, 1);
}

// The same for a message no store holds any more: its rows are not marked destroyed.
TEST(Sweep, AHoldPlacedDuringTheScanKeepsAMessageWithNoCopyPresent) {
    World w;
    w.deliver(w.shared_a, "present@x");
    w.row("present@x", kFuture);
    w.row("no-copy@x", kPast);
    w.row("no-copy-held@x", kPast);
    rm::sweep::SweepOptions o;
    o.between_phases = [&] { w.index->hold(w.digest("no-copy-held@x"), "legal", "CASE-4", "tester", kNow); };
    const Summary s = w.sweep(kNow, o);
    EXPECT_EQ(s.exit_code, 0) << w.last_error;
    EXPECT_TRUE(w.destroyed("no-copy@x"));
    EXPECT_FALSE(w.destroyed("no-copy-held@x"));
    EXPECT_EQ(s.rows_marked_unseen, 1);
}

TEST(Sweep, EveryCopyGoesAndTheRowCountsThem) {
    World w;
    const auto a = w.deliver(w.shared_a, "copies@x");
    const auto b = w.deliver(w.shared_a / ".Archive", "copies@x");
    const auto c = w.deliver(w.shared_a / ".Deleted Items", "copies@x", "new");
    w.row("copies@x", kPast);
    EXPECT_EQ(w.sweep(kNow).exit_code, 0);
    for (const auto& p : {a, b, c}) EXPECT_FALSE(fs::exists(p)) << p;
    EXPECT_EQ(w.rows("copies@x").at(0).copies, 3);
}

TEST(Sweep, OverwritesBeforeUnlinkingUnlessToldOtherwise) {
    for (const bool overwrite : {true, false}) {
        World w;
        if (!overwrite) w.sweep_extra = "secure_delete = \"unlink\"\n";
        const auto msg = w.deliver(w.shared_a, "secret@x");
        w.row("secret@x", kPast);
        const std::string before = slurp(msg);
        // An open descriptor still reaches the file's data after the unlink.
        const int fd = ::open(msg.c_str(), O_RDONLY | O_CLOEXEC);
        ASSERT_GE(fd, 0);
        EXPECT_EQ(w.sweep(kNow).exit_code, 0);
        EXPECT_FALSE(fs::exists(msg));
        std::string after(before.size(), 'x');
        ASSERT_EQ(::pread(fd, after.data(), after.size(), 0), static_cast<ssize_t>(after.size()));
        ::close(fd);
        if (overwrite) EXPECT_EQ(after, std::string(before.size(), '\0'));
        else EXPECT_EQ(after, before);
    }
}

// --- the scan cache --------------------------------------------------------------------

namespace {

// Files written by the test count as settled at once (the real default waits 2 s).
SweepOptions learning(SweepOptions o = {}) {
    o.scan_cache_settle = std::chrono::seconds(0);
    return o;
}

long cache_rows(const World& w) {
    sqlite3_stmt* s = nullptr;
    sqlite3_prepare_v2(w.index->handle(), "SELECT count(*) FROM scan_cache", -1, &s, nullptr);
    const long n = sqlite3_step(s) == SQLITE_ROW ? static_cast<long>(sqlite3_column_int64(s, 0)) : -1;
    sqlite3_finalize(s);
    return n;
}

}  // namespace

TEST(Sweep, RowsKeyedBeforeTheCanonicalFormStillMatchTheirCopies) {
    World w;
    make_maildir(w.shared_a);
    // A reply whose Message-ID has a byte that is not UTF-8, indexed by an older milter over
    // the bytes as they are; its mail client's copy, deleted, carries no stamp.
    const std::string id = "r\xE9ply@x";
    const auto copy = w.deliver(w.staff / "alice" / ".Trash", id);
    w.legacy_keys = true;
    w.row(id, kFuture, "respect-phoneline", "outbound");
    // Before its date it is kept, and not cached without its older key...
    EXPECT_EQ(w.sweep(kNow, learning()).exit_code, 0);
    EXPECT_TRUE(fs::exists(copy));
    // ...so that on its date it is found and destroyed.
    EXPECT_EQ(w.sweep(at(kFuture), learning()).exit_code, 0);
    EXPECT_FALSE(fs::exists(copy));
    EXPECT_TRUE(w.destroyed(id));
}

TEST(Sweep, ASecondRunReadsOnlyTheFilesItHasNotSeen) {
    World w;
    w.deliver(w.shared_a, "kept1@x");
    w.deliver(w.shared_b, "kept2@x", "new");
    w.deliver(w.staff / "alice" / ".Sent", "own@x");  // the staff member's own mail: no row
    w.row("kept1@x", kFuture);
    w.row("kept2@x", kFuture, "mens-advice-line");

    const Summary first = w.sweep(kNow, learning());
    EXPECT_EQ(first.messages_scanned, 3);
    EXPECT_EQ(first.messages_known, 0);
    EXPECT_EQ(cache_rows(w), 3);

    w.deliver(w.shared_a, "later@x");
    w.row("later@x", kFuture);
    const Summary second = w.sweep(kNow, learning());
    EXPECT_EQ(second.exit_code, 0) << w.last_error;
    EXPECT_EQ(second.messages_scanned, 4);
    EXPECT_EQ(second.messages_known, 3);
    EXPECT_EQ(second.lines.at("respect-phoneline").kept, 2);

    SweepOptions all = learning();
    all.read_all = true;
    const Summary third = w.sweep(kNow, all);
    EXPECT_EQ(third.messages_scanned, 4);
    EXPECT_EQ(third.messages_known, 0);
}

namespace {

// Counts the scan cache's look-ups: those of one file, and batches.
class CountingIndex : public rm::test::TestIndex {
public:
    using TestIndex::TestIndex;
    std::optional<FileKeys> known_file(const std::string& file_key) const override {
        if (!in_batch_) ++single_lookups;
        return TestIndex::known_file(file_key);
    }
    KnownFiles known_files(const std::vector<std::string>& file_keys) const override {
        ++batches;
        in_batch_ = true;
        auto found = TestIndex::known_files(file_keys);
        in_batch_ = false;
        return found;
    }
    mutable int single_lookups = 0;
    mutable int batches = 0;

private:
    mutable bool in_batch_ = false;
};

}  // namespace

// On a database server each look-up is a round trip: the scan asks about a folder's files
// a few hundred at a time, never one by one.
TEST(Sweep, TheScanAsksTheScanCacheInBatchesNotFileByFile) {
    World w;
    for (int i = 0; i < 300; ++i) {
        const std::string id = "batch" + std::to_string(i) + "@x";
        w.deliver(w.shared_a, id);
        w.row(id, kFuture);
    }
    const rm::Config c = w.config();
    rm::sweep::Summary first;
    rm::sweep::make_plan(c, *w.index, *w.key, date(kToday), first,
                         {.look_up = true, .learn_into = w.index.get(), .settle = std::chrono::seconds(0)});
    ASSERT_EQ(first.messages_scanned, 300);

    CountingIndex counting(w.index_path, {.create = false, .read_only = true, .busy_timeout_ms = 5000});
    rm::sweep::Summary second;
    rm::sweep::make_plan(c, counting, *w.key, date(kToday), second, {.look_up = true, .learn_into = nullptr});
    EXPECT_EQ(second.messages_known, 300);
    EXPECT_EQ(counting.single_lookups, 0);
    EXPECT_GE(counting.batches, 2);  // 256 and 44 (and none for folders without files)
}

TEST(Sweep, AKnownFileGoesOnItsDateAndAHoldStillKeepsOne) {
    World w;
    const auto a = w.deliver(w.shared_a, "a@x");
    const auto b = w.deliver(w.shared_a, "b@x");
    const auto reply = w.deliver(w.staff / "alice" / ".Sent", "reply@x");
    w.row("a@x", kFuture);
    w.row("b@x", kFuture);
    w.row("reply@x", kFuture, "respect-phoneline", "outbound");
    w.sweep(kNow, learning());
    ASSERT_EQ(cache_rows(w), 3);
    ASSERT_FALSE(fs::exists(reply));  // moved to the line's shared Sent folder
    w.index->hold(w.digest("b@x"), "safeguarding", "CASE-3", "tester", kNow);

    const Summary later = w.sweep(at("2026-07-02"), learning());
    EXPECT_EQ(later.exit_code, 0) << w.last_error;
    EXPECT_EQ(later.messages_known, 2);  // a and b; the moved reply is a new file
    expect_gone(w, {a}, {"a@x"});
    EXPECT_TRUE(fs::exists(b));
    EXPECT_FALSE(w.destroyed("b@x"));
    EXPECT_EQ(later.lines.at("respect-phoneline").held, 1);
    EXPECT_TRUE(w.destroyed("reply@x"));
}

// Rewritten in place to the same size with its old mtime put back: only the ctime the
// kernel set tells that it changed, and that is enough for it to be read again.
TEST(Sweep, AFileChangedSinceItWasReadIsReadAgain) {
    World w;
    const auto f = w.deliver(w.shared_a, "young@y");
    w.row("young@y", kFuture);
    w.row("older@y", kPast);
    w.sweep(kNow, learning());
    ASSERT_EQ(cache_rows(w), 1);

    struct stat before {};
    ASSERT_EQ(::stat(f.c_str(), &before), 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // past the file system's time tick
    std::string text = slurp(f);
    for (size_t pos; (pos = text.find("young@y")) != std::string::npos;) text.replace(pos, 7, "older@y");
    spit(f, text);
    const struct timespec times[2] = {before.st_atim, before.st_mtim};
    ASSERT_EQ(::utimensat(AT_FDCWD, f.c_str(), times, 0), 0);
    struct stat after {};
    ASSERT_EQ(::stat(f.c_str(), &after), 0);
    ASSERT_EQ(after.st_size, before.st_size);
    ASSERT_EQ(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);

    const Summary s = w.sweep(kNow, learning());
    EXPECT_EQ(s.messages_known, 0);
    expect_gone(w, {f}, {"older@y"});
    EXPECT_FALSE(w.destroyed("young@y"));
}

TEST(Sweep, FreshFilesAndDryRunsTeachTheCacheNothing) {
    World w;
    w.deliver(w.shared_a, "m@x");
    w.row("m@x", kFuture);
    w.sweep(kNow, learning(dry()));
    EXPECT_EQ(cache_rows(w), 0);
    w.sweep(kNow);  // the default: a file changed in the last 2 s is not remembered yet
    EXPECT_EQ(cache_rows(w), 0);
    w.sweep(kNow, learning());
    EXPECT_EQ(cache_rows(w), 1);
}

// --- orphans -------------------------------------------------------------------------

TEST(Sweep, OrphansAreReportedByDefaultAndKept) {
    World w;
    const auto orphan = w.deliver(w.shared_a, "orphan@x", "cur", "", 1500000000);
    const Summary s = w.sweep(kNow);
    EXPECT_EQ(s.exit_code, 0);
    EXPECT_TRUE(fs::exists(orphan));
    EXPECT_EQ(s.lines.at("respect-phoneline").orphans, 1);
    ASSERT_EQ(s.warnings.size(), 1u);
    EXPECT_NE(s.warnings[0].find("no index row"), std::string::npos);
}

TEST(Sweep, OrphansKeepIsQuiet) {
    World w;
    w.sweep_extra = "orphans = \"keep\"\n";
    const auto orphan = w.deliver(w.shared_a, "orphan@x", "cur", "", 1500000000);
    const Summary s = w.sweep(kNow);
    EXPECT_TRUE(fs::exists(orphan));
    EXPECT_TRUE(s.warnings.empty());
}

TEST(Sweep, OrphansExpireByDeliveryTimeNeverByAWrittenDate) {
    World w;
    w.sweep_extra = "orphans = \"expire\"\n";
    // Delivered 2025-12-15 + 6 months = 2026-06-15: due today.
    const auto old_orphan = w.deliver(w.shared_a, "o1@x", "cur", "", sys_seconds(sys_days{date("2025-12-15")}).time_since_epoch().count());
    // Delivered 2025-12-16: due tomorrow, whatever its forged header says.
    const auto young = w.deliver(w.shared_a, "o2@x", "cur", "X-Retain-Until: 2000-01-01\nDate: Mon, 1 Jan 2001 00:00:00 +0000\n",
                                 sys_seconds(sys_days{date("2025-12-16")}).time_since_epoch().count());
    // A name without a usable time: its mtime counts.
    make_maildir(w.shared_a);
    const fs::path odd = w.shared_a / "cur" / "99999999999999999999.M1.host:2,";
    spit(odd, "Message-ID: <o3@x>\n\n");
    const auto old_time = sys_days{date("2020-01-01")};
    const timespec ts[2] = {{0, UTIME_OMIT}, {sys_seconds(old_time).time_since_epoch().count(), 0}};
    ASSERT_EQ(::utimensat(AT_FDCWD, odd.c_str(), ts, 0), 0);

    const Summary s = w.sweep(kNow);
    EXPECT_EQ(s.exit_code, 0);
    EXPECT_FALSE(fs::exists(old_orphan));
    EXPECT_TRUE(fs::exists(young));
    EXPECT_FALSE(fs::exists(odd));
    EXPECT_EQ(s.lines.at("respect-phoneline").orphans_destroyed, 2);
    EXPECT_EQ(s.lines.at("respect-phoneline").orphans, 1);
}

// --- personal mailboxes --------------------------------------------------------------

TEST(Sweep, APersonalSentCopyMovesIntoTheLinesSharedSent) {
    World w;
    make_maildir(w.shared_a);
    const fs::path alice = w.staff / "alice";
    // The copy a mail client saves on sending: same Message-ID, none of our headers (one
    // forged copy of ours that must not survive), CRLF line ends.
    make_maildir(alice / ".Sent Items");
    const std::string name = "1760000000.M5P5.client,S=77:2,SR";
    const fs::path copy = alice / ".Sent Items" / "cur" / name;
    const std::string original = "Message-ID: <reply@x>\r\nX-Retain-Until: 2099-01-01\r\nSubject: re\r\n\r\nthe reply\r\n";
    spit(copy, original);
    w.row("reply@x", kFuture, "respect-phoneline", "outbound");
    const auto own = w.deliver(alice / ".Sent Items", "own@x");          // the staff member's own mail
    const auto inbox = w.deliver(alice, "reply@x");                      // personal INBOX: never looked at

    const Summary s = w.sweep(kNow);
    EXPECT_EQ(s.exit_code, 0) << w.last_error;
    EXPECT_FALSE(fs::exists(copy));
    EXPECT_TRUE(fs::exists(own));
    EXPECT_TRUE(fs::exists(inbox));
    const std::string expected =
        "X-Helpline-Line: respect-phoneline\r\nX-Helpline-Direction: outbound\r\nX-Retain-Until: 2026-07-01\r\n"
        "X-Retention-Policy: email\r\nMessage-ID: <reply@x>\r\nSubject: re\r\n\r\nthe reply\r\n";
    // Base name and flags kept; Dovecot's size field follows the new size.
    const fs::path moved = w.shared_a / ".Sent" / "cur" /
                           ("1760000000.M5P5.client,S=" + std::to_string(expected.size()) + ":2,SR");
    ASSERT_TRUE(fs::exists(moved)) << tree(w.shared_a / ".Sent").begin()->first;
    EXPECT_EQ(slurp(moved), expected);
    for (const char* part : {"cur", "new", "tmp", "maildirfolder"}) EXPECT_TRUE(fs::exists(w.shared_a / ".Sent" / part));
    EXPECT_EQ(s.lines.at("respect-phoneline").moved, 1);
    EXPECT_EQ(s.folders_created, 1);
    EXPECT_TRUE(fs::is_empty(w.shared_a / ".Sent" / "tmp"));

    // It then expires there like any other copy.
    EXPECT_EQ(w.sweep(at("2026-07-01")).exit_code, 0);
    expect_gone(w, {moved}, {"reply@x"});
}

TEST(Sweep, MovesIntoAnExistingSentFolderOfTheRightLine) {
    World w;
    make_maildir(w.shared_a);
    make_maildir(w.shared_b / ".Sent Items");
    const auto copy = w.deliver(w.staff / "bob" / ".Sent", "mal@x");
    w.row("mal@x", kFuture, "mens-advice-line", "outbound");
    EXPECT_EQ(w.sweep(kNow).exit_code, 0);
    EXPECT_FALSE(fs::exists(copy));
    EXPECT_EQ(w.copies("mal@x").size(), 1u);
    EXPECT_EQ(w.copies("mal@x").at(0).parent_path().parent_path(), w.shared_b / ".Sent Items");
    EXPECT_FALSE(fs::exists(w.shared_b / ".Sent"));
}

TEST(Sweep, AnExpiredPersonalSentCopyIsDestroyedInPlace) {
    World w;
    make_maildir(w.shared_a);
    const auto copy = w.deliver(w.staff / "alice" / ".Sent", "oldreply@x");
    w.row("oldreply@x", kPast, "respect-phoneline", "outbound");
    EXPECT_EQ(w.sweep(kNow).exit_code, 0);
    EXPECT_FALSE(fs::exists(copy));
    EXPECT_TRUE(w.copies("oldreply@x").empty());
    EXPECT_TRUE(w.destroyed("oldreply@x"));
}

TEST(Sweep, PersonalDeletedFoldersLoseHelplineCopiesOnTheirDate) {
    World w;
    make_maildir(w.shared_a);
    // A stamped copy staff received, and a mail client's copy of a reply, both deleted.
    const auto due = w.deliver(w.staff / "alice" / ".Deleted Items", "gone@x", "cur",
                               World::record_header(World::token("gone@x")));
    const auto nested = w.deliver(w.staff / "alice" / ".Deleted Items.Old folder", "gone2@x");
    const auto young = w.deliver(w.staff / "alice" / ".Trash", "notyet@x", "cur",
                                 World::record_header(World::token("notyet@x")));
    const auto own = w.deliver(w.staff / "alice" / ".Trash", "mine@x", "cur", "", 1000000000);
    w.row("gone@x", kPast, "respect-phoneline", "inbound", World::token("gone@x"));
    w.row("gone2@x", kPast, "respect-phoneline", "outbound");
    w.row("notyet@x", kFuture, "respect-phoneline", "inbound", World::token("notyet@x"));
    const Summary s = w.sweep(kNow);
    EXPECT_EQ(s.exit_code, 0);
    EXPECT_FALSE(fs::exists(due));
    EXPECT_FALSE(fs::exists(nested));
    EXPECT_TRUE(fs::exists(young));  // not moved: only Sent copies move
    EXPECT_TRUE(fs::exists(own));
}

TEST(Sweep, AMoveKilledAfterItsRenameIsFinishedNotDoubled) {
    World w;
    const std::string name = "1760000000.M9P9.client,S=1:2,S";
    const fs::path source = sent_copy_to_move(w, "carol", name, "half@x");
    // What the killed run had already put in place (Dovecot has since marked it read).
    spit(w.shared_a / ".Sent" / "cur" / (name.substr(0, name.find(':')) + ":2,RS"),
         "X-Helpline-Line: respect-phoneline\nMessage-ID: <half@x>\n\nbody\n");
    // And a leftover of an even earlier attempt in tmp/.
    spit(w.shared_a / ".Sent" / "tmp" / ".retention-sweep.1760000000.M9P9.client,S=1", "Message-ID: <half@x>\n\n");
    record_as_a_killed_run(w, {}, {".retention-sweep.1760000000.M9P9.client,S=1"});
    w.row("half@x", kFuture, "respect-phoneline", "outbound");
    const Summary s = w.sweep(kNow);
    EXPECT_EQ(s.exit_code, 0) << w.last_error;
    EXPECT_FALSE(fs::exists(source));
    EXPECT_EQ(w.copies("half@x").size(), 1u);
    EXPECT_TRUE(fs::is_empty(w.shared_a / ".Sent" / "tmp"));
    EXPECT_EQ(s.residues.interrupted_finished, 1);
}

// One run lists a destination folder once (a first run over a backlog moves thousands of
// copies into one folder); the copies it moves in after that listing count as there too.
TEST(Sweep, ManyCopiesMovedIntoOneFolderInOneRunLandOnceEach) {
    World w;
    make_maildir(w.shared_a);  // its Sent folder is made by the first move, and reported once
    for (int i = 0; i < 40; ++i) {
        const std::string id = "many" + std::to_string(i) + "@x";
        w.deliver(w.staff / (i % 2 ? "fay" : "gus") / ".Sent", id);
        w.row(id, kFuture, "respect-phoneline", "outbound");
    }
    // The same message in two personal Sent folders under one base name (a copy made by
    // hand keeps its name), read in one and not the other: both go, one copy lands.
    const std::string base = "1760000000.M5P5.client";
    spit(w.staff / "fay" / ".Sent" / "cur" / (base + ",S=1:2,S"), "Message-ID: <twice@x>\n\nbody\n");
    spit(w.staff / "gus" / ".Sent" / "cur" / (base + ",S=1:2,"), "Message-ID: <twice@x>\n\nbody\n");
    w.row("twice@x", kFuture, "respect-phoneline", "outbound");
    const Summary s = w.sweep(kNow);
    EXPECT_EQ(s.exit_code, 0) << w.last_error;
    for (int i = 0; i < 40; ++i) {
        const auto where = w.copies("many" + std::to_string(i) + "@x");
        ASSERT_EQ(where.size(), 1u);
        EXPECT_EQ(where.at(0).parent_path().parent_path(), w.shared_a / ".Sent");
    }
    EXPECT_EQ(s.folders_created, 1);
    EXPECT_EQ(w.copies("twice@x").size(), 1u);
    EXPECT_FALSE(fs::exists(w.staff / "fay" / ".Sent" / "cur" / (base + ",S=1:2,S")));
    EXPECT_FALSE(fs::exists(w.staff / "gus" / ".Sent" / "cur" / (base + ",S=1:2,")));
}

TEST(Sweep, ADifferentMessageWithTheSameNameAtTheDestinationIsNotOverwritten) {
    World w;
    const std::string name = "1760000000.M7P7.client,S=1:2,S";
    const fs::path source = sent_copy_to_move(w, "dave", name, "mine@x");
    spit(w.shared_a / ".Sent" / "cur" / name, "Message-ID: <other@x>\n\nbody\n");
    w.row("mine@x", kFuture, "respect-phoneline", "outbound");
    const Summary s = w.sweep(kNow);
    expect_one_skip(s, Skip::NameTaken);
    EXPECT_TRUE(fs::exists(source));
    EXPECT_EQ(slurp(w.shared_a / ".Sent" / "cur" / name), "Message-ID: <other@x>\n\nbody\n");
}

TEST(Sweep, WithoutASharedMailboxForTheLineTheCopyStaysAndIsReported) {
    World w;
    fs::remove_all(w.shared_b);
    const auto copy = w.deliver(w.staff / "erin" / ".Sent", "nowhere@x");
    w.row("nowhere@x", kFuture, "mens-advice-line", "outbound");
    const Summary s = w.sweep(kNow);
    expect_one_skip(s, Skip::NoDestination);
    EXPECT_TRUE(fs::exists(copy));
}

// --- what is never touched -----------------------------------------------------------

TEST(Sweep, NeverTouchesTmpOrTheMailServersOwnFiles) {
    World w;
    make_maildir(w.shared_a);
    const std::vector<std::string> server_files = {"dovecot-uidlist", "dovecot-uidvalidity", "dovecot.index",
                                                   "dovecot.index.log", "dovecot.index.cache", "dovecot-keywords",
                                                   "subscriptions", "courierimapkeywords/:list"};
    for (const auto& f : server_files) spit(w.shared_a / f, "server data\n");
    spit(w.shared_a / ".Sent" / "maildirfolder", "");
    make_maildir(w.shared_a / ".Sent");
    // An expired message being delivered (still in tmp/) and one in cur/.
    spit(w.shared_a / "tmp" / "1700000000.M1P1.host", "Message-ID: <intmp@x>\n\n");
    spit(w.shared_a / "cur" / ".hidden", "Message-ID: <intmp@x>\n\n");
    const auto msg = w.deliver(w.shared_a, "intmp@x");
    w.row("intmp@x", kPast);
    const Summary s = w.sweep(kNow);
    EXPECT_EQ(s.exit_code, 0);
    EXPECT_FALSE(fs::exists(msg));
    for (const auto& f : server_files) EXPECT_EQ(slurp(w.shared_a / f), "server data\n") << f;
    EXPECT_TRUE(fs::exists(w.shared_a / ".Sent" / "maildirfolder"));
    EXPECT_TRUE(fs::exists(w.shared_a / "tmp" / "1700000000.M1P1.host"));
    EXPECT_TRUE(fs::exists(w.shared_a / "cur" / ".hidden"));
}

TEST(Sweep, ASymlinkInCurIsNeitherFollowedNorItsTargetDestroyed) {
    World w;
    make_maildir(w.shared_a);
    const fs::path outside = expired_file_linked_from_cur(w, "1700000000.M1P1.host:2,S");
    const Summary s = w.sweep(kNow);
    expect_one_skip(s, Skip::Symlink);
    EXPECT_EQ(slurp(outside), "Message-ID: <target@x>\n\nprecious\n");
    EXPECT_TRUE(fs::is_symlink(w.shared_a / "cur" / "1700000000.M1P1.host:2,S"));
    EXPECT_FALSE(w.destroyed("target@x"));  // a store could not be fully read: not marked
    EXPECT_EQ(s.rows_unseen_deferred, 1);
}

TEST(Sweep, SymlinkedFoldersAndMailboxesAreNotFollowed) {
    World w;
    make_maildir(w.shared_a);
    const fs::path elsewhere = w.dir / "elsewhere";
    const auto victim = w.deliver(elsewhere, "victim@x");
    fs::create_directory_symlink(elsewhere, w.shared_a / ".Linked");
    fs::create_directories(w.staff);
    fs::create_directory_symlink(elsewhere, w.staff / "mallory");
    w.row("victim@x", kPast);
    const Summary s = w.sweep(kNow);
    expect_one_skip(s, Skip::FolderIsLink);
    EXPECT_TRUE(fs::exists(victim));
}

TEST(Sweep, AHardLinkToOutsideLosesOnlyItsNameNeverTheOutsideContent) {
    World w;
    const auto msg = w.deliver(w.shared_a, "linked@x");
    const fs::path outside = w.dir / "backup-copy";
    fs::create_hard_link(msg, outside);
    const std::string before = slurp(outside);
    w.row("linked@x", kPast);
    const Summary s = w.sweep(kNow);
    expect_one_skip(s, Skip::HardLink);
    EXPECT_FALSE(fs::exists(msg));
    EXPECT_EQ(slurp(outside), before);
}

TEST(Sweep, HardLinksWithinTheStoreAreDestroyedTogetherAndOverwritten) {
    World w;
    const auto msg = w.deliver(w.shared_a, "dovecot-copy@x");
    make_maildir(w.shared_a / ".Archive");
    const fs::path link = w.shared_a / ".Archive" / "cur" / msg.filename();
    fs::create_hard_link(msg, link);  // as Dovecot copies between folders
    const int fd = ::open(msg.c_str(), O_RDONLY | O_CLOEXEC);
    const auto size = fs::file_size(msg);
    w.row("dovecot-copy@x", kPast);
    const Summary s = w.sweep(kNow);
    EXPECT_EQ(s.exit_code, 0);
    EXPECT_FALSE(fs::exists(msg));
    EXPECT_FALSE(fs::exists(link));
    std::string after(size, 'x');
    ASSERT_EQ(::pread(fd, after.data(), size, 0), static_cast<ssize_t>(size));
    ::close(fd);
    EXPECT_EQ(after, std::string(size, '\0'));
    EXPECT_EQ(w.rows("dovecot-copy@x").at(0).copies, 2);
}

// secure_delete = "unlink" takes its own path (no marker, no overwrite): the same rules.
TEST(Sweep, UnlinkModeKeepsTheRulesOfLinks) {
    World w;
    w.sweep_extra = "secure_delete = \"unlink\"\n";
    const auto linked = w.deliver(w.shared_a, "linked@x");
    const fs::path outside = w.dir / "backup-copy";
    fs::create_hard_link(linked, outside);
    const std::string before = slurp(outside);
    w.row("linked@x", kPast);
    const auto msg = w.deliver(w.shared_a, "dovecot-copy@x");
    make_maildir(w.shared_a / ".Archive");
    const fs::path copy = w.shared_a / ".Archive" / "cur" / msg.filename();
    fs::create_hard_link(msg, copy);
    w.row("dovecot-copy@x", kPast);
    const fs::path target = expired_file_linked_from_cur(w, "1700000000.M9P1.host:2,S");

    const Summary s = w.sweep(kNow);
    expect_one_skip(s, Skip::HardLink);
    EXPECT_EQ(skips(s, Skip::Symlink), 1);
    EXPECT_FALSE(fs::exists(linked));
    EXPECT_EQ(slurp(outside), before);  // the outside name keeps its content
    EXPECT_FALSE(fs::exists(msg));
    EXPECT_FALSE(fs::exists(copy));
    EXPECT_EQ(w.rows("dovecot-copy@x").at(0).copies, 2);
    EXPECT_EQ(slurp(target), "Message-ID: <target@x>\n\nprecious\n");
    EXPECT_TRUE(fs::is_symlink(w.shared_a / "cur" / "1700000000.M9P1.host:2,S"));
    for (const auto& e : fs::recursive_directory_iterator(w.shared_a))  // no marker left behind
        EXPECT_NE(e.path().filename().string().rfind(".retention-sweep", 0), 0u) << e.path();
}

// --- bad input -----------------------------------------------------------------------

TEST(Sweep, BadFilesAreReportedSkippedAndLeftAlone) {
    World w;
    make_maildir(w.shared_a);
    spit(w.shared_a / "cur" / "1700000000.M1P1.empty:2,", "");
    spit(w.shared_a / "cur" / "1700000000.M2P1.garbage:2,", std::string("\x01\x02\x03 garbage\n\n", 13));
    spit(w.shared_a / "cur" / "not-a-maildir-name.eml", "Message-ID: <x@x>\n\n");
    ASSERT_EQ(::mkfifo((w.shared_a / "new" / "1700000000.M3P1.fifo").c_str(), 0600), 0);
    const auto fine = w.deliver(w.shared_a, "fine@x");
    w.row("fine@x", kPast);
    const Summary s = w.sweep(kNow);
    expect_one_skip(s, Skip::Empty);
    EXPECT_EQ(skips(s, Skip::NoHeaderBlock), 1);
    EXPECT_EQ(skips(s, Skip::NotMaildirName), 1);
    EXPECT_EQ(skips(s, Skip::NotRegular), 1);
    EXPECT_FALSE(fs::exists(fine));  // the run goes on
    EXPECT_TRUE(fs::exists(w.shared_a / "cur" / "1700000000.M1P1.empty:2,"));
    EXPECT_TRUE(fs::exists(w.shared_a / "cur" / "not-a-maildir-name.eml"));
    EXPECT_EQ(s.lines.at("respect-phoneline").skipped, 4);
}

// A staff member's Sent copy of a message a client wrote without any header: nothing could
// tie it to helpline mail, so it is their own file, as a message the index does not know.
TEST(Sweep, AHeaderlessFileInAPersonalFolderIsTheStaffMembersOwnNotASkip) {
    World w;
    make_maildir(w.staff / "alice" / ".Sent");
    const fs::path body_only = w.staff / "alice" / ".Sent" / "cur" / "1700000000.M1P1.host:2,S";
    spit(body_only, "just a body, no header at all\n\nsecond paragraph\n");
    const fs::path empty = w.staff / "alice" / ".Sent" / "cur" / "1700000000.M2P1.host:2,S";
    spit(empty, "");
    const Summary s = w.sweep(kNow);
    EXPECT_EQ(s.exit_code, 0) << w.last_error;
    EXPECT_EQ(s.skip_count(), 0);
    EXPECT_TRUE(fs::exists(body_only));
    EXPECT_TRUE(fs::exists(empty));
}

TEST(Sweep, AFolderItMayNotWriteIsReportedAndTheRunGoesOn) {
    World w;
    const auto stuck = w.deliver(w.shared_a / ".Locked", "stuck@x");
    const auto fine = w.deliver(w.shared_a, "fine@x");
    w.row("stuck@x", kPast);
    w.row("fine@x", kPast);
    fs::permissions(w.shared_a / ".Locked" / "cur", fs::perms::owner_read | fs::perms::owner_exec);
    // Root may write anywhere: the sweep then runs as "nobody", owning the whole world.
    const Summary s = w.sweep_as_unprivileged(kNow);
    fs::permissions(w.shared_a / ".Locked" / "cur", fs::perms::owner_all);
    EXPECT_EQ(s.exit_code, 4) << w.last_error;
    EXPECT_EQ(skips(s, Skip::CannotDestroy), 1);
    EXPECT_EQ(s.lines.at("respect-phoneline").destroyed, 1);  // the copy still there is not counted
    EXPECT_TRUE(fs::exists(stuck));
    EXPECT_FALSE(fs::exists(fine));
    EXPECT_FALSE(w.destroyed("stuck@x"));
    EXPECT_TRUE(w.destroyed("fine@x"));
}

// --- not Maildir++ -------------------------------------------------------------------

TEST(Sweep, StoresThatAreNotMaildirPlusPlusAreConfigErrors) {
    struct Case {
        const char* what;
        std::function<void(World&)> make;
    };
    const std::vector<Case> cases = {
        {"dbox", [](World& w) { fs::create_directories(w.shared_b / "mailboxes" / "INBOX" / "dbox-Mails"); }},
        {"LAYOUT=fs", [](World& w) {
             make_maildir(w.shared_b);
             make_maildir(w.shared_b / "Sent");
         }},
        // Every file read compressed or encrypted, two or more: the store's format, not an odd file.
        {"gzip", [](World& w) {
             spit(w.shared_b / "cur" / "1700000000.M1P1.h:2,S", std::string("\x1f\x8b\x08\0\0", 5));
             spit(w.shared_b / "new" / "1700000001.M2P1.h", std::string("\x1f\x8b\x08\0\1", 5));
         }},
        {"mail_crypt", [](World& w) {
             spit(w.staff / "bob" / ".Sent" / "cur" / "1700000000.M1P1.h:2,S", "CRYPTED\x03\x07...");
             spit(w.staff / "bob" / ".Sent" / "cur" / "1700000001.M2P1.h:2,S", "CRYPTED\x03\x07,,,");
         }},
    };
    for (const auto& c : cases) {
        World w;
        const auto expired = w.deliver(w.shared_a, "untouched@x");
        w.row("untouched@x", kPast);
        make_maildir(w.shared_b);
        c.make(w);
        const Summary s = w.sweep(kNow);
        EXPECT_EQ(s.exit_code, 2) << c.what;
        EXPECT_NE(w.last_error.find("Maildir++"), std::string::npos) << w.last_error;
        EXPECT_NE(w.last_error.find("[[sweep.mailbox]]"), std::string::npos) << w.last_error;
        EXPECT_TRUE(fs::exists(expired)) << c.what;  // found in phase 1: nothing destroyed
    }
}

// --- safety --------------------------------------------------------------------------

TEST(Sweep, MaxDestroyPerRunStopsUnlessForced) {
    World w;
    w.sweep_extra = "max_destroy_per_run = 2\n";
    for (const char* id : {"a@x", "b@x", "c@x"}) {
        w.deliver(w.shared_a, id);
        w.row(id, kPast);
    }
    const auto before = tree(w.dir / "vmail");
    Summary s = w.sweep(kNow);
    EXPECT_EQ(s.exit_code, 3);
    ASSERT_TRUE(s.stop);
    EXPECT_NE(s.stop->find("would destroy 3"), std::string::npos) << *s.stop;
    EXPECT_NE(s.stop->find("--force"), std::string::npos);
    EXPECT_EQ(tree(w.dir / "vmail"), before);
    EXPECT_FALSE(w.destroyed("a@x"));
    ASSERT_TRUE(w.index->last_receipt());
    EXPECT_EQ(w.index->last_receipt()->exit_code, 3);

    s = w.sweep(kNow, forced());
    EXPECT_EQ(s.exit_code, 0);
    EXPECT_TRUE(w.destroyed("a@x") && w.destroyed("b@x") && w.destroyed("c@x"));
}

TEST(Sweep, AClockEarlierThanTheLastRunStopsUnlessForced) {
    World w;
    EXPECT_EQ(w.sweep(kNow).exit_code, 0);
    const auto msg = w.deliver(w.shared_a, "a@x");
    w.row("a@x", "2026-06-10");
    Summary s = w.sweep(kNow - days(1));
    EXPECT_EQ(s.exit_code, 3);
    EXPECT_NE(s.stop->find("earlier than the last sweep"), std::string::npos);
    EXPECT_TRUE(fs::exists(msg));
    EXPECT_EQ(w.sweep(kNow - days(1), forced()).exit_code, 0);
    EXPECT_FALSE(fs::exists(msg));
}

TEST(Sweep, AClockFarPastTheLastRunStopsUnlessForced) {
    World w;
    EXPECT_EQ(w.sweep(kNow).exit_code, 0);
    const auto msg = w.deliver(w.shared_a, "a@x");
    w.row("a@x", kPast);
    EXPECT_EQ(w.sweep(kNow + days(31)).exit_code, 0);  // exactly max_clock_jump: fine
    const auto msg2 = w.deliver(w.shared_a, "b@x");
    w.row("b@x", kPast);
    const Summary s = w.sweep(kNow + days(31) + days(32));
    EXPECT_EQ(s.exit_code, 3);
    EXPECT_NE(s.stop->find("max_clock_jump"), std::string::npos);
    EXPECT_TRUE(fs::exists(msg2));
    EXPECT_EQ(w.sweep(kNow + days(63), forced()).exit_code, 0);
    EXPECT_FALSE(fs::exists(msg2));
}

TEST(Sweep, OneSweeperAtATime) {
    World w;
    const auto msg = w.deliver(w.shared_a, "a@x");
    w.row("a@x", kPast);
    rm::SweepLockAttempt other = w.index->try_lock_sweep();  // what another sweeper holds
    ASSERT_EQ(other.status, rm::SweepLockAttempt::Status::Held);
    const Summary s = w.sweep(kNow);
    EXPECT_EQ(s.exit_code, 3);
    EXPECT_NE(s.stop->find("another retention-sweep is running"), std::string::npos);
    EXPECT_TRUE(fs::exists(msg));
    other.lock.reset();
    EXPECT_EQ(w.sweep(kNow).exit_code, 0);
    EXPECT_FALSE(fs::exists(msg));
}

// A standby sweeper (another host, a later timer) waits for the lock, then runs.
TEST(Sweep, AStandbySweeperWaitsForTheLockThenRuns) {
    World w;
    const auto msg = w.deliver(w.shared_a, "a@x");
    w.row("a@x", kPast);
    rm::SweepLockAttempt other = w.index->try_lock_sweep();
    ASSERT_EQ(other.status, rm::SweepLockAttempt::Status::Held);
    // The first host's run ends a second after this one started waiting, and records that.
    std::thread first_host_done([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(1200));
        const auto ended = std::chrono::duration_cast<std::chrono::seconds>(kNow.time_since_epoch()).count() + 1;
        w.index->set_meta(rm::sweep::kMetaLastRun, std::to_string(ended));
        other.lock.reset();
    });
    SweepOptions o;
    o.lock_wait = std::chrono::seconds(30);
    o.lock_retry = std::chrono::milliseconds(50);
    const auto t0 = std::chrono::steady_clock::now();
    const Summary s = w.sweep(kNow, o);
    first_host_done.join();
    EXPECT_EQ(s.exit_code, 0) << s.stop.value_or("");
    EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(1100));
    EXPECT_FALSE(fs::exists(msg));
}

// Its wait has an end: a lock still held then stops it as a run that does not wait.
TEST(Sweep, AStandbySweeperStopsWhenTheLockIsStillHeldAtTheEndOfItsWait) {
    World w;
    const auto msg = w.deliver(w.shared_a, "a@x");
    w.row("a@x", kPast);
    rm::SweepLockAttempt other = w.index->try_lock_sweep();
    ASSERT_EQ(other.status, rm::SweepLockAttempt::Status::Held);
    SweepOptions o;
    o.lock_wait = std::chrono::seconds(1);
    o.lock_retry = std::chrono::milliseconds(100);
    const Summary s = w.sweep(kNow, o);
    EXPECT_EQ(s.exit_code, 3);
    ASSERT_TRUE(s.stop.has_value());
    EXPECT_NE(s.stop->find("another retention-sweep is running"), std::string::npos);
    EXPECT_TRUE(fs::exists(msg));
}

// --- dry runs ------------------------------------------------------------------------

namespace {

// Everything the index says, for "nothing changed" comparisons.
std::string index_dump(World& w, const std::vector<std::string>& ids) {
    std::string out;
    for (const auto& id : ids) {
        for (const auto& r : w.rows(id))
            out += id + " " + std::to_string(static_cast<int>(r.state)) + " " + std::to_string(r.copies) + "\n";
    }
    for (const char* k : {rm::sweep::kMetaLastRun, rm::sweep::kMetaInProgress})
        out += std::string(k) + "=" + w.index->get_meta(k).value_or("-") + "\n";
    const auto r = w.index->last_receipt();
    out += "receipt " + (r ? r->chain_hex : std::string("-")) + "\n";
    return out;
}

}  // namespace

TEST(Sweep, ADryRunChangesNothingAndSaysWhatWouldHappen) {
    World w;
    w.sweep_extra = "metrics_file = \"" + (w.dir / "state" / "sweep.prom").string() + "\"\n";
    make_maildir(w.shared_a);
    w.deliver(w.shared_a, "old@x");
    w.deliver(w.shared_a, "young@x");
    w.deliver(w.staff / "alice" / ".Sent", "reply@x");
    w.row("old@x", kPast);
    w.row("young@x", kFuture);
    w.row("reply@x", kFuture, "respect-phoneline", "outbound");
    const std::vector<std::string> ids = {"old@x", "young@x", "reply@x"};
    const auto files_before = tree(w.dir);
    const auto index_before = index_dump(w, ids);

    Summary s = w.sweep(kNow, dry());
    EXPECT_EQ(s.exit_code, 0) << w.last_error;
    EXPECT_EQ(s.lines.at("respect-phoneline").destroyed, 1);
    EXPECT_EQ(s.lines.at("respect-phoneline").moved, 1);
    // What-if: a later date would destroy more.
    SweepOptions later = dry();
    later.now_date = date("2026-08-01");
    s = w.sweep(kNow, later);
    EXPECT_EQ(s.exit_code, 0);
    EXPECT_EQ(s.today, "2026-08-01");
    EXPECT_EQ(s.lines.at("respect-phoneline").destroyed, 3);

    auto files_after = tree(w.dir);
    // The lock file is the one thing a dry run may create.
    files_after.erase("state/index.sqlite3.sweep.lock");
    for (auto it = files_after.begin(); it != files_after.end();) {
        // SQLite's own -wal/-shm files are the reader's business, not content.
        if (it->first.find("index.sqlite3-") != std::string::npos) it = files_after.erase(it);
        else ++it;
    }
    auto files_before_clean = files_before;
    for (auto it = files_before_clean.begin(); it != files_before_clean.end();) {
        if (it->first.find("index.sqlite3-") != std::string::npos) it = files_before_clean.erase(it);
        else ++it;
    }
    EXPECT_EQ(files_after, files_before_clean);
    EXPECT_EQ(index_dump(w, ids), index_before);
    EXPECT_FALSE(fs::exists(w.dir / "state" / "sweep.prom"));
}

// --- rows no store holds -------------------------------------------------------------

TEST(Sweep, ExpiredRowsFoundInNoStoreAreMarkedWithNoCopies) {
    World w;
    make_maildir(w.shared_a);
    make_maildir(w.shared_b);
    w.row("expunged-by-hand@x", kPast);
    w.row("still-young@x", kFuture);
    const Summary s = w.sweep(kNow);
    EXPECT_EQ(s.exit_code, 0);
    EXPECT_TRUE(w.destroyed("expunged-by-hand@x"));
    EXPECT_EQ(w.rows("expunged-by-hand@x").at(0).copies, 0);
    EXPECT_FALSE(w.destroyed("still-young@x"));
    EXPECT_EQ(s.rows_marked_unseen, 1);
}

// --- interrupted runs ----------------------------------------------------------------

TEST(Sweep, ADestructionAKilledRunBeganIsFinished) {
    World w;
    make_maildir(w.shared_a);
    // Renamed, half overwritten, not yet unlinked: unreadable, but named by us.
    const fs::path marker = w.shared_a / "cur" / ".retention-sweep.1700000000.M1P1.host:2,S";
    spit(marker, std::string(20, '\0') + "tail of the message\n");
    record_as_a_killed_run(w, {marker});
    w.row("half@x", kPast);
    const Summary s = w.sweep(kNow);
    EXPECT_EQ(s.exit_code, 0);
    EXPECT_FALSE(fs::exists(marker));
    EXPECT_EQ(s.residues.interrupted_finished, 1);
    EXPECT_TRUE(w.destroyed("half@x"));  // no copy left anywhere: marked with 0 copies
}

TEST(Sweep, AMessageRenamedByDovecotDuringTheRunIsStillDestroyed) {
    World w;
    const auto msg = w.deliver(w.shared_a, "moving@x", "new");
    w.row("moving@x", kPast);
    rm::sweep::Summary s;
    s.today = kToday;
    const rm::Config c = w.config();
    rm::sweep::Plan plan = rm::sweep::make_plan(c, *w.index, *w.key, date(kToday), s);
    ASSERT_EQ(plan.destroys.size(), 1u);
    // Dovecot picks it up between the scan and the act.
    const fs::path now_in_cur = w.shared_a / "cur" / (msg.filename().string() + ":2,S");
    fs::rename(msg, now_in_cur);
    rm::sweep::Dirs dirs(plan);
    const auto out = rm::sweep::destroy_file(dirs, {plan.destroys[0].file}, rm::SecureDelete::Overwrite);
    EXPECT_EQ(out.removed, 1);
    EXPECT_TRUE(out.skips.empty());
    EXPECT_FALSE(fs::exists(now_in_cur));
}

TEST(Sweep, AFileReplacedSinceTheScanIsLeftAlone) {
    World w;
    const auto msg = w.deliver(w.shared_a, "swapped@x");
    w.row("swapped@x", kPast);
    rm::sweep::Summary s;
    const rm::Config c = w.config();
    rm::sweep::Plan plan = rm::sweep::make_plan(c, *w.index, *w.key, date(kToday), s);
    ASSERT_EQ(plan.destroys.size(), 1u);
    fs::remove(msg);
    spit(msg, "Message-ID: <someone-else@x>\n\n");
    rm::sweep::Dirs dirs(plan);
    const auto out = rm::sweep::destroy_file(dirs, {plan.destroys[0].file}, rm::SecureDelete::Overwrite);
    EXPECT_EQ(out.removed, 0);
    ASSERT_EQ(out.skips.size(), 1u);
    EXPECT_EQ(out.skips[0], Skip::Changed);
    EXPECT_EQ(slurp(msg), "Message-ID: <someone-else@x>\n\n");
}

// --- receipts ------------------------------------------------------------------------

TEST(Sweep, EachRunAppendsAReceiptChainedToThePrevious) {
    World w;
    w.deliver(w.shared_a, "r1@x");
    w.row("r1@x", kPast);
    EXPECT_EQ(w.sweep(kNow).exit_code, 0);
    const auto first = w.index->last_receipt();
    ASSERT_TRUE(first);
    EXPECT_EQ(first->destroyed, 1);
    EXPECT_EQ(first->exit_code, 0);
    const auto counts = nlohmann::json::parse(first->counts_json);
    EXPECT_EQ(counts["lines"]["respect-phoneline"]["destroyed"], 1);
    EXPECT_EQ(first->counts_json.find(w.dir.string()), std::string::npos);  // no paths

    w.deliver(w.shared_a, "r2@x");
    w.row("r2@x", kPast);
    EXPECT_EQ(w.sweep(kNow + hours(1)).exit_code, 0);
    const auto second = w.index->last_receipt();
    ASSERT_TRUE(second);
    EXPECT_GT(second->id, first->id);
    EXPECT_NE(second->chain_hex, first->chain_hex);
    EXPECT_EQ(second->destroyed, 1);
    EXPECT_EQ(w.index->get_meta(rm::sweep::kMetaInProgress).value_or("x"), "");
}

TEST(Sweep, WhatAKilledRunDestroyedStillJoinsTheReceiptChain) {
    World w;
    w.row("killed-run@x", kPast);
    // A run killed after marking the row and before its receipt left this behind.
    const auto killed_at = kNow - hours(1);
    ASSERT_EQ(w.index->mark_destroyed(w.digest("killed-run@x"), killed_at, 1), 1);
    const nlohmann::json progress = {{"started", duration_cast<seconds>(killed_at.time_since_epoch()).count()},
                                     {"after_receipt", 0},
                                     {"digests", {rm::to_hex(w.digest("killed-run@x"))}}};
    w.index->set_meta(rm::sweep::kMetaInProgress, progress.dump());
    EXPECT_EQ(w.sweep(kNow).exit_code, 0);
    const auto r = w.index->last_receipt();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->destroyed, 1);
    unsigned char md[SHA256_DIGEST_LENGTH];
    const rm::Digest d = w.digest("killed-run@x");
    SHA256(reinterpret_cast<const unsigned char*>(d.data()), d.size(), md);
    EXPECT_EQ(r->chain_hex, rm::to_hex(std::string(reinterpret_cast<const char*>(md), sizeof md)));
}

// The journal's rejected lines may hold digests: kept for the admin, but not past every
// retention period (6 months here) plus digest_grace (31 days).
TEST(Sweep, RejectedJournalLinesGoWhenNothingInThemMayBeKept) {
    World w;
    const fs::path rejected = w.index_path + ".pending.rejected";
    const auto set_mtime = [](const fs::path& p, system_clock::time_point t) {
        const timespec ts{static_cast<time_t>(duration_cast<seconds>(t.time_since_epoch()).count()), 0};
        const timespec times[2] = {ts, ts};
        ASSERT_EQ(::utimensat(AT_FDCWD, p.c_str(), times, 0), 0);
    };
    spit(rejected, "not a journal line 00112233445566778899aabbccddeeff\n");
    set_mtime(rejected, kNow - days(200));  // 6 months + 31 days not yet past
    EXPECT_EQ(w.sweep(kNow).exit_code, 0);
    EXPECT_TRUE(fs::exists(rejected));
    set_mtime(rejected, kNow - days(230));
    const int fd = ::open(rejected.c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    EXPECT_EQ(w.sweep(kNow + hours(1)).exit_code, 0);
    EXPECT_FALSE(fs::exists(rejected));
    std::string after(10, 'x');  // overwritten before the unlink, as a message is
    EXPECT_EQ(::pread(fd, after.data(), after.size(), 0), 10);
    ::close(fd);
    EXPECT_EQ(after, std::string(10, '\0'));
}

TEST(Sweep, DigestsAreErasedAfterTheGrace) {
    World w;
    w.deliver(w.shared_a, "erase@x");
    w.row("erase@x", kPast);
    EXPECT_EQ(w.sweep(kNow).exit_code, 0);
    EXPECT_TRUE(w.destroyed("erase@x"));
    EXPECT_EQ(w.sweep(kNow + days(30)).exit_code, 0);
    EXPECT_FALSE(w.rows("erase@x").empty());
    EXPECT_EQ(w.sweep(kNow + days(32)).exit_code, 0);
    EXPECT_TRUE(w.rows("erase@x").empty());  // no longer provable through the digest
}

// --- residues, after_mailbox, output -------------------------------------------------

TEST(Sweep, ResiduesAreReportedAndAfterMailboxRunsForChangedMailboxes) {
    World w;
    const fs::path log = w.dir / "after.log";
    w.sweep_extra = "after_mailbox = [\"/bin/sh\", \"-c\", \"echo \\\"$0\\\" >> " + log.string() + "\", \"%u\"]\n";
    const auto msg = w.deliver(w.shared_a, "cached@x");
    spit(w.shared_a / "dovecot.index.cache", "cached headers of cached@x");
    make_maildir(w.shared_a / ".EXPUNGED");
    make_maildir(w.shared_b);
    w.deliver(w.staff / "alice" / ".Sent", "moved@x");
    w.row("cached@x", kPast);
    w.row("moved@x", kFuture, "respect-phoneline", "outbound");
    const Summary s = w.sweep(kNow);
    EXPECT_EQ(s.exit_code, 0) << w.last_error;
    EXPECT_FALSE(fs::exists(msg));
    EXPECT_EQ(s.residues.index_cache_folders, 1);
    EXPECT_EQ(s.residues.lazy_expunge_folders, 1);
    EXPECT_EQ(s.after_mailbox_ran, 2);  // the shared mailbox and alice's, not the untouched one
    EXPECT_EQ(slurp(log), "info@respectphoneline.org.uk\nalice@respect.org.uk\n");
}

TEST(Sweep, AFailingAfterMailboxCommandIsASkip) {
    World w;
    w.sweep_extra = "after_mailbox = [\"/bin/false\"]\n";
    make_maildir(w.shared_b);
    w.deliver(w.shared_a, "a@x");
    w.row("a@x", kPast);
    const Summary s = w.sweep(kNow);
    expect_one_skip(s, Skip::AfterMailboxFailed);
}

TEST(Sweep, TheSummaryNamesNoOneUnlessAskedToList) {
    World w;
    w.sweep_extra = "metrics_file = \"" + (w.dir / "state" / "sweep.prom").string() + "\"\n";
    make_maildir(w.shared_b);
    w.deliver(w.shared_a, "private-id@x");
    w.deliver(w.staff / "alice" / ".Sent", "reply@x");
    w.row("private-id@x", kPast);
    w.row("reply@x", kFuture, "mens-advice-line", "outbound");
    Summary s = w.sweep(kNow);
    EXPECT_EQ(s.exit_code, 0) << w.last_error;
    std::ostringstream text;
    rm::sweep::print_text(text, s);
    for (const std::string& out : {text.str(), rm::sweep::to_json(s), slurp(w.dir / "state" / "sweep.prom")}) {
        EXPECT_EQ(out.find(w.dir.string()), std::string::npos) << out;
        EXPECT_EQ(out.find("alice"), std::string::npos);
        EXPECT_EQ(out.find("private-id"), std::string::npos);
    }
    const auto j = nlohmann::json::parse(rm::sweep::to_json(s));
    EXPECT_EQ(j["lines"]["respect-phoneline"]["destroyed"], 1);
    EXPECT_EQ(j["lines"]["mens-advice-line"]["moved"], 1);
    EXPECT_EQ(j["exit_code"], 0);
    const std::string prom = slurp(w.dir / "state" / "sweep.prom");
    EXPECT_NE(prom.find("retention_sweep_last_run_messages{line=\"respect-phoneline\",action=\"destroyed\"} 1"),
              std::string::npos)
        << prom;
    EXPECT_NE(prom.find("retention_sweep_last_exit_code 0"), std::string::npos);
    EXPECT_NE(prom.find("retention_sweep_last_run_timestamp_seconds"), std::string::npos);

    w.deliver(w.shared_a, "listed@x");
    w.row("listed@x", kPast);
    SweepOptions o = dry();
    o.list = true;
    s = w.sweep(kNow + hours(1), o);
    EXPECT_NE(rm::sweep::to_json(s).find(w.shared_a.string()), std::string::npos);
}

// --- the move's pieces, the clock check --------------------------------------------

TEST(SweepMove, OurHeadersAreStrippedWithTheirFolds) {
    EXPECT_EQ(rm::sweep::without_our_headers("A: 1\nx-retain-until: 2000-01-01\n\tfolded\nB: 2\nX-Helpline-Line: a\n"),
              "A: 1\nB: 2\n");
    EXPECT_EQ(rm::sweep::our_header_lines({"l", "inbound", "2026-01-01", "email"}, false),
              "X-Helpline-Line: l\nX-Helpline-Direction: inbound\nX-Retain-Until: 2026-01-01\nX-Retention-Policy: email\n");
}

TEST(SweepMove, DovecotSizeFieldsFollowTheMovedCopy) {
    using rm::sweep::name_with_sizes;
    EXPECT_EQ(name_with_sizes("1700000000.M1P2.host,S=174,W=180:2,S", 300, 310), "1700000000.M1P2.host,S=300,W=310:2,S");
    EXPECT_EQ(name_with_sizes("1700000000.M1P2.host,S=174", 300, 310), "1700000000.M1P2.host,S=300");
    EXPECT_EQ(name_with_sizes("1700000000.V801I2M3.host:2,", 300, 310), "1700000000.V801I2M3.host:2,");
    EXPECT_EQ(name_with_sizes("1700000000.M1P2.host,S=1,W=2", 3, 4), "1700000000.M1P2.host,S=3,W=4");
}

TEST(Sweep, AMovedCopysNameStatesItsRealSizes) {
    World w;
    const fs::path src = w.staff / "alice" / ".Sent" / "cur" / "1760000000.M1P1.vm,S=40,W=43:2,S";
    const std::string body = "Message-ID: <sized@x>\nSubject: s\n\nline\n";  // LF only: W counts CRLF
    spit(src, body);
    w.row("sized@x", kFuture, "respect-phoneline", "outbound");
    EXPECT_EQ(w.sweep(kNow).exit_code, 0);
    const auto copies = w.copies("sized@x");
    ASSERT_EQ(copies.size(), 1u);
    const std::string bytes = slurp(copies[0]);
    const auto lines = std::count(bytes.begin(), bytes.end(), '\n');
    EXPECT_EQ(copies[0].filename().string(), "1760000000.M1P1.vm,S=" + std::to_string(bytes.size()) +
                                                 ",W=" + std::to_string(bytes.size() + static_cast<size_t>(lines)) +
                                                 ":2,S");
}

TEST(SweepSafety, TheClockIsDistrustedBeforeTheLastRunAndPastMaxClockJump) {
    const rm::Period jump{rm::Period::Unit::Days, 31};
    const std::int64_t t = sys_seconds(sys_days{date("2026-06-15")}).time_since_epoch().count();
    EXPECT_FALSE(rm::sweep::clock_problem(std::nullopt, t, jump));
    EXPECT_FALSE(rm::sweep::clock_problem(t, t + 86400 * 31, jump));
    EXPECT_TRUE(rm::sweep::clock_problem(t, t + 86400 * 32, jump));
    EXPECT_TRUE(rm::sweep::clock_problem(t, t - 1, jump));
}

