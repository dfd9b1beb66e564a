// The pending journal (db/journal.cpp), on real files in a fresh folder per test.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "core/strings.hpp"
#include "db/journal.hpp"
#include "index_rows_test_util.hpp"
#include "index_test_util.hpp"

using namespace rm;
using namespace rm::test;
namespace fs = std::filesystem;

namespace {

// The journal beside the index's path, imported into the index of each backend.
class PendingJournalTest : public BackendTest {};
INSTANTIATE_TEST_SUITE_P(Backends, PendingJournalTest, all_backends(), backend_name);

// The journal's own file, no index.
class PendingJournalFileTest : public IndexDirTest {};

}  // namespace

TEST_P(PendingJournalTest, AppendsThenImportsEveryRowOnce) {
    auto index = open();
    PendingJournal journal(path_);
    EXPECT_EQ(journal.path(), path_ + ".pending");
    const mode_t old = ::umask(0077);
    for (int i = 0; i < 3; ++i) journal.append(make_row(dig(i), d(2026, 1, 1), d(2026, 7, 1)));
    ::umask(old);
    EXPECT_EQ(mode_of(journal.path()), 0660u);
    const std::string text = slurp(journal.path());
    EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 3);
    EXPECT_NE(text.find(to_hex(dig(1))), std::string::npos);

    EXPECT_EQ(journal.import_into(*index), 3);
    EXPECT_EQ(journal.skipped(), 0);
    EXPECT_FALSE(fs::exists(journal.path()));
    EXPECT_FALSE(fs::exists(journal.path() + ".importing"));
    const auto rows = index->rows_for(dig(1));
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0].queue_id, "4Q1ABC");
    EXPECT_EQ(rows[0].retain_until, d(2026, 7, 1));
    EXPECT_EQ(journal.import_into(*index), 0);
    EXPECT_EQ(index->count(), 3);
}

TEST_P(PendingJournalTest, ImportWithoutAJournalDoesNothing) {
    auto index = open();
    PendingJournal journal(path_);
    EXPECT_EQ(journal.import_into(*index), 0);
    for (const auto& e : fs::directory_iterator(dir_)) {
        EXPECT_EQ(e.path().string().find(".pending"), std::string::npos) << e.path();
    }
}

TEST_P(PendingJournalTest, ImportingTheSameJournalTwiceAddsNothingTwice) {
    auto index = open();
    PendingJournal journal(path_);
    for (int i = 0; i < 5; ++i) journal.append(make_row(dig(i), d(2026, 1, 1), d(2026, 7, 1)));
    const std::string copy = slurp(journal.path());
    EXPECT_EQ(journal.import_into(*index), 5);
    // A crash after the import committed but before the journal was removed.
    std::ofstream(journal.path() + ".importing", std::ios::binary) << copy;
    std::ofstream(journal.path(), std::ios::binary) << copy;
    EXPECT_EQ(journal.import_into(*index), 0);
    EXPECT_EQ(index->count(), 5);
    EXPECT_FALSE(fs::exists(journal.path() + ".importing"));
}

TEST_P(PendingJournalTest, SkipsAndKeepsMalformedLines) {
    auto index = open();
    PendingJournal journal(path_);
    journal.append(make_row(dig(1), d(2026, 1, 1), d(2026, 7, 1)));
    const std::string good = slurp(journal.path());
    std::string bad = "garbage\n";
    bad += std::string("\0\xff\xfe binary\n", 11);
    bad += "rm1\tnot-a-token\t00\tq\tl\tinbound\temail\t2026-01-01\t2026-07-01\n";
    std::string wrong_date = good;
    wrong_date.replace(wrong_date.find("2026-07-01"), 10, "2026-02-30");
    std::string wrong_direction = good;
    wrong_direction.replace(wrong_direction.find("inbound"), 7, "sideway");
    wrong_direction.replace(4, 1, "f");  // another token, so it is not a duplicate
    std::string control = good;  // would pass the format but not the INSERT's checks
    control.replace(control.find("mens-advice-line"), 4, "m\x01ns");
    control.replace(4, 1, "e");
    const std::string torn = good.substr(0, good.size() / 2);
    std::ofstream(journal.path(), std::ios::app | std::ios::binary) << bad << wrong_date << wrong_direction << control
                                                                      << "\n" << torn;
    journal.append(make_row(dig(2), d(2026, 1, 1), d(2026, 7, 1)));  // joins the torn line: both unreadable
    journal.append(make_row(dig(3), d(2026, 1, 1), d(2026, 7, 1)));

    EXPECT_EQ(journal.import_into(*index), 2);
    EXPECT_EQ(journal.skipped(), 7);
    EXPECT_EQ(index->rows_for(dig(1)).size(), 1u);
    EXPECT_EQ(index->rows_for(dig(3)).size(), 1u);
    EXPECT_TRUE(fs::exists(journal.path() + ".rejected"));
    EXPECT_FALSE(fs::exists(journal.path()));
}

// A journal the previous release wrote (lines "rm1", no record digest) still imports after
// an upgrade; lines of this release carry the record digest.
TEST_P(PendingJournalTest, ImportsTheOlderLinesAndKeepsTheRecordDigestOfTheNewOnes) {
    auto index = open();
    PendingJournal journal(path_);
    MessageRow stamped = make_row(dig(2), d(2026, 1, 1), d(2026, 7, 1));
    stamped.record = dig(22);
    journal.append(stamped);
    std::ofstream(journal.path(), std::ios::app | std::ios::binary)
        << "rm1\t" << std::string(32, 'a') << "\t" << to_hex(dig(1)) << "\tQOLD1\tmens-advice-line\tinbound\temail\t"
        << "2026-01-01\t2026-07-01\n";
    EXPECT_EQ(journal.import_into(*index), 2);
    EXPECT_EQ(journal.skipped(), 0);
    ASSERT_EQ(index->rows_for(dig(1)).size(), 1u);
    EXPECT_EQ(index->rows_for(dig(1)).at(0).queue_id, "QOLD1");
    EXPECT_TRUE(index->rows_for(dig(1)).at(0).record.empty());
    ASSERT_EQ(index->rows_for_record(dig(22)).size(), 1u);
    EXPECT_EQ(index->rows_for_record(dig(22)).at(0).digest, dig(2));
}

// An index the previous release made (schema 3) with rows in it: opened for writing, it
// gains the new columns and tables, and every row reads back unchanged.
TEST_P(PendingJournalTest, AppendsWhileAnotherImportsLoseNothing) {
    auto index = open();
    constexpr int kThreads = 4, kEach = 50;
    std::atomic<int> finished{0};
    std::vector<std::thread> writers;
    for (int t = 0; t < kThreads; ++t) {
        writers.emplace_back([&, t] {
            PendingJournal j(path_);
            for (int i = 0; i < kEach; ++i) j.append(make_row(dig(t * 1000 + i), d(2026, 1, 1), d(2026, 7, 1)));
            ++finished;
        });
    }
    PendingJournal importer(path_);
    int imported = 0;
    while (finished.load() < kThreads) imported += importer.import_into(*index);
    for (auto& w : writers) w.join();
    imported += importer.import_into(*index);
    EXPECT_EQ(imported, kThreads * kEach);
    EXPECT_EQ(index->count(), kThreads * kEach);
}

TEST_P(PendingJournalTest, KeepsAnEmptyQueueIdAndEveryField) {
    auto index = open();
    PendingJournal journal(path_);
    MessageRow r = make_row(dig(1), d(2025, 8, 31), d(2026, 2, 28), "mens-advice-line,respect-phoneline", "internal");
    r.queue_id = "";
    r.policy = "letter-response";
    journal.append(r);
    ASSERT_EQ(journal.import_into(*index), 1);
    const auto rows = index->rows_for(dig(1));
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0].queue_id, "");
    EXPECT_EQ(rows[0].lines, r.lines);
    EXPECT_EQ(rows[0].direction, "internal");
    EXPECT_EQ(rows[0].policy, "letter-response");
    EXPECT_EQ(rows[0].passed_on, d(2025, 8, 31));
    EXPECT_EQ(rows[0].retain_until, d(2026, 2, 28));
}

TEST_F(PendingJournalFileTest, RefusesRowsThatWouldBreakTheFormat) {
    PendingJournal journal(path_);
    MessageRow r = make_row(dig(1), d(2026, 1, 1), d(2026, 7, 1));
    r.queue_id = "A\tB";
    EXPECT_THROW(journal.append(r), IndexError);
    r = make_row("short", d(2026, 1, 1), d(2026, 7, 1));
    EXPECT_THROW(journal.append(r), IndexError);
}
