#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "config_test_util.hpp"
#include "core/config.hpp"

using namespace rm;

namespace {

const char* kMinimal = test::kOneLineConfig;

// Parses `text` and returns the error, failing the test if there is none.
ConfigError error_of(const std::string& text) {
    try {
        parse_config(text, "/etc/retention-milter/retention.toml");
    } catch (const ConfigError& e) {
        return e;
    }
    ADD_FAILURE() << "no error for:\n" << text;
    return ConfigError("", 0, "", "");
}

std::string with(const std::string& extra) { return std::string(kMinimal) + extra; }

}  // namespace

TEST(Config, TheShippedExampleLoads) {
    const Config c = load_config(std::string(RM_SOURCE_DIR) + "/conf/retention.toml");
    ASSERT_EQ(c.lines.size(), 2u);
    EXPECT_EQ(c.lines[0].tag, "respect-phoneline");
    EXPECT_EQ(c.policy_of(c.lines[1]).retain.text(), "6 months");
    EXPECT_EQ(c.milter.socket.kind, SocketSpec::Kind::Unix);
    EXPECT_EQ(c.milter.socket_mode, 0660u);
    EXPECT_EQ(c.sweep.mailboxes.size(), 3u);
    EXPECT_EQ(c.sweep.files.at(0).policy, "letter-response");
    EXPECT_EQ(c.policies.at("letter-response").retain.text(), "2 months");
}

TEST(Config, TheContractsExampleConfigLoads) {
    const Config c = load_config(std::string(RM_SOURCE_DIR) + "/tests/data/contract-example.toml");
    EXPECT_EQ(c.milter.socket.text, "inet:8891@127.0.0.1");
    EXPECT_EQ(c.lines.at(0).review_mailbox.value_or(""), "quality-review@respectphoneline.org.uk");
    EXPECT_DOUBLE_EQ(c.lines.at(0).review_sample, 0.05);
    // The example writes secure_delete and orphans after [holds]; they are sweep settings.
    EXPECT_EQ(c.sweep.secure_delete, SecureDelete::Overwrite);
    EXPECT_EQ(c.sweep.orphans, Orphans::Report);
    EXPECT_EQ(c.sweep.after_mailbox.at(0), "doveadm");
    EXPECT_EQ(c.sweep.mailboxes.at(1).kind, MailboxKind::Personal);
}

TEST(Config, DefaultsForAMinimalConfig) {
    const Config c = parse_config(kMinimal, "x.toml");
    EXPECT_EQ(c.milter.on_index_error, OnIndexError::Tempfail);
    EXPECT_FALSE(c.milter.stamp_outbound);
    EXPECT_EQ(c.index.digest_grace.text(), "31 days");
    EXPECT_EQ(c.sweep.max_destroy_per_run, 10000);
    EXPECT_EQ(c.holds.reasons.size(), 4u);
    EXPECT_EQ(c.log.sink, "syslog");
}

TEST(Config, ThePendingJournalSitsBesideTheIndexUnlessConfigured) {
    EXPECT_EQ(parse_config(with("[index]\npath = \"/srv/rm/index.sqlite3\"\n"), "/x.toml").index.pending_journal,
              "/srv/rm/index.sqlite3.pending");
    const Config c = parse_config(with("[index]\npending_journal = \"/var/spool/rm/pending\"\nhost_id = \"mx1\"\n"),
                                  "/x.toml");
    EXPECT_EQ(c.index.pending_journal, "/var/spool/rm/pending");
    EXPECT_EQ(c.index.host_id, "mx1");
    EXPECT_NE(std::string(error_of(with("[index]\npending_journal = \"pending\"\n")).what()).find("absolute path"),
              std::string::npos);
}

TEST(Config, TheServerConnectionsTimeoutsAndKeepalives) {
    const Config dflt = parse_config(kMinimal, "x.toml");
    EXPECT_EQ(dflt.index.answer_timeout_s, 4);
    EXPECT_EQ(dflt.index.keepalives_idle, 30);
    const Config c = parse_config(with("[index]\nanswer_timeout = 8\nkeepalives_idle = 5\nkeepalives_interval = 2\n"
                                       "keepalives_count = 4\ntcp_user_timeout = 9000\n"),
                                  "/x.toml");
    EXPECT_EQ(c.index.answer_timeout_s, 8);
    EXPECT_EQ(c.index.keepalives_idle, 5);
    EXPECT_EQ(c.index.keepalives_interval, 2);
    EXPECT_EQ(c.index.keepalives_count, 4);
    EXPECT_EQ(c.index.tcp_user_timeout, 9000);
    EXPECT_EQ(error_of(with("[index]\nanswer_timeout = 0\n")).key(), "index.answer_timeout");
    EXPECT_EQ(error_of(with("[index]\nanswer_timeout = \"4s\"\n")).key(), "index.answer_timeout");
    EXPECT_EQ(error_of(with("[index]\nkeepalives_count = -1\n")).key(), "index.keepalives_count");
    EXPECT_EQ(error_of(with("[index]\ntcp_user_timeout = 99999999\n")).key(), "index.tcp_user_timeout");
}

TEST(Config, ErrorsNameFileLineKeyAndProblem) {
    const auto e = error_of(with("\n[milter]\nsockt = \"inet:8891@127.0.0.1\"\n"));
    EXPECT_EQ(e.file(), "/etc/retention-milter/retention.toml");
    EXPECT_EQ(e.line(), 13);
    EXPECT_EQ(e.key(), "milter.sockt");
    EXPECT_NE(e.problem().find("unknown key"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("retention.toml:13: milter.sockt: unknown key"), std::string::npos);
}

TEST(Config, UnknownKeysEverywhere) {
    EXPECT_EQ(error_of(with("[bogus]\nx = 1\n")).key(), "bogus");
    EXPECT_EQ(error_of(with("[index]\npaht = \"/x\"\n")).key(), "index.paht");
    EXPECT_EQ(error_of(std::string(kMinimal) + "colour = \"red\"\n").key(), "line.colour");
    EXPECT_EQ(error_of(with("[policy.x]\nretain = \"1 day\"\nkeep = 1\n")).key(), "policy.x.keep");
}

TEST(Config, LineWithoutAddressesOrDomains) {
    const auto e = error_of(with("[[line]]\ntag = \"empty\"\npolicy = \"email\"\n"));
    EXPECT_NE(e.problem().find("neither addresses nor domains"), std::string::npos);
}

TEST(Config, PolicyThatDoesNotExist) {
    const auto e = error_of(with("[[line]]\ntag = \"x\"\ndomains = [\"x.org\"]\npolicy = \"emial\"\n"));
    EXPECT_EQ(e.key(), "line.policy");
    EXPECT_NE(e.problem().find("no [policy.emial] table"), std::string::npos);
}

TEST(Config, LineWithoutPolicy) {
    const auto e = error_of(with("[[line]]\ntag = \"x\"\ndomains = [\"x.org\"]\n"));
    EXPECT_NE(e.key().find("policy"), std::string::npos);
}

TEST(Config, PeriodsThatDoNotParse) {
    for (const char* bad : {"6 monhts", "-1 days", "0 months", "six months", ""}) {
        const auto e = error_of(std::string("[policy.email]\nretain = \"") + bad + "\"\n" +
                                "[[line]]\ntag = \"a\"\ndomains = [\"a.org\"]\npolicy = \"email\"\n");
        EXPECT_EQ(e.key(), "policy.email.retain") << bad;
        EXPECT_EQ(e.line(), 2) << bad;
    }
    EXPECT_EQ(error_of(with("[index]\ndigest_grace = \"soon\"\n")).key(), "index.digest_grace");
}

TEST(Config, ATagUsedByTwoLinesIsAnError) {
    const auto e = error_of(with("[[line]]\ntag = \"mens-advice-line\"\ndomains = [\"other.org\"]\npolicy = \"email\"\n"));
    EXPECT_EQ(e.key(), "line.tag");
    EXPECT_NE(e.problem().find("used by two"), std::string::npos);
}

TEST(Config, OneAddressClaimedByTwoLines) {
    const auto e = error_of(
        with("[[line]]\ntag = \"b\"\naddresses = [\"INFO@mensadviceline.org.uk.\"]\npolicy = \"email\"\n"));
    EXPECT_EQ(e.key(), "line.addresses");
    EXPECT_NE(e.problem().find("already claimed by line 'mens-advice-line'"), std::string::npos);
    EXPECT_EQ(error_of(with("[[line]]\ntag = \"b\"\ndomains = [\"MensAdviceLine.org.uk\"]\npolicy = \"email\"\n")).key(),
              "line.domains");
}

TEST(Config, InvalidCidrAndSocket) {
    auto e = error_of(with("[milter]\ninternal_hosts = [\"10.0.0.1/33\"]\n"));
    EXPECT_EQ(e.key(), "milter.internal_hosts");
    EXPECT_NE(e.problem().find("10.0.0.1/33"), std::string::npos);
    e = error_of(with("[milter]\nsocket = \"inet:127.0.0.1:8891\"\n"));
    EXPECT_EQ(e.key(), "milter.socket");
    EXPECT_NE(e.problem().find("inet:PORT@HOST"), std::string::npos);
}

TEST(Config, AValueOfTheWrongTypeNamesItsKey) {
    EXPECT_EQ(error_of(with("[milter]\nstamp_outbound = \"yes\"\n")).key(), "milter.stamp_outbound");
    EXPECT_EQ(error_of(with("[milter]\ninternal_hosts = \"127.0.0.1/32\"\n")).key(), "milter.internal_hosts");
    EXPECT_EQ(error_of(with("[sweep]\nmax_destroy_per_run = \"lots\"\n")).key(), "sweep.max_destroy_per_run");
    EXPECT_EQ(error_of(with("[sweep]\nmax_destroy_per_run = -5\n")).key(), "sweep.max_destroy_per_run");
    EXPECT_EQ(error_of(with("milter = 5\n")).key(), "line.milter");  // a key inside the last [[line]]
    EXPECT_EQ(error_of(with("[milter]\nsocket = 8891\n")).key(), "milter.socket");
    EXPECT_EQ(error_of(with("[milter]\non_index_error = \"ignore\"\n")).key(), "milter.on_index_error");
    EXPECT_EQ(error_of(std::string("milter = 5\n") + kMinimal).key(), "milter");
}

TEST(Config, HugeEmptyAndControlCharacterStrings) {
    EXPECT_EQ(error_of(with("[log]\nlevel = \"" + std::string(100000, 'a') + "\"\n")).key(), "log.level");
    EXPECT_EQ(error_of(with("[milter]\nuser = \"\"\n")).key(), "milter.user");
    EXPECT_EQ(error_of(with("[milter]\nuser = \"ret\\u0007ention\"\n")).key(), "milter.user");
    // Invalid UTF-8 is refused by the TOML parser itself.
    const auto e = error_of(with("[milter]\nuser = \"ret\xff\xfe\"\n"));
    EXPECT_NE(e.problem().find("not valid TOML"), std::string::npos);
}

TEST(Config, EmptyBinaryMissingAndDirectory) {
    EXPECT_NE(error_of("").problem().find("no [[line]]"), std::string::npos);
    EXPECT_NE(error_of(std::string("\x7f" "ELF\x02\x01\x01\0\0\0", 10)).problem().find("NUL"), std::string::npos);
    EXPECT_NE(error_of("\x89PNG\r\n\x1a\n").problem().find("not valid TOML"), std::string::npos);
    try {
        load_config("/nonexistent/retention.toml");
        FAIL();
    } catch (const ConfigError& e) {
        EXPECT_NE(e.problem().find("No such file"), std::string::npos);
    }
    try {
        load_config("/tmp");
        FAIL();
    } catch (const ConfigError& e) {
        EXPECT_NE(e.problem().find("is a directory"), std::string::npos);
    }
}

TEST(Config, ASweepMailboxNeedsAKnownKindAndItsLine) {
    EXPECT_EQ(error_of(with("[[sweep.mailbox]]\npath = \"/m\"\nkind = \"shared\"\n")).key(), "sweep.mailbox.line");
    EXPECT_EQ(error_of(with("[[sweep.mailbox]]\npath = \"/m\"\nkind = \"shard\"\nline = \"x\"\n")).key(),
              "sweep.mailbox.kind");
    EXPECT_EQ(error_of(with("[[sweep.mailbox]]\npath = \"/m\"\nkind = \"shared\"\nline = \"nope\"\n")).key(),
              "sweep.mailbox.line");
    EXPECT_EQ(error_of(with("[[sweep.mailbox]]\npath = \"relative\"\nkind = \"personal\"\n")).key(),
              "sweep.mailbox.path");
    EXPECT_EQ(error_of(with("[[sweep.files]]\npath = \"/srv/x\"\npolicy = \"nope\"\n")).key(), "sweep.files.policy");
}

// Found by tests/fuzz/fuzz_config: a folder name "." made the directory "..", the folder
// above the mailbox, so a personal mailbox's sweep could leave its root.
TEST(Config, FolderNamesStayInsideTheMailbox) {
    const std::string box = "[[sweep.mailbox]]\npath = \"/var/mail/*\"\nkind = \"personal\"\n";
    for (const char* bad : {".", "INBOX/.", "INBOX.."}) {
        const auto e = error_of(with(box + "sent_folders = [\"Sent\", \"" + bad + "\"]\n"));
        EXPECT_EQ(e.key(), "sweep.mailbox.sent_folders") << bad;
        EXPECT_NE(std::string(e.what()).find("outside the mailbox"), std::string::npos) << e.what();
    }
    EXPECT_EQ(error_of(with(box + "deleted_folders = [\".\"]\n")).key(), "sweep.mailbox.deleted_folders");
    const Config c = parse_config(with(box + "sent_folders = [\"Sent\", \"..\", \"Archive/Sent\"]\n"), "x.toml");
    EXPECT_EQ(c.sweep.mailboxes.at(0).sent_folders.size(), 3u);
    EXPECT_EQ(folder_name_problem("Sent Items"), std::nullopt);
}

TEST(Config, SweepChoicesInOnePlaceOnly) {
    const auto e = error_of(with("[sweep]\norphans = \"keep\"\n[holds]\norphans = \"expire\"\n"));
    EXPECT_EQ(e.key(), "holds.orphans");
    EXPECT_EQ(error_of(with("[sweep]\nsecure_delete = \"shred\"\n")).key(), "sweep.secure_delete");
}

TEST(Config, AReviewSampleNeedsAMailboxAndAShareUpToOne) {
    EXPECT_EQ(error_of(with("review_sample = 1.5\nreview_mailbox = \"q@mensadviceline.org.uk\"\n")).key(),
              "line.review_sample");
    EXPECT_EQ(error_of(with("review_sample = 0.5\n")).key(), "line.review_sample");
    const Config c = parse_config(with("review_sample = 1\nreview_mailbox = \"q@mensadviceline.org.uk\"\n"), "x");
    EXPECT_DOUBLE_EQ(c.lines[0].review_sample, 1.0);
}

namespace {

const std::string kLocalDovecot = "[[sweep.dovecot]]\nname = \"local\"\ndoveadm = \"/usr/bin/doveadm\"\n";
const std::string kDovecotShared =
    "[[sweep.mailbox]]\nstore = \"dovecot\"\nuser = \"info@mensadviceline.example\"\nkind = \"shared\"\n"
    "line = \"mens-advice-line\"\n";

}  // namespace

TEST(Config, DovecotMailboxesNameUsersAtAnEndpoint) {
    const Config c = test::one_line_config(
        kLocalDovecot + "config_file = \"/etc/dovecot/dovecot.conf\"\ntimeout_seconds = 60\n" + kDovecotShared +
        "[[sweep.mailbox]]\nstore = \"dovecot\"\nuser = \"*@respect.example\"\nkind = \"personal\"\n"
        "sent_folders = [\"Sent\", \"Sent Items/2024\"]\n");
    ASSERT_EQ(c.sweep.dovecots.size(), 1u);
    EXPECT_EQ(c.sweep.dovecots[0].name, "local");
    EXPECT_EQ(c.sweep.dovecots[0].config_file, "/etc/dovecot/dovecot.conf");
    EXPECT_EQ(c.sweep.dovecots[0].timeout_seconds, 60);
    ASSERT_EQ(c.sweep.mailboxes.size(), 2u);
    EXPECT_EQ(c.sweep.mailboxes[0].store, StoreKind::Dovecot);
    EXPECT_EQ(c.sweep.mailboxes[0].dovecot, "local");  // the only endpoint
    EXPECT_EQ(c.sweep.mailboxes[0].user, "info@mensadviceline.example");
    EXPECT_TRUE(c.sweep.mailboxes[0].path.empty());
    EXPECT_EQ(c.sweep.mailboxes[1].user, "*@respect.example");
    EXPECT_EQ(c.sweep.mailboxes[1].sent_folders.at(1), "Sent Items/2024");
}

TEST(Config, AMaildirMailboxIsTheDefaultStore) {
    const Config c = test::one_line_config("[[sweep.mailbox]]\npath = \"/var/vmail/*\"\nkind = \"personal\"\n");
    EXPECT_EQ(c.sweep.mailboxes.at(0).store, StoreKind::Maildir);
    EXPECT_TRUE(c.sweep.dovecots.empty());
}

TEST(Config, ADovecotMailboxNeedsAUserAndAnEndpoint) {
    const std::string personal = "[[sweep.mailbox]]\nstore = \"dovecot\"\nkind = \"personal\"\n";
    EXPECT_EQ(error_of(with(kLocalDovecot + personal)).key(), "sweep.mailbox.user");
    EXPECT_EQ(error_of(with(personal + "user = \"*@x.example\"\n")).key(), "sweep.mailbox.store");
    EXPECT_EQ(error_of(with(kLocalDovecot + personal + "user = \"*@x.example\"\npath = \"/m\"\n")).key(),
              "sweep.mailbox.path");
    EXPECT_EQ(error_of(with(kLocalDovecot + personal + "user = \"*@x.example\"\ndovecot = \"other\"\n")).key(),
              "sweep.mailbox.dovecot");
    EXPECT_EQ(error_of(with(kLocalDovecot + "[[sweep.dovecot]]\nname = \"api\"\n" + personal +
                            "user = \"*@x.example\"\n"))
                  .key(),
              "sweep.mailbox.dovecot");
    EXPECT_EQ(error_of(with(kLocalDovecot + "[[sweep.mailbox]]\nstore = \"mbox\"\nkind = \"personal\"\n"
                                            "user = \"*@x.example\"\n"))
                  .key(),
              "sweep.mailbox.store");
    // One user for a shared mailbox: a mask would mix staff mail into the line's.
    const auto e = error_of(with(kLocalDovecot +
                                 "[[sweep.mailbox]]\nstore = \"dovecot\"\nuser = \"*@x.example\"\nkind = \"shared\"\n"
                                 "line = \"mens-advice-line\"\n"));
    EXPECT_EQ(e.key(), "sweep.mailbox.user");
    EXPECT_NE(e.problem().find("mask"), std::string::npos);
    EXPECT_EQ(error_of(with("[[sweep.mailbox]]\npath = \"/m\"\nkind = \"personal\"\ndovecot = \"local\"\n")).key(),
              "sweep.mailbox.dovecot");
}

TEST(Config, DovecotFolderNamesAreImapNamesWithSlashes) {
    const std::string box = kLocalDovecot + "[[sweep.mailbox]]\nstore = \"dovecot\"\nuser = \"*@x.example\"\n"
                                            "kind = \"personal\"\n";
    for (const char* bad : {"/Sent", "Sent/", "Sent//2024"}) {
        const auto e = error_of(with(box + "sent_folders = [\"" + bad + "\"]\n"));
        EXPECT_EQ(e.key(), "sweep.mailbox.sent_folders") << bad;
    }
    EXPECT_EQ(error_of(with(box + "deleted_folders = [\"Trash//x\"]\n")).key(), "sweep.mailbox.deleted_folders");
}

TEST(Config, DovecotEndpointsAreCheckedKeyByKey) {
    const auto key_of = [](const std::string& table) { return error_of(with("[[sweep.dovecot]]\n" + table)).key(); };
    EXPECT_EQ(key_of("doveadm = \"doveadm\"\n"), "sweep.dovecot.doveadm");
    EXPECT_EQ(key_of("config_file = \"dovecot.conf\"\n"), "sweep.dovecot.config_file");
    EXPECT_EQ(key_of("url = \"ftp://x/doveadm/v1\"\napi_key_file = \"/k\"\n"), "sweep.dovecot.url");
    EXPECT_EQ(key_of("url = \"http://127.0.0.1:8080/doveadm/v1\"\n"), "sweep.dovecot.api_key_file");
    EXPECT_EQ(key_of("api_key_file = \"/k\"\n"), "sweep.dovecot.api_key_file");
    EXPECT_EQ(key_of("url = \"http://127.0.0.1:8080/doveadm/v1\"\napi_key_file = \"/k\"\nca_file = \"/ca\"\n"),
              "sweep.dovecot.ca_file");
    EXPECT_EQ(key_of("timeout_seconds = 0\n"), "sweep.dovecot.timeout_seconds");
    EXPECT_EQ(key_of("timeout_seconds = 86401\n"), "sweep.dovecot.timeout_seconds");
    EXPECT_EQ(key_of("nmae = \"x\"\n"), "sweep.dovecot.nmae");
    EXPECT_EQ(error_of(with("[[sweep.dovecot]]\n[[sweep.dovecot]]\n")).key(), "sweep.dovecot.name");
    const Config c = test::one_line_config(
        "[[sweep.dovecot]]\nname = \"store-host\"\nurl = \"https://store.example:8080/doveadm/v1\"\n"
        "api_key_file = \"/etc/retention-milter/doveadm.key\"\nca_file = \"/etc/ssl/store-ca.pem\"\n");
    EXPECT_EQ(c.sweep.dovecots.at(0).url, "https://store.example:8080/doveadm/v1");
    EXPECT_EQ(c.sweep.dovecots.at(0).ca_file, "/etc/ssl/store-ca.pem");
    EXPECT_EQ(test::one_line_config("[[sweep.dovecot]]\n").sweep.dovecots.at(0).name, "default");
}

namespace {

const std::string kSharedBox = "[[sweep.mailbox]]\npath = \"/var/vmail/mal\"\nkind = \"shared\"\nline = \"mens-advice-line\"\n";

}  // namespace

TEST(Config, HoldFoldersOfASharedMailboxNameTheirReasons) {
    const Config c = parse_config(
        with(kSharedBox +
             "hold_folders = { \"Hold/Safeguarding\" = \"safeguarding\", \"Hold/Police request\" = \"police-request\" }\n"),
        "x.toml");
    const auto& holds = c.sweep.mailboxes.at(0).hold_folders;
    ASSERT_EQ(holds.size(), 2u);
    EXPECT_EQ(holds.at("Hold/Safeguarding"), "safeguarding");
    EXPECT_EQ(holds.at("Hold/Police request"), "police-request");
    // Reasons of the config's own [holds], wherever that table is written.
    const Config own = parse_config(
        with("[holds]\nreasons = [\"court\"]\n" + kSharedBox + "hold_folders = { \"Court\" = \"court\" }\n"), "x.toml");
    EXPECT_EQ(own.sweep.mailboxes.at(0).hold_folders.at("Court"), "court");
    EXPECT_TRUE(test::one_line_config().sweep.mailboxes.empty());
}

TEST(Config, AHoldFolderGivesAKnownReason) {
    const auto e = error_of(with(kSharedBox + "hold_folders = { \"Hold/Safeguarding\" = \"safeguard\" }\n"));
    EXPECT_EQ(e.key(), "sweep.mailbox.hold_folders");
    const std::string what = e.what();
    EXPECT_NE(what.find("'Hold/Safeguarding'"), std::string::npos) << what;
    EXPECT_NE(what.find("line 'mens-advice-line'"), std::string::npos) << what;
    EXPECT_NE(what.find("'safeguard'"), std::string::npos) << what;
    EXPECT_NE(what.find("[holds] reasons"), std::string::npos) << what;
    EXPECT_GT(e.line(), 0);
    EXPECT_EQ(error_of(with(kSharedBox + "hold_folders = { \"Hold\" = 1 }\n")).key(), "sweep.mailbox.hold_folders");
    EXPECT_EQ(error_of(with(kSharedBox + "hold_folders = [\"Hold\"]\n")).key(), "sweep.mailbox.hold_folders");
}

TEST(Config, HoldFoldersBelongToSharedMailboxesOnly) {
    const auto e = error_of(with("[[sweep.mailbox]]\npath = \"/var/mail/*\"\nkind = \"personal\"\n"
                                 "hold_folders = { \"Hold\" = \"legal\" }\n"));
    EXPECT_EQ(e.key(), "sweep.mailbox.hold_folders");
    EXPECT_NE(std::string(e.what()).find("personal"), std::string::npos) << e.what();
}

TEST(Config, AHoldFolderIsNotTheSentOrDeletedFolder) {
    const std::vector<std::pair<std::string, std::string>> clashes = {
        {"Sent", "sent_folders"},             // the default Sent folder
        {"INBOX/Sent Items", "sent_folders"},  // the same folder as Maildir++ names it
        {"Sent/Hold", "sent_folders"},         // inside it
        {"Trash", "deleted_folders"},
    };
    for (const auto& [name, list] : clashes) {
        const auto e = error_of(with(kSharedBox + "hold_folders = { \"" + name + "\" = \"legal\" }\n"));
        const std::string what = e.what();
        EXPECT_EQ(e.key(), "sweep.mailbox.hold_folders") << name;
        EXPECT_NE(what.find("'" + name + "'"), std::string::npos) << what;
        EXPECT_NE(what.find(list), std::string::npos) << what;
    }
    // IMAP folder names keep their case (but INBOX's): "replies" is another folder.
    const Config c = parse_config(
        with(kSharedBox + "sent_folders = [\"Replies\"]\nhold_folders = { \"replies\" = \"legal\" }\n"), "x.toml");
    EXPECT_EQ(c.sweep.mailboxes.at(0).hold_folders.size(), 1u);
}

TEST(Config, AHoldFolderNameIsAFolderOfItsOwn) {
    for (const char* bad : {"", " ", "/Hold", "Hold/", "Hold//Police", "Hold/../Sent", "..", "./Hold", "INBOX"}) {
        const auto e = error_of(with(kSharedBox + "hold_folders = { \"" + bad + "\" = \"legal\" }\n"));
        EXPECT_EQ(e.key(), "sweep.mailbox.hold_folders") << bad;
        EXPECT_NE(std::string(e.what()).find("line 'mens-advice-line'"), std::string::npos) << e.what();
    }
    EXPECT_EQ(hold_folder_name_problem("Hold/Police request"), std::nullopt);
}

namespace {

const std::string kReleaseBox = kLocalDovecot + kDovecotShared + "hold_folders = { \"Hold/Safeguarding\" = \"safeguarding\" }\n";

}  // namespace

TEST(Config, AReleaseFolderNamesTheTeamLeadersWhoMayUseIt) {
    const Config c = parse_config(
        with(kReleaseBox + "release_folder = \"Hold/Release\"\nrelease_logins = [\"lead@respect.example\"]\n"), "x.toml");
    const SweepMailbox& box = c.sweep.mailboxes.at(0);
    EXPECT_EQ(box.release_folder, "Hold/Release");
    EXPECT_EQ(box.release_logins, std::vector<std::string>{"lead@respect.example"});
    EXPECT_TRUE(parse_config(with(kReleaseBox), "x.toml").sweep.mailboxes.at(0).release_folder.empty());
}

TEST(Config, AReleaseFolderIsRefusedWhereItCouldNotBeGuarded) {
    const std::string logins = "release_logins = [\"lead@respect.example\"]\n";
    const auto key_and_what = [](const std::string& text) {
        const auto e = error_of(with(text));
        return std::make_pair(e.key(), std::string(e.what()));
    };
    // A Maildir path: nothing there can say who may write the folder.
    auto [key, what] = key_and_what(kSharedBox + "release_folder = \"Hold/Release\"\n" + logins);
    EXPECT_EQ(key, "sweep.mailbox.release_folder");
    EXPECT_NE(what.find("store = \"dovecot\""), std::string::npos) << what;
    // Personal mailboxes have no release folder.
    std::tie(key, what) = key_and_what(kLocalDovecot +
                                       "[[sweep.mailbox]]\nstore = \"dovecot\"\nuser = \"*@respect.example\"\n"
                                       "kind = \"personal\"\nrelease_folder = \"Release\"\n" + logins);
    EXPECT_EQ(key, "sweep.mailbox.release_folder");
    EXPECT_NE(what.find("personal"), std::string::npos) << what;
    // Nobody named, or only the shared login itself (whatever its case).
    EXPECT_EQ(key_and_what(kReleaseBox + "release_folder = \"Hold/Release\"\n").first, "sweep.mailbox.release_folder");
    EXPECT_EQ(key_and_what(kReleaseBox + "release_folder = \"Hold/Release\"\nrelease_logins = []\n").first,
              "sweep.mailbox.release_folder");
    std::tie(key, what) =
        key_and_what(kReleaseBox + "release_folder = \"Hold/Release\"\nrelease_logins = [\"INFO@mensadviceline.example\"]\n");
    EXPECT_EQ(key, "sweep.mailbox.release_logins");
    EXPECT_NE(what.find("shared mailbox's own login"), std::string::npos) << what;
    EXPECT_EQ(key_and_what(kReleaseBox + "release_folder = \"Hold/Release\"\nrelease_logins = [\"*@respect.example\"]\n").first,
              "sweep.mailbox.release_logins");
    EXPECT_EQ(key_and_what(kReleaseBox + logins).first, "sweep.mailbox.release_logins");
}

TEST(Config, AReleaseFolderIsAFolderOfItsOwn) {
    const std::string logins = "release_logins = [\"lead@respect.example\"]\n";
    for (const char* clash : {"Hold/Safeguarding", "Hold/Safeguarding/Release", "Hold", "Sent", "Trash/Release", "", "INBOX"}) {
        const auto e = error_of(with(kReleaseBox + "release_folder = \"" + clash + "\"\n" + logins));
        EXPECT_EQ(e.key(), "sweep.mailbox.release_folder") << clash;
    }
}
