// The local doveadm client against a real private Dovecot, in each mailbox format; and
// against stand-in doveadm scripts for what a real one will not do on demand (hang, cut
// its answer off, show its environment).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "dovecot_test_util.hpp"
#include "sweeper/dovecot/local_doveadm.hpp"

namespace {

namespace fs = std::filesystem;
using rm::sweep::dovecot::DoveadmError;
using rm::sweep::dovecot::Fields;
using rm::sweep::dovecot::LocalDoveadm;
using rm::test::DovecotOptions;
using rm::test::MailFormat;
using rm::test::PrivateDovecot;
using Kind = DoveadmError::Kind;

rm::SweepDovecot endpoint_for(const PrivateDovecot& d) {
    rm::SweepDovecot e;
    e.name = "local";
    e.config_file = d.config();
    e.timeout_seconds = 60;
    return e;
}

std::string message(const std::string& id, const std::string& extra = "") {
    return "From: someone@example.org\r\nTo: alice@a.example\r\nMessage-ID: " + id + "\r\n" + extra +
           "Subject: test\r\n\r\nbody of " + id + "\r\n";
}

template <class F>
Kind kind_of(F&& f) {
    try {
        f();
    } catch (const DoveadmError& e) {
        return e.kind();
    }
    ADD_FAILURE() << "no DoveadmError";
    return Kind::Failed;
}

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

class LocalDoveadmFormat : public ::testing::TestWithParam<MailFormat> {
protected:
    void SetUp() override {
        if (!PrivateDovecot::available()) GTEST_SKIP() << "needs root and Dovecot";
        DovecotOptions o;
        o.format = GetParam();
        dovecot_ = std::make_unique<PrivateDovecot>(o);
        client_ = std::make_unique<LocalDoveadm>(endpoint_for(*dovecot_));
    }
    std::unique_ptr<PrivateDovecot> dovecot_;
    std::unique_ptr<LocalDoveadm> client_;
};

TEST_P(LocalDoveadmFormat, ListsTheUsersAMaskMatchesAndNoneForAMaskMatchingNobody) {
    auto users = client_->users("*@a.example");
    std::sort(users.begin(), users.end());
    EXPECT_EQ(users, (std::vector<std::string>{"alice@a.example", "bob@a.example"}));
    EXPECT_TRUE(client_->users("*@nowhere.example").empty());
    EXPECT_EQ(client_->users("carol@b.example"), std::vector<std::string>{"carol@b.example"});
    EXPECT_TRUE(client_->user_exists("bob@a.example"));
    EXPECT_FALSE(client_->user_exists("nosuch@a.example"));
}

TEST_P(LocalDoveadmFormat, ListsMailboxesAndTellsTheSeparator) {
    client_->create_mailbox("alice@a.example", "Sent/Items");
    client_->create_mailbox("alice@a.example", "Sent/Items");  // existing: not an error
    dovecot_->deliver("alice@a.example", message("<m1@example.org>"));
    auto boxes = client_->mailboxes("alice@a.example");
    auto find = [&](const std::string& name) {
        return std::find_if(boxes.begin(), boxes.end(), [&](const auto& b) { return b.name == name; });
    };
    ASSERT_NE(find("INBOX"), boxes.end());
    ASSERT_NE(find("Sent/Items"), boxes.end());
    EXPECT_EQ(find("INBOX")->messages, 1);
    EXPECT_EQ(find("INBOX")->guid.size(), 32u);
    EXPECT_FALSE(find("INBOX")->uidvalidity.empty());
    EXPECT_EQ(client_->separator("alice@a.example"), '/');
}

TEST_P(LocalDoveadmFormat, FetchesAMessageByteForByteWhereJsonWouldReplaceBytes) {
    // (doveadm save stores lines ending in LF: the message is written so.)
    const std::string original = std::string("From: a@example.org\nMessage-ID: <x\xff\xfe@y>\n"
                                             "Subject: caf\xe9\n\nbody \xe9\0tail\n\f\nend\n",
                                             73);
    dovecot_->deliver("alice@a.example", original);
    const std::vector<std::string> query{"mailbox", "INBOX", "all"};
    EXPECT_EQ(client_->fetch_raw("alice@a.example", "text", query), original);
    const auto hdr = client_->fetch_raw("alice@a.example", "hdr", query);
    ASSERT_TRUE(hdr.has_value());
    EXPECT_EQ(*hdr, original.substr(0, original.find("\n\n") + 2));
    EXPECT_EQ(client_->fetch_raw("alice@a.example", "text", {"mailbox", "INBOX", "uid", "99"}), std::nullopt);
}

TEST_P(LocalDoveadmFormat, AsksDovecotForASetting) {
    EXPECT_EQ(client_->setting("mail_attachment_dir", ""), "");
    EXPECT_EQ(client_->setting("mail_location", "imap").value_or("").substr(0, 3),
              std::string(rm::test::format_name(GetParam())).substr(0, 3));
}

TEST_P(LocalDoveadmFormat, FetchesFieldsAndKeepsANulInTheHeader) {
    dovecot_->deliver("alice@a.example", message("<m1@example.org>", std::string("X-Odd: a\0b\r\n", 12)));
    dovecot_->deliver("alice@a.example", message("<m2@example.org>"));
    auto rows = client_->fetch("alice@a.example", {"uid", "guid", "hdr", "flags", "date.received.unixtime"},
                               {"mailbox", "INBOX", "all"});
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[0]["uid"], "1");
    EXPECT_FALSE(rows[0]["guid"].empty());
    EXPECT_NE(rows[0]["hdr"].find("Message-ID: <m1@example.org>"), std::string::npos);
    EXPECT_NE(rows[0]["hdr"].find(std::string("X-Odd: a\0b", 10)), std::string::npos);
    EXPECT_GT(std::stoll(rows[0]["date.received.unixtime"]), 1'600'000'000);
    EXPECT_EQ(rows[1]["uid"], "2");
}

TEST_P(LocalDoveadmFormat, ExpungesWhatTheQueryNames) {
    dovecot_->deliver("alice@a.example", message("<m1@example.org>"));
    dovecot_->deliver("alice@a.example", message("<m2@example.org>"));
    client_->expunge("alice@a.example", {"mailbox", "INBOX", "uid", "1"});
    auto rows = client_->fetch("alice@a.example", {"uid"}, {"mailbox", "INBOX", "all"});
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0]["uid"], "2");
}

// Every file under the user's home belongs to the user: a root run leaves nothing root-owned.
void expect_owned_by(const std::string& home, uid_t uid) {
    for (const auto& entry : fs::recursive_directory_iterator(home)) {
        struct stat st {};
        ASSERT_EQ(::lstat(entry.path().c_str(), &st), 0);
        EXPECT_EQ(st.st_uid, uid) << entry.path();
    }
}

TEST_P(LocalDoveadmFormat, SavesIntoExactlyTheMailboxWithFlagsAndReceivedDate) {
    const std::string u = "alice@a.example";
    dovecot_->deliver(u, message("<m1@example.org>"));
    client_->create_mailbox(u, "Sent/Items");
    const auto received = std::chrono::system_clock::from_time_t(1'600'000'000);
    EXPECT_TRUE(client_->save(u, "Sent/Items", message("<moved@example.org>"), "\\Seen \\Flagged $Label1", received));
    EXPECT_TRUE(client_->save(u, "INBOX", message("<inbox@example.org>"), "\\Answered", received));
    EXPECT_TRUE(client_->save(u, "Top", message("<top@example.org>"), "", std::nullopt));

    auto sent = client_->fetch(u, {"flags", "date.received.unixtime", "hdr"}, {"mailbox", "Sent/Items", "all"});
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_NE(sent[0]["hdr"].find("<moved@example.org>"), std::string::npos);
    for (const char* flag : {"\\Seen", "\\Flagged", "$Label1"}) EXPECT_NE(sent[0]["flags"].find(flag), std::string::npos) << flag;
    EXPECT_EQ(sent[0]["date.received.unixtime"], "1600000000");

    auto inbox = client_->fetch(u, {"flags", "date.received.unixtime", "hdr"}, {"mailbox", "INBOX", "all"});
    ASSERT_EQ(inbox.size(), 2u);
    EXPECT_NE(inbox[1]["hdr"].find("<inbox@example.org>"), std::string::npos);
    EXPECT_NE(inbox[1]["flags"].find("\\Answered"), std::string::npos);
    EXPECT_EQ(inbox[1]["date.received.unixtime"], "1600000000");
    EXPECT_EQ(client_->fetch(u, {"uid"}, {"mailbox", "Top", "all"}).size(), 1u);
    // Nowhere else: the message is in the named mailboxes only.
    EXPECT_EQ(client_->fetch(u, {"uid"}, {"all"}).size(), 4u);

    expect_owned_by(dovecot_->home(u), dovecot_->uid());
    bool staging_left = false;
    for (const auto& e : fs::directory_iterator(fs::temp_directory_path())) {
        if (e.path().filename().string().rfind("retention-sweep-staging-" + std::to_string(::getpid()) + "-", 0) == 0) staging_left = true;
    }
    EXPECT_FALSE(staging_left);
}

// A killed run's staging copy (a message in /tmp) is removed by the next save.
TEST(LocalDoveadm, AStagingCopyAKilledRunLeftIsRemoved) {
    if (!PrivateDovecot::available()) GTEST_SKIP() << "needs root and Dovecot";
    PrivateDovecot d;
    LocalDoveadm client(endpoint_for(d));
    // A pid no process has (above the kernel's pid_max).
    const fs::path stale = fs::temp_directory_path() / "retention-sweep-staging-99999999-test";
    fs::create_directories(stale / "Sent" / "cur");
    std::ofstream(stale / "Sent" / "cur" / "1.x:2,S") << "a message";
    const fs::path alive = fs::temp_directory_path() / ("retention-sweep-staging-" + std::to_string(::getpid()) + "-live");
    fs::create_directories(alive);
    EXPECT_TRUE(client.save("alice@a.example", "INBOX", message("<after@example.org>"), "", std::nullopt));
    EXPECT_FALSE(fs::exists(stale));
    EXPECT_TRUE(fs::exists(alive));  // a running sweep's own
    fs::remove_all(alive);
    fs::remove_all(stale);
}

TEST_P(LocalDoveadmFormat, AMissingUserIsNoSuchUserAndItsAddressStaysOutOfTheError) {
    try {
        client_->fetch("nosuch@a.example", {"uid"}, {"all"});
        FAIL() << "no error";
    } catch (const DoveadmError& e) {
        EXPECT_EQ(e.kind(), Kind::NoSuchUser);
        EXPECT_EQ(std::string(e.what()).find("nosuch"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("\"local\""), std::string::npos) << e.what();
    }
}

TEST_P(LocalDoveadmFormat, DovecotStoppedIsAClearError) {
    dovecot_->stop();
    EXPECT_EQ(kind_of([&] { client_->fetch("alice@a.example", {"uid"}, {"all"}); }), Kind::Unreachable);
    EXPECT_EQ(kind_of([&] { client_->users("*@a.example"); }), Kind::Unreachable);
    EXPECT_EQ(kind_of([&] { client_->user_exists("alice@a.example"); }), Kind::Unreachable);
}

TEST_P(LocalDoveadmFormat, PathOfAMailbox) {
    auto path = client_->mailbox_path("alice@a.example", "INBOX");
    ASSERT_TRUE(path.has_value());
    EXPECT_EQ(path->rfind(dovecot_->home("alice@a.example"), 0), 0u) << *path;
}

INSTANTIATE_TEST_SUITE_P(Formats, LocalDoveadmFormat,
                         ::testing::Values(MailFormat::Maildir, MailFormat::Mbox, MailFormat::Sdbox, MailFormat::Mdbox),
                         [](const auto& p) { return std::string(rm::test::format_name(p.param)); });

// mdbox keeps expunged mail in its storage files until purged: one user at a time, or
// every user a sweep expunged from in one doveadm run (-F), where a user that no longer
// exists stops no one else's purge.
TEST(LocalDoveadm, PurgeFreesExpungedMailInMdboxStorage) {
    if (!PrivateDovecot::available()) GTEST_SKIP() << "needs root and Dovecot";
    DovecotOptions o;
    o.format = MailFormat::Mdbox;
    PrivateDovecot d(o);
    LocalDoveadm client(endpoint_for(d));
    const std::vector<std::string> users{"alice@a.example", "bob@a.example", "carol@b.example"};
    for (const auto& u : users) {
        d.deliver(u, message("<keep@example.org>"));
        d.deliver(u, message("<gone-marker-7f3a@example.org>"));
        client.expunge(u, {"mailbox", "INBOX", "uid", "2"});
    }
    auto storage_holds = [&](const std::string& u, const std::string& needle) {
        for (const auto& e : fs::recursive_directory_iterator(d.home(u) + "/mdbox/storage")) {
            if (e.is_regular_file() && slurp(e.path()).find(needle) != std::string::npos) return true;
        }
        return false;
    };
    ASSERT_TRUE(storage_holds(users[0], "gone-marker-7f3a"));
    client.purge(users[0]);
    EXPECT_FALSE(storage_holds(users[0], "gone-marker-7f3a"));
    EXPECT_TRUE(storage_holds(users[1], "gone-marker-7f3a")) << "only the user asked for is purged";

    client.purge_each({users[1], "gone@a.example", users[2], users[1]});
    for (const auto& u : users) {
        EXPECT_FALSE(storage_holds(u, "gone-marker-7f3a")) << u;
        EXPECT_TRUE(storage_holds(u, "keep@example.org")) << u;
    }
    // The file of their names is gone with the run.
    const std::string ours = "retention-sweep-users-" + std::to_string(::getpid()) + "-";
    for (const auto& e : fs::directory_iterator(fs::temp_directory_path()))
        EXPECT_NE(e.path().filename().string().rfind(ours, 0), 0u) << e.path();
}

// Several users in one doveadm run: each row names its user, and a user that does not
// exist is passed over without an error, so that all_exist() must tell.
TEST(LocalDoveadm, SeveralUsersInOneRun) {
    if (!PrivateDovecot::available()) GTEST_SKIP() << "needs root and Dovecot";
    PrivateDovecot d;
    LocalDoveadm client(endpoint_for(d));
    const std::vector<std::string> users{"alice@a.example", "bob@a.example"};
    for (const auto& u : users) {
        d.deliver(u, message("<one@example.org>"));
        d.deliver(u, message("<two@example.org>"));
    }
    std::vector<std::string> with_missing = users;
    with_missing.insert(with_missing.begin() + 1, "gone@a.example");

    const auto rows = client.fetch_for_users(with_missing, {"uid"}, {"mailbox", "INBOX", "uid", "2"});
    ASSERT_TRUE(rows);
    std::vector<std::string> named;
    for (const auto& f : *rows) named.push_back(f.at("username") + " " + f.at("uid"));
    EXPECT_EQ(named, (std::vector<std::string>{"alice@a.example 2", "bob@a.example 2"}));

    EXPECT_TRUE(client.all_exist(users));
    EXPECT_FALSE(client.all_exist(with_missing));
    EXPECT_FALSE(client.all_exist({"*@a.example"})) << "a mask is not a user";

    const auto paths = client.mailbox_paths(with_missing, "INBOX");
    ASSERT_TRUE(paths);
    EXPECT_EQ(paths->size(), 2u);
    EXPECT_EQ(paths->at("bob@a.example").rfind(d.home("bob@a.example"), 0), 0u) << paths->at("bob@a.example");

    EXPECT_TRUE(client.expunge_for_users(with_missing, {"mailbox", "INBOX", "uid", "1"}));
    EXPECT_TRUE(client.purge_cache_for_users(users, {"INBOX"}));
    EXPECT_FALSE(client.purge_cache_for_users(users, {"INBOX", "NoSuchFolder"})) << "a failed run is no answer";
    for (const auto& u : users) EXPECT_EQ(client.fetch(u, {"uid"}, {"mailbox", "INBOX", "all"}).size(), 1u) << u;
}

// doveadm cannot list the mailboxes of a user whose Maildir it cannot open, answers
// nothing and exits 0: the check of what is left after an expunge must not read that as
// "all gone", nor a joint run as an answer.
TEST(LocalDoveadm, AStoreThatCannotBeReadLeavesNoCheckThatAllIsGone) {
    if (!PrivateDovecot::available()) GTEST_SKIP() << "needs root and Dovecot";
    PrivateDovecot d;
    LocalDoveadm client(endpoint_for(d));
    const std::string user = "alice@a.example";
    d.deliver(user, message("<kept@example.org>"));
    d.deliver("bob@a.example", message("<kept@example.org>"));
    const std::string guid = client.mailboxes(user).front().guid;
    const std::vector<std::string> query{"mailbox-guid", guid, "uid", "1:*"};
    ASSERT_EQ(client.fetch_left(user, {"uid"}, query).size(), 1u);

    const std::string maildir = d.home(user) + "/Maildir";
    ASSERT_EQ(::chmod(maildir.c_str(), 0), 0);
    EXPECT_TRUE(client.fetch(user, {"uid"}, query).empty()) << "doveadm answers nothing, and exits 0";
    EXPECT_THROW(client.fetch_left(user, {"uid"}, query), DoveadmError);
    EXPECT_FALSE(client.fetch_for_users({user, "bob@a.example"}, {"uid"}, query));
    ::chmod(maildir.c_str(), 0700);
}

TEST(LocalDoveadm, AUserdbThatCannotIterateIsAnErrorNotAnEmptyList) {
    if (!PrivateDovecot::available()) GTEST_SKIP() << "needs root and Dovecot";
    DovecotOptions o;
    o.static_userdb = true;
    PrivateDovecot d(o);
    LocalDoveadm client(endpoint_for(d));
    EXPECT_THROW(client.users("*@a.example"), DoveadmError);
    EXPECT_TRUE(client.user_exists("anyone@a.example"));
}

TEST(LocalDoveadm, SeparatorOfANamespaceWithDots) {
    if (!PrivateDovecot::available()) GTEST_SKIP() << "needs root and Dovecot";
    DovecotOptions o;
    o.separator = '.';
    PrivateDovecot d(o);
    LocalDoveadm client(endpoint_for(d));
    client.create_mailbox("alice@a.example", "Sent.Items");
    EXPECT_EQ(client.separator("alice@a.example"), '.');
    EXPECT_TRUE(client.save("alice@a.example", "Sent.Items", message("<dot@example.org>"), "\\Seen", std::nullopt));
    EXPECT_EQ(client.fetch("alice@a.example", {"uid"}, {"mailbox", "Sent.Items", "all"}).size(), 1u);
}

TEST(SeparatorFromListing, TheCharacterAfterAParent) {
    using rm::sweep::dovecot::separator_from_listing;
    EXPECT_EQ(separator_from_listing({"INBOX", "INBOX.Sent"}, {"INBOX"}), '.');
    EXPECT_EQ(separator_from_listing({"Sent", "Sent/Items", "INBOX"}, {"Sent", "INBOX"}), '/');
    EXPECT_EQ(separator_from_listing({"a.b", "INBOX"}, {"a.b", "INBOX"}), 0);
}

TEST(SeparatorFromListing, NamesThatCannotBeNestedNeedNoTopLevelListing) {
    using rm::sweep::dovecot::nothing_nested;
    EXPECT_TRUE(nothing_nested({"INBOX", "Sent", "Sent Items", "Deleted-Items", "Gel\xc3\xb6scht", "old_2024"}));
    EXPECT_TRUE(nothing_nested({}));
    for (const char* nested : {"Sent/2024", "INBOX.Sent", "Hold\\Case", "a:b", "a^b", "a+b"})
        EXPECT_FALSE(nothing_nested({"INBOX", nested})) << nested;
}

// ---------------------------------------------------------------------------------------
// Stand-in doveadm programs.

class FakeDoveadm : public ::testing::Test {
protected:
    rm::SweepDovecot with_script(const std::string& body, int timeout = 10) {
        const std::string path = dir_ / "doveadm";
        std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
        ::chmod(path.c_str(), 0755);
        rm::SweepDovecot e;
        e.name = "fake";
        e.doveadm = path;
        e.timeout_seconds = timeout;
        return e;
    }
    rm::test::TempDir dir_{"rm-fake-doveadm"};
};

TEST_F(FakeDoveadm, NothingOfTheSweepersEnvironmentReachesDoveadm) {
    const std::string env_file = dir_ / "env";
    LocalDoveadm client(with_script("env > '" + env_file + "'\necho '[]'"));
    ::setenv("RM_TEST_INHERITED_MARKER", "leaked", 1);
    ::setenv("LD_PRELOAD", "libc.so.6", 1);
    client.fetch("alice@a.example", {"uid"}, {"all"});
    ::unsetenv("RM_TEST_INHERITED_MARKER");
    ::unsetenv("LD_PRELOAD");
    const std::string env = slurp(env_file);
    EXPECT_EQ(env.find("RM_TEST_INHERITED_MARKER"), std::string::npos) << env;
    EXPECT_EQ(env.find("LD_PRELOAD"), std::string::npos) << env;
    EXPECT_NE(env.find("PATH=/usr/sbin:/usr/bin:/sbin:/bin\n"), std::string::npos) << env;
}

TEST_F(FakeDoveadm, StdinIsEmptyAndTheArgumentsAreDoveadms) {
    const std::string args_file = dir_ / "args";
    LocalDoveadm client(with_script("printf '%s|' \"$@\" > '" + args_file + "'\ncat\necho '[]'"));
    EXPECT_TRUE(client.fetch("alice@a.example", {"uid", "hdr"}, {"mailbox", "INBOX", "all"}).empty());
    EXPECT_EQ(slurp(args_file), "-f|json|fetch|-u|alice@a.example|uid hdr|mailbox|INBOX|all|");
}

// Each run costs a process and Dovecot's config: the separator is told from the names
// "mailbox status" just gave and the top level ("mailbox list %") alone.
TEST_F(FakeDoveadm, TheSeparatorAfterTheMailboxesTakesOneRun) {
    const std::string runs = dir_ / "runs";
    LocalDoveadm client(with_script(
        "printf '%s\\n' \"$3\" >> '" + runs + "'\n"
        "case \"$3 $7\" in\n"
        "  'mailbox %') echo '[{\"mailbox\":\"INBOX\"},{\"mailbox\":\"Sent\"}]' ;;\n"
        "  'mailbox *') echo '[{\"mailbox\":\"INBOX\"},{\"mailbox\":\"Sent\"},{\"mailbox\":\"Sent.2024\"}]' ;;\n"
        "  *) echo '[{\"mailbox\":\"INBOX\",\"guid\":\"g1\",\"uidvalidity\":\"1\",\"messages\":\"0\"},"
        "{\"mailbox\":\"Sent.2024\",\"guid\":\"g2\",\"uidvalidity\":\"1\",\"messages\":\"0\"}]' ;;\n"
        "esac"));
    ASSERT_EQ(client.mailboxes("alice@a.example").size(), 2u);
    EXPECT_EQ(client.separator("alice@a.example"), '.');
    EXPECT_EQ(slurp(runs), "mailbox\nmailbox\n");
    // Another user's names are never taken for this one's: listed afresh.
    EXPECT_EQ(client.separator("bob@a.example"), '.');
    EXPECT_EQ(slurp(runs), "mailbox\nmailbox\nmailbox\nmailbox\n");
}

// A user whose names nest nothing: the status listing alone, no "mailbox list %".
TEST_F(FakeDoveadm, TheSeparatorOfAUserWithNothingNestedTakesNoRun) {
    const std::string runs = dir_ / "runs";
    LocalDoveadm client(with_script(
        "printf '%s %s\\n' \"$3\" \"$4\" >> '" + runs + "'\n"
        "echo '[{\"mailbox\":\"INBOX\",\"guid\":\"g1\",\"uidvalidity\":\"1\",\"messages\":\"0\"},"
        "{\"mailbox\":\"Sent Items\",\"guid\":\"g2\",\"uidvalidity\":\"1\",\"messages\":\"0\"}]'"));
    ASSERT_EQ(client.mailboxes("alice@a.example").size(), 2u);
    EXPECT_EQ(client.separator("alice@a.example"), '/');
    EXPECT_EQ(slurp(runs), "mailbox status\n");
}

TEST_F(FakeDoveadm, AHangingDoveadmIsKilledAtTheTimeLimit) {
    LocalDoveadm client(with_script("sleep 30", 1));
    auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(kind_of([&] { client.fetch("alice@a.example", {"uid"}, {"all"}); }), Kind::TempFail);
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST_F(FakeDoveadm, AnAnswerCutOffIsBadAnswer) {
    LocalDoveadm client(with_script("printf '[{\"uid\":\"1\",\"hdr\":\"Message-ID: <a@b'"));
    EXPECT_EQ(kind_of([&] { client.fetch("alice@a.example", {"uid"}, {"all"}); }), Kind::BadAnswer);
    LocalDoveadm object(with_script("printf '{\"uid\":\"1\"}'"));
    EXPECT_EQ(kind_of([&] { object.fetch("alice@a.example", {"uid"}, {"all"}); }), Kind::BadAnswer);
}

TEST_F(FakeDoveadm, ExitCodesAreKinds) {
    for (auto [code, kind] : std::vector<std::pair<int, Kind>>{
             {67, Kind::NoSuchUser}, {68, Kind::NoSuchMailbox}, {75, Kind::TempFail}, {77, Kind::Refused}, {1, Kind::Failed}}) {
        LocalDoveadm client(with_script("echo '[]'\nexit " + std::to_string(code)));
        EXPECT_EQ(kind_of([&] { client.fetch("alice@a.example", {"uid"}, {"all"}); }), kind) << code;
    }
}

TEST_F(FakeDoveadm, AProgramThatCannotRunIsUnreachable) {
    rm::SweepDovecot e;
    e.name = "missing";
    e.doveadm = dir_ / "no-such-doveadm";
    LocalDoveadm client(e);
    EXPECT_EQ(kind_of([&] { client.fetch("alice@a.example", {"uid"}, {"all"}); }), Kind::Unreachable);
}

}  // namespace
