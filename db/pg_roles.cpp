#include "db/pg_roles.hpp"

#include <libpq-fe.h>

#include <chrono>
#include <string_view>
#include <thread>
#include <utility>

#include "db/pg.hpp"

namespace rm {

using namespace dbdetail;

namespace {

constexpr int kConnectTimeoutS = 10;

// Exactly what each program's queries touch (db/pg_index.cpp). Column lists keep the milter
// from reading back what it wrote, and the others from rewriting what is not theirs.
constexpr std::string_view kMilterGrants = R"sql(
GRANT SELECT ON retention_schema, meta TO retention_milter;
GRANT SELECT (id, journal_token),
      INSERT (digest, queue_id, lines, direction, policy, passed_on, retain_until, state, copies, journal_token, record)
      ON messages TO retention_milter;
)sql";

constexpr std::string_view kSweeperGrants = R"sql(
GRANT SELECT ON retention_schema TO retention_sweeper;
GRANT SELECT, UPDATE (state, destroyed_at, copies, claimed_at, digest, record, queue_id, erased_at)
      ON messages TO retention_sweeper;
GRANT SELECT, INSERT (digest, reason, ref, placed_at, placed_by, kind),
      UPDATE (digest, released_at, released_by) ON holds TO retention_sweeper;
GRANT SELECT, INSERT ON receipts TO retention_sweeper;
GRANT SELECT, INSERT, UPDATE (value) ON meta TO retention_sweeper;
GRANT SELECT, INSERT, UPDATE, DELETE ON scan_cache, files_seen TO retention_sweeper;
)sql";

constexpr std::string_view kCtlGrants = R"sql(
GRANT SELECT ON retention_schema, messages, holds, receipts, meta, files_seen TO retention_ctl;
GRANT INSERT (digest, reason, ref, placed_at, placed_by, kind), UPDATE (released_at, released_by)
      ON holds TO retention_ctl;
)sql";

// Erased digests stay in the old row versions until a vacuum. Before PostgreSQL 17 only the
// owner may vacuum, so the sweeper's own VACUUM is skipped: autovacuum then does it at its
// next round (autovacuum_naptime) rather than after a fifth of the table has changed.
constexpr std::string_view kPromptVacuum = R"sql(
ALTER TABLE messages SET (autovacuum_vacuum_threshold = 0, autovacuum_vacuum_scale_factor = 0);
ALTER TABLE holds SET (autovacuum_vacuum_threshold = 0, autovacuum_vacuum_scale_factor = 0);
ALTER TABLE scan_cache SET (autovacuum_vacuum_threshold = 0, autovacuum_vacuum_scale_factor = 0);
)sql";

// ANALYZE (autovacuum runs it) keeps a sample of each column's values in pg_statistic,
// readable through pg_stats by any role that may read the column, until the next ANALYZE:
// digests there would outlive their erasure. Their columns get no statistics.
constexpr std::string_view kNoDigestStatistics = R"sql(
ALTER TABLE messages ALTER COLUMN digest SET STATISTICS 0, ALTER COLUMN record SET STATISTICS 0;
ALTER TABLE holds ALTER COLUMN digest SET STATISTICS 0;
ALTER TABLE scan_cache ALTER COLUMN digest SET STATISTICS 0, ALTER COLUMN record SET STATISTICS 0;
)sql";

// PostgreSQL 17 lets a role that does not own a table vacuum it.
constexpr std::string_view kSweeperVacuums = "GRANT MAINTAIN ON messages, holds, scan_cache TO retention_sweeper;\n";

// Numbered tables whose rows a program adds: the role needs their identity sequences.
constexpr std::pair<const char*, const char*> kSequenceUsers[] = {
    {"messages", kPgMilterRole}, {"receipts", kPgSweeperRole}, {"holds", kPgCtlRole}, {"holds", kPgSweeperRole}};

constexpr const char* kRoles[] = {kPgMilterRole, kPgSweeperRole, kPgCtlRole};
constexpr const char* kTables[] = {"retention_schema", "messages", "holds", "receipts", "meta", "scan_cache",
                                   "files_seen"};

struct Outcome {
    bool ok;
    std::string state;    // SQLSTATE when it failed
    std::string message;  // the server's message when it failed
};

Outcome run(const PgConn& c, const std::string& sql) {
    PGresult* r = PQexec(c.get(), sql.c_str());
    const ExecStatusType st = PQresultStatus(r);
    Outcome o{st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK, {}, {}};
    if (!o.ok) {
        const char* s = r != nullptr ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
        const char* m = r != nullptr ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
        o.state = s != nullptr ? s : "";
        o.message = m != nullptr ? m : PQerrorMessage(c.get());
    }
    PQclear(r);
    return o;
}

// Another admin (or another database's upgrade on the same server) may be changing the same
// roles right now: the loser of that race sees a duplicate or a concurrent update, and
// trying again finds the work done.
Outcome run_retrying(const PgConn& c, const std::string& sql) {
    Outcome o{};
    for (int attempt = 0; attempt < 5; ++attempt) {
        o = run(c, sql);
        if (o.ok || (o.state != "23505" && o.state != "42710" && o.state != "XX000" && o.state != "40001")) return o;
        if (PQtransactionStatus(c.get()) != PQTRANS_IDLE) run(c, "ROLLBACK");
        std::this_thread::sleep_for(std::chrono::milliseconds(50 * (attempt + 1)));
    }
    return o;
}

bool role_exists(const PgConn& c, const char* role) {
    return c.scalar("SELECT count(*) FROM pg_roles WHERE rolname = $1", PgParams().text(role),
                    "cannot look up a role") > 0;
}

std::string quoted(const PgConn& c, const std::string& ident) {
    char* q = PQescapeIdentifier(c.get(), ident.c_str(), ident.size());
    std::string out = q != nullptr ? q : ident;
    PQfreemem(q);
    return out;
}

// Creates the missing roles; returns the SQL for those it could not create.
std::vector<std::string> make_roles(const PgConn& c) {
    std::vector<std::string> missing;
    for (const char* role : kRoles) {
        if (role_exists(c, role)) continue;
        const std::string sql = std::string("CREATE ROLE ") + role + " NOLOGIN";
        const Outcome o = run_retrying(c, sql);
        if (!o.ok && !role_exists(c, role)) missing.push_back(sql + ";");
    }
    return missing;
}

std::string sequence_grants(const PgConn& c) {
    std::string sql;
    for (const auto& [table, role] : kSequenceUsers) {
        const PgResult r = c.query("SELECT pg_get_serial_sequence($1, 'id')", PgParams().text(table),
                                   "cannot find a table's sequence");
        if (r.rows() == 1 && !r.is_null(0, 0)) sql += "GRANT USAGE ON SEQUENCE " + r.text(0, 0) + " TO " + role + ";\n";
    }
    return sql;
}

// Revokes what the roles had on the index, then grants what they need, in one transaction:
// no program ever sees its rights half-changed.
void grant_tables(const PgConn& c) {
    std::string sql = "BEGIN;\n";
    const std::string roles = std::string(kPgMilterRole) + ", " + kPgSweeperRole + ", " + kPgCtlRole;
    for (const char* table : kTables) sql += std::string("REVOKE ALL ON ") + table + " FROM " + roles + ";\n";
    sql += std::string(kMilterGrants) + std::string(kSweeperGrants) + std::string(kCtlGrants) + sequence_grants(c);
    sql += kPromptVacuum;
    sql += kNoDigestStatistics;
    if (c.scalar("SELECT current_setting('server_version_num')::int", {}, "cannot read the server's version") >= 170000)
        sql += kSweeperVacuums;
    sql += "COMMIT;";
    const Outcome o = run_retrying(c, sql);
    if (!o.ok) {
        if (PQtransactionStatus(c.get()) != PQTRANS_IDLE) run(c, "ROLLBACK");
        throw IndexError("index " + c.name() + ": cannot grant the programs' roles their rights: " + o.message);
    }
}

// Connecting to the database and using its schema: PUBLIC usually may, else only their
// owners may grant it. Returns the SQL for what is missing and could not be granted.
std::vector<std::string> grant_access(const PgConn& c) {
    std::vector<std::string> left;
    const PgResult where = c.query("SELECT current_database(), current_schema()", "cannot read the database's name");
    const std::string db = quoted(c, where.text(0, 0)), schema = quoted(c, where.text(0, 1));
    for (const char* role : kRoles) {
        const PgResult has = c.query("SELECT has_database_privilege($1, current_database(), 'CONNECT'), "
                                     "has_schema_privilege($1, current_schema(), 'USAGE')",
                                     PgParams().text(role), "cannot read the roles' rights");
        const std::string connect = "GRANT CONNECT ON DATABASE " + db + " TO " + role;
        const std::string usage = "GRANT USAGE ON SCHEMA " + schema + " TO " + role;
        if (has.text(0, 0) != "t" && !run_retrying(c, connect).ok) left.push_back(connect + ";");
        if (has.text(0, 1) != "t" && !run_retrying(c, usage).ok) left.push_back(usage + ";");
    }
    return left;
}

// The settings the index's database should carry that it does not yet carry, as ALTER
// DATABASE statements. On the database, not the group roles: PostgreSQL applies a role's
// settings only to sessions of that very role, never to its members.
std::vector<std::string> quiet_logging(const PgConn& c) {
    std::vector<std::string> left;
    const PgResult where = c.query("SELECT current_database(), current_setting('server_version_num')::int",
                                   "cannot read the server's version");
    const std::string db = quoted(c, where.text(0, 0));
    const bool has_param_length = where.int64(0, 1) >= 130000;
    for (const auto& [name, value] : pg_quiet_log_settings()) {
        if (!has_param_length && name.rfind("log_parameter_", 0) == 0) continue;
        const std::string sql = "ALTER DATABASE " + db + " SET " + name + " = " + value;
        if (!run_retrying(c, sql).ok) left.push_back(sql + ";");
    }
    return left;
}

std::string joined(const std::vector<std::string>& statements) {
    std::string out;
    for (const auto& s : statements) out += (out.empty() ? "" : " ") + s;
    return out;
}

}  // namespace

const std::vector<std::pair<std::string, std::string>>& pg_quiet_log_settings() {
    static const std::vector<std::pair<std::string, std::string>> settings = {
        {"log_statement", "'none'"},
        {"log_min_duration_statement", "-1"},
        {"log_parameter_max_length", "0"},
        {"log_parameter_max_length_on_error", "0"},
    };
    return settings;
}

std::vector<std::string> grant_program_roles(const std::string& conninfo) {
    const PgConn c(conninfo, kConnectTimeoutS);
    std::vector<std::string> notes;
    const std::vector<std::string> missing = make_roles(c);
    if (!missing.empty()) {
        const std::string sql = joined(missing);
        notes.push_back("the programs' group roles are missing and this user may not create roles: as a superuser, "
                        "run `" + sql + "`, then run `retentionctl upgrade-index` again to grant them their rights");
        return notes;
    }
    grant_tables(c);
    const std::vector<std::string> no_access = grant_access(c);
    if (!no_access.empty()) {
        const std::string sql = joined(no_access);
        notes.push_back("the programs' group roles may not reach the index: as the owner of the database and "
                        "its schema, run `" + sql + "`");
    }
    const std::vector<std::string> loud = quiet_logging(c);
    if (!loud.empty()) {
        const std::string sql = joined(loud);
        notes.push_back("only a superuser may keep the server from logging the programs' statements (their "
                        "parameters hold digests): as a superuser, run `" + sql + "`");
    }
    return notes;
}

}  // namespace rm
