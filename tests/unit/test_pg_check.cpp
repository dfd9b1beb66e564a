// `retentionctl check` on a PostgreSQL index's server: the logging, archiving and
// replication that keep or lose digests beyond what the sweeper does, and how the
// programs log in.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <string>

#include "ctl/check.hpp"
#include "db/index.hpp"
#include "db/pg_roles.hpp"
#include "pg_test_util.hpp"
#include "temp_dir.hpp"

namespace rm::ctl {
namespace {

using namespace rm::test;

std::string text_of(const Findings& f) {
    std::string out;
    for (const auto& x : f) out += format_finding(x) + "\n";
    return out;
}

bool warns(const Findings& f, const std::string& part) {
    for (const auto& x : f)
        if (x.level == Finding::Level::Warning && x.text.find(part) != std::string::npos) return true;
    return false;
}

class PgCheckServer : public ::testing::Test {
protected:
    PgCheckServer() {
        c_.index.backend = IndexBackend::Postgresql;
        c_.index.conninfo = db_.conninfo();
        c_.index.key_file = tmp_.path().string() + "/index.key";
        upgrade_index(c_.index);
        admin_ = pgdetail::connect(db_.conninfo());
        pgdetail::exec(admin_.get(), "CREATE ROLE " + login_ + " LOGIN IN ROLE " + kPgSweeperRole);
    }
    ~PgCheckServer() override {
        try {
            pgdetail::exec(admin_.get(), "DROP ROLE " + login_);
        } catch (const std::exception&) {
            // The cluster goes at the end of the run anyway.
        }
    }
    Findings checked() const {
        Findings f;
        check_pg_server(c_, f);
        return f;
    }

    PgDatabase db_;
    TempDir tmp_{"rm-pgcheck"};
    Config c_;
    pgdetail::Conn admin_;
    std::string login_ = "sweep_" + db_.name();
};

TEST_F(PgCheckServer, AfterUpgradeTheServerLogsNoDigests) {
    const Findings f = checked();
    EXPECT_FALSE(warns(f, "log")) << text_of(f);
}

TEST_F(PgCheckServer, ALoginRoleThatLogsItsStatementsIsNamed) {
    pgdetail::exec(admin_.get(), "ALTER ROLE " + login_ + " IN DATABASE " + db_.name() + " SET log_statement = 'all'");
    const Findings f = checked();
    EXPECT_TRUE(warns(f, login_ + ": log_statement = all")) << text_of(f);
    EXPECT_TRUE(warns(f, "ALTER ROLE ... RESET")) << text_of(f);
}

TEST_F(PgCheckServer, ADatabaseThatLogsSlowStatementsIsNamed) {
    pgdetail::exec(admin_.get(), "ALTER DATABASE " + db_.name() + " SET log_min_duration_statement = 0");
    const Findings f = checked();
    EXPECT_TRUE(warns(f, "log_min_duration_statement = 0")) << text_of(f);
}

TEST_F(PgCheckServer, APassfileOthersCanReadIsIgnoredByLibpq) {
    const std::string passfile = tmp_.path().string() + "/pgpass";
    std::ofstream(passfile) << "*:*:*:*:secret\n";
    ::chmod(passfile.c_str(), 0644);
    c_.index.conninfo = db_.conninfo() + " passfile=" + passfile;
    EXPECT_TRUE(warns(checked(), "chmod 0600 " + passfile));
    ::chmod(passfile.c_str(), 0600);
    EXPECT_FALSE(warns(checked(), "passfile"));
}

TEST_F(PgCheckServer, ARemoteServerWithoutVerifyFullIsWarnedAbout) {
    c_.index.conninfo = db_.tcp_conninfo() + " host=index.example.org hostaddr=127.0.0.1 sslmode=disable";
    const Findings f = checked();
    EXPECT_TRUE(warns(f, "sslmode=verify-full")) << text_of(f);
    c_.index.conninfo = db_.conninfo();
    EXPECT_FALSE(warns(checked(), "sslmode")) << "a Unix socket needs no TLS";
}

TEST(PgCheckFacts, AsynchronousReplicasAreWarnedAbout) {
    PgServerFacts s;
    s.replicas = 1;
    s.synchronous_commit = "on";
    Findings f;
    check_pg_facts(s, f);
    EXPECT_TRUE(warns(f, "replication is asynchronous")) << text_of(f);
    EXPECT_TRUE(warns(f, "1 replica streams")) << text_of(f);

    s.synchronous_standby_names = "ANY 1 (standby1)";
    f.clear();
    check_pg_facts(s, f);
    EXPECT_FALSE(warns(f, "asynchronous")) << text_of(f);
    s.synchronous_commit = "local";
    f.clear();
    check_pg_facts(s, f);
    EXPECT_TRUE(warns(f, "asynchronous")) << text_of(f);
}

TEST(PgCheckFacts, WalArchivingIsWarnedAbout) {
    PgServerFacts s;
    s.archive_mode = "off";
    Findings f;
    check_pg_facts(s, f);
    EXPECT_FALSE(warns(f, "archive")) << text_of(f);
    s.archive_mode = "on";
    s.archives = true;
    check_pg_facts(s, f);
    EXPECT_TRUE(warns(f, "archive_mode = on with an archive command")) << text_of(f);
    EXPECT_TRUE(warns(f, "digest_grace")) << text_of(f);
}

}  // namespace
}  // namespace rm::ctl
