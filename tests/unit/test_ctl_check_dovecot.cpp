// `retentionctl check` on Dovecot mailboxes, against a private Dovecot: which path each
// mailbox takes, and what doveadm says of its users and folders.
#include <gtest/gtest.h>

#include "ctl/check.hpp"
#include "ctl_test_util.hpp"
#include "dovecot_test_util.hpp"

using namespace rm;
using namespace rm::ctl;
using namespace ctltest;

namespace {

std::string all_text(const CheckResult& r) {
    std::string out;
    for (const auto& f : r.findings) out += format_finding(f) + "\n";
    return out;
}

class CtlCheckDovecot : public ::testing::Test {
protected:
    void SetUp() override {
        if (!rm::test::PrivateDovecot::available()) GTEST_SKIP() << "needs root and Dovecot";
        rm::test::DovecotOptions o;
        o.users = {"info@line.example", "alice@staff.example"};
        dovecot = std::make_unique<rm::test::PrivateDovecot>(o);
        ASSERT_EQ(dovecot->doveadm("mailbox create -u alice@staff.example Sent Trash"), 0);
    }

    CheckResult check(const std::string& shared_user, const std::string& mask, const std::string& shared_extra = "") {
        s.values["tail"] = "[[sweep.dovecot]]\nname = \"local\"\nconfig_file = \"" + dovecot->config() +
                           "\"\n[[sweep.mailbox]]\nstore = \"dovecot\"\nuser = \"" + shared_user +
                           "\"\nkind = \"shared\"\nline = \"respect-phoneline\"\n" + shared_extra +
                           "[[sweep.mailbox]]\nstore = \"dovecot\"\nuser = \"" + mask + "\"\nkind = \"personal\"\n";
        s.write();
        const std::string none = s.dir / "none";
        return run_check(s.config_path, {none + "/a", none + "/b", none + "/c", none + "/d", none + "/e"});
    }

    Scene s;
    std::unique_ptr<rm::test::PrivateDovecot> dovecot;
};

}  // namespace

TEST_F(CtlCheckDovecot, SaysWhichPathEachMailboxTakes) {
    const CheckResult r = check("info@line.example", "*@staff.example");
    const std::string text = all_text(r);
    EXPECT_FALSE(has_errors(r.findings)) << text;
    EXPECT_NE(text.find("read directly as Maildir++"), std::string::npos) << text;
    EXPECT_NE(text.find("number 3 (user = \"info@line.example\") (shared, line respect-phoneline): 1 user(s), swept "
                        "through the local /usr/bin/doveadm"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("number 4 (user = \"*@staff.example\") (personal): 1 user(s)"), std::string::npos) << text;
}

TEST_F(CtlCheckDovecot, WarnsOfWhatAFullTextIndexAndAnAttachmentStoreKeep) {
    EXPECT_EQ(all_text(check("info@line.example", "*@staff.example")).find("full-text"), std::string::npos);
    rm::test::DovecotOptions o = dovecot->options();
    dovecot.reset();
    o.extra_config = "mail_attachment_dir = /var/tmp/rm-test-attachments\nmail_plugins = $mail_plugins fts fts_squat\n"
                     "plugin {\n  fts = squat\n}\n";
    dovecot = std::make_unique<rm::test::PrivateDovecot>(o);
    const std::string text = all_text(check("info@line.example", "*@staff.example"));
    EXPECT_NE(text.find("warning: [[sweep.dovecot]] local: Dovecot keeps a full-text search index (fts = squat)"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("warning: [[sweep.dovecot]] local: Dovecot keeps attachments in mail_attachment_dir"),
              std::string::npos)
        << text;
}

TEST_F(CtlCheckDovecot, AMissingUserAndAMaskListingNobodyAreErrors) {
    const CheckResult r = check("nobody@line.example", "*@nowhere.example");
    const std::string text = all_text(r);
    EXPECT_NE(text.find("error: [[sweep.mailbox]] number 3 (user = \"nobody@line.example\"): Dovecot has no such user"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("error: [[sweep.mailbox]] number 4 (user = \"*@nowhere.example\"): the mask lists no Dovecot user"),
              std::string::npos)
        << text;
}

TEST_F(CtlCheckDovecot, DovecotNotRunningIsAnError) {
    dovecot->stop();
    std::this_thread::sleep_for(std::chrono::seconds(2));  // its auth process may answer a moment longer
    const std::string text = all_text(check("info@line.example", "*@staff.example"));
    EXPECT_NE(text.find("error: [[sweep.mailbox]] number 3 (user = \"info@line.example\"): doveadm through the local"),
              std::string::npos)
        << text;
}

// A release folder ends holds: check says who can put mail into it, as Dovecot's ACL
// resolves it, before the first sweep relies on it.
TEST_F(CtlCheckDovecot, AReleaseFolderMustBeWritableByTheTeamLeadersAlone) {
    rm::test::DovecotOptions o = dovecot->options();
    dovecot.reset();
    o.extra_config = "mail_plugins = $mail_plugins acl\nplugin {\n  acl = vfile\n}\n";
    dovecot = std::make_unique<rm::test::PrivateDovecot>(o);
    ASSERT_EQ(dovecot->doveadm("mailbox create -u alice@staff.example Sent Trash"), 0);
    const std::string extra = "hold_folders = { \"Hold/Safeguarding\" = \"safeguarding\" }\n"
                              "release_folder = \"Hold/Release\"\nrelease_logins = [\"lead@staff.example\"]\n";
    const auto text = [&] { return all_text(check("info@line.example", "*@staff.example", extra)); };

    std::string t = text();
    EXPECT_NE(t.find("error: [[sweep.mailbox]] number 3 (user = \"info@line.example\"): release folder Hold/Release "
                     "does not exist, and the sweep never makes it"),
              std::string::npos)
        << t;
    ASSERT_EQ(dovecot->doveadm("mailbox create -u info@line.example Hold/Safeguarding Hold/Release"), 0);
    // Made with Dovecot's default ACL: the shared login can do everything there.
    t = text();
    EXPECT_NE(t.find("release folder Hold/Release can be written by others than release_logins, so the sweep "
                     "releases nothing from it: the shared login itself has insert, post, admin"),
              std::string::npos)
        << t;
    EXPECT_NE(t.find("the shared login info@line.example can write the hold folder(s) Hold/Safeguarding: anyone who "
                     "opens the shared mailbox can place those holds"),
              std::string::npos)
        << t;
    ASSERT_EQ(dovecot->doveadm("acl set -u info@line.example Hold/Release owner lookup read write-seen write-deleted "
                               "expunge"),
              0);
    ASSERT_EQ(dovecot->doveadm("acl set -u info@line.example Hold/Release authenticated lookup insert"), 0);
    t = text();
    EXPECT_NE(t.find("every login (authenticated) has insert"), std::string::npos) << t;
    ASSERT_EQ(dovecot->doveadm("acl delete -u info@line.example Hold/Release authenticated"), 0);
    ASSERT_EQ(dovecot->doveadm("acl set -u info@line.example Hold/Release user=lead@staff.example lookup read insert"), 0);
    t = text();
    EXPECT_NE(t.find("its ACL has no anyone line"), std::string::npos) << t;
    ASSERT_EQ(dovecot->doveadm("acl set -u info@line.example Hold/Release anyone lookup"), 0);
    const CheckResult guarded = check("info@line.example", "*@staff.example", extra);
    t = all_text(guarded);
    EXPECT_FALSE(has_errors(guarded.findings)) << t;
    EXPECT_NE(t.find("release folder Hold/Release: only lead@staff.example can put mail into it"), std::string::npos) << t;
    // The sweep works as the shared login: without expunge there, held mail could not go.
    ASSERT_EQ(dovecot->doveadm("acl set -u info@line.example Hold/Release owner lookup read"), 0);
    t = text();
    EXPECT_NE(t.find("lacks write-deleted, expunge there"), std::string::npos) << t;
}

TEST_F(CtlCheckDovecot, AReleaseFolderWithoutDovecotsAclsIsAnError) {
    ASSERT_EQ(dovecot->doveadm("mailbox create -u info@line.example Hold/Release"), 0);
    const std::string t = all_text(check("info@line.example", "*@staff.example",
                                         "release_folder = \"Hold/Release\"\nrelease_logins = [\"lead@staff.example\"]\n"));
    EXPECT_NE(t.find("error: [[sweep.mailbox]] number 3 (user = \"info@line.example\"): release folder Hold/Release: "
                     "its ACL could not be read"),
              std::string::npos)
        << t;
    EXPECT_NE(t.find("acl plugin"), std::string::npos) << t;
}
