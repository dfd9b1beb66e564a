// Group commit (db/batch_writer.cpp): many threads, one writer, each row durable
// before its commit() returns. Meant to run under TSan too (RM_SANITIZE=thread).
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <thread>

#include "db/batch_writer.hpp"
#include "db/journal.hpp"
#include "index_test_util.hpp"

using namespace rm;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

Date d(int y, unsigned m, unsigned dd) {
    return Date{std::chrono::year{y}, std::chrono::month{m}, std::chrono::day{dd}};
}

MessageRow make_row(int n, std::string direction = "inbound") {
    static const DigestKey key = DigestKey::from_bytes(std::string(32, 'B'));
    MessageRow r;
    r.digest = key.digest("batch-" + std::to_string(n) + "@example.org");
    r.queue_id = "Q" + std::to_string(n);
    r.lines = "mens-advice-line";
    r.direction = std::move(direction);
    r.policy = "email";
    r.passed_on = d(2026, 1, 1);
    r.retain_until = d(2026, 7, 1);
    return r;
}

// Group commit into the index of each backend.
class BatchWriterTest : public test::BackendTest {
protected:
    std::int64_t count() const { return open()->count(); }
};
INSTANTIATE_TEST_SUITE_P(Backends, BatchWriterTest, test::all_backends(), test::backend_name);

// What the SQLite file's locks and path do to the writer.
class SqliteBatchWriterTest : public test::IndexDirTest {
protected:
    std::unique_ptr<test::TestIndex> open(int busy_ms = 5000) {
        return test::TestIndex::open(path_, {.create = true, .read_only = false, .busy_timeout_ms = busy_ms});
    }
    std::int64_t count() {
        auto index = open();
        sqlite3_stmt* s = nullptr;
        EXPECT_EQ(sqlite3_prepare_v2(index->handle(), "SELECT count(*) FROM messages", -1, &s, nullptr), SQLITE_OK);
        std::int64_t n = -1;
        if (sqlite3_step(s) == SQLITE_ROW) n = sqlite3_column_int64(s, 0);
        sqlite3_finalize(s);
        return n;
    }
};

}  // namespace

// Rows journalled while the index failed are taken in by the writer once a row commits
// again, not at the milter's next start; while the last try is recent, nothing is tried.
TEST_P(BatchWriterTest, TakesInThePendingJournalOnceARowCommitsAgain) {
    IndexSection c;
    c.path = path_;
    c.pending_journal = path_ + ".pending";
    PendingJournal journal(c);
    journal.append(make_row(1));
    journal.append(make_row(2));
    {
        BatchWriter writer(open(), 64);
        writer.after_commits(pending_rows_importer(c), 1h);
        writer.commit(make_row(3));
        // The import runs on the writer thread after the commit has answered.
        for (int i = 0; i < 500 && journal.has_rows(); ++i) std::this_thread::sleep_for(10ms);
        EXPECT_FALSE(journal.has_rows());
        journal.append(make_row(4));
        writer.commit(make_row(5));  // tried a moment ago: the journal waits
    }  // the writer's thread has ended: nothing runs after this
    EXPECT_TRUE(journal.has_rows());
    EXPECT_EQ(count(), 4) << "the journal's first two rows, once, and two committed";
}

TEST_P(BatchWriterTest, EightThreadsOfTwoHundredCommitsMakeSixteenHundredRows) {
    constexpr int kThreads = 8, kEach = 200;
    std::vector<std::vector<std::int64_t>> ids(kThreads);
    {
        BatchWriter writer(open(), 64);
        std::vector<std::thread> threads;
        for (int t = 0; t < kThreads; ++t) {
            threads.emplace_back([&, t] {
                for (int i = 0; i < kEach; ++i) ids[t].push_back(writer.commit(make_row(t * kEach + i)));
            });
        }
        for (auto& th : threads) th.join();
    }
    std::set<std::int64_t> unique;
    for (const auto& v : ids) unique.insert(v.begin(), v.end());
    EXPECT_EQ(unique.size(), static_cast<std::size_t>(kThreads * kEach));
    EXPECT_EQ(count(), kThreads * kEach);
    auto index = open();
    const auto row = index->row(ids[3][17]);
    ASSERT_TRUE(row);
    EXPECT_EQ(row->queue_id, "Q" + std::to_string(3 * kEach + 17));
}

TEST_P(BatchWriterTest, ABadRowFailsAloneAndTheOthersAreWritten) {
    constexpr int kThreads = 8, kEach = 50;
    std::atomic<int> ok{0}, failed{0}, wrong{0};
    {
        BatchWriter writer(open(), 256);
        std::vector<std::thread> threads;
        for (int t = 0; t < kThreads; ++t) {
            threads.emplace_back([&, t] {
                for (int i = 0; i < kEach; ++i) {
                    const bool bad = i % 5 == 0;
                    try {
                        writer.commit(make_row(t * kEach + i, bad ? "sideways" : "inbound"));
                        (bad ? wrong : ok)++;
                    } catch (const IndexError&) {
                        (bad ? failed : wrong)++;
                    }
                }
            });
        }
        for (auto& th : threads) th.join();
    }
    EXPECT_EQ(wrong.load(), 0);
    EXPECT_EQ(failed.load(), kThreads * kEach / 5);
    EXPECT_EQ(ok.load(), kThreads * kEach * 4 / 5);
    EXPECT_EQ(count(), ok.load());
}

TEST_F(SqliteBatchWriterTest, ALockedIndexFailsTheWaitingCommitsPromptly) {
    BatchWriter writer(open(200), 256);
    sqlite3* other = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &other), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(other, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr), SQLITE_OK);
    std::atomic<int> failed{0};
    const auto start = std::chrono::steady_clock::now();
    {
        std::vector<std::thread> threads;
        for (int t = 0; t < 8; ++t) {
            threads.emplace_back([&, t] {
                try {
                    writer.commit(make_row(t));
                } catch (const IndexError&) {
                    ++failed;
                }
            });
        }
        for (auto& th : threads) th.join();
    }
    EXPECT_EQ(failed.load(), 8);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 5s) << "each row waited out the timeout on its own";
    sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr);
    sqlite3_close(other);
    EXPECT_GT(writer.commit(make_row(100)), 0);
}

TEST(BatchWriterArgumentsTest, RefusesNoIndex) { EXPECT_THROW(BatchWriter(nullptr), std::invalid_argument); }

// The index removed or renamed while the writer has it open: SQLite would go on
// writing into the file it opened, which nobody reads again and which is gone with the
// last descriptor. The writer refuses every row instead, alone or batched, and writes
// again once the file is back at its path.
TEST_F(SqliteBatchWriterTest, RefusesRowsWhileTheIndexIsNotAtItsPath) {
    BatchWriter w(open());
    EXPECT_GT(w.commit(make_row(1)), 0);

    fs::rename(path_, path_ + ".away");
    try {
        w.commit(make_row(2));
        ADD_FAILURE() << "a row was committed into a file no longer at the index's path";
    } catch (const IndexError& e) {
        EXPECT_NE(std::string(e.what()).find("removed or replaced"), std::string::npos) << e.what();
    }
    // Many at once: they share batches, and each is refused.
    std::atomic<int> refused{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&, t] {
            try {
                w.commit(make_row(100 + t));
            } catch (const IndexError&) {
                ++refused;
            }
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(refused.load(), 8);
    EXPECT_FALSE(fs::exists(path_)) << "the writer made a file of its own at the path";

    fs::rename(path_ + ".away", path_);
    EXPECT_GT(w.commit(make_row(3)), 0);
    EXPECT_EQ(count(), 2);  // rows 1 and 3

    fs::remove(path_);
    EXPECT_THROW(w.commit(make_row(4)), IndexError);
    EXPECT_FALSE(fs::exists(path_));
}
