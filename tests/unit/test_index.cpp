// The SQLite index (db/sqlite_index.cpp), on real files in a fresh folder per test.
#include <gtest/gtest.h>
#include <openssl/sha.h>
#include <sqlite3.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "core/strings.hpp"
#include "db/index.hpp"
#include "index_test_util.hpp"
#include "db/schema.hpp"
#include "index_rows_test_util.hpp"

using namespace rm;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using namespace rm::test;

namespace {

using test::mode_of;
using test::slurp;

std::string pragma(SqliteIndex& index, const std::string& name) {
    sqlite3_stmt* s = nullptr;
    const std::string sql = "PRAGMA " + name;
    EXPECT_EQ(sqlite3_prepare_v2(index.handle(), sql.c_str(), -1, &s, nullptr), SQLITE_OK);
    std::string out;
    if (sqlite3_step(s) == SQLITE_ROW) out = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    return out;
}

std::string sha256(const std::string& bytes) {
    std::array<unsigned char, SHA256_DIGEST_LENGTH> out{};
    SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), out.data());
    return std::string(reinterpret_cast<const char*>(out.data()), out.size());
}

// Every table's columns, as "table.column".
std::vector<std::string> table_columns(const test::BackendIndex& index) {
    if (index.is_sqlite()) {
        return index.strings("SELECT m.name || '.' || p.name FROM sqlite_master m, pragma_table_info(m.name) p "
                             "WHERE m.type = 'table'");
    }
    return index.strings("SELECT table_name || '.' || column_name FROM information_schema.columns "
                         "WHERE table_schema = current_schema()");
}

class TempDirTest : public test::IndexDirTest {
protected:
    // The raw bytes of the database and its WAL, as someone with the disk would see them.
    std::string raw_files() const { return test::slurp(path_) + test::slurp(path_ + "-wal"); }
};

// What only the SQLite backend has: its files, pragmas, migrations from SQLite schemas.
class SqliteIndexTest : public TempDirTest {};

// The index's behaviour, on each backend.
class IndexTest : public test::BackendTest {
protected:
    // The raw bytes of the SQLite database and its WAL, as someone with the disk would see
    // them.
    std::string raw_files() const { return test::slurp(path_) + test::slurp(path_ + "-wal"); }
};

INSTANTIATE_TEST_SUITE_P(Backends, IndexTest, test::all_backends(), test::backend_name);

}  // namespace

// --- opening, schema, files -----------------------------------------------------------

TEST_F(SqliteIndexTest, CreatesTheSchemaAtTheCurrentVersion) {
    auto index = open();
    EXPECT_EQ(index->schema_version(), dbdetail::kSchemaVersion);
    EXPECT_EQ(index->path(), path_);
    for (const char* table : {"messages", "holds", "receipts", "meta"}) {
        const std::string sql = std::string("SELECT count(*) FROM sqlite_master WHERE type='table' AND name='") + table + "'";
        EXPECT_EQ(count_rows(index->handle(), sql.c_str()), 1) << table;
    }
    for (const char* ix : {"messages_digest", "messages_state_date"}) {
        const std::string sql = std::string("SELECT count(*) FROM sqlite_master WHERE type='index' AND name='") + ix + "'";
        EXPECT_EQ(count_rows(index->handle(), sql.c_str()), 1) << ix;
    }
}

TEST_P(IndexTest, HasNoColumnThatCouldIdentifyAPerson) {
    auto index = open();
    std::vector<std::string> columns = table_columns(*index);
    const std::vector<std::string> expected = {
        "messages.id", "messages.digest", "messages.queue_id", "messages.lines", "messages.direction",
        "messages.policy", "messages.passed_on", "messages.retain_until", "messages.state",
        "messages.destroyed_at", "messages.copies", "messages.erased_at", "messages.journal_token", "messages.record",
        "messages.claimed_at",
        "holds.id", "holds.digest", "holds.reason", "holds.ref", "holds.placed_at", "holds.placed_by",
        "holds.released_at", "holds.released_by", "holds.kind", "receipts.id", "receipts.run_at", "receipts.counts_json",
        "receipts.destroyed", "receipts.chain", "receipts.exit_code", "meta.key", "meta.value",
        "scan_cache.host", "scan_cache.file_key", "scan_cache.digest", "scan_cache.record", "scan_cache.added_on",
        "files_seen.host", "files_seen.file_key", "files_seen.first_seen", "files_seen.last_seen"};
    std::sort(columns.begin(), columns.end());
    std::vector<std::string> sorted = expected;
    if (!sqlite()) sorted.push_back("retention_schema.version");  // SQLite keeps it in the file's header
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(columns, sorted);
}

TEST_F(SqliteIndexTest, MissingFileWithoutCreateNamesThePath) {
    const std::string err = error_of([&] { open(false); });
    EXPECT_NE(err.find("no index at " + path_ + ": "), std::string::npos) << err;
    EXPECT_FALSE(fs::exists(path_));
    EXPECT_NE(error_of([&] { open(true, 5000, true); }).find("no index at"), std::string::npos);
}

TEST_F(SqliteIndexTest, AFileThatIsNotAnIndexIsAnError) {
    std::ofstream(path_, std::ios::binary) << std::string(4096, 'x');
    const std::string err = error_of([&] { open(false); });
    EXPECT_NE(err.find(path_), std::string::npos) << err;
    EXPECT_NE(err.find("not a database"), std::string::npos) << err;
    fs::remove(path_);
    fs::create_directory(path_);
    EXPECT_NE(error_of([&] { open(true); }).find("is not a regular file"), std::string::npos);
    fs::remove(path_);
    fs::create_symlink(dir_ + "/elsewhere.sqlite3", path_);
    EXPECT_NE(error_of([&] { open(true); }).find("is a symbolic link"), std::string::npos);
    EXPECT_FALSE(fs::exists(dir_ + "/elsewhere.sqlite3"));
}

TEST_P(IndexTest, ReopeningKeepsTheRows) {
    std::int64_t id = 0;
    {
        auto index = open();
        id = index->insert({make_row(dig(1), d(2026, 1, 2), d(2026, 7, 2))}).at(0);
    }
    auto index = open(false);
    auto row = index->row(id);
    ASSERT_TRUE(row);
    EXPECT_EQ(row->digest, dig(1));
    EXPECT_EQ(row->retain_until, d(2026, 7, 2));
}

TEST_F(SqliteIndexTest, MigratesAVersion1Index) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    const std::string v1 = std::string(dbdetail::kMigrations[0]) +
                           "PRAGMA user_version = 1;"
                           "INSERT INTO messages (digest, lines, direction, policy, passed_on, retain_until) "
                           "VALUES (zeroblob(32), 'mens-advice-line', 'inbound', 'email', '2025-01-31', '2025-07-31');";
    ASSERT_EQ(sqlite3_exec(db, v1.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
    sqlite3_close(db);

    auto index = open(false);
    EXPECT_EQ(index->schema_version(), dbdetail::kSchemaVersion);
    const auto rows = index->rows_for(std::string(32, '\0'));
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0].retain_until, d(2025, 7, 31));
    EXPECT_EQ(count_rows(index->handle(), "SELECT count(journal_token) FROM messages"), 0);
    EXPECT_EQ(count_rows(index->handle(), "SELECT count(*) FROM scan_cache"), 0);
}

TEST_F(SqliteIndexTest, RefusesAnIndexFromANewerVersion) {
    open().reset();
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version = 99", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
    for (bool read_only : {false, true}) {
        const std::string err = error_of([&] { open(false, 5000, read_only); });
        EXPECT_NE(err.find("was written by a newer retention-milter"), std::string::npos) << err;
        EXPECT_NE(err.find(path_), std::string::npos) << err;
    }
}

TEST_F(SqliteIndexTest, UsesWalFullSyncSecureDeleteAndForeignKeys) {
    auto index = open();
    EXPECT_EQ(pragma(*index, "journal_mode"), "wal");
    EXPECT_EQ(pragma(*index, "synchronous"), "2");  // FULL
    EXPECT_EQ(pragma(*index, "secure_delete"), "1");
    EXPECT_EQ(pragma(*index, "foreign_keys"), "1");
    EXPECT_EQ(pragma(*index, "busy_timeout"), "5000");
}

TEST_F(SqliteIndexTest, FilesAreForTheGroupAloneWhateverTheUmask) {
    for (mode_t mask : {0000u, 0022u, 0077u}) {
        fs::remove(path_);
        fs::remove(path_ + "-wal");
        fs::remove(path_ + "-shm");
        const mode_t old = ::umask(mask);
        {
            auto index = open();
            index->insert({make_row(dig(1), d(2026, 1, 1), d(2026, 7, 1))});
            EXPECT_EQ(mode_of(path_), 0660u) << "umask " << mask;
            EXPECT_EQ(mode_of(path_ + "-wal"), 0660u) << "umask " << mask;
            EXPECT_EQ(mode_of(path_ + "-shm"), 0660u) << "umask " << mask;
        }
        ::umask(old);
    }
}

TEST_F(SqliteIndexTest, ANewIndexTakesTheGroupOfItsFolder) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to choose a folder's group";
    ASSERT_EQ(::chown(dir_.c_str(), static_cast<uid_t>(-1), 4243), 0);
    auto index = open();
    index->insert({make_row(dig(1), d(2026, 1, 1), d(2026, 7, 1))});
    for (const std::string& p : {path_, path_ + "-wal", path_ + "-shm"}) {
        struct stat st {};
        ASSERT_EQ(::stat(p.c_str(), &st), 0);
        EXPECT_EQ(st.st_gid, 4243u) << p;
    }
}

TEST_P(IndexTest, ReadOnlyOpenReadsButCannotWrite) {
    open()->insert({make_row(dig(1), d(2026, 1, 1), d(2026, 7, 1))});
    auto ro = open(false, 5000, true);
    EXPECT_EQ(ro->rows_for(dig(1)).size(), 1u);
    EXPECT_THROW(ro->insert({make_row(dig(2), d(2026, 1, 1), d(2026, 7, 1))}), IndexError);
    EXPECT_THROW(ro->set_meta("k", "v"), IndexError);
}

// --- rows -----------------------------------------------------------------------------

TEST_P(IndexTest, InsertsAndLooksUpByDigest) {
    auto index = open();
    MessageRow two = make_row(dig(1), d(2026, 1, 2), d(2026, 3, 2), "mens-advice-line,respect-phoneline", "outbound");
    two.queue_id = "";
    two.policy = "letter-response";
    const auto ids = index->insert({make_row(dig(1), d(2026, 1, 2), d(2026, 7, 2)), two,
                                    make_row(dig(2), d(2026, 1, 3), d(2026, 7, 3))});
    ASSERT_EQ(ids.size(), 3u);
    EXPECT_LT(ids[0], ids[1]);
    EXPECT_LT(ids[1], ids[2]);

    const auto rows = index->rows_for(dig(1));
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[0].id, ids[0]);
    EXPECT_EQ(rows[0].queue_id, "4Q1ABC");
    EXPECT_EQ(rows[0].lines, "mens-advice-line");
    EXPECT_EQ(rows[0].direction, "inbound");
    EXPECT_EQ(rows[0].policy, "email");
    EXPECT_EQ(rows[0].passed_on, d(2026, 1, 2));
    EXPECT_EQ(rows[0].retain_until, d(2026, 7, 2));
    EXPECT_EQ(rows[0].state, RowState::Present);
    EXPECT_FALSE(rows[0].destroyed_at);
    EXPECT_EQ(rows[1].id, ids[1]);
    EXPECT_EQ(rows[1].queue_id, "");
    EXPECT_EQ(rows[1].lines, "mens-advice-line,respect-phoneline");
    EXPECT_EQ(rows[1].direction, "outbound");
    EXPECT_EQ(rows[1].policy, "letter-response");

    EXPECT_TRUE(index->rows_for(dig(3)).empty());
    EXPECT_TRUE(index->rows_for("").empty());
    EXPECT_FALSE(index->row(9999));
    EXPECT_TRUE(index->insert({}).empty());
}

TEST_P(IndexTest, InsertIsAllOrNothingAndItsErrorsNameNoDigest) {
    auto index = open();
    for (MessageRow bad : {make_row(dig(2), d(2026, 1, 1), d(2026, 7, 1), "l", "sideways"),
                           make_row("short", d(2026, 1, 1), d(2026, 7, 1)),
                           make_row(dig(2), Date{}, d(2026, 7, 1)),
                           make_row(dig(2), d(2026, 1, 1), d(2026, 7, 1), "")}) {
        const std::string err = error_of([&] { index->insert({make_row(dig(1), d(2026, 1, 1), d(2026, 7, 1)), bad}); });
        EXPECT_NE(err.find(index->path()), std::string::npos) << err;
        EXPECT_EQ(err.find(to_hex(dig(2))), std::string::npos) << err;
        EXPECT_EQ(index->count(), 0);
    }
}

TEST_P(IndexTest, ExpiredHonoursTheDates) {
    auto index = open();
    const Date today = d(2026, 8, 31);
    index->insert({make_row(dig(1), d(2026, 2, 28), d(2026, 8, 31)), make_row(dig(2), d(2026, 3, 1), d(2026, 9, 1)),
                   make_row(dig(3), d(2026, 2, 1), d(2026, 8, 1)), make_row(dig(4), d(2026, 1, 1), d(2026, 7, 1))});
    index->mark_destroyed(dig(4), at(d(2026, 7, 2)), 1);
    const auto rows = index->expired(today);
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[0].digest, dig(3));  // oldest first
    EXPECT_EQ(rows[1].digest, dig(1));  // the retention date itself is included
    EXPECT_TRUE(index->expired(d(2026, 7, 31)).empty());
}

TEST_P(IndexTest, MarksEveryPresentCopyDestroyed) {
    auto index = open();
    index->insert({make_row(dig(1), d(2026, 1, 1), d(2026, 7, 1)), make_row(dig(1), d(2026, 1, 1), d(2026, 7, 1)),
                   make_row(dig(2), d(2026, 1, 1), d(2026, 7, 1))});
    const auto when = at(d(2026, 7, 2), 3);
    EXPECT_EQ(index->mark_destroyed(dig(1), when, 3), 2);
    EXPECT_EQ(index->mark_destroyed(dig(1), when + 24h, 1), 0);
    for (const MessageRow& r : index->rows_for(dig(1))) {
        EXPECT_EQ(r.state, RowState::Destroyed);
        ASSERT_TRUE(r.destroyed_at);
        EXPECT_EQ(*r.destroyed_at, when);
        EXPECT_EQ(r.copies, 3);
    }
    EXPECT_EQ(index->rows_for(dig(2)).at(0).state, RowState::Present);
}

TEST_P(IndexTest, MarksABatchOfRowsDestroyedAndNamesWhatChanged) {
    auto index = open();
    const auto ids =
        index->insert({make_row(dig(1), d(2026, 1, 1), d(2026, 7, 1)), make_row(dig(2), d(2026, 1, 1), d(2026, 7, 1)),
                       make_row(dig(3), d(2026, 1, 1), d(2026, 7, 1)), make_row(dig(1), d(2026, 3, 1), d(2026, 9, 1))});
    const auto when = at(d(2026, 7, 2), 3);
    ASSERT_EQ(index->mark_destroyed(dig(2), when, 1), 1);
    // Row 2 is already destroyed and 999 unknown: only the first row of dig(1) changes,
    // not the later message that reused its Message-ID.
    const auto changed = index->mark_destroyed({{ids[0], 2}, {ids[1], 5}, {999, 1}}, when + 24h);
    ASSERT_EQ(changed.size(), 1u);
    EXPECT_EQ(changed[0], dig(1));
    EXPECT_EQ(index->row(ids[0])->copies, 2);
    EXPECT_EQ(index->row(ids[3])->state, RowState::Present);
    EXPECT_EQ(index->rows_for(dig(2)).at(0).copies, 1);  // the earlier mark stands
    EXPECT_EQ(index->rows_for(dig(3)).at(0).state, RowState::Present);
    EXPECT_TRUE(index->mark_destroyed(std::vector<Index::DestroyedRow>{}, when).empty());
}

TEST_P(IndexTest, AHoldPlacedBeforeTheClaimWinsAndOneAfterIsRefused) {
    auto index = open();
    const auto ids = index->insert({make_row(dig(1), d(2026, 1, 1), d(2026, 7, 1)),
                                    make_row(dig(2), d(2026, 1, 1), d(2026, 7, 1))});
    const auto now = at(d(2026, 7, 2));
    index->hold(dig(1), "legal", "", "alice", now);
    const auto claimed = index->claim({{dig(1), {ids[0]}}, {dig(2), {ids[1]}}}, now);
    EXPECT_EQ(claimed, (std::vector<bool>{false, true}));
    EXPECT_FALSE(index->row(ids[0])->claimed);
    EXPECT_TRUE(index->row(ids[1])->claimed);
    try {
        index->hold(dig(2), "legal", "", "bob", now);
        FAIL() << "a hold on a claimed message must be refused";
    } catch (const IndexError& e) {
        EXPECT_NE(std::string(e.what()).find("being destroyed"), std::string::npos) << e.what();
    }
    // Marking with Unless::Held leaves a held row present in the same statement.
    EXPECT_TRUE(index->mark_destroyed({{ids[0], 0}}, now, Index::Unless::Held).empty());
    EXPECT_EQ(index->release_claims(), 1);
    EXPECT_NO_THROW(index->hold(dig(2), "legal", "", "bob", now));
}

// --- holds ----------------------------------------------------------------------------

TEST_P(IndexTest, HoldOnAnUnknownMessageIsAnError) {
    auto index = open();
    EXPECT_EQ(error_of([&] { index->hold(dig(1), "legal", "", "alice", Clock::now()); }),
              "no message with that Message-ID is in the index");
    EXPECT_EQ(index->count("SELECT count(*) FROM holds"), 0);
}

TEST_P(IndexTest, HoldOnADestroyedMessageIsAnError) {
    auto index = open();
    index->insert({make_row(dig(1), d(2026, 1, 1), d(2026, 7, 1))});
    index->mark_destroyed(dig(1), at(d(2026, 7, 1)), 1);
    EXPECT_NE(error_of([&] { index->hold(dig(1), "legal", "", "alice", Clock::now()); }).find("already been destroyed"),
              std::string::npos);
}

TEST_P(IndexTest, HoldTwiceIsAnErrorAndReleaseWithoutHoldToo) {
    auto index = open();
    index->insert({make_row(dig(1), d(2026, 1, 1), d(2026, 7, 1))});
    EXPECT_EQ(error_of([&] { index->release(dig(1), "alice", Clock::now()); }), "that message is not on hold");
    index->hold(dig(1), "safeguarding", "CASE-1", "alice", Clock::now());
    const std::string err = error_of([&] { index->hold(dig(1), "legal", "", "bob", Clock::now()); });
    EXPECT_NE(err.find("already on hold"), std::string::npos) << err;
    EXPECT_EQ(index->holds_for(dig(1)).size(), 1u);
    index->release(dig(1), "bob", Clock::now());
    EXPECT_EQ(error_of([&] { index->release(dig(1), "bob", Clock::now()); }), "that message is not on hold");
}

TEST_P(IndexTest, RecordsHoldHistoryWithUserAndTime) {
    auto index = open();
    index->insert({make_row(dig(1), d(2026, 1, 1), d(2026, 7, 1)), make_row(dig(1), d(2026, 1, 2), d(2026, 7, 2))});
    const auto t1 = at(d(2026, 2, 1), 9), t2 = at(d(2026, 3, 1), 10), t3 = at(d(2026, 4, 1), 11);
    const std::int64_t h1 = index->hold(dig(1), "safeguarding", "CASE-42", "alice", t1);
    EXPECT_TRUE(index->is_held(dig(1)));
    EXPECT_FALSE(index->is_held(dig(2)));
    const auto holds = index->active_holds(dig(1));
    ASSERT_EQ(holds.size(), 1u);
    const Hold* active = &holds.front();
    EXPECT_EQ(active->kind, HoldKind::Admin);
    EXPECT_EQ(active->id, h1);
    EXPECT_EQ(active->reason, "safeguarding");
    EXPECT_EQ(active->ref, "CASE-42");
    EXPECT_EQ(active->placed_by, "alice");
    EXPECT_EQ(active->placed_at, t1);
    EXPECT_FALSE(active->released_at);

    index->release(dig(1), "bob", t2);
    EXPECT_FALSE(index->is_held(dig(1)));
    index->hold(dig(1), "legal", "", "carol", t3);

    const auto history = index->holds_for(dig(1));
    ASSERT_EQ(history.size(), 2u);
    EXPECT_EQ(history[0].reason, "safeguarding");
    ASSERT_TRUE(history[0].released_at);
    EXPECT_EQ(*history[0].released_at, t2);
    EXPECT_EQ(history[0].released_by, "bob");
    EXPECT_EQ(history[1].reason, "legal");
    EXPECT_EQ(history[1].ref, "");
    EXPECT_EQ(history[1].placed_by, "carol");
    EXPECT_FALSE(history[1].released_at);
    EXPECT_TRUE(index->is_held(dig(1)));
}

// A message that staff moved into a hold folder: the sweeper asks every night, and the
// record names the folder, never a person.
TEST_P(IndexTest, AFolderHoldNamesItsFolderAndIsPlacedOnce) {
    auto index = open();
    index->insert({make_row(dig(1), d(2026, 1, 1), d(2026, 7, 1)), make_row(dig(1), d(2026, 1, 2), d(2026, 7, 2))});
    const std::string folder = folder_hold_label("Hold/Safeguarding", "mens-advice-line");
    EXPECT_EQ(folder, "folder Hold/Safeguarding of the mens-advice-line mailbox");
    EXPECT_EQ(index->hold_from_folder(dig(1), "safeguarding", folder, at(d(2026, 2, 1))), FolderHold::Placed);
    EXPECT_EQ(index->hold_from_folder(dig(1), "safeguarding", folder, at(d(2026, 2, 2))), FolderHold::AlreadyInForce);
    const auto holds = index->active_holds(dig(1));
    ASSERT_EQ(holds.size(), 1u);
    EXPECT_EQ(holds[0].kind, HoldKind::Folder);
    EXPECT_EQ(holds[0].placed_by, folder);
    EXPECT_EQ(holds[0].placed_at, at(d(2026, 2, 1)));
    EXPECT_EQ(index->folder_held_digests(), std::vector<Digest>{dig(1)});
    EXPECT_EQ(index->held_digests(), std::vector<Digest>{dig(1)});
    EXPECT_EQ(index->claim({{dig(1), {1, 2}}}, at(d(2026, 7, 3))), std::vector<bool>{false}) << "a folder hold keeps it";
}

TEST_P(IndexTest, AFolderHoldTellsOfMailThatIsNotTheHelplinesOrIsGone) {
    auto index = open();
    EXPECT_EQ(index->hold_from_folder(dig(1), "safeguarding", "folder H of the l mailbox", Clock::now()),
              FolderHold::NotInIndex);
    index->insert({make_row(dig(2), d(2026, 1, 1), d(2026, 7, 1))});
    index->mark_destroyed(dig(2), at(d(2026, 7, 1)), 1);
    EXPECT_EQ(index->hold_from_folder(dig(2), "safeguarding", "folder H of the l mailbox", Clock::now()),
              FolderHold::AllDestroyed);
    EXPECT_EQ(index->count("SELECT count(*) FROM holds"), 0);
}

// An admin's hold and a folder's are kept apart: lifting one leaves the message held.
TEST_P(IndexTest, AnAdminHoldAndAFolderHoldAreReleasedApart) {
    auto index = open();
    index->insert({make_row(dig(1), d(2026, 1, 1), d(2026, 7, 1))});
    index->hold_from_folder(dig(1), "safeguarding", "folder H of the l mailbox", at(d(2026, 2, 1)));
    index->hold(dig(1), "police-request", "PR-7", "alice", at(d(2026, 2, 2)));
    const std::string twice = error_of([&] { index->hold(dig(1), "legal", "", "bob", at(d(2026, 2, 3))); });
    EXPECT_NE(twice.find("already on hold (police-request, placed by alice)"), std::string::npos) << twice;
    const auto both = index->active_holds(dig(1));
    ASSERT_EQ(both.size(), 2u);
    EXPECT_EQ(both[0].kind, HoldKind::Admin) << "admin first";
    EXPECT_EQ(both[1].kind, HoldKind::Folder);
    EXPECT_EQ(index->held_digests().size(), 1u) << "one message, listed once";
    EXPECT_EQ(index->holds_in_force().size(), 2u);
    EXPECT_EQ(index->report(d(2026, 3, 1)).active_holds, 2) << "as many as holds_in_force() lists";

    EXPECT_EQ(index->release(dig(1), "carol", at(d(2026, 3, 1)), HoldKind::Folder), 1);
    EXPECT_TRUE(index->is_held(dig(1)));
    EXPECT_TRUE(index->folder_held_digests().empty());
    EXPECT_EQ(error_of([&] { index->release(dig(1), "carol", at(d(2026, 3, 1)), HoldKind::Folder); }),
              "that message has no folder hold in force");
    EXPECT_EQ(index->release(dig(1), "carol", at(d(2026, 3, 2))), 1);
    EXPECT_FALSE(index->is_held(dig(1)));
    const auto history = index->holds_for(dig(1));
    ASSERT_EQ(history.size(), 2u);
    for (const Hold& h : history) EXPECT_EQ(h.released_by, "carol");
}

TEST_P(IndexTest, ListsTheHoldsInForce) {
    auto index = open();
    index->insert({make_row(dig(1), d(2026, 1, 1), d(2026, 7, 1)),
                   make_row(dig(1), d(2026, 1, 5), d(2026, 7, 5), "respect-phoneline", "internal"),
                   make_row(dig(2), d(2026, 1, 2), d(2026, 3, 2)), make_row(dig(3), d(2026, 1, 3), d(2026, 7, 3))});
    EXPECT_TRUE(index->holds_in_force().empty());
    index->hold(dig(2), "legal", "L-1", "bob", at(d(2026, 2, 2)));
    index->hold(dig(1), "safeguarding", "SG-9", "alice", at(d(2026, 2, 1)));
    index->hold(dig(3), "consent", "", "carol", at(d(2026, 2, 3)));
    index->release(dig(3), "carol", at(d(2026, 2, 4)));
    const auto held = index->holds_in_force();
    ASSERT_EQ(held.size(), 2u);
    EXPECT_EQ(held[0].hold.ref, "SG-9");  // oldest first
    EXPECT_EQ(held[0].hold.placed_by, "alice");
    EXPECT_EQ(held[0].lines, "respect-phoneline");
    EXPECT_EQ(held[0].retain_until, d(2026, 7, 5));
    EXPECT_EQ(held[1].hold.reason, "legal");
    EXPECT_EQ(held[1].retain_until, d(2026, 3, 2));
}

// --- erasure, receipts ----------------------------------------------------------------

TEST_P(IndexTest, ErasingOldDigestsLeavesNoTraceInTheFiles) {
    auto index = open();
    std::vector<MessageRow> rows;
    for (int i = 0; i < 300; ++i) rows.push_back(make_row(dig(i), d(2026, 1, 1), d(2026, 7, 1)));
    MessageRow target = make_row(dig(1000), d(2026, 1, 1), d(2026, 7, 1));
    target.queue_id = "QID7TARGET";
    target.record = dig(2000);
    rows.push_back(target);
    rows.push_back(target);
    const auto ids = index->insert(rows);
    index->hold(dig(1000), "legal", "CASE-9", "alice", at(d(2026, 2, 1)));
    index->release(dig(1000), "alice", at(d(2026, 3, 1)));
    const auto destroyed = at(d(2026, 7, 2), 3);
    index->mark_destroyed(dig(1000), destroyed, 2);
    index->mark_destroyed(dig(5), destroyed + 24h * 40, 1);  // destroyed after the cutoff: kept for now
    // A copy read again after its message was destroyed (restored from a backup, say):
    // the scan cache's digest must go with the rows' digests.
    index->remember_files({{std::string(16, 'r'), {dig(1000), {}}}, {std::string(16, 's'), {{}, dig(2000)}}},
                          d(2026, 7, 3));
    if (sqlite()) {
        ASSERT_NE(raw_files().find(dig(1000)), std::string::npos) << "the test must see the digest before erasure";
    }

    EXPECT_EQ(index->erase_old_digests(destroyed + 24h * 31), 2);
    EXPECT_TRUE(index->rows_for(dig(1000)).empty());
    EXPECT_TRUE(index->holds_for(dig(1000)).empty());
    const auto row = index->row(ids.back());
    ASSERT_TRUE(row);
    EXPECT_EQ(row->digest, "");
    EXPECT_EQ(row->queue_id, "");
    EXPECT_EQ(row->state, RowState::Destroyed);
    EXPECT_EQ(index->rows_for(dig(5)).size(), 1u);
    EXPECT_EQ(index->count("SELECT count(*) FROM messages WHERE erased_at IS NOT NULL"), 2);

    EXPECT_FALSE(index->known_file(std::string(16, 's'))) << "the scan cache's record digest goes too";
    if (sqlite()) {
        const std::string raw = raw_files();
        EXPECT_EQ(raw.find(dig(1000)), std::string::npos) << "digest bytes still in the database or its WAL";
        EXPECT_EQ(raw.find(dig(2000)), std::string::npos) << "record digest still in the database or its WAL";
        EXPECT_EQ(raw.find("QID7TARGET"), std::string::npos) << "queue id still in the database or its WAL";
        EXPECT_NE(raw.find(dig(5)), std::string::npos);
    }
    EXPECT_EQ(index->erase_old_digests(destroyed + 24h * 31), 0);
}

TEST_P(IndexTest, TheScanCacheForgetsAFileWithItsMessagesDigestAndAfterAMonth) {
    auto index = open();
    index->insert({make_row(dig(1), d(2026, 1, 1), d(2026, 7, 1)), make_row(dig(2), d(2026, 1, 1), d(2026, 7, 1))});
    const std::string a(16, 'a'), b(16, 'b'), c(16, 'c');
    const auto keys = [](std::string digest) { return Index::FileKeys{std::move(digest), {}}; };
    index->remember_files({{a, keys(dig(1))}, {b, keys(dig(2))}, {c, keys(dig(3))}}, d(2026, 1, 10));
    EXPECT_EQ(index->known_file(a), keys(dig(1)));
    EXPECT_FALSE(index->known_file(std::string(16, 'z')));
    EXPECT_THROW(index->remember_files({{"short", keys(dig(1))}}, d(2026, 1, 10)), IndexError);

    index->mark_destroyed(dig(1), at(d(2026, 7, 2)), 1);
    EXPECT_EQ(index->known_file(a), keys(dig(1))) << "kept while the row keeps its digest";
    index->erase_old_digests(at(d(2026, 8, 2)));
    EXPECT_FALSE(index->known_file(a)) << "erased with the row's digest";
    EXPECT_EQ(index->known_file(b), keys(dig(2)));
    index->remember_files({{b, keys(dig(2))}}, d(2026, 1, 20));  // read again: dated anew
    EXPECT_EQ(index->forget_files_before(d(2026, 1, 10)), 0);
    EXPECT_EQ(index->forget_files_before(d(2026, 1, 11)), 1);  // c
    EXPECT_FALSE(index->known_file(c));
    EXPECT_EQ(index->known_file(b), keys(dig(2)));
}

// The sweeper asks about a batch of files at once: the answer must be the one it would
// get a file at a time, for files known, unknown and asked twice.
TEST_P(IndexTest, ManyFilesAtOnceAreKnownAsEachAlone) {
    auto index = open();
    index->insert({make_row(dig(1), d(2026, 1, 1), d(2026, 7, 1))});
    const std::string a(16, 'a'), b(16, 'b'), z(16, 'z');
    const auto keys = [](std::string digest, std::string record) {
        return Index::FileKeys{std::move(digest), std::move(record)};
    };
    index->remember_files({{a, keys(dig(1), dig(7))}, {b, keys(dig(2), {})}}, d(2026, 1, 10));
    EXPECT_TRUE(index->known_files({}).empty());
    const auto known = index->known_files({a, z, b, a});
    ASSERT_EQ(known.size(), 2u);
    EXPECT_EQ(known.at(a), keys(dig(1), dig(7)));
    EXPECT_EQ(known.at(a), index->known_file(a));
    EXPECT_EQ(known.at(b), index->known_file(b));
    EXPECT_FALSE(known.contains(z));
    EXPECT_TRUE(index->known_files({z}).empty());
}

// The same file may come twice in one batch (two paths to one inode): its last entry
// counts, and nothing is refused.
TEST_P(IndexTest, AFileTwiceInOneBatchIsRememberedAsItsLastEntrySays) {
    auto index = open();
    const std::string a(16, 'a'), b(16, 'b');
    const auto keys = [](std::string digest) { return Index::FileKeys{std::move(digest), {}}; };
    index->remember_files({{a, keys(dig(1))}, {b, keys(dig(3))}, {a, keys(dig(2))}}, d(2026, 1, 10));
    EXPECT_EQ(index->known_file(a), keys(dig(2)));
    EXPECT_EQ(index->known_file(b), keys(dig(3)));
    index->note_files_seen({a, b, a}, d(2026, 1, 10));
    index->note_files_seen({a, a}, d(2026, 1, 12));
    EXPECT_EQ(index->file_first_seen(a), d(2026, 1, 10));
    index->forget_files_seen({a, a});
    EXPECT_FALSE(index->file_first_seen(a));
    EXPECT_EQ(index->file_first_seen(b), d(2026, 1, 10));
}

// The sweeper looks up a batch of messages at once: the same rows as one at a time.
TEST_P(IndexTest, LooksUpTheRowsOfManyDigestsAndRecordsAtOnce) {
    auto index = open();
    auto stamped = make_row(dig(3), d(2026, 1, 1), d(2026, 7, 1));
    stamped.record = dig(103);
    const auto ids = index->insert({make_row(dig(1), d(2026, 1, 1), d(2026, 7, 1)), make_row(dig(2), d(2026, 1, 1), d(2026, 7, 1)),
                                    make_row(dig(1), d(2026, 3, 1), d(2026, 9, 1)), stamped});
    const auto by_digest = index->rows_for_each({dig(1), dig(9), dig(2), dig(1), Digest{}});
    EXPECT_EQ(by_digest.size(), 2U);
    ASSERT_TRUE(by_digest.contains(dig(1)));
    ASSERT_EQ(by_digest.at(dig(1)).size(), 2U);
    EXPECT_EQ(by_digest.at(dig(1))[0].id, ids[0]);
    EXPECT_EQ(by_digest.at(dig(1))[1].id, ids[2]);
    const auto ids_of = [](const std::vector<MessageRow>& rows) {
        std::vector<std::int64_t> out;
        for (const auto& r : rows) out.push_back(r.id);
        return out;
    };
    EXPECT_EQ(ids_of(by_digest.at(dig(2))), std::vector<std::int64_t>{ids[1]});
    const auto by_record = index->rows_for_each_record({dig(103), dig(1), Digest{}});
    ASSERT_EQ(by_record.size(), 1U);
    EXPECT_EQ(ids_of(by_record.at(dig(103))), std::vector<std::int64_t>{ids[3]});
    EXPECT_EQ(by_record.at(dig(103)).at(0).record, dig(103));
    EXPECT_TRUE(index->rows_for_each({}).empty());
}

// The receipt's chain takes the destroyed digests in the order the sweeper marked them.
TEST_P(IndexTest, MarkingABatchNamesTheDigestsInTheBatchsOrder) {
    auto index = open();
    std::vector<MessageRow> rows;
    for (int n = 1; n <= 6; ++n) rows.push_back(make_row(dig(n), d(2026, 1, 1), d(2026, 7, 1)));
    const auto ids = index->insert(rows);
    const std::vector<Index::DestroyedRow> batch{{ids[4], 1}, {ids[1], 1}, {ids[5], 1}, {ids[0], 1}, {ids[3], 1}};
    const std::vector<Digest> expected{dig(5), dig(2), dig(6), dig(1), dig(4)};
    EXPECT_EQ(index->mark_destroyed(batch, at(d(2026, 7, 2))), expected);
    EXPECT_EQ(index->rows_for(dig(3)).at(0).state, RowState::Present);
}

TEST_P(IndexTest, TwoHostsSharingAnIndexKeepTheirOwnScanCacheAndFilesSeen) {
    open().reset();
    const auto as_host = [&](const std::string& host) { return open(false, 5000, false, host); };
    auto mx1 = as_host("mx1.example.org");
    auto mx2 = as_host("mx2.example.org");
    const std::string same_inode(16, 'i');  // the same device and inode on two hosts
    mx1->remember_files({{same_inode, Index::FileKeys{dig(1), {}}}}, d(2026, 1, 10));
    mx2->remember_files({{same_inode, Index::FileKeys{dig(2), {}}}}, d(2026, 1, 12));
    EXPECT_EQ(mx1->known_file(same_inode), (Index::FileKeys{dig(1), {}}));
    EXPECT_EQ(mx2->known_file(same_inode), (Index::FileKeys{dig(2), {}}));
    EXPECT_EQ(mx1->forget_files_before(d(2026, 1, 11)), 1);
    EXPECT_EQ(mx2->known_file(same_inode), (Index::FileKeys{dig(2), {}})) << "another host's cache is its own";

    mx1->note_files_seen({same_inode}, d(2026, 1, 10));
    mx2->note_files_seen({same_inode}, d(2026, 2, 1));
    EXPECT_EQ(mx1->file_first_seen(same_inode), d(2026, 1, 10));
    EXPECT_EQ(mx2->file_first_seen(same_inode), d(2026, 2, 1));
    mx2->forget_files_seen({same_inode});
    EXPECT_EQ(mx1->file_first_seen(same_inode), d(2026, 1, 10));
    EXPECT_FALSE(mx2->file_first_seen(same_inode));
    EXPECT_EQ(mx1->count(sqlite() ? "SELECT count(*) FROM scan_cache WHERE instr(host, 'mx1') > 0"
                                  : "SELECT count(*) FROM scan_cache WHERE position('mx1'::bytea in host::bytea) > 0"),
              0)
        << "the host column holds a hash, not the host's name";
}

// Two hosts (two MX hosts, say) on one index: each sees the rows, holds and receipts the
// other writes, one sweep runs at a time across them, and each keeps its own scan cache.
TEST_P(IndexTest, TwoHostsOnOneIndexSeeEachOthersWritesAndShareOneSweepLock) {
    open().reset();
    auto mx1 = open(false, 5000, false, "mx1.example.org");
    auto mx2 = open(false, 5000, false, "mx2.example.org");
    const auto ids = mx1->insert({make_row(dig(1), d(2026, 1, 1), d(2026, 7, 1))});
    const auto seen = mx2->rows_for(dig(1));
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].id, ids.at(0));
    mx2->hold(dig(1), "legal", "", "alice", at(d(2026, 2, 1)));
    EXPECT_TRUE(mx1->is_held(dig(1)));
    EXPECT_EQ(mx1->claim({{dig(1), ids}}, at(d(2026, 7, 2))), std::vector<bool>{false}) << "the other host's hold";
    Receipt r;
    r.run_at = at(d(2026, 7, 2));
    const Receipt added = mx1->add_receipt(r, {});
    ASSERT_TRUE(mx2->last_receipt());
    EXPECT_EQ(mx2->last_receipt()->chain_hex, added.chain_hex);

    auto sweep = mx1->try_lock_sweep();
    ASSERT_EQ(sweep.status, SweepLockAttempt::Status::Held);
    EXPECT_EQ(mx2->try_lock_sweep().status, SweepLockAttempt::Status::Busy);
    sweep.lock.reset();
    auto next = mx2->try_lock_sweep();
    EXPECT_EQ(next.status, SweepLockAttempt::Status::Held) << "the lock goes with its object";
    EXPECT_EQ(mx1->try_lock_sweep().status, SweepLockAttempt::Status::Busy);

    const std::string same_inode(16, 'i');
    mx1->remember_files({{same_inode, Index::FileKeys{dig(1), {}}}}, d(2026, 1, 10));
    EXPECT_EQ(mx1->known_file(same_inode), (Index::FileKeys{dig(1), {}}));
    EXPECT_FALSE(mx2->known_file(same_inode)) << "a file on one host is not the file with that inode on another";
}

TEST_F(SqliteIndexTest, MigratingToPerHostTablesKeepsWhenFilesWereFirstSeen) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    std::string v5;
    for (std::size_t i = 0; i < 5; ++i) v5 += std::string(dbdetail::kMigrations[i]);
    v5 += "PRAGMA user_version = 5;"
          "INSERT INTO files_seen VALUES (zeroblob(16), '2025-03-01', '2025-04-01');";
    ASSERT_EQ(sqlite3_exec(db, v5.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
    sqlite3_close(db);

    auto index = open(false);
    EXPECT_EQ(index->file_first_seen(std::string(16, '\0')), d(2025, 3, 1));
}

TEST_P(IndexTest, OneSweepLockAtATime) {
    auto index = open();
    auto first = index->try_lock_sweep();
    ASSERT_EQ(first.status, SweepLockAttempt::Status::Held);
    auto again = open()->try_lock_sweep();
    EXPECT_EQ(again.status, SweepLockAttempt::Status::Busy);
    if (sqlite()) {
        EXPECT_EQ(again.where, path_ + ".sweep.lock");
    }
    EXPECT_FALSE(again.where.empty());
    first.lock.reset();
    EXPECT_EQ(open()->try_lock_sweep().status, SweepLockAttempt::Status::Held);
}

TEST_P(IndexTest, ReceiptsChainToThePreviousOne) {
    auto index = open();
    EXPECT_FALSE(index->last_receipt());
    Receipt r;
    r.run_at = at(d(2026, 7, 2), 3);
    r.counts_json = R"({"destroyed":2})";
    r.destroyed = 2;
    const Receipt first = index->add_receipt(r, {dig(2), dig(1)});
    EXPECT_GT(first.id, 0);
    const std::string lo = std::min(dig(1), dig(2)), hi = std::max(dig(1), dig(2));
    EXPECT_EQ(first.chain_hex, to_hex(sha256(lo + hi)));  // sorted, so the order of destruction does not matter

    r.run_at += 24h;
    r.counts_json = "{}";
    r.destroyed = 1;
    r.exit_code = 4;
    const Receipt second = index->add_receipt(r, {dig(3)});
    EXPECT_EQ(second.chain_hex, to_hex(sha256(sha256(lo + hi) + dig(3))));
    const Receipt third = index->add_receipt(r, {});
    EXPECT_EQ(third.chain_hex, to_hex(sha256(sha256(sha256(lo + hi) + dig(3)))));

    const auto last = index->last_receipt();
    ASSERT_TRUE(last);
    EXPECT_EQ(last->id, third.id);
    EXPECT_EQ(last->run_at, r.run_at);
    EXPECT_EQ(last->counts_json, "{}");
    EXPECT_EQ(last->destroyed, 1);
    EXPECT_EQ(last->exit_code, 4);
    EXPECT_EQ(last->chain_hex, third.chain_hex);
    if (sqlite()) {
        EXPECT_EQ(raw_files().find(dig(3)), std::string::npos) << "receipts keep hashes, not digests";
    }
}

TEST_P(IndexTest, TheLastSuccessfulReceiptEndedZeroOrFour) {
    auto index = open();
    EXPECT_FALSE(index->last_successful_receipt());
    Receipt r;
    r.run_at = at(d(2026, 7, 1));
    for (int code : {0, 4, 3, 1}) {
        r.exit_code = code;
        r.run_at += 24h;
        index->add_receipt(r, {});
    }
    const auto ok = index->last_successful_receipt();
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->exit_code, 4);
    EXPECT_EQ(ok->run_at, at(d(2026, 7, 3)));
    EXPECT_EQ(index->last_receipt()->exit_code, 1);
}

// --- reports, meta --------------------------------------------------------------------

TEST_P(IndexTest, ReportOnAnEmptyIndex) {
    auto index = open();
    const ReportCounts rc = index->report(d(2026, 5, 1));
    EXPECT_TRUE(rc.buckets.empty());
    EXPECT_EQ(rc.expiring_7, 0);
    EXPECT_EQ(rc.expiring_30, 0);
    EXPECT_EQ(rc.overdue, 0);
    EXPECT_EQ(rc.active_holds, 0);
}

TEST_P(IndexTest, ReportCountsByTagDirectionAndState) {
    auto index = open();
    const Date today = d(2026, 5, 10);
    index->insert({
        make_row(dig(1), d(2025, 11, 9), d(2026, 5, 9)),                          // overdue
        make_row(dig(2), d(2025, 11, 8), d(2026, 5, 8), "respect-phoneline"),     // overdue but held
        make_row(dig(3), d(2025, 11, 10), d(2026, 5, 10), "mens-advice-line,respect-phoneline", "internal"),  // due today
        make_row(dig(4), d(2025, 11, 16), d(2026, 5, 16)),                        // within 7 days
        make_row(dig(5), d(2025, 11, 17), d(2026, 5, 17), "mens-advice-line", "outbound"),  // day 7: 30 only
        make_row(dig(6), d(2025, 12, 8), d(2026, 6, 8)),                          // day 29: within 30
        make_row(dig(7), d(2025, 12, 9), d(2026, 6, 9)),                          // day 30: later
        make_row(dig(8), d(2025, 10, 1), d(2026, 4, 1)),                          // destroyed
    });
    index->hold(dig(2), "legal", "", "alice", at(today));
    index->mark_destroyed(dig(8), at(d(2026, 4, 2)), 1);

    const ReportCounts rc = index->report(today);
    EXPECT_EQ(rc.overdue, 1);
    EXPECT_EQ(rc.expiring_7, 2);   // 05-10 and 05-16
    EXPECT_EQ(rc.expiring_30, 4);  // and 05-17, 06-08
    EXPECT_EQ(rc.active_holds, 1);

    std::vector<std::tuple<std::string, std::string, std::string, std::int64_t>> got;
    for (const auto& b : rc.buckets) got.emplace_back(b.line, b.direction, b.state, b.count);
    const decltype(got) expected = {
        {"mens-advice-line", "inbound", "destroyed", 1}, {"mens-advice-line", "inbound", "present", 4},
        {"mens-advice-line", "internal", "present", 1},  {"mens-advice-line", "outbound", "present", 1},
        {"respect-phoneline", "inbound", "present", 1},  {"respect-phoneline", "internal", "present", 1},
    };
    EXPECT_EQ(got, expected);
}

TEST_P(IndexTest, KeepsMetaValues) {
    auto index = open();
    EXPECT_FALSE(index->get_meta("last_clock"));
    index->set_meta("last_clock", "2026-05-01");
    index->set_meta("last_clock", "2026-05-02");
    index->set_meta("empty", "");
    EXPECT_EQ(index->get_meta("last_clock"), "2026-05-02");
    EXPECT_EQ(index->get_meta("empty"), "");
}

// --- concurrency ----------------------------------------------------------------------

TEST_P(IndexTest, AWriterAndAReaderInTwoProcesses) {
    open().reset();  // made before the fork: no connection crosses it
    constexpr int kRows = 300;
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        int rc = 0;
        try {
            auto w = open(false);
            for (int i = 0; i < kRows; ++i) w->insert({make_row(dig(i), d(2026, 1, 1), d(2026, 7, 1))});
        } catch (...) {
            rc = 1;
        }
        ::_exit(rc);
    }
    auto r = open(false);
    std::int64_t last = 0;
    int status = 0;
    bool monotonic = true;
    for (;;) {
        const bool done = ::waitpid(child, &status, WNOHANG) == child;
        const std::int64_t n = r->count();
        monotonic = monotonic && n >= last;
        last = n;
        r->report(d(2026, 1, 1));  // a heavier read at the same time
        if (done) break;
    }
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << "the writer failed";
    EXPECT_TRUE(monotonic);
    EXPECT_EQ(r->count(), kRows);
    EXPECT_EQ(r->rows_for(dig(kRows - 1)).size(), 1u);
}

TEST_F(SqliteIndexTest, ALockedIndexFailsAfterTheBusyTimeoutInsteadOfHanging) {
    auto index = open(true, 200);
    sqlite3* other = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &other), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(other, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr), SQLITE_OK);
    const auto start = std::chrono::steady_clock::now();
    const std::string err = error_of([&] { index->insert({make_row(dig(1), d(2026, 1, 1), d(2026, 7, 1))}); });
    const auto waited = std::chrono::steady_clock::now() - start;
    EXPECT_NE(err.find("locked"), std::string::npos) << err;
    EXPECT_NE(err.find(path_), std::string::npos) << err;
    EXPECT_GE(waited, 150ms);
    EXPECT_LT(waited, 3s);
    sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr);
    sqlite3_close(other);
    EXPECT_NO_THROW(index->insert({make_row(dig(1), d(2026, 1, 1), d(2026, 7, 1))}));
}

// --- confidentiality ------------------------------------------------------------------

TEST_F(SqliteIndexTest, TheFilesNeverHoldTheClearMessageId) {
    const std::string message_id = "distinctive-caller-7b1e@private.example";
    auto index = open();
    const Digest digest = test_key().digest(message_id);
    index->insert({make_row(digest, d(2026, 1, 1), d(2026, 7, 1)), make_row(digest, d(2026, 1, 1), d(2026, 7, 1))});
    index->hold(digest, "safeguarding", "CASE-1", "alice", Clock::now());
    index->set_meta("k", "v");
    const std::string raw = raw_files();
    ASSERT_NE(raw.find(digest), std::string::npos);
    for (const std::string& needle : {message_id, std::string("distinctive-caller"), std::string("private.example")}) {
        EXPECT_EQ(raw.find(needle), std::string::npos) << needle;
    }
}

// --- the pending journal --------------------------------------------------------------

TEST_F(SqliteIndexTest, AnIndexOfThePreviousReleaseIsUpgradedWithItsRows) {
    {
        sqlite3* db = nullptr;
        ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
        for (size_t step = 0; step < 3; ++step)
            ASSERT_EQ(sqlite3_exec(db, std::string(rm::dbdetail::kMigrations[step]).c_str(), nullptr, nullptr, nullptr),
                      SQLITE_OK);
        ASSERT_EQ(sqlite3_exec(db,
                               "PRAGMA user_version = 3; INSERT INTO messages (digest, queue_id, lines, direction, "
                               "policy, passed_on, retain_until) VALUES (zeroblob(32), 'Q1', 'respect-phoneline', "
                               "'inbound', 'email', '2026-01-01', '2026-07-01'); INSERT INTO scan_cache VALUES "
                               "(zeroblob(16), zeroblob(32), '2026-01-02');",
                               nullptr, nullptr, nullptr),
                  SQLITE_OK);
        sqlite3_close(db);
    }
    EXPECT_THROW(Index::open(path_, {.create = false, .read_only = true}), IndexError)
        << "a read-only open cannot upgrade: it says to start the milter";
    auto index = open(false);
    EXPECT_EQ(index->schema_version(), rm::dbdetail::kSchemaVersion);
    const auto rows = index->rows_for(std::string(32, '\0'));
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0].queue_id, "Q1");
    EXPECT_TRUE(rows[0].record.empty());
    EXPECT_FALSE(rows[0].claimed);
    EXPECT_FALSE(index->known_file(std::string(16, '\0'))) << "the scan cache starts again";
}

// --- what only the PostgreSQL backend has: a server, a connection string ---------------

namespace {

class PgIndexTest : public ::testing::Test {
protected:
    test::PgDatabase db_;
};

}  // namespace

TEST_F(PgIndexTest, NoMessageCarriesThePassword) {
    const std::string conninfo = db_.tcp_conninfo();
    const std::string password = conninfo.substr(conninfo.find("password=") + 9, 24);
    ASSERT_EQ(password.size(), 24u);
    auto index = test::TestPgIndex(conninfo, {.create = true, .upgrade = true});
    EXPECT_EQ(index.path().find(password), std::string::npos) << index.path();
    EXPECT_NE(index.path().find(db_.name()), std::string::npos) << "names the database: " << index.path();

    std::string wrong = conninfo;
    wrong.replace(wrong.find(password), password.size(), "Wrong-Secret-4711");
    const std::string err = error_of([&] { test::TestPgIndex(wrong, {.create = true, .upgrade = true}); });
    EXPECT_FALSE(err.empty()) << "a wrong password was let in";
    EXPECT_EQ(err.find("Wrong-Secret-4711"), std::string::npos) << err;
    EXPECT_NE(err.find("127.0.0.1"), std::string::npos) << "names the server: " << err;
}

// Several hosts share the index: only the admin's upgrade makes or changes its schema,
// never a milter that starts (`create`, which makes an SQLite file, does not count).
TEST_F(PgIndexTest, ADatabaseWithoutTheSchemaIsAnErrorUnlessUpgrading) {
    for (bool create : {false, true}) {
        for (bool read_only : {false, true}) {
            const std::string err = error_of(
                [&] { test::TestPgIndex(db_.conninfo(), {.create = create, .read_only = read_only}); });
            EXPECT_NE(err.find("retentionctl upgrade-index"), std::string::npos)
                << (read_only ? "read-only" : "read-write") << (create ? ", create: " : ": ") << err;
        }
    }
    EXPECT_NO_THROW(test::TestPgIndex(db_.conninfo(), {.create = true, .upgrade = true}));
    EXPECT_NO_THROW(test::TestPgIndex(db_.conninfo(), {.create = false, .read_only = true}));
}

TEST_F(PgIndexTest, AnUnreachableServerIsAnErrorNamingIt) {
    const std::string err = error_of([&] {
        test::TestPgIndex("host=127.0.0.1 port=1 dbname=retention user=milter connect_timeout=5", {.create = true, .upgrade = true});
    });
    EXPECT_NE(err.find("127.0.0.1"), std::string::npos) << err;
}

// Another host (or an admin's psql) holding a lock on the messages: the milter's insert
// fails after its busy timeout, naming the server, instead of hanging its threads.
TEST_F(PgIndexTest, ALockedTableFailsAfterTheBusyTimeoutInsteadOfHanging) {
    test::TestPgIndex index(db_.conninfo(), {.create = true, .upgrade = true, .busy_timeout_ms = 200});
    auto other = test::pgdetail::connect(db_.conninfo());
    test::pgdetail::exec(other.get(), "BEGIN");
    test::pgdetail::exec(other.get(), "LOCK TABLE messages IN ACCESS EXCLUSIVE MODE");
    const auto start = std::chrono::steady_clock::now();
    const std::string err = error_of([&] { index.insert({make_row(dig(1), d(2026, 1, 1), d(2026, 7, 1))}); });
    const auto waited = std::chrono::steady_clock::now() - start;
    EXPECT_FALSE(err.empty()) << "the insert went through a locked table";
    EXPECT_NE(err.find(index.path()), std::string::npos) << err;
    EXPECT_GE(waited, 150ms);
    EXPECT_LT(waited, 3s);
    test::pgdetail::exec(other.get(), "ROLLBACK");
    EXPECT_NO_THROW(index.insert({make_row(dig(1), d(2026, 1, 1), d(2026, 7, 1))}));
    EXPECT_EQ(test::pg_count(index.handle(), "SELECT count(*) FROM messages"), 1);
}

// Hosts started at once (after an upgrade, say) make and migrate the schema once, under
// the server's advisory lock: none fails, and all see one schema.
TEST_F(PgIndexTest, HostsStartingAtOnceMakeTheSchemaOnce) {
    constexpr int kHosts = 6;
    std::vector<std::string> errors(kHosts);
    std::vector<int> versions(kHosts, -1);
    {
        std::vector<std::thread> hosts;
        for (int i = 0; i < kHosts; ++i) {
            hosts.emplace_back([&, i] {
                try {
                    test::TestPgIndex index(db_.conninfo(), {.create = true, .upgrade = true, .host_id = "mx" + std::to_string(i)});
                    versions[i] = index.schema_version();
                    index.insert({make_row(dig(i), d(2026, 1, 1), d(2026, 7, 1))});
                } catch (const IndexError& e) {
                    errors[i] = e.what();
                }
            });
        }
        for (auto& h : hosts) h.join();
    }
    for (int i = 0; i < kHosts; ++i) {
        EXPECT_EQ(errors[i], "") << "host " << i;
        EXPECT_EQ(versions[i], versions[0]) << "host " << i;
    }
    test::TestPgIndex index(db_.conninfo(), {.create = false});
    EXPECT_EQ(test::pg_count(index.handle(), "SELECT count(*) FROM messages"), kHosts);
}
