// `retentionctl check`: each kind of mistake, in the config or in what it names, is one
// "error:" line an admin can act on, and exit 2; a sound install passes (exit 0).
#include <gtest/gtest.h>

#include "ctl/check.hpp"
#include "ctl/fs_facts.hpp"
#include "ctl/mail_logs.hpp"
#include "ctl_test_util.hpp"
#include "pg_test_util.hpp"

using namespace rm;
using namespace rm::ctl;
using namespace ctltest;

namespace {

// Log settings that exist nowhere: no logrotate rule, no journal on disk.
LogConfigPaths no_logs(const Scene& s) {
    return {s.dir / "none/logrotate.conf", s.dir / "none/logrotate.d", s.dir / "none/journald.conf",
            s.dir / "none/journald.conf.d", s.dir / "none/journal"};
}

CheckResult check(const Scene& s) {
    s.write();
    return run_check(s.config_path, no_logs(s));
}

std::string all_text(const CheckResult& r) {
    std::string out;
    for (const auto& f : r.findings) out += format_finding(f) + "\n";
    return out;
}

// The first error, which must exist and contain every one of `words`.
void expect_error(const CheckResult& r, const std::vector<const char*>& words) {
    EXPECT_EQ(r.exit_code, kExitConfig) << all_text(r);
    for (const auto& f : r.findings) {
        if (f.level != Finding::Level::Error) continue;
        for (const char* w : words) EXPECT_NE(f.text.find(w), std::string::npos) << "missing '" << w << "' in: " << f.text;
        return;
    }
    ADD_FAILURE() << "no error in:\n" << all_text(r);
}

bool has_warning(const CheckResult& r, const std::string& words) {
    for (const auto& f : r.findings) {
        if (f.level == Finding::Level::Warning && f.text.find(words) != std::string::npos) return true;
    }
    return false;
}

// The check passes (exit 0) with a warning containing each of `words`.
void expect_warnings(const CheckResult& r, const std::vector<const char*>& words) {
    EXPECT_EQ(r.exit_code, kExitOk) << all_text(r);
    for (const char* w : words) EXPECT_TRUE(has_warning(r, w)) << "no warning with '" << w << "' in:\n" << all_text(r);
}

// An index and key as the milter makes them at its first start.
void make_index(const Scene& s) {
    DigestKey::load_or_create(s.key_path(), s.index_path(), true);
    Index::open(s.index_path(), {.create = true, .read_only = false, .busy_timeout_ms = 1000});
}

}  // namespace

TEST(CtlCheck, ASoundSetupPasses) {
    Scene s;
    const CheckResult r = check(s);
    EXPECT_EQ(r.exit_code, kExitOk) << all_text(r);
    EXPECT_FALSE(has_errors(r.findings));
    const std::string text = all_text(r);
    EXPECT_NE(text.find("ok: config"), std::string::npos) << text;
    EXPECT_NE(text.find("no index yet"), std::string::npos);
    EXPECT_NE(text.find("line respect-phoneline (Respect Phoneline): policy email, kept six months"), std::string::npos);
    EXPECT_NE(text.find("1 mailboxes"), std::string::npos) << text;
}

TEST(CtlCheck, ASoundSetupWithAnIndexPasses) {
    Scene s;
    make_index(s);
    const CheckResult r = check(s);
    EXPECT_EQ(r.exit_code, kExitOk) << all_text(r);
    EXPECT_NE(all_text(r).find("opens read-only"), std::string::npos);
}

TEST(CtlCheck, ConfigMistakesNameFileLineAndKey) {
    struct Case {
        const char* from;
        const char* to;
        std::vector<const char*> words;
    };
    const std::vector<Case> cases = {
        {"[milter]\n", "[milter]\nsockt = \"x\"\n", {"retention.toml:2", "milter.sockt", "unknown key"}},
        {"retain = \"6 months\"", "retain = \"6 monhts\"", {"retention.toml:", "policy.email"}},
        {"policy = \"email\"\n[sweep]", "policy = \"emial\"\n[sweep]", {"emial", "no [policy.emial] table"}},
        {"socket = \"unix:", "socket = \"tcp:", {"milter.socket"}},
        {"[[line]]\ntag", "[[line]]\naddresses = [\"x@example.org\"]\ntag", {"retention.toml:"}},
    };
    for (const auto& c : cases) {
        Scene s;
        const std::string text = s.text();
        ASSERT_NE(text.find(c.from), std::string::npos) << c.from;
        write_file(s.config_path, replace_all(text, c.from, c.to));
        const CheckResult r = run_check(s.config_path, no_logs(s));
        ASSERT_EQ(r.findings.size(), 1u) << all_text(r);
        expect_error(r, c.words);
    }
}

TEST(CtlCheck, AMissingConfigFileIsExit2) {
    Scene s;
    const CheckResult r = run_check(s.dir / "nope.toml", no_logs(s));
    expect_error(r, {"nope.toml", "cannot read"});
}

TEST(CtlCheck, LineWithoutPolicyIsExit2) {
    Scene s;
    write_file(s.config_path, replace_all(s.text(), "policy = \"email\"\n[sweep]", "[sweep]"));
    expect_error(run_check(s.config_path, no_logs(s)), {"policy", "is required"});
}

TEST(CtlCheck, UnknownMilterUser) {
    Scene s;
    s.values["user"] = "no-such-user-xyz";
    expect_error(check(s), {"milter.user", "no-such-user-xyz", "adduser --system --group"});
}

TEST(CtlCheck, UnknownSocketGroup) {
    Scene s;
    s.values["socket_group"] = "no-such-group-xyz";
    expect_error(check(s), {"milter.socket_group", "no group no-such-group-xyz"});
}

TEST(CtlCheck, MissingSocketFolder) {
    Scene s;
    s.values["socket"] = "unix:" + (s.dir / "nowhere/milter.sock");
    expect_error(check(s), {"milter.socket", "does not exist", "install -d"});
}

TEST(CtlCheck, MissingIndexFolder) {
    Scene s;
    s.values["index"] = s.dir / "nostate/index.sqlite3";
    expect_error(check(s), {"index.path", "does not exist", "install -d -m 2770"});
}

TEST(CtlCheck, IndexFolderOpenToOthers) {
    Scene s;
    ::chmod(s.state().c_str(), 02775);
    expect_error(check(s), {"index.path", "open to every user", "chmod o-rwx"});
}

TEST(CtlCheck, IndexFolderWithoutSetgidIsAWarning) {
    Scene s;
    ::chmod(s.state().c_str(), 0770);
    expect_warnings(check(s), {"chmod g+s"});
}

TEST(CtlCheck, IndexFileOpenToOthers) {
    Scene s;
    make_index(s);
    ::chmod(s.index_path().c_str(), 0664);
    expect_error(check(s), {"index.sqlite3", "chmod o-rwx"});
}

TEST(CtlCheck, KeyReadableByOthers) {
    Scene s;
    make_index(s);
    ::chmod(s.key_path().c_str(), 0644);
    expect_error(check(s), {"index.key_file", "chmod 0640"});
}

TEST(CtlCheck, KeyMissingBesideAnIndex) {
    Scene s;
    make_index(s);
    ::unlink(s.key_path().c_str());
    expect_error(check(s), {"index.key_file", "restore the key"});
}

TEST(CtlCheck, KeyOfTheWrongSize) {
    Scene s;
    make_index(s);
    write_file(s.key_path(), "short", 0640);
    expect_error(check(s), {"index.key_file", "restore the key"});
}

TEST(CtlCheck, AKeyThatIsNotTheIndexsKey) {
    Scene s;
    make_index(s);
    {
        auto index = Index::open(s.index_path(), {.create = false, .read_only = false, .busy_timeout_ms = 1000});
        index->remember_key(DigestKey::load_or_create(s.key_path(), s.index_path(), false));
    }
    CheckResult r = check(s);
    EXPECT_EQ(r.exit_code, kExitOk) << all_text(r);
    EXPECT_NE(all_text(r).find("is the key this index was made with"), std::string::npos) << all_text(r);
    write_file(s.key_path(), std::string(32, 'k'), 0640);  // a valid key, but another one
    expect_error(check(s), {"index.key_file", "is not the key this index was made with", "Restore the right key"});
}

TEST(CtlCheck, LetterFolderOpenToOthers) {
    Scene s;
    ::chmod((s.dir / "letters").c_str(), 0755);
    expect_error(check(s), {"[[sweep.files]]", "only helpline staff", "chmod o-rwx"});
}

TEST(CtlCheck, MailboxThatIsNotAMaildir) {
    Scene s;
    make_dir(s.dir / "mail/dbox/mailboxes", 0700);
    s.values["mailbox"] = s.dir / "mail/dbox";
    expect_error(check(s), {"dbox", "Maildir++"});
}

TEST(CtlCheck, MissingPathsThatAppearLaterAreWarnings) {
    Scene s;
    s.values["mailbox"] = s.dir / "mail/not-yet";
    s.values["personal"] = s.dir / "mail/nobody/*";
    s.values["letters"] = s.dir / "no-letters";
    s.values["sweep_extra"] = "metrics_file = \"" + (s.dir / "prom/retention.prom") +
                              "\"\nafter_mailbox = [\"no-such-program-xyz\", \"%u\"]\n";
    expect_warnings(check(s), {"does not exist yet", "matches no folder", "no-letters does not exist",
                               "metrics_file", "no-such-program-xyz"});
}

TEST(CtlCheck, ALineWithoutSharedMailboxIsAWarning) {
    Scene s;
    s.values["extra_line"] = "[[line]]\ntag = \"mens-advice-line\"\naddresses = [\"info@mensadviceline.org.uk\"]\npolicy = \"email\"\n";
    expect_warnings(check(s), {"line mens-advice-line has no [[sweep.mailbox]]"});
}

// The layout an older install had: the socket beside the index, so the MTA had to be let
// into the index's folder.
TEST(CtlCheck, ASocketInTheIndexFolderIsAWarning) {
    Scene s;
    s.values["socket"] = "unix:" + s.state() + "/milter.sock";
    expect_warnings(check(s), {"is in the index's folder", "a folder of its own"});
}

TEST(CtlCheck, ASocketInAFolderOfItsOwnIsNotWarnedAbout) {
    Scene s;
    s.values["socket_group"] = group_name(::getegid());  // the socket folder's group
    const CheckResult r = check(s);
    EXPECT_FALSE(has_warning(r, "milter.socket")) << all_text(r);
    EXPECT_FALSE(has_warning(r, "the MTA's user")) << all_text(r);
}

// The other layout an older install had: postfix in the group that owns the index and the
// key. Here the index folder is given postfix's own group, which postfix is in.
TEST(CtlCheck, TheMtaUserInTheIndexGroupIsAWarning) {
    const auto pf = group_gid("postfix");
    if (::geteuid() != 0 || !pf || !user_exists("postfix")) GTEST_SKIP() << "needs root and a postfix user";
    Scene s;
    ASSERT_EQ(::chown(s.state().c_str(), static_cast<uid_t>(-1), *pf), 0);
    const CheckResult r = check(s);
    EXPECT_TRUE(has_warning(r, "the MTA's user postfix is in the group postfix of the index folder")) << all_text(r);
    EXPECT_TRUE(has_warning(r, "deluser postfix postfix")) << all_text(r);
}

TEST(CtlCheck, ASocketFolderTheMilterDoesNotOwnIsAWarning) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to give the folder away";
    Scene s;
    ASSERT_EQ(::chown((s.dir / "sock").c_str(), *user_uid("nobody"), static_cast<gid_t>(-1)), 0);
    expect_warnings(check(s), {"cannot remove its socket when it stops"});
}

TEST(CtlCheck, ASocketFolderTheMtaCannotEnterIsAWarning) {
    if (!group_exists("nogroup")) GTEST_SKIP() << "needs the group nogroup";
    Scene s;
    s.values["socket_group"] = "nogroup";
    expect_warnings(check(s), {"the MTA's group nogroup cannot enter the folder"});
}

TEST(CtlCheck, NothingIdentifyingIsPrinted) {
    Scene s;
    const std::string text = all_text(check(s));
    EXPECT_EQ(text.find("info@respectphoneline.org.uk"), std::string::npos) << text;
}

// --- the mail server's logs ---------------------------------------------------------

namespace {

const char* kDebianRsyslog = R"(/var/log/syslog
/var/log/mail.info
/var/log/mail.warn
/var/log/mail.err
/var/log/mail.log
/var/log/daemon.log
{
	rotate ROTATE
	PERIOD
	missingok
	notifempty
	compress
	delaycompress
	sharedscripts
	postrotate
		/usr/lib/rsyslog/rsyslog-rotate
	endscript
}
)";

LogConfigPaths logs_in(const Scene& s) {
    return {s.dir / "logrotate.conf", s.dir / "logrotate.d", s.dir / "journald.conf", s.dir / "journald.conf.d",
            s.dir / "journal"};
}

Findings log_findings(Scene& s, const std::string& rotate, const std::string& period) {
    write_file(s.dir / "logrotate.conf", "weekly\nrotate 4\ncreate\ninclude " + (s.dir / "logrotate.d") + "\n");
    write_file(s.dir / "logrotate.d/rsyslog", replace_all(replace_all(kDebianRsyslog, "ROTATE", rotate), "PERIOD", period));
    s.write();
    Findings f;
    check_mail_logs(load_config(s.config_path), logs_in(s), f);
    return f;
}

bool warns(const Findings& f, const std::string& words) {
    for (const auto& x : f) {
        if (x.level == Finding::Level::Warning && x.text.find(words) != std::string::npos) return true;
    }
    return false;
}

}  // namespace

TEST(CtlCheckLogs, DebianDefaultsAreWithinSixMonths) {
    Scene s;
    const Findings f = log_findings(s, "4", "weekly");
    ASSERT_FALSE(f.empty());
    EXPECT_EQ(f[0].level, Finding::Level::Ok) << f[0].text;
    EXPECT_NE(f[0].text.find("35 days"), std::string::npos) << f[0].text;
}

TEST(CtlCheckLogs, AYearOfMailLogsIsAWarningWithTheFix) {
    Scene s;
    const Findings f = log_findings(s, "52", "weekly");
    EXPECT_TRUE(warns(f, "/var/log/mail.log is kept about 371 days")) << f[0].text;
    EXPECT_TRUE(warns(f, "set rotate 24"));
    EXPECT_TRUE(warns(f, "six months"));
}

TEST(CtlCheckLogs, MonthlyRotationUsesTheShortestLinePolicy) {
    Scene s;
    s.values["email"] = "2 months";
    const Findings f = log_findings(s, "3", "monthly");  // 124 days > 59
    EXPECT_TRUE(warns(f, "two months, at least 59 days")) << f[0].text;
}

TEST(CtlCheckLogs, JournalOnDiskWithoutTimeLimitIsAWarning) {
    Scene s;
    make_dir(s.dir / "journal", 0755);
    Findings f = log_findings(s, "4", "weekly");
    EXPECT_TRUE(warns(f, "MaxRetentionSec=181day")) << f.back().text;

    make_dir(s.dir / "journald.conf.d", 0755);
    write_file(s.dir / "journald.conf.d/retention.conf", "[Journal]\nMaxRetentionSec=3month\n");
    f = log_findings(s, "4", "weekly");
    EXPECT_FALSE(warns(f, "journal")) << f.back().text;

    write_file(s.dir / "journald.conf", "[Journal]\nStorage=volatile\n");
    write_file(s.dir / "journald.conf.d/retention.conf", "[Journal]\n");
    f = log_findings(s, "4", "weekly");
    EXPECT_NE(f.back().text.find("not kept on disk"), std::string::npos) << f.back().text;
}

TEST(CtlCheckLogs, JournaldTimespansParseToSeconds) {
    EXPECT_EQ(parse_timespan_seconds("180day"), 180LL * 86400);
    EXPECT_EQ(parse_timespan_seconds("1y"), 31557600LL);
    EXPECT_EQ(parse_timespan_seconds("2w 1d"), 15LL * 86400);
    EXPECT_EQ(parse_timespan_seconds("3600"), 3600LL);
    EXPECT_EQ(parse_timespan_seconds("6 months"), 6LL * 2629800);
    EXPECT_FALSE(parse_timespan_seconds("forever"));
    EXPECT_FALSE(parse_timespan_seconds(""));
}

TEST(CtlCheckLogs, MaxageShortensTheLifetime) {
    LogRotation r;
    r.rotate = 52;
    r.period_days = 7;
    EXPECT_EQ(r.kept_days(), 371);
    r.maxage = 30;
    EXPECT_EQ(r.kept_days(), 37);
}

// --- a PostgreSQL index ------------------------------------------------------------------

namespace {

void use_server(Scene& s, const std::string& conninfo) {
    // The [index] table is written by Scene; the backend's keys follow its path line.
    s.values["index"] = s.index_path() + "\"\nbackend = \"postgresql\"\nconninfo = \"" + conninfo;
}

}  // namespace

TEST(PgCtlCheck, AServerIndexIsAskedForItsSchemaAndKey) {
    test::PgDatabase db;
    Scene s;
    use_server(s, db.conninfo());
    const DigestKey key = DigestKey::load_or_create(s.key_path(), s.index_path(), true);
    IndexSection ix;
    ix.backend = IndexBackend::Postgresql;
    ix.conninfo = db.conninfo();
    Index::open(ix, {.create = true, .upgrade = true, .read_only = false, .busy_timeout_ms = 1000})->remember_key(key);

    const CheckResult r = check(s);
    EXPECT_EQ(r.exit_code, kExitOk) << all_text(r);
    const std::string text = all_text(r);
    EXPECT_NE(text.find("answers (schema version"), std::string::npos) << text;
    EXPECT_NE(text.find("is the key this index was made with"), std::string::npos) << text;
    // Nothing about a file the backend does not use.
    EXPECT_EQ(text.find("index.sqlite3"), std::string::npos) << text;

    // Another key: no row could be found with it.
    DigestKey::load_or_create(s.dir / "etc/other.key", s.dir / "none", true);
    s.values["key"] = s.dir / "etc/other.key";
    expect_error(check(s), {"index.key_file", "not the key this index was made with"});
}

TEST(PgCtlCheck, AServerThatDoesNotAnswerIsAnError) {
    Scene s;
    use_server(s, "host=127.0.0.1 port=1 dbname=retention connect_timeout=2");
    expect_error(check(s), {"index.conninfo", "127.0.0.1"});
}

TEST(CtlCheck, HoldFolderMistakesAreConfigErrors) {
    const std::string shared = "kind = \"shared\"\nline = \"respect-phoneline\"\n";
    const std::vector<std::pair<std::string, std::vector<const char*>>> cases = {
        {"hold_folders = { \"Hold\" = \"nope\" }\n", {"sweep.mailbox.hold_folders", "'Hold'", "'nope'", "[holds] reasons"}},
        {"hold_folders = { \"Sent\" = \"legal\" }\n", {"sweep.mailbox.hold_folders", "'Sent'", "sent_folders"}},
    };
    for (const auto& [extra, words] : cases) {
        Scene s;
        ASSERT_NE(s.text().find(shared), std::string::npos);
        write_file(s.config_path, replace_all(s.text(), shared, shared + extra));
        const CheckResult r = run_check(s.config_path, no_logs(s));
        expect_error(r, words);
    }
}

TEST(CtlCheck, EachSharedMailboxSaysWhichHoldFoldersItHas) {
    Scene s;
    EXPECT_NE(all_text(check(s)).find("(shared, line respect-phoneline): no hold folders"), std::string::npos)
        << all_text(check(s));
    const std::string shared = "kind = \"shared\"\nline = \"respect-phoneline\"\n";
    write_file(s.config_path,
               replace_all(s.text(), shared,
                           shared + "hold_folders = { \"Hold/Safeguarding\" = \"safeguarding\", \"Hold/Police\" = "
                                    "\"police-request\" }\n"));
    const CheckResult r = run_check(s.config_path, no_logs(s));
    EXPECT_EQ(r.exit_code, kExitOk) << all_text(r);
    EXPECT_NE(all_text(r).find("(shared, line respect-phoneline): hold folders Hold/Police (reason police-request), "
                               "Hold/Safeguarding (reason safeguarding)"),
              std::string::npos)
        << all_text(r);
}
