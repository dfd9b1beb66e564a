// The admin's commands for the index: upgrade-index (the only one that makes a shared
// index or its key) and migrate-index (an SQLite index copied into PostgreSQL), and what
// the programs every host runs may not do to a shared index.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <tuple>

#include "db/index.hpp"
#include "db/migrate.hpp"
#include "db/pg_index.hpp"
#include "db/schema.hpp"
#include "db/sqlite_index.hpp"
#include "index_rows_test_util.hpp"
#include "pg_test_util.hpp"
#include "temp_dir.hpp"

namespace rm {
namespace {

using namespace rm::test;
namespace fs = std::filesystem;

bool exists(const std::string& p) { return fs::exists(fs::symlink_status(p)); }

std::int64_t table_count(const std::string& conninfo) {
    auto c = pgdetail::connect(conninfo);
    return pg_count(c.get(), "SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = current_schema()");
}

// The milter's open: it makes an SQLite index and its key at its first start.
CheckedIndex open_as_milter(const IndexSection& c) {
    return open_index_checked(c, {.create = true, .read_only = false, .busy_timeout_ms = 5000}, true);
}

class SqliteIndexAdmin : public ::testing::Test {
protected:
    SqliteIndexAdmin() {
        ix_.path = tmp_.path().string() + "/index.sqlite3";
        ix_.key_file = tmp_.path().string() + "/index.key";
        ix_.host_id = "mx1";
    }
    TempDir tmp_{"rm-admin"};
    IndexSection ix_;
};

TEST_F(SqliteIndexAdmin, UpgradeMakesTheIndexAndKeyThenFindsThemCurrent) {
    const IndexUpgrade made = upgrade_index(ix_);
    EXPECT_EQ(made.from, 0);
    EXPECT_EQ(made.to, dbdetail::kSchemaVersion);
    EXPECT_EQ(made.key, IndexUpgrade::Key::Made);
    EXPECT_TRUE(exists(ix_.path));
    EXPECT_TRUE(exists(ix_.key_file));

    const IndexUpgrade again = upgrade_index(ix_);
    EXPECT_EQ(again.from, dbdetail::kSchemaVersion) << "already current";
    EXPECT_EQ(again.key, IndexUpgrade::Key::Checked);
    EXPECT_NO_THROW(open_as_milter(ix_));
}

TEST_F(SqliteIndexAdmin, UpgradeRefusesAKeyThatIsNotTheIndexs) {
    upgrade_index(ix_);
    fs::remove(ix_.key_file);
    DigestKey::create(ix_.key_file);
    EXPECT_THROW(upgrade_index(ix_), KeyMismatch);
}

// An index made before indexes recorded their key.
TEST_F(SqliteIndexAdmin, UpgradeRecordsTheKeyOfAnIndexThatRecordsNone) {
    DigestKey::load_or_create(ix_.key_file, ix_.path, true);
    SqliteIndex(ix_.path, {.create = true});
    EXPECT_EQ(upgrade_index(ix_).key, IndexUpgrade::Key::Recorded);
    EXPECT_EQ(upgrade_index(ix_).key, IndexUpgrade::Key::Checked);
}

TEST_F(SqliteIndexAdmin, UpgradeMigratesAnOlderSchema) {
    upgrade_index(ix_);
    {
        sqlite3* db = nullptr;
        ASSERT_EQ(sqlite3_open(ix_.path.c_str(), &db), SQLITE_OK);
        // Version 5's files_seen, as a version-5 index had it.
        ASSERT_EQ(sqlite3_exec(db,
                               "DROP TABLE files_seen; CREATE TABLE files_seen (file_key BLOB PRIMARY KEY, "
                               "first_seen TEXT NOT NULL, last_seen TEXT NOT NULL) WITHOUT ROWID; "
                               // Version 6's holds, with a hold in force.
                               "DROP INDEX holds_one_active; ALTER TABLE holds DROP COLUMN kind; "
                               "CREATE UNIQUE INDEX holds_one_active ON holds (digest) WHERE released_at IS NULL; "
                               "INSERT INTO holds (digest, reason, placed_at, placed_by) "
                               "VALUES (zeroblob(32), 'legal', 1, 'alice'); "
                               "PRAGMA user_version = 5;",
                               nullptr, nullptr, nullptr),
                  SQLITE_OK);
        sqlite3_close(db);
    }
    const IndexUpgrade u = upgrade_index(ix_);
    EXPECT_EQ(u.from, 5);
    EXPECT_EQ(u.to, dbdetail::kSchemaVersion);
    // A hold placed before folder holds existed was an admin's.
    auto index = SqliteIndex::open(ix_.path, {});
    const auto held = index->holds_in_force();
    ASSERT_EQ(held.size(), 1u);
    EXPECT_EQ(held[0].hold.kind, HoldKind::Admin);
    EXPECT_EQ(held[0].hold.placed_by, "alice");
}

// --- PostgreSQL ------------------------------------------------------------------------

class PgIndexAdmin : public ::testing::Test {
protected:
    PgIndexAdmin() {
        ix_.backend = IndexBackend::Postgresql;
        ix_.conninfo = db_.conninfo();
        ix_.path = tmp_.path().string() + "/index.sqlite3";
        ix_.key_file = tmp_.path().string() + "/index.key";
        ix_.host_id = "mx1";
    }
    std::unique_ptr<PgIndex> open() const { return std::make_unique<PgIndex>(ix_.conninfo, Index::Options{}); }

    PgDatabase db_;
    TempDir tmp_{"rm-admin"};
    IndexSection ix_;
};

TEST_F(PgIndexAdmin, UpgradeMakesTheSchemaAndTheKeyOnAnEmptyDatabase) {
    ASSERT_FALSE(exists(ix_.key_file));
    const IndexUpgrade made = upgrade_index(ix_);
    EXPECT_EQ(made.from, 0);
    EXPECT_EQ(made.to, dbdetail::kSchemaVersion);
    EXPECT_EQ(made.key, IndexUpgrade::Key::Made);
    ASSERT_TRUE(exists(ix_.key_file));
    EXPECT_EQ(fs::status(ix_.key_file).permissions() & fs::perms::all, fs::perms(0640));
    const DigestKey key = DigestKey::load_or_create(ix_.key_file, ix_.path, false);
    EXPECT_EQ(open()->key_matches(key), true);
    EXPECT_NO_THROW(open_as_milter(ix_)) << "the milter uses what the admin made";
}

// An index made before folder holds: the milter waits for the admin's upgrade, which keeps
// the holds in force as admins' holds.
TEST_F(PgIndexAdmin, UpgradeMigratesAnOlderSchemaAndItsHolds) {
    upgrade_index(ix_);
    {
        const pgdetail::Conn c = pgdetail::connect(ix_.conninfo);
        pgdetail::exec(c.get(),
                       "DROP INDEX holds_one_active; ALTER TABLE holds DROP COLUMN kind; "
                       "CREATE UNIQUE INDEX holds_one_active ON holds (digest) WHERE released_at IS NULL; "
                       "INSERT INTO holds (digest, reason, placed_at, placed_by) "
                       "VALUES (decode(repeat('00', 32), 'hex'), 'legal', 1, 'alice'); "
                       "UPDATE retention_schema SET version = 6");
    }
    EXPECT_THROW(open_as_milter(ix_), IndexError) << "only the admin migrates a shared index";
    const IndexUpgrade u = upgrade_index(ix_);
    EXPECT_EQ(u.from, 6);
    EXPECT_EQ(u.to, dbdetail::kSchemaVersion);
    const auto held = open()->holds_in_force();
    ASSERT_EQ(held.size(), 1u);
    EXPECT_EQ(held[0].hold.kind, HoldKind::Admin);
    EXPECT_EQ(held[0].hold.placed_by, "alice");
}

TEST_F(PgIndexAdmin, UpgradeRunTwiceChangesNothing) {
    upgrade_index(ix_);
    const std::string key_before = pgdetail::read_file(ix_.key_file);
    const IndexUpgrade again = upgrade_index(ix_);
    EXPECT_EQ(again.from, dbdetail::kSchemaVersion) << "already current";
    EXPECT_EQ(again.to, dbdetail::kSchemaVersion);
    EXPECT_EQ(again.key, IndexUpgrade::Key::Checked);
    EXPECT_EQ(pgdetail::read_file(ix_.key_file), key_before);
}

TEST_F(PgIndexAdmin, UpgradeRecordsAnExistingKeyFileAsTheNewIndexsKey) {
    const DigestKey key = DigestKey::create(ix_.key_file);
    const IndexUpgrade made = upgrade_index(ix_);
    EXPECT_EQ(made.from, 0);
    EXPECT_EQ(made.key, IndexUpgrade::Key::Recorded);
    EXPECT_EQ(open()->key_matches(key), true);
}

TEST_F(PgIndexAdmin, UpgradeRefusesAKeyFileThatIsNotTheIndexs) {
    upgrade_index(ix_);
    const auto recorded = open()->get_meta(kKeyFingerprintMeta);
    fs::remove(ix_.key_file);
    DigestKey::create(ix_.key_file);
    EXPECT_THROW(upgrade_index(ix_), KeyMismatch);
    EXPECT_EQ(open()->get_meta(kKeyFingerprintMeta), recorded) << "the index keeps its key";
}

// A host whose key file is lost must get the index's key back, never a new one.
TEST_F(PgIndexAdmin, UpgradeMakesNoKeyForAnIndexThatHasOne) {
    upgrade_index(ix_);
    fs::remove(ix_.key_file);
    const std::string err = error_of([&] { upgrade_index(ix_); });
    EXPECT_NE(err.find("copy the key"), std::string::npos) << err;
    EXPECT_FALSE(exists(ix_.key_file));
}

// Rows were written with some key: a new one would orphan them, even if none is recorded.
TEST_F(PgIndexAdmin, UpgradeMakesNoKeyForAnIndexThatHoldsMessages) {
    PgIndex(ix_.conninfo, {.create = true, .upgrade = true}).insert({make_row(dig(1), d(2026, 1, 1), d(2026, 7, 1))});
    const std::string err = error_of([&] { upgrade_index(ix_); });
    EXPECT_NE(err.find("holds messages but records no key"), std::string::npos) << err;
    EXPECT_FALSE(exists(ix_.key_file));
}

TEST_F(PgIndexAdmin, TheMilterMakesNeitherSchemaNorKey) {
    const std::string err = error_of([&] { open_as_milter(ix_); });
    EXPECT_NE(err.find("retentionctl upgrade-index"), std::string::npos) << err;
    EXPECT_EQ(table_count(ix_.conninfo), 0) << "no schema was made";
    EXPECT_FALSE(exists(ix_.key_file)) << "no key was made";
}

TEST_F(PgIndexAdmin, TheMilterWithoutAKeyFileSaysWhereTheKeyComesFrom) {
    // A schema with no key recorded yet, and no key file on this host.
    PgIndex(ix_.conninfo, {.create = true, .upgrade = true});
    std::string err = error_of([&] { open_as_milter(ix_); });
    EXPECT_NE(err.find("copy the key from the first host"), std::string::npos) << err;
    EXPECT_NE(err.find("retentionctl upgrade-index"), std::string::npos) << err;
    EXPECT_FALSE(exists(ix_.key_file)) << "no key was made";

    upgrade_index(ix_);
    fs::remove(ix_.key_file);
    err = error_of([&] { open_as_milter(ix_); });
    EXPECT_NE(err.find("copy the key"), std::string::npos) << err;
    EXPECT_FALSE(exists(ix_.key_file)) << "no key was made";
}

// --- migrate-index ---------------------------------------------------------------------

class PgMigrateIndex : public PgIndexAdmin {
protected:
    // An SQLite index with rows in every state, holds in force and released, three receipts.
    void populate() {
        IndexSection sqlite = ix_;
        sqlite.backend = IndexBackend::Sqlite;
        upgrade_index(sqlite);
        const DigestKey key = DigestKey::load_or_create(ix_.key_file, ix_.path, false);
        for (int i = 0; i < 6; ++i) digests_.push_back(key.digest("msg-" + std::to_string(i) + "@example.org"));
        SqliteIndex s(ix_.path, {.host_id = ix_.host_id});
        std::vector<MessageRow> rows;
        for (int i = 0; i < 6; ++i) rows.push_back(make_row(digests_[i], d(2026, 1, 1 + i), d(2026, 3, 1 + i)));
        rows.push_back(make_row(digests_[0], d(2026, 1, 9), d(2026, 7, 1), "respect-phoneline", "outbound"));
        rows.back().record = key.record_digest("token-1");
        s.insert(rows);
        s.hold(digests_[1], "safeguarding", "CASE-1", "alice", at(d(2026, 2, 1)));
        s.hold(digests_[2], "legal", "", "bob", at(d(2026, 2, 2)));
        s.release(digests_[2], "carol", at(d(2026, 2, 3)));
        s.claim({{digests_[4], {s.rows_for(digests_[4])[0].id}}}, at(d(2026, 3, 5)));
        for (int run = 0; run < 3; ++run) {
            std::vector<Digest> gone;
            for (const MessageRow& r : s.rows_for(digests_[3 + run]))
                if (r.state == RowState::Present) s.mark_destroyed({{r.id, 1}}, at(d(2026, 3, 10 + run)));
            gone.push_back(digests_[3 + run]);
            Receipt rc;
            rc.run_at = at(d(2026, 3, 10 + run), 3);
            rc.destroyed = 1;
            rc.counts_json = "{\"run\":" + std::to_string(run) + "}";
            s.add_receipt(rc, gone);
        }
        s.set_meta("last_run", "2026-03-12");
        s.note_files_seen({std::string(16, 'F')}, d(2026, 3, 1));
    }

    std::vector<Digest> digests_;
};

TEST_F(PgMigrateIndex, TheCopyAnswersAsTheOriginal) {
    populate();
    const IndexMigration m = migrate_index_to_postgresql(ix_);
    const std::vector<std::pair<std::string, std::int64_t>> counts = {
        {"messages", 7}, {"holds", 2}, {"receipts", 3}, {"meta", 2}, {"files_seen", 1}};
    EXPECT_EQ(m.counts, counts);

    SqliteIndex s(ix_.path, {.read_only = true, .host_id = ix_.host_id});
    PgIndex p(ix_.conninfo, {.host_id = ix_.host_id});
    const auto same_row = [](const MessageRow& a, const MessageRow& b) {
        return std::tie(a.id, a.digest, a.record, a.queue_id, a.lines, a.direction, a.policy, a.passed_on,
                        a.retain_until, a.state, a.destroyed_at, a.copies, a.claimed) ==
               std::tie(b.id, b.digest, b.record, b.queue_id, b.lines, b.direction, b.policy, b.passed_on,
                        b.retain_until, b.state, b.destroyed_at, b.copies, b.claimed);
    };
    for (const Digest& dg : digests_) {
        const auto a = s.rows_for(dg), b = p.rows_for(dg);
        ASSERT_EQ(a.size(), b.size());
        for (std::size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(same_row(a[i], b[i])) << "row " << a[i].id;
        const auto ha = s.holds_for(dg), hb = p.holds_for(dg);
        ASSERT_EQ(ha.size(), hb.size());
        for (std::size_t i = 0; i < ha.size(); ++i) {
            EXPECT_EQ(std::tie(ha[i].id, ha[i].reason, ha[i].ref, ha[i].placed_at, ha[i].placed_by, ha[i].released_at,
                               ha[i].released_by),
                      std::tie(hb[i].id, hb[i].reason, hb[i].ref, hb[i].placed_at, hb[i].placed_by, hb[i].released_at,
                               hb[i].released_by));
        }
    }
    ASSERT_TRUE(p.last_receipt());
    EXPECT_EQ(p.last_receipt()->id, s.last_receipt()->id);
    EXPECT_EQ(p.last_receipt()->chain_hex, s.last_receipt()->chain_hex);
    EXPECT_EQ(m.last_chain, s.last_receipt()->chain_hex);
    EXPECT_EQ(p.key_matches(DigestKey::load_or_create(ix_.key_file, ix_.path, false)), true);
    EXPECT_EQ(p.file_first_seen(std::string(16, 'F')), d(2026, 3, 1));
    EXPECT_EQ(p.holds_in_force().size(), 1u);

    // New rows, holds and receipts are numbered after the copied ones.
    const auto ids = p.insert({make_row(std::string(32, 'N'), d(2026, 4, 1), d(2026, 9, 1))});
    EXPECT_EQ(ids.at(0), 8);
    EXPECT_EQ(p.hold(std::string(32, 'N'), "legal", "", "alice", at(d(2026, 4, 2))), 3);
    Receipt next;
    next.run_at = at(d(2026, 4, 3));
    EXPECT_EQ(p.add_receipt(next, {}).id, 4);
}

TEST_F(PgMigrateIndex, AnIndexMadeByUpgradeWithTheSameKeyIsEmptyEnough) {
    populate();
    upgrade_index(ix_);  // the admin made the PostgreSQL index first, with the same key file
    ASSERT_TRUE(open()->get_meta(kKeyFingerprintMeta));
    EXPECT_NO_THROW(migrate_index_to_postgresql(ix_));
}

TEST_F(PgMigrateIndex, ADatabaseThatHoldsRowsIsRefused) {
    populate();
    {
        PgIndex p(ix_.conninfo, {.create = true, .upgrade = true});
        p.insert({make_row(std::string(32, 'X'), d(2026, 1, 1), d(2026, 7, 1))});
    }
    const std::string err = error_of([&] { migrate_index_to_postgresql(ix_); });
    EXPECT_NE(err.find("already holds an index"), std::string::npos) << err;
    auto c = pgdetail::connect(ix_.conninfo);
    EXPECT_EQ(pg_count(c.get(), "SELECT count(*) FROM messages"), 1) << "nothing was copied";
    EXPECT_EQ(pg_count(c.get(), "SELECT count(*) FROM receipts"), 0) << "nothing was copied";
}

}  // namespace
}  // namespace rm
