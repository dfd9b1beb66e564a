// [[sweep.files]]: a letter file is kept its full period from when it came into the folder,
// even when it came with an old modification time (cp -p, rsync -t, a file share); folders
// open to others are reported.
#include <sqlite3.h>

#include "sweep_test_util.hpp"
#include "sweeper/scan.hpp"

using namespace sweeptest;
using rm::sweep::Skip;
using rm::sweep::Summary;
using rm::sweep::SweepOptions;

namespace {

// The real clock: the file's birth time is set by the file system when the test writes it.
const sys_days kToday = floor<days>(system_clock::now());

system_clock::time_point on(sys_days day) { return day + hours(3); }

sys_days plus_months(sys_days day, int n) { return sys_days{year_month_day{day} + months{n}}; }

void set_mtime(const fs::path& p, sys_days day) {
    const timespec ts[2] = {{0, UTIME_OMIT}, {sys_seconds(day).time_since_epoch().count(), 0}};
    ASSERT_EQ(::utimensat(AT_FDCWD, p.c_str(), ts, AT_SYMLINK_NOFOLLOW), 0);
}

// Runs weeks apart are what a what-if of months looks like to the clock checks.
SweepOptions forced() {
    SweepOptions o;
    o.force = true;
    return o;
}

long rows_in(const World& w, const char* table) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open_v2(w.index_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, (std::string("SELECT count(*) FROM ") + table).c_str(), -1, &st, nullptr), SQLITE_OK);
    sqlite3_step(st);
    const long n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

}  // namespace

TEST(SweepFiles, ALetterCopiedInWithAnOldMtimeIsKeptItsFullPeriodFromToday) {
    World w;
    w.with_files = true;
    const fs::path letter = w.letters / "reply.odt";
    spit(letter, "dear ...");
    set_mtime(letter, plus_months(kToday, -3));  // as `cp -p` keeps it
    EXPECT_EQ(w.sweep(on(kToday), forced()).exit_code, 0) << w.last_error;
    EXPECT_TRUE(fs::exists(letter));
    EXPECT_EQ(w.sweep(on(plus_months(kToday, 1)), forced()).exit_code, 0);
    EXPECT_TRUE(fs::exists(letter));
    const Summary s = w.sweep(on(plus_months(kToday, 2) + days(1)), forced());
    EXPECT_EQ(s.exit_code, 0);
    EXPECT_FALSE(fs::exists(letter));
    EXPECT_EQ(s.files.at("letter-response").destroyed, 1);
    EXPECT_EQ(rows_in(w, "files_seen"), 0);  // a destroyed file is not remembered
}

TEST(SweepFiles, TheDayASweepFirstSawAFileCountsWhereNoBirthTimeSaysMore) {
    World w;
    w.with_files = true;
    fs::create_directories(w.letters);
    spit(w.letters / "older.odt", "there before");
    // The first sweep that counts: what it sees was there before it.
    EXPECT_EQ(w.sweep(on(kToday), forced()).exit_code, 0);
    const fs::path letter = w.letters / "reply.odt";
    spit(letter, "dear ...");
    set_mtime(letter, plus_months(kToday, -3));
    // Born today, first seen a month later (a file system without birth times, or a share
    // the sweep could not read until then): kept two months from that sighting.
    EXPECT_EQ(w.sweep(on(plus_months(kToday, 1)), forced()).exit_code, 0);
    EXPECT_EQ(w.sweep(on(plus_months(kToday, 2) + days(1)), forced()).exit_code, 0);
    EXPECT_TRUE(fs::exists(letter));
    EXPECT_EQ(w.sweep(on(plus_months(kToday, 3) + days(1)), forced()).exit_code, 0);
    EXPECT_FALSE(fs::exists(letter));
}

TEST(SweepFiles, ADryRunNotesNothingAndNoPathIsKept) {
    World w;
    w.with_files = true;
    const fs::path letter = w.letters / "reply-to-ms-smith.odt";
    spit(letter, "dear ...");
    SweepOptions o = forced();
    o.dry_run = true;
    EXPECT_EQ(w.sweep(on(kToday), o).exit_code, 0);
    EXPECT_EQ(rows_in(w, "files_seen"), 0);
    EXPECT_EQ(w.sweep(on(kToday)).exit_code, 0);
    EXPECT_EQ(rows_in(w, "files_seen"), 1);
    w.index.reset();
    EXPECT_EQ(slurp(w.index_path).find("ms-smith"), std::string::npos);
}

TEST(SweepFiles, LetterCopiesExpireByModificationTimeAndOpenFoldersAreReported) {
    World w;
    w.with_files = true;
    make_maildir(w.shared_a);
    make_maildir(w.shared_b);
    // Files born today (the real clock) looked at half a year later, so that their
    // modification time is what decides.
    const sys_days today = sys_days{year_month_day{floor<days>(system_clock::now())} + months{6}};
    const fs::path old_letter = w.letters / "2026" / "reply-to-letter.odt";
    const fs::path young_letter = w.letters / "reply-new.odt";
    spit(old_letter, "dear ...");
    spit(young_letter, "dear ...");
    const sys_days two_months_ago = sys_days{year_month_day{today} - months{2}};
    set_mtime(old_letter, two_months_ago);  // + 2 months = today
    set_mtime(young_letter, two_months_ago + days(1));
    fs::create_symlink("/etc/passwd", w.letters / "link");
    fs::permissions(w.letters, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec);
    fs::permissions(w.letters / "2026", fs::perms::owner_all | fs::perms::others_read | fs::perms::others_exec);

    const Summary s = w.sweep(today + hours(3));
    EXPECT_EQ(s.exit_code, 4);  // the symlink
    EXPECT_EQ(skips(s, Skip::Symlink), 1);
    EXPECT_FALSE(fs::exists(old_letter));
    EXPECT_TRUE(fs::exists(young_letter));
    EXPECT_TRUE(fs::exists("/etc/passwd"));
    EXPECT_EQ(s.files.at("letter-response").destroyed, 1);
    EXPECT_EQ(s.files.at("letter-response").kept, 1);
    EXPECT_EQ(s.others_access_folders, 1);
    EXPECT_EQ(s.destroyed_total(), 1);
}
