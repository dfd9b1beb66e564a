// `retentionctl check` on a PostgreSQL index: what the server keeps, logs or may lose
// beyond the index's own tables, and how the programs log in to it.
#include <libpq-fe.h>
#include <sys/stat.h>

#include <memory>

#include "ctl/check.hpp"
#include "core/fs.hpp"
#include "ctl/fs_facts.hpp"
#include "db/index.hpp"
#include "db/pg_server.hpp"

namespace rm::ctl {

namespace {

struct ConninfoFree {
    void operator()(PQconninfoOption* o) const { PQconninfoFree(o); }
};

// The value of one keyword of a conninfo string; empty when unset or unparsable.
std::string conninfo_value(const std::string& conninfo, const std::string& keyword) {
    char* err = nullptr;
    std::unique_ptr<PQconninfoOption, ConninfoFree> opts(PQconninfoParse(conninfo.c_str(), &err));
    if (err != nullptr) PQfreemem(err);
    if (!opts) return {};
    for (const PQconninfoOption* o = opts.get(); o->keyword != nullptr; ++o)
        if (keyword == o->keyword && o->val != nullptr) return o->val;
    return {};
}

// libpq ignores a password file that others can read, and the program then fails to log in.
void check_passfile(const std::string& conninfo, Findings& f) {
    const std::string passfile = conninfo_value(conninfo, "passfile");
    if (passfile.empty()) return;
    const auto st = stat_of(passfile);
    if (!st) return warn(f, "index.conninfo: the passfile " + passfile + " does not exist (on this host)");
    if (st->st_mode & (S_IRWXG | S_IRWXO))
        warn(f, "index.conninfo: the passfile " + passfile + " can be read by others (mode " + mode_text(st->st_mode) +
                    "): libpq ignores it, so the password in it is not used. Run chmod 0600 " + passfile +
                    " and give it to the user the program runs as");
}

// A server reached over the network: only verify-full proves that it is the index's server.
void check_tls(const std::string& conninfo, Findings& f) {
    std::string host = conninfo_value(conninfo, "host");
    if (host.empty()) host = conninfo_value(conninfo, "hostaddr");
    const bool local = host.empty() || host.front() == '/' || host == "localhost" || host == "127.0.0.1" || host == "::1";
    if (local) return;
    const std::string mode = conninfo_value(conninfo, "sslmode");
    if (mode != "verify-full")
        warn(f, "index.conninfo: the server " + host + " is reached over the network with sslmode=" +
                    (mode.empty() ? "prefer" : mode) + ": set sslmode=verify-full (and sslrootcert) so that digests "
                    "and passwords go only to the index's own server, encrypted");
}

void check_archives(const PgServerFacts& s, Findings& f) {
    if (s.archive_mode.empty() || s.archive_mode == "off") return;
    warn(f, "index server: archive_mode = " + s.archive_mode + (s.archives ? " with an archive command" : "") +
                ": archived WAL holds every digest the sweeper erases, for as long as the archives are kept. Keep "
                "WAL archives (and base backups) of this database no longer than [index] digest_grace, or erased "
                "digests outlive it (see the README, \"Erasure on a database server\")");
}

void check_replicas(const PgServerFacts& s, Findings& f) {
    if (s.replicas > 0) {
        warn(f, "index server: " + std::to_string(s.replicas) + (s.replicas == 1 ? " replica streams" : " replicas stream") +
                    " from it: each keeps the index, and its WAL, as the primary does; keep their archives and "
                    "backups no longer than [index] digest_grace too");
    }
    const bool synchronous = !s.synchronous_standby_names.empty() &&
                             (s.synchronous_commit == "on" || s.synchronous_commit == "remote_apply" ||
                              s.synchronous_commit == "remote_write");
    if (s.replicas > 0 && !synchronous)
        warn(f, "index server: replication is asynchronous (synchronous_standby_names = '" +
                    s.synchronous_standby_names + "', synchronous_commit = " + s.synchronous_commit +
                    "): a failover to a replica loses the rows committed last, and the sweeper never destroys "
                    "those messages. Name the replicas in synchronous_standby_names, with synchronous_commit = on "
                    "or remote_apply");
    if (s.in_recovery) warn(f, "index server: " + s.database + " is a standby: the programs need the primary");
}

void check_logging(const PgServerFacts& s, Findings& f) {
    if (s.loud_logging.empty()) return;
    std::string list;
    for (const auto& l : s.loud_logging) list += (list.empty() ? "" : "; ") + l;
    warn(f, "index server: it may log the programs' statements with their parameters, which are digests (" + list +
                "). Run retentionctl upgrade-index as a superuser (it sets them on the database), and ALTER ROLE ... "
                "RESET each setting a login role overrides");
}

void check_roles(const PgServerFacts& s, Findings& f) {
    if (s.missing_roles.empty()) return;
    std::string list;
    for (const auto& r : s.missing_roles) list += (list.empty() ? "" : ", ") + r;
    warn(f, "index server: the programs' group roles " + list +
                " do not exist: run retentionctl upgrade-index as the owner of the index (it makes them when it may, "
                "else prints the SQL)");
}

}  // namespace

void check_pg_facts(const PgServerFacts& s, Findings& f) {
    check_roles(s, f);
    check_logging(s, f);
    check_archives(s, f);
    check_replicas(s, f);
}

void check_pg_server(const Config& c, Findings& f) {
    check_passfile(c.index.conninfo, f);
    check_tls(c.index.conninfo, f);
    PgServerFacts s;
    try {
        s = read_server_facts(c.index.conninfo);
    } catch (const IndexError& e) {
        return warn(f, std::string("index server: cannot read its settings: ") + e.what());
    }
    check_pg_facts(s, f);
}

}  // namespace rm::ctl
