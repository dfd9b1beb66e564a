// The roles the programs log in with on a PostgreSQL index: a login role in each group
// role that `retentionctl upgrade-index` sets up does its program's work through the
// index, and is refused what its program never does.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "db/index.hpp"
#include "db/pg_index.hpp"
#include "db/pg_roles.hpp"
#include "index_rows_test_util.hpp"
#include "pg_test_util.hpp"
#include "temp_dir.hpp"

namespace rm {
namespace {

using namespace rm::test;

const Date kPassed = d(2026, 1, 5);
const Date kDue = d(2026, 2, 5);
const Date kToday = d(2026, 3, 1);

class PgRoles : public ::testing::Test {
protected:
    PgRoles() {
        ix_.backend = IndexBackend::Postgresql;
        ix_.conninfo = db_.conninfo();
        ix_.key_file = tmp_.path().string() + "/index.key";
        ix_.host_id = "mx1";
        left_to_admin_ = upgrade_index(ix_).left_to_admin;
        admin_ = pgdetail::connect(db_.conninfo());
        for (const char* group : {kPgMilterRole, kPgSweeperRole, kPgCtlRole}) {
            const std::string login = std::string(group) + "_" + db_.name();
            pgdetail::exec(admin_.get(), "CREATE ROLE " + login + " LOGIN IN ROLE " + group);
            logins_.push_back(login);
        }
    }
    ~PgRoles() override {
        for (const auto& login : logins_) {
            try {
                pgdetail::exec(admin_.get(), "DROP OWNED BY " + login);
                pgdetail::exec(admin_.get(), "DROP ROLE " + login);
            } catch (const std::exception&) {
                // The cluster goes at the end of the run anyway.
            }
        }
    }

    // The conninfo of a host's login role in `group` (a later `user` overrides the first).
    std::string conninfo_as(const char* group) const { return db_.conninfo() + " user=" + group + "_" + db_.name(); }

    std::unique_ptr<PgIndex> open_as(const char* group) const {
        return std::make_unique<PgIndex>(conninfo_as(group), Index::Options{.busy_timeout_ms = 5000, .host_id = "mx1"});
    }

    // Runs SQL as a login role of `group`; the server's message, empty when it succeeded.
    std::string refusal(const char* group, const std::string& sql) const {
        auto c = pgdetail::connect(conninfo_as(group));
        try {
            pgdetail::exec(c.get(), sql);
        } catch (const std::exception& e) {
            return e.what();
        }
        return {};
    }

    void expect_refused(const char* group, const std::string& sql) const {
        EXPECT_NE(refusal(group, sql).find("permission denied"), std::string::npos) << group << ": " << sql;
    }

    // None of the programs may change the schema.
    void expect_no_schema_changes(const char* group) const {
        EXPECT_NE(refusal(group, "ALTER TABLE messages ADD COLUMN note text").find("must be owner"), std::string::npos)
            << group;
        EXPECT_NE(refusal(group, "DROP TABLE holds"), "") << group;
        EXPECT_NE(refusal(group, "CREATE TABLE messages_copy (id bigint)"), "") << group;
        EXPECT_NE(refusal(group, "TRUNCATE receipts"), "") << group;
    }

    std::vector<std::int64_t> insert_as_admin(int n) {
        PgIndex ix(ix_.conninfo, {.busy_timeout_ms = 5000, .host_id = "mx1"});
        std::vector<MessageRow> rows;
        for (int i = 0; i < n; ++i) rows.push_back(make_row(dig(i), kPassed, kDue));
        return ix.insert(rows);
    }

    PgDatabase db_;
    TempDir tmp_{"rm-pgroles"};
    IndexSection ix_;
    std::vector<std::string> left_to_admin_;
    pgdetail::Conn admin_;
    std::vector<std::string> logins_;
};

TEST_F(PgRoles, AsSuperuserUpgradeLeavesNothingToTheAdmin) {
    EXPECT_TRUE(left_to_admin_.empty()) << left_to_admin_.front();
}

TEST_F(PgRoles, MilterRoleInsertsRowsAndReadsNothingElse) {
    IndexSection as_milter = ix_;
    as_milter.conninfo = conninfo_as(kPgMilterRole);
    CheckedIndex opened = open_index_checked(as_milter, {.busy_timeout_ms = 5000, .host_id = "mx1"}, false);
    EXPECT_NO_THROW(opened.index->remember_key(opened.key)) << "the milter does this at every start";
    const auto ids = opened.index->insert({make_row(dig(1), kPassed, kDue), make_row(dig(2), kPassed, kDue)});
    EXPECT_EQ(ids.size(), 2U);
    EXPECT_EQ(opened.index->insert_journalled({{make_row(dig(3), kPassed, kDue), "tok-3"}}), 1);
    EXPECT_EQ(opened.index->insert_journalled({{make_row(dig(3), kPassed, kDue), "tok-3"}}), 0) << "imported once";
    EXPECT_EQ(pg_count(admin_.get(), "SELECT count(*) FROM messages"), 3);

    EXPECT_FALSE(error_of([&] { opened.index->rows_for(dig(1)); }).empty()) << "it never reads digests back";
    expect_refused(kPgMilterRole, "SELECT digest FROM messages");
    expect_refused(kPgMilterRole, "DELETE FROM messages");
    expect_refused(kPgMilterRole, "UPDATE messages SET state = 'destroyed'");
    expect_refused(kPgMilterRole, "SELECT * FROM holds");
    expect_refused(kPgMilterRole, "INSERT INTO holds (reason, placed_at, placed_by) VALUES ('x', 0, 'x')");
    expect_refused(kPgMilterRole, "INSERT INTO meta (key, value) VALUES ('key_fingerprint', 'other')");
    expect_refused(kPgMilterRole, "SELECT * FROM receipts");
    expect_no_schema_changes(kPgMilterRole);
}

TEST_F(PgRoles, SweeperRoleClaimsMarksErasesAndKeepsItsOwnRecords) {
    const auto ids = insert_as_admin(3);
    auto ix = open_as(kPgSweeperRole);
    SweepLockAttempt lock = ix->try_lock_sweep();
    ASSERT_EQ(lock.status, SweepLockAttempt::Status::Held) << lock.error;
    // Staff hold a message by moving it into a hold folder; the sweeper records it.
    EXPECT_EQ(ix->hold_from_folder(dig(2), "safeguarding", "folder H of the l mailbox", at(kToday)),
              FolderHold::Placed);
    ASSERT_EQ(ix->expired(kToday).size(), 3U);
    EXPECT_EQ(ix->claim({{dig(0), {ids[0]}}, {dig(1), {ids[1]}}}, at(kToday)), (std::vector<bool>{true, true}));
    EXPECT_EQ(ix->release_claims(), 2);
    EXPECT_EQ(ix->mark_destroyed({{ids[0], 1}, {ids[1], 1}}, at(kToday), Index::Unless::Held).size(), 2U);
    const std::string file_key(16, 'f');
    ix->remember_files({{file_key, {dig(0), {}, {}}}}, kToday);
    EXPECT_TRUE(ix->known_file(file_key).has_value());
    EXPECT_EQ(ix->forget_files_before(kToday), 0);
    ix->note_files_seen({file_key}, kToday);
    EXPECT_TRUE(ix->file_first_seen(file_key).has_value());
    ix->forget_files_seen({file_key});
    EXPECT_EQ(ix->forget_files_seen_before(kToday), 0);
    ix->set_meta("sweep_last_run", "2026-03-01");
    ix->set_meta("sweep_last_run", "2026-03-02");
    EXPECT_EQ(ix->get_meta("sweep_last_run"), "2026-03-02");
    Receipt r;
    r.run_at = at(kToday);
    r.destroyed = 2;
    EXPECT_GT(ix->add_receipt(r, {dig(0), dig(1)}).id, 0);
    EXPECT_EQ(ix->erase_old_digests(at(kToday) + std::chrono::hours(1)), 2);
    EXPECT_EQ(pg_count(admin_.get(), "SELECT count(*) FROM messages WHERE digest IS NOT NULL"), 1) << "the held one";
    // Its own VACUUM may be skipped (not the owner): autovacuum must not wait for more.
    EXPECT_EQ(pg_count(admin_.get(), "SELECT count(*) FROM pg_class WHERE relname IN ('messages', 'holds', "
                                     "'scan_cache') AND 'autovacuum_vacuum_threshold=0' = ANY(reloptions) "
                                     "AND 'autovacuum_vacuum_scale_factor=0' = ANY(reloptions)"),
              3);

    expect_refused(kPgSweeperRole, "DELETE FROM messages");
    expect_refused(kPgSweeperRole, "INSERT INTO messages (lines, direction, policy, passed_on, retain_until) "
                                   "VALUES ('x', 'inbound', 'email', '2026-01-01', '2026-01-02')");
    expect_refused(kPgSweeperRole, "UPDATE messages SET retain_until = '2099-01-01'");
    // It lifts the folder holds of messages team leaders put in a release folder.
    EXPECT_EQ(ix->release(dig(2), "folder Hold/Release of the l mailbox", at(kToday), HoldKind::Folder), 1);
    EXPECT_EQ(pg_count(admin_.get(), "SELECT count(*) FROM holds WHERE released_by = 'folder Hold/Release of the l "
                                     "mailbox'"),
              1);
    expect_refused(kPgSweeperRole, "UPDATE holds SET kind = 'admin'");
    expect_refused(kPgSweeperRole, "DELETE FROM receipts");
    expect_refused(kPgSweeperRole, "UPDATE receipts SET chain = ''");
    expect_no_schema_changes(kPgSweeperRole);
}

TEST_F(PgRoles, CtlRolePlacesAndReleasesHoldsAndReads) {
    insert_as_admin(2);
    auto ix = open_as(kPgCtlRole);
    EXPECT_GT(ix->hold(dig(0), "court order", "ref-1", "admin", at(kToday)), 0);
    EXPECT_FALSE(ix->active_holds(dig(0)).empty());
    EXPECT_EQ(ix->holds_in_force().size(), 1U);
    EXPECT_EQ(ix->report(kToday).active_holds, 1);
    EXPECT_EQ(ix->rows_for(dig(0)).size(), 1U);
    ix->release(dig(0), "admin", at(kToday));
    EXPECT_EQ(ix->holds_for(dig(0)).size(), 1U);
    EXPECT_FALSE(ix->last_receipt().has_value());
    EXPECT_TRUE(ix->get_meta(kKeyFingerprintMeta).has_value());

    expect_refused(kPgCtlRole, "DELETE FROM messages");
    expect_refused(kPgCtlRole, "UPDATE messages SET state = 'destroyed'");
    expect_refused(kPgCtlRole, "INSERT INTO messages (lines, direction, policy, passed_on, retain_until) "
                               "VALUES ('x', 'inbound', 'email', '2026-01-01', '2026-01-02')");
    expect_refused(kPgCtlRole, "DELETE FROM holds");
    expect_refused(kPgCtlRole, "UPDATE holds SET reason = 'other'");
    expect_refused(kPgCtlRole, "INSERT INTO receipts (run_at, counts_json, destroyed, chain, exit_code) "
                               "VALUES (0, '{}', 0, '', 0)");
    expect_refused(kPgCtlRole, "UPDATE meta SET value = ''");
    expect_refused(kPgCtlRole, "SELECT * FROM scan_cache");
    expect_no_schema_changes(kPgCtlRole);
}

// A login role does not take its group role's settings: they must hold in the database.
TEST_F(PgRoles, UpgradeKeepsTheServerFromLoggingTheProgramsStatements) {
    for (const char* group : {kPgMilterRole, kPgSweeperRole, kPgCtlRole}) {
        auto c = pgdetail::connect(conninfo_as(group));
        EXPECT_EQ(pg_count(c.get(), "SELECT (current_setting('log_statement') = 'none')::int"), 1) << group;
        EXPECT_EQ(pg_count(c.get(), "SELECT current_setting('log_min_duration_statement')::int"), -1) << group;
        EXPECT_EQ(pg_count(c.get(), "SELECT current_setting('log_parameter_max_length')::int"), 0) << group;
        EXPECT_EQ(pg_count(c.get(), "SELECT current_setting('log_parameter_max_length_on_error')::int"), 0) << group;
    }
}

// The planner's statistics would keep a sample of the digests past their erasure.
TEST_F(PgRoles, UpgradeKeepsDigestsOutOfThePlannersStatistics) {
    {
        auto milter = open_as(kPgMilterRole);
        std::vector<MessageRow> rows;
        for (int i = 0; i < 50; ++i) {
            MessageRow r = make_row(dig(i), kPassed, kDue);
            r.record = dig(1000 + i);
            rows.push_back(r);
        }
        milter->insert(rows);
    }
    pgdetail::exec(admin_.get(), "ANALYZE");
    EXPECT_EQ(pg_count(admin_.get(), "SELECT count(*) FROM pg_stats WHERE attname IN ('digest', 'record') AND "
                                     "tablename IN ('messages', 'holds', 'scan_cache')"),
              0);
    // The other columns still get them: the planner needs those.
    EXPECT_EQ(pg_count(admin_.get(), "SELECT count(*) FROM pg_stats WHERE tablename = 'messages' AND attname = 'state'"),
              1);
}

TEST_F(PgRoles, UpgradeAgainTakesBackRightsGrantedByHand) {
    pgdetail::exec(admin_.get(), std::string("GRANT DELETE ON messages TO ") + kPgMilterRole);
    EXPECT_TRUE(upgrade_index(ix_).left_to_admin.empty());
    expect_refused(kPgMilterRole, "DELETE FROM messages");
}

TEST_F(PgRoles, AnAdminWhoMayNotSetLoggingIsToldTheSql) {
    const std::string owner = "owner_" + db_.name();
    logins_.push_back(owner);
    pgdetail::exec(admin_.get(), "CREATE ROLE " + owner + " LOGIN CREATEROLE");
    for (const char* table : {"retention_schema", "messages", "holds", "receipts", "meta", "scan_cache", "files_seen"})
        pgdetail::exec(admin_.get(), std::string("ALTER TABLE ") + table + " OWNER TO " + owner);
    IndexSection as_owner = ix_;
    as_owner.conninfo = db_.conninfo() + " user=" + owner;
    const auto left = upgrade_index(as_owner).left_to_admin;
    ASSERT_EQ(left.size(), 1U) << "the rights on the tables are the owner's to grant";
    EXPECT_NE(left[0].find("ALTER DATABASE \"" + db_.name() + "\" SET log_statement = 'none';"), std::string::npos) << left[0];
}

}  // namespace
}  // namespace rm
