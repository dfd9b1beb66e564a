#include "db/pg_server.hpp"

#include <map>
#include <optional>
#include <utility>

#include "db/pg.hpp"
#include "db/pg_roles.hpp"

namespace rm {

using namespace dbdetail;

namespace {

constexpr int kConnectTimeoutS = 10;

std::optional<std::string> server_setting(const PgConn& c, const std::string& name) {
    // pg_settings hides what this user may not read, rather than failing.
    const PgResult r = c.query("SELECT setting FROM pg_settings WHERE name = $1", PgParams().text(name),
                               "cannot read the server's settings");
    if (r.rows() == 0) return std::nullopt;
    return r.text(0, 0);
}

// The settings a session of `role` in this database starts with, by the server's order:
// the role's in this database, the role's, the database's; then the server's.
using Settings = std::map<std::string, std::string>;

// The settings stored for `role` (empty: for every role), in this database or in all.
Settings stored_settings(const PgConn& c, const std::string& role, bool in_this_database) {
    const PgResult r = c.query(
        "SELECT unnest(setconfig) FROM pg_db_role_setting WHERE "
        "setrole = coalesce((SELECT oid FROM pg_roles WHERE rolname = $1), 0) AND setdatabase = CASE WHEN $2 = 1 "
        "THEN (SELECT oid FROM pg_database WHERE datname = current_database()) ELSE 0 END",
        PgParams().text(role).int64(in_this_database ? 1 : 0), "cannot read the stored settings");
    Settings out;
    for (int i = 0; i < r.rows(); ++i) {
        const std::string kv = r.text(i, 0);
        const auto eq = kv.find('=');
        if (eq != std::string::npos) out[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    return out;
}

std::string effective(const std::vector<Settings>& layers, const Settings& server, const std::string& name) {
    for (const Settings& s : layers)
        if (auto it = s.find(name); it != s.end()) return it->second;
    const auto it = server.find(name);
    return it != server.end() ? it->second : std::string();
}

// Whether a value lets the server log statements or their parameters.
bool loud(const std::string& name, const std::string& value) {
    if (value.empty()) return false;  // unknown (hidden, or an older server)
    if (name == "log_statement") return value != "none" && value != "ddl";
    if (name == "log_min_duration_statement") return value != "-1";
    return value != "0";  // the parameter lengths
}

std::vector<std::string> loud_logging(const PgConn& c) {
    Settings server;
    for (const auto& [name, quiet] : pg_quiet_log_settings())
        if (auto v = server_setting(c, name)) server[name] = *v;
    const Settings database = stored_settings(c, "", true);
    const PgResult roles = c.query(
        "SELECT DISTINCT r.rolname FROM pg_roles r WHERE r.rolname IN ($1, $2, $3) OR r.oid IN (SELECT m.member FROM "
        "pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid WHERE g.rolname IN ($1, $2, $3)) ORDER BY 1",
        PgParams().text(kPgMilterRole).text(kPgSweeperRole).text(kPgCtlRole), "cannot list the programs' roles");
    std::vector<std::string> out;
    for (int i = 0; i < roles.rows(); ++i) {
        const std::string role = roles.text(i, 0);
        const std::vector<Settings> layers = {stored_settings(c, role, true), stored_settings(c, role, false),
                                              database};
        for (const auto& [name, quiet] : pg_quiet_log_settings()) {
            const std::string v = effective(layers, server, name);
            if (loud(name, v)) out.push_back(role + ": " + name + " = " + v);
        }
    }
    return out;
}

}  // namespace

PgServerFacts read_server_facts(const std::string& conninfo) {
    const PgConn c(conninfo, kConnectTimeoutS);
    PgServerFacts f;
    f.database = c.name();
    f.archive_mode = server_setting(c, "archive_mode").value_or("");
    f.archives = !server_setting(c, "archive_command").value_or("").empty() ||
                 !server_setting(c, "archive_library").value_or("").empty();
    f.replicas = static_cast<int>(c.scalar("SELECT count(*) FROM pg_stat_replication", {}, "cannot list the replicas"));
    f.synchronous_standby_names = server_setting(c, "synchronous_standby_names").value_or("");
    f.synchronous_commit = server_setting(c, "synchronous_commit").value_or("");
    f.in_recovery = c.query("SELECT pg_is_in_recovery()", "cannot read the server's state").text(0, 0) == "t";
    for (const char* role : {kPgMilterRole, kPgSweeperRole, kPgCtlRole}) {
        if (c.scalar("SELECT count(*) FROM pg_roles WHERE rolname = $1", PgParams().text(role), "cannot look up a role") == 0)
            f.missing_roles.emplace_back(role);
    }
    f.loud_logging = loud_logging(c);
    return f;
}

}  // namespace rm
