// The Dovecot store against a real, private Dovecot (dovecot_test_util.hpp): whole sweeps
// through the local doveadm, in Maildir and mdbox, checked by what doveadm then lists.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <map>

#include "dovecot_test_util.hpp"
#include "sweep_test_util.hpp"
#include "sweeper/dovecot/dovecot_store.hpp"
#include "sweeper/dovecot/local_doveadm.hpp"

using namespace sweeptest;
using rm::sweep::Skip;
using rm::test::MailFormat;
using rm::test::PrivateDovecot;

namespace {

constexpr const char* kShared = "info@line.example";

class DovecotSweep : public ::testing::TestWithParam<MailFormat> {
protected:
    void SetUp() override {
        if (!PrivateDovecot::available()) GTEST_SKIP() << "needs root and Dovecot";
        rm::test::DovecotOptions o;
        o.format = GetParam();
        o.users = {kShared, "alice@staff.example", "bob@staff.example"};
        dovecot = std::make_unique<PrivateDovecot>(o);
    }

    World w;
    std::unique_ptr<PrivateDovecot> dovecot;
    std::string shared_user = kShared;
    std::string doveadm_program = "/usr/bin/doveadm";
    std::string shared_extra;  // keys added to the shared mailbox's entry

    std::string config_text() const {
        return "[index]\npath = \"" + w.index_path + "\"\nkey_file = \"" + w.key_path +
               "\"\n[log]\nsink = \"stderr\"\nlevel = \"off\"\n"
               "[policy.email]\nretain = \"6 months\"\n"
               "[[line]]\ntag = \"respect-phoneline\"\naddresses = [\"info@line.example\"]\npolicy = \"email\"\n"
               "[sweep]\n"
               "[[sweep.dovecot]]\nname = \"local\"\ndoveadm = \"" + doveadm_program + "\"\nconfig_file = \"" +
               dovecot->config() +
               "\"\n"
               "[[sweep.mailbox]]\nstore = \"dovecot\"\nuser = \"" + shared_user +
               "\"\nkind = \"shared\"\nline = \"respect-phoneline\"\n" + shared_extra +
               "[[sweep.mailbox]]\nstore = \"dovecot\"\nuser = \"*@staff.example\"\nkind = \"personal\"\n";
    }

    rm::sweep::Summary sweep(const rm::sweep::SweepOptions& options = {}) {
        w.last_error.clear();
        const rm::Config c = rm::parse_config(config_text(), (w.dir / "etc" / "retention.toml").string());
        return rm::sweep::run_sweep(c, options, kNow, w.last_error);
    }

    // A message as the milter stamped it.
    static std::string message(const std::string& id, const std::string& extra = "") {
        return "From: someone@example.org\nMessage-ID: <" + id + ">\nSubject: confidential\n" +
               World::record_header(World::token(id)) + extra + "\nThe body of " + id + ".\n";
    }

    void deliver(const std::string& user, const std::string& id, const std::string& mailbox = "INBOX") {
        dovecot->deliver(user, message(id), mailbox);
    }

    // The Message-IDs doveadm lists in `mailbox` of `user`.
    std::vector<std::string> listed(const std::string& user, const std::string& mailbox = "INBOX") {
        rm::SweepDovecot e;
        e.config_file = dovecot->config();
        rm::sweep::dovecot::LocalDoveadm d(e);
        std::vector<std::string> ids;
        for (const auto& f : d.fetch(user, {"hdr"}, {"mailbox", mailbox, "all"})) {
            const std::string& h = f.at("hdr");
            const auto at = h.find("Message-ID: <");
            if (at != std::string::npos) ids.push_back(h.substr(at + 13, h.find('>', at) - at - 13));
        }
        std::sort(ids.begin(), ids.end());
        return ids;
    }

    // The sweep runs doveadm through a script that logs each run's command and its first
    // argument ("fetch -u", "mailbox path"), one a line, and first runs `before` (shell).
    fs::path log_doveadm_runs(const std::string& before = "") {
        const fs::path log = w.dir / "doveadm-runs";
        doveadm_program = (w.dir / "doveadm-logged").string();
        // LocalDoveadm runs "doveadm -c CONFIG -f json COMMAND ...": $5 is the command.
        spit(doveadm_program, "#!/bin/sh\n" + before + "\nprintf '%s %s\\n' \"$5\" \"$6\" >>'" + log.string() +
                                  "'\nexec /usr/bin/doveadm \"$@\"\n");
        fs::permissions(doveadm_program, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                             fs::perms::others_read | fs::perms::others_exec);
        return log;
    }

    // Expired mail of the shared mailbox and of two staff members' Trash, and mail to
    // keep in each.
    void expired_mail_of_three_users() {
        for (const char* user : {"alice@staff.example", "bob@staff.example"}) {
            ASSERT_EQ(dovecot->doveadm("mailbox create -u " + std::string(user) + " Trash"), 0);
            deliver(user, std::string("own-") + user);  // not in the index: their own mail
        }
        const std::vector<std::array<std::string, 3>> where{
            {kShared, "INBOX", "shared"}, {"alice@staff.example", "Trash", "alice"}, {"bob@staff.example", "Trash", "bob"}};
        for (const auto& [user, box, who] : where) {
            const std::string past = "past-" + who + "@x", future = "future-" + who + "@x";
            w.row(past, kPast, "respect-phoneline", "inbound", World::token(past));
            w.row(future, kFuture, "respect-phoneline", "inbound", World::token(future));
            deliver(user, past, box);
            deliver(user, future, box);
        }
    }

    // After a sweep of expired_mail_of_three_users(): each expired message destroyed and
    // counted, what is kept still there.
    void expect_the_three_expired_destroyed(const rm::sweep::Summary& s) {
        EXPECT_EQ(s.exit_code, 0) << w.last_error;
        EXPECT_EQ(s.lines.at("respect-phoneline").destroyed, 3);
        EXPECT_EQ(s.vanished, 0);
        EXPECT_EQ(listed(kShared), std::vector<std::string>{"future-shared@x"});
        for (const std::string who : {"alice", "bob"})
            EXPECT_EQ(listed(who + "@staff.example", "Trash"), std::vector<std::string>{"future-" + who + "@x"});
        for (const char* who : {"shared", "alice", "bob"}) EXPECT_TRUE(w.destroyed(std::string("past-") + who + "@x")) << who;
    }

    // How many runs of `command` ("fetch", "mailbox path") the log holds.
    static size_t runs_of(const std::string& runs, const std::string& command) {
        size_t n = 0;
        std::istringstream lines(runs);
        for (std::string line; std::getline(lines, line);)
            if (line == command || line.rfind(command + " ", 0) == 0) ++n;
        return n;
    }

    // Dovecot with its acl plugin, the shared mailbox's hold folder and its release folder
    // (with Dovecot's default ACL), and the config naming them.
    void release_folder_with_acls() {
        rm::test::DovecotOptions o = dovecot->options();
        o.extra_config = "mail_plugins = $mail_plugins acl\nplugin {\n  acl = vfile\n}\n";
        dovecot = std::make_unique<PrivateDovecot>(o);
        shared_extra = "hold_folders = { \"Hold/Safeguarding\" = \"safeguarding\" }\nrelease_folder = \"Hold/Release\"\n"
                       "release_logins = [\"lead@staff.example\"]\n";
        for (const char* f : {"Hold/Safeguarding", "Hold/Release"})
            ASSERT_EQ(dovecot->doveadm("mailbox create -u " + std::string(kShared) + " " + f), 0);
    }

    std::string fetch_one(const std::string& user, const std::string& mailbox, const std::string& field) {
        rm::SweepDovecot e;
        e.config_file = dovecot->config();
        rm::sweep::dovecot::LocalDoveadm d(e);
        const auto got = d.fetch(user, {field}, {"mailbox", mailbox, "all"});
        return got.empty() ? std::string("(none)") : got.front().at(field);
    }
};

std::vector<std::string> ids(std::initializer_list<const char*> l) { return {l.begin(), l.end()}; }

}  // namespace

TEST_P(DovecotSweep, DestroysExpiredHelplineMailAndKeepsTheRest) {
    w.row("past@x", kPast, "respect-phoneline", "inbound", World::token("past@x"));
    w.row("future@x", kFuture, "respect-phoneline", "inbound", World::token("future@x"));
    w.row("held@x", kPast, "respect-phoneline", "inbound", World::token("held@x"));
    w.index->hold(w.digest("held@x"), "safeguarding", "CASE-1", "tester", kNow - days(30));
    for (const char* id : {"past@x", "future@x", "held@x"}) deliver(kShared, id);

    const auto s = sweep();
    EXPECT_EQ(s.exit_code, 0) << w.last_error;
    EXPECT_EQ(s.lines.at("respect-phoneline").destroyed, 1);
    EXPECT_EQ(s.lines.at("respect-phoneline").kept, 1);
    EXPECT_EQ(s.lines.at("respect-phoneline").held, 1);
    EXPECT_EQ(listed(kShared), ids({"future@x", "held@x"}));
    EXPECT_TRUE(w.destroyed("past@x"));
    EXPECT_FALSE(w.destroyed("future@x"));
    // No file Dovecot keeps holds the destroyed message any more (mdbox: purged).
    for (const auto& e : fs::recursive_directory_iterator(dovecot->home(kShared))) {
        if (e.is_regular_file()) {
            EXPECT_EQ(slurp(e.path()).find("The body of past@x"), std::string::npos) << e.path();
        }
    }
    if (GetParam() == MailFormat::Mdbox) {
        EXPECT_EQ(s.residues.purged_mdbox_users, 1);
    }
    if (GetParam() == MailFormat::Mbox) {
        EXPECT_EQ(s.residues.rewritten_mboxes, 1);
    }
    EXPECT_EQ(s.residues.fts_index_users, 0);
    EXPECT_EQ(s.residues.attachment_dir_users, 0);
    // Dovecot's own view stays consistent: a resync finds nothing to repair.
    EXPECT_EQ(dovecot->doveadm("force-resync -u " + std::string(kShared) + " '*'"), 0);
    EXPECT_EQ(listed(kShared), ids({"future@x", "held@x"}));
    // A second run reads the kept ones from its scan cache and changes nothing.
    const auto again = sweep();
    EXPECT_EQ(again.exit_code, 0) << w.last_error;
    EXPECT_EQ(again.messages_known, 2);
    EXPECT_TRUE(s.warnings.empty()) << s.warnings.front();
    EXPECT_EQ(listed(kShared), ids({"future@x", "held@x"}));
}

// A purge that fails leaves the destroyed message's bytes in mdbox storage: the summary
// says so instead of counting the mailbox purged. Other formats are never purged.
TEST_P(DovecotSweep, AnMdboxPurgeThatFailsIsReportedNotCountedAsPurged) {
    const bool mdbox = GetParam() == MailFormat::Mdbox;
    log_doveadm_runs("[ \"$5\" = purge ] && { echo 'Error: storage locked' >&2; exit 75; }");
    w.row("past@x", kPast, "respect-phoneline", "inbound", World::token("past@x"));
    deliver(kShared, "past@x");

    const auto s = sweep();
    EXPECT_EQ(s.exit_code, 0) << w.last_error;
    EXPECT_TRUE(listed(kShared).empty());
    EXPECT_EQ(s.residues.purged_mdbox_users, 0);
    EXPECT_EQ(s.residues.unpurged_mdbox_users, mdbox ? 1 : 0);
}

// doveadm's runs cost most of a sweep's time: one user's expired messages in several
// folders go in one expunge, and what is left is still known per folder.
TEST_P(DovecotSweep, ExpungesAUsersMessagesInSeveralFoldersInOneRun) {
    const fs::path log = log_doveadm_runs();
    ASSERT_EQ(dovecot->doveadm("mailbox create -u " + std::string(kShared) + " Archive Closed"), 0);
    for (const char* box : {"INBOX", "Archive", "Closed"}) {
        const std::string past = std::string("past-") + box + "@x", future = std::string("future-") + box + "@x";
        w.row(past, kPast, "respect-phoneline", "inbound", World::token(past));
        w.row(future, kFuture, "respect-phoneline", "inbound", World::token(future));
        deliver(kShared, past, box);
        deliver(kShared, future, box);
    }
    // The expired messages' files, held open to be read once the sweep has unlinked them.
    std::map<std::string, int> files;
    if (GetParam() == MailFormat::Maildir || GetParam() == MailFormat::Sdbox)
        for (const auto& e : fs::recursive_directory_iterator(dovecot->home(kShared)))
            for (const char* box : {"INBOX", "Archive", "Closed"})
                if (e.is_regular_file() && slurp(e.path()).find(std::string("The body of past-") + box) != std::string::npos)
                    files[box] = ::open(e.path().c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_EQ(files.size(), GetParam() == MailFormat::Maildir || GetParam() == MailFormat::Sdbox ? 3u : 0u);
    const auto s = sweep();
    EXPECT_EQ(s.exit_code, 0) << w.last_error;
    EXPECT_EQ(s.lines.at("respect-phoneline").destroyed, 3);
    EXPECT_EQ(s.vanished, 0);
    for (const char* box : {"INBOX", "Archive", "Closed"}) {
        EXPECT_EQ(listed(kShared, box), std::vector<std::string>{std::string("future-") + box + "@x"}) << box;
        EXPECT_TRUE(w.destroyed(std::string("past-") + box + "@x")) << box;
    }
    const std::string runs = slurp(log);
    EXPECT_EQ(runs_of(runs, "expunge"), 1u) << runs;
    // One listing of the shared user's three folders, one fetch of their headers, and
    // what is there before the expunge and what is left after it.
    EXPECT_EQ(runs_of(runs, "fetch"), 1u + 1u + 2u) << runs;
    // Where each folder is stored is asked once for the user: the others are found beside
    // it (Maildir), or need only the format (mbox, mdbox). sdbox files are overwritten
    // where doveadm says they are.
    EXPECT_EQ(runs_of(runs, "mailbox path"), GetParam() == MailFormat::Sdbox ? 3u : 1u) << runs;
    // Each destroyed Maildir or sdbox file was overwritten where Dovecot kept it.
    for (auto& [box, fd] : files) {
        std::string left(1 << 16, '\0');
        left.resize(static_cast<size_t>(std::max<ssize_t>(0, ::pread(fd, left.data(), left.size(), 0))));
        EXPECT_EQ(left.find("The body of past-" + box), std::string::npos) << box;
        ::close(fd);
    }
}

// The users a destroy batch touches are expunged together, in one doveadm run, and each
// one's messages counted by what Dovecot lists of that user.
TEST_P(DovecotSweep, ExpungesSeveralUsersMessagesInOneRun) {
    const fs::path log = log_doveadm_runs();
    expired_mail_of_three_users();
    const auto s = sweep();
    expect_the_three_expired_destroyed(s);
    const std::string runs = slurp(log);
    EXPECT_EQ(runs_of(runs, "expunge"), 1u) << runs;
    EXPECT_EQ(runs_of(runs, "expunge -F"), 1u) << runs;
    // What is there before and what is left after: one run each for the three users.
    EXPECT_EQ(runs_of(runs, "fetch -F"), 2u) << runs;
    // The storage format, from each user's INBOX at once (sdbox files, to be overwritten,
    // are still looked for in each staff member's Trash).
    EXPECT_EQ(runs_of(runs, "mailbox path"), GetParam() == MailFormat::Sdbox ? 3u : 1u) << runs;
    // The index caches: alice and bob have the same folders, the shared mailbox others.
    EXPECT_EQ(runs_of(runs, "mailbox cache"), 2u) << runs;
}

// A joint expunge that fails (a user's look-up failing ends doveadm's run part way) is
// done again user by user: nothing is left, nothing counted twice.
TEST_P(DovecotSweep, AJointExpungeThatFailsIsDoneUserByUser) {
    // The run expunges, then fails as if it had stopped at a later user.
    const fs::path log =
        log_doveadm_runs("[ \"$5\" = expunge ] && [ \"$6\" = -F ] && { /usr/bin/doveadm \"$@\"; exit 75; }");
    expired_mail_of_three_users();
    const auto s = sweep();
    expect_the_three_expired_destroyed(s);
    EXPECT_EQ(runs_of(slurp(log), "expunge -u"), 3u) << slurp(log);
}

// A user the joint look before the expunge passed over (as doveadm does with one that no
// longer exists) is asked alone: here bob exists after all, and his mail is destroyed and
// counted as such, not as gone meanwhile.
TEST_P(DovecotSweep, AUserPassedOverInTheJointLookIsAskedAlone) {
    log_doveadm_runs("[ \"$6\" = -F ] && [ \"$8\" = 'mailbox-guid uid guid' ] && sed -i '/^bob@/d' \"$7\"");
    expired_mail_of_three_users();
    expect_the_three_expired_destroyed(sweep());
}

// A folder of bob's that has the GUID of alice's Trash (copied with dsync, say) and
// messages with the same UIDs: a query joining both users' parts would match his too, so
// they are not joined, and only what the index names is expunged.
TEST_P(DovecotSweep, UsersSharingAMailboxGuidAreNeverExpungedTogether) {
    const fs::path log = log_doveadm_runs();
    expired_mail_of_three_users();
    const std::string guid = fetch_one("alice@staff.example", "Trash", "mailbox-guid");
    ASSERT_EQ(guid.size(), 32u) << guid;
    ASSERT_EQ(dovecot->doveadm("mailbox create -u bob@staff.example -g " + guid + " Copy"), 0);
    deliver("bob@staff.example", "bobs-first@x", "Copy");
    deliver("bob@staff.example", "bobs-second@x", "Copy");
    const auto s = sweep();
    EXPECT_EQ(s.exit_code, 0) << w.last_error;
    EXPECT_EQ(s.lines.at("respect-phoneline").destroyed, 3);
    EXPECT_EQ(listed("bob@staff.example", "Copy"), ids({"bobs-first@x", "bobs-second@x"}));
    EXPECT_EQ(runs_of(slurp(log), "expunge -F"), 0u) << slurp(log);
}

// doveadm passes over a user that no longer exists in a joint run and still succeeds: the
// user's messages, neither expunged nor listed after, must not look destroyed. Here doveadm
// behaves so for bob (his name taken out of the user file of the expunge and of the check
// after it, and the look-up of all three failing as for a missing user).
TEST_P(DovecotSweep, AUserPassedOverInAJointRunIsNotCountedDestroyed) {
    log_doveadm_runs(
        "[ \"$6\" = -F ] && { [ \"$5\" = expunge ] || [ \"$8\" = 'mailbox-guid uid' ]; } && sed -i '/^bob@/d' \"$7\"\n"
        "[ \"$5\" = user ] && [ \"$6\" = -u ] && [ $# -ge 8 ] && exit 67");
    expired_mail_of_three_users();
    const auto s = sweep();
    EXPECT_EQ(listed("bob@staff.example", "Trash"), ids({"future-bob@x", "past-bob@x"}));
    EXPECT_FALSE(w.destroyed("past-bob@x"));
    EXPECT_EQ(skips(s, Skip::CannotDestroy), 1);
    EXPECT_EQ(s.lines.at("respect-phoneline").destroyed, 2);
    EXPECT_TRUE(w.destroyed("past-alice@x"));
    EXPECT_EQ(listed(kShared), ids({"future-shared@x"}));
}

// A folder deleted after "mailbox status" listed it, its messages moved to a folder the
// sweep never saw: nothing it held may count as found nowhere.
TEST_P(DovecotSweep, AFolderGoneSinceItWasListedIsNotReadAsEmpty) {
    ASSERT_EQ(dovecot->doveadm("mailbox create -u " + std::string(kShared) + " Archive"), 0);
    w.row("moved@x", kPast, "respect-phoneline", "inbound", World::token("moved@x"));
    w.row("past@x", kPast, "respect-phoneline", "inbound", World::token("past@x"));
    deliver(kShared, "moved@x", "Archive");
    deliver(kShared, "past@x");
    const std::string doveadm = "/usr/bin/doveadm -c '" + dovecot->config() + "'";
    const std::string u = std::string(" -u ") + kShared + " ";
    const fs::path done = w.dir / "folder-moved";
    log_doveadm_runs("if [ \"$5\" = fetch ] && [ ! -e '" + done.string() + "' ]; then touch '" + done.string() +
                     "'; " + doveadm + " mailbox create" + u + "Elsewhere && " + doveadm + " move" + u +
                     "Elsewhere mailbox Archive all && " + doveadm + " mailbox delete" + u + "Archive; fi");
    const auto s = sweep();
    ASSERT_TRUE(fs::exists(done));
    EXPECT_GE(s.vanished, 1);
    EXPECT_FALSE(w.destroyed("moved@x"));
    EXPECT_EQ(listed(kShared, "Elsewhere"), ids({"moved@x"}));
    EXPECT_EQ(listed(kShared), std::vector<std::string>{});
}

TEST_P(DovecotSweep, DestroysExpiredCopiesInStaffDeletedItemsOnly) {
    w.row("gone@x", kPast, "respect-phoneline", "inbound", World::token("gone@x"));
    ASSERT_EQ(dovecot->doveadm("mailbox create -u alice@staff.example Trash"), 0);
    deliver("alice@staff.example", "gone@x", "Trash");
    deliver("alice@staff.example", "own@x", "Trash");  // not in the index: her own mail
    const auto s = sweep();
    EXPECT_EQ(s.exit_code, 0) << w.last_error;
    EXPECT_EQ(listed("alice@staff.example", "Trash"), ids({"own@x"}));
    EXPECT_TRUE(w.destroyed("gone@x"));
}

TEST_P(DovecotSweep, MovesAPersonalSentCopyWithItsFlags) {
    w.row("reply@x", kFuture, "respect-phoneline", "outbound", World::token("reply@x"));
    ASSERT_EQ(dovecot->doveadm("mailbox create -u alice@staff.example Sent"), 0);
    deliver("alice@staff.example", "reply@x", "Sent");
    ASSERT_EQ(dovecot->doveadm("flags add -u alice@staff.example '\\Seen \\Flagged' mailbox Sent all"), 0);

    const auto s = sweep();
    EXPECT_EQ(s.exit_code, 0) << w.last_error;
    EXPECT_EQ(s.lines.at("respect-phoneline").moved, 1);
    EXPECT_TRUE(listed("alice@staff.example", "Sent").empty());
    EXPECT_EQ(listed(kShared, "Sent"), ids({"reply@x"}));
    const std::string flags = fetch_one(kShared, "Sent", "flags");
    EXPECT_NE(flags.find("\\Seen"), std::string::npos) << flags;
    EXPECT_NE(flags.find("\\Flagged"), std::string::npos) << flags;
    const std::string hdr = fetch_one(kShared, "Sent", "hdr");
    EXPECT_NE(hdr.find("X-Helpline-Line: respect-phoneline"), std::string::npos) << hdr;
    // A second run finds the copy where it belongs and moves nothing again.
    EXPECT_EQ(sweep().exit_code, 0) << w.last_error;
    EXPECT_EQ(listed(kShared, "Sent"), ids({"reply@x"}));
}

TEST_P(DovecotSweep, ReportsWhatAFullTextIndexAndAnAttachmentStoreKeep) {
    rm::test::DovecotOptions o = dovecot->options();
    dovecot.reset();
    o.extra_config = "mail_attachment_dir = /var/tmp/rm-test-attachments\n"
                     "protocol imap {\n  mail_plugins = $mail_plugins fts fts_squat\n}\n"
                     "plugin {\n  fts = squat\n}\n";
    dovecot = std::make_unique<PrivateDovecot>(o);
    w.row("past@x", kPast, "respect-phoneline", "inbound", World::token("past@x"));
    deliver(kShared, "past@x");

    const auto s = sweep();
    EXPECT_EQ(s.exit_code, 0) << w.last_error;
    EXPECT_TRUE(w.destroyed("past@x"));
    EXPECT_EQ(s.residues.fts_index_users, 1);
    // Dovecot keeps attachments apart only in its own formats.
    const bool dbox = GetParam() == MailFormat::Sdbox || GetParam() == MailFormat::Mdbox;
    EXPECT_EQ(s.residues.attachment_dir_users, dbox ? 1 : 0);
    std::ostringstream text;
    rm::sweep::print_text(text, s);
    EXPECT_NE(text.str().find("full-text search index"), std::string::npos) << text.str();
    EXPECT_TRUE(s.warnings.empty()) << s.warnings.front();
}

TEST_P(DovecotSweep, MovesASentCopyThatIsNotUtf8ByteForByte) {
    const std::string id = "caf\xE9\xFF@x";
    w.row(id, kFuture, "respect-phoneline", "outbound");
    ASSERT_EQ(dovecot->doveadm("mailbox create -u alice@staff.example Sent"), 0);
    const std::string original = "From: a@staff.example\nMessage-ID: <" + id +
                                 ">\nSubject: r\xE9ponse\n\nLatin-1 text: \xE0 bient\xF4t.\n";
    dovecot->deliver("alice@staff.example", original, "Sent");

    const auto s = sweep();
    EXPECT_EQ(s.exit_code, 0) << w.last_error;
    EXPECT_EQ(skips(s, Skip::MoveWouldChangeBytes), 0);
    EXPECT_EQ(s.lines.at("respect-phoneline").moved, 1);
    EXPECT_EQ(fetch_one("alice@staff.example", "Sent", "guid"), "(none)");
    rm::SweepDovecot e;
    e.config_file = dovecot->config();
    rm::sweep::dovecot::LocalDoveadm d(e);
    const auto moved = d.fetch_raw(kShared, "text", {"mailbox", "Sent", "all"});
    ASSERT_TRUE(moved.has_value());
    // Our headers first, then the message exactly as it was.
    EXPECT_NE(moved->find("X-Helpline-Line: respect-phoneline"), std::string::npos) << *moved;
    EXPECT_EQ(moved->substr(moved->size() - original.size()), original);
}

TEST_P(DovecotSweep, RowsKeyedBeforeTheCanonicalFormStillMatchTheirCopies) {
    // A reply indexed by an older milter over its id's bytes (one is not UTF-8); its mail
    // client's copy, deleted, carries no stamp. doveadm's JSON shows the id changed.
    const std::string id = "r\xE9ply@x";
    w.legacy_keys = true;
    w.row(id, kPast, "respect-phoneline", "outbound");
    ASSERT_EQ(dovecot->doveadm("mailbox create -u alice@staff.example Trash"), 0);
    dovecot->deliver("alice@staff.example", "From: a@staff.example\nMessage-ID: <" + id + ">\n\nbody\n", "Trash");
    const auto s = sweep();
    EXPECT_EQ(s.exit_code, 0) << w.last_error;
    EXPECT_EQ(fetch_one("alice@staff.example", "Trash", "guid"), "(none)");
    EXPECT_TRUE(w.destroyed(id));
}

TEST_P(DovecotSweep, DovecotStoppedIsASkipAndNoRowIsWrittenOff) {
    w.row("nowhere@x", kPast, "respect-phoneline", "inbound", World::token("nowhere@x"));
    dovecot->stop();
    // Dovecot's auth process may answer for a moment after the master has gone.
    bool answers = true;
    for (int i = 0; i < 50 && answers; ++i) {
        answers = dovecot->doveadm("mailbox list -u " + std::string(kShared)) == 0;
        if (answers) std::this_thread::sleep_for(milliseconds(100));
    }
    ASSERT_FALSE(answers) << "Dovecot still answers";
    const auto s = sweep();
    EXPECT_EQ(s.exit_code, 4) << w.last_error;
    EXPECT_GE(skips(s, Skip::DovecotUnreachable), 1);
    EXPECT_FALSE(w.destroyed("nowhere@x"));
    EXPECT_FALSE(s.mailboxes_not_read.empty());
    // The summary names the entries, never a staff member.
    std::ostringstream text;
    rm::sweep::print_text(text, s);
    EXPECT_EQ(text.str().find("alice"), std::string::npos) << text.str();
}

TEST_P(DovecotSweep, AMissingSharedUserIsASkipAndNoRowIsWrittenOff) {
    shared_user = "nobody-here@line.example";
    w.row("nowhere@x", kPast, "respect-phoneline", "inbound", World::token("nowhere@x"));
    const auto s = sweep();
    EXPECT_EQ(s.exit_code, 4) << w.last_error;
    EXPECT_EQ(skips(s, Skip::MailboxMissing), 1);
    EXPECT_FALSE(w.destroyed("nowhere@x"));
}

TEST_P(DovecotSweep, WritesOffARowOnlyWhenEveryMailboxWasRead) {
    w.row("nowhere@x", kPast, "respect-phoneline", "inbound", World::token("nowhere@x"));
    const auto s = sweep();
    EXPECT_EQ(s.exit_code, 0) << w.last_error;
    EXPECT_TRUE(w.destroyed("nowhere@x"));  // no mailbox holds it: found nowhere, written off
}

INSTANTIATE_TEST_SUITE_P(Formats, DovecotSweep, ::testing::Values(MailFormat::Maildir, MailFormat::Sdbox, MailFormat::Mdbox,
                                                                  MailFormat::Mbox),
                         [](const auto& p) { return std::string(rm::test::format_name(p.param)); });

// --- without Dovecot -------------------------------------------------------------------

// Staff hold a message by moving it into a hold folder of the shared mailbox: every copy
// is kept, the hold names the folder and the line.
TEST_P(DovecotSweep, AMessageInAHoldFolderIsHeldWithEveryCopy) {
    shared_extra = "hold_folders = { \"Hold/Safeguarding\" = \"safeguarding\" }\n";
    ASSERT_EQ(dovecot->doveadm("mailbox create -u " + std::string(kShared) + " Hold/Safeguarding"), 0);
    ASSERT_EQ(dovecot->doveadm("mailbox create -u alice@staff.example Trash"), 0);
    w.row("case@x", kPast, "respect-phoneline", "inbound", World::token("case@x"));
    w.row("other@x", kPast, "respect-phoneline", "inbound", World::token("other@x"));
    deliver(kShared, "case@x", "Hold/Safeguarding");
    deliver("alice@staff.example", "case@x", "Trash");
    deliver(kShared, "other@x");

    const auto s = sweep();
    EXPECT_EQ(s.exit_code, 0) << w.last_error;
    EXPECT_EQ(listed(kShared, "Hold/Safeguarding"), ids({"case@x"}));
    EXPECT_EQ(listed("alice@staff.example", "Trash"), ids({"case@x"}));
    EXPECT_TRUE(listed(kShared).empty());
    EXPECT_FALSE(w.destroyed("case@x"));
    EXPECT_TRUE(w.destroyed("other@x"));
    const auto holds = w.index->active_holds(w.digest("case@x"));
    ASSERT_EQ(holds.size(), 1u);
    const auto* hold = &holds.front();
    EXPECT_EQ(hold->kind, rm::HoldKind::Folder);
    EXPECT_EQ(hold->reason, "safeguarding");
    EXPECT_EQ(hold->placed_by, "folder Hold/Safeguarding of the respect-phoneline mailbox");
    EXPECT_EQ(s.hold_folders.placed, 1);
    EXPECT_EQ(sweep().hold_folders.already, 1);
}

// Staff file held mail in folders of their own below the hold folder.
TEST_P(DovecotSweep, AFolderBelowAHoldFolderHoldsToo) {
    shared_extra = "hold_folders = { \"Hold/Safeguarding\" = \"safeguarding\" }\n";
    // Only the folder below is made (mbox cannot have a folder inside one that holds mail).
    ASSERT_EQ(dovecot->doveadm("mailbox create -u " + std::string(kShared) + " 'Hold/Safeguarding/Case 12'"), 0);
    ASSERT_EQ(dovecot->doveadm("mailbox create -u alice@staff.example Trash"), 0);
    w.row("case@x", kPast, "respect-phoneline", "inbound", World::token("case@x"));
    deliver(kShared, "case@x", "Hold/Safeguarding/Case 12");
    deliver("alice@staff.example", "case@x", "Trash");

    const auto s = sweep();
    EXPECT_EQ(s.exit_code, 0) << w.last_error;
    EXPECT_EQ(listed(kShared, "Hold/Safeguarding/Case 12"), ids({"case@x"}));
    EXPECT_EQ(listed("alice@staff.example", "Trash"), ids({"case@x"}));
    EXPECT_FALSE(w.destroyed("case@x"));
    EXPECT_EQ(s.hold_folders.placed, 1);
}

TEST_P(DovecotSweep, AMissingHoldFolderIsMade) {
    shared_extra = "hold_folders = { \"Hold/Police request\" = \"police-request\" }\n";
    deliver(kShared, "first@x");
    const auto s = sweep();
    EXPECT_EQ(s.exit_code, 0) << w.last_error;
    EXPECT_EQ(s.hold_folders.made, 1);
    EXPECT_EQ(dovecot->doveadm("mailbox status -u " + std::string(kShared) + " messages 'Hold/Police request'"), 0);
    EXPECT_EQ(sweep().hold_folders.made, 0);
}

TEST_P(DovecotSweep, AHoldFolderDovecotCannotListStopsAllDestruction) {
    shared_extra = "hold_folders = { \"Hold/Safeguarding\" = \"safeguarding\" }\n";
    ASSERT_EQ(dovecot->doveadm("mailbox create -u " + std::string(kShared) + " Hold/Safeguarding"), 0);
    w.row("past@x", kPast, "respect-phoneline", "inbound", World::token("past@x"));
    deliver(kShared, "past@x");
    deliver(kShared, "case@x", "Hold/Safeguarding");
    // Every message listing fails, as it does when Dovecot cannot open the folder's index.
    log_doveadm_runs("[ \"$5\" = fetch ] && { echo 'Error: mailbox index corrupted' >&2; exit 75; }");
    const auto s = sweep();
    EXPECT_EQ(s.exit_code, 3) << w.last_error;
    ASSERT_TRUE(s.stop);
    EXPECT_NE(s.stop->find("hold folder Hold/Safeguarding of the respect-phoneline mailbox could not be read"),
              std::string::npos)
        << *s.stop;
    EXPECT_EQ(listed(kShared), ids({"past@x"}));
    EXPECT_FALSE(w.destroyed("past@x"));
}

// A team leader releases a folder hold by moving the message into the release folder,
// which Dovecot's ACL opens to her alone. Dovecot refuses the shared login (the owner,
// as which doveadm runs) any insert there, so the test opens the folder to it for a
// moment to put the messages in, as the team leader's client would.

TEST_P(DovecotSweep, AGuardedReleaseFolderLiftsFolderHoldsAndTheMessageGoesThatNight) {
    ASSERT_NO_FATAL_FAILURE(release_folder_with_acls());
    const std::string shared(kShared);
    ASSERT_EQ(dovecot->doveadm("mailbox create -u alice@staff.example Trash"), 0);
    const auto owner_acl = [&](const std::string& rights) {
        ASSERT_EQ(dovecot->doveadm("acl set -u " + shared + " Hold/Release owner " + rights), 0);
    };
    ASSERT_EQ(dovecot->doveadm("acl set -u " + shared + " Hold/Release user=lead@staff.example lookup read insert"), 0);
    ASSERT_EQ(dovecot->doveadm("acl set -u " + shared + " Hold/Release anyone lookup"), 0);
    for (const char* id : {"case@x", "admin@x", "both@x"}) w.row(id, kPast, "respect-phoneline", "inbound", World::token(id));
    deliver(kShared, "case@x", "Hold/Safeguarding");
    deliver("alice@staff.example", "case@x", "Trash");
    deliver(kShared, "admin@x", "Hold/Safeguarding");
    deliver(kShared, "both@x", "Hold/Safeguarding");
    owner_acl("lookup read write-seen write-deleted expunge");
    auto s = sweep();
    ASSERT_EQ(s.exit_code, 0) << w.last_error;
    ASSERT_EQ(s.hold_folders.placed, 3);
    w.index->hold(w.digest("admin@x"), "legal", "CASE-9", "tester", kNow);

    // The team leader moves case@x and admin@x out of the hold folder into the release
    // folder, and copies both@x there (it stays in the hold folder too).
    ASSERT_EQ(dovecot->doveadm("expunge -u " + shared + " mailbox Hold/Safeguarding header message-id case@x"), 0);
    ASSERT_EQ(dovecot->doveadm("expunge -u " + shared + " mailbox Hold/Safeguarding header message-id admin@x"), 0);
    owner_acl("lookup read write-seen write-deleted expunge insert");
    for (const char* id : {"case@x", "admin@x", "both@x"}) deliver(kShared, id, "Hold/Release");
    owner_acl("lookup read write-seen write-deleted expunge");

    s = sweep();
    ASSERT_EQ(s.exit_code, 0) << w.last_error;
    EXPECT_TRUE(s.hold_folders.release_refused.empty()) << s.hold_folders.release_refused.front();
    EXPECT_EQ(s.hold_folders.released, 2);  // case@x, and admin@x's folder hold
    EXPECT_EQ(s.hold_folders.release_admin_kept, 1);
    EXPECT_EQ(s.hold_folders.release_in_hold_folder, 1);
    EXPECT_EQ(s.hold_folders.no_longer, 0) << "released, not merely out of the hold folder";
    // Released, and past its date: every copy goes in the same run.
    EXPECT_TRUE(w.destroyed("case@x"));
    EXPECT_EQ(listed(kShared, "Hold/Release"), ids({"admin@x", "both@x"}));
    EXPECT_TRUE(listed("alice@staff.example", "Trash").empty());
    const auto history = w.index->holds_for(w.digest("case@x"));
    ASSERT_EQ(history.size(), 1u);
    EXPECT_EQ(history[0].released_by, "folder Hold/Release of the respect-phoneline mailbox");
    // An admin hold stays; a message still in a hold folder stays held.
    EXPECT_FALSE(w.destroyed("admin@x"));
    const auto admin = w.index->active_holds(w.digest("admin@x"));
    ASSERT_EQ(admin.size(), 1u);
    EXPECT_EQ(admin[0].kind, rm::HoldKind::Admin);
    EXPECT_FALSE(w.destroyed("both@x"));
    EXPECT_EQ(w.index->active_holds(w.digest("both@x")).size(), 1u);
}

TEST_P(DovecotSweep, AReleaseFolderOthersCanWriteReleasesNothing) {
    ASSERT_NO_FATAL_FAILURE(release_folder_with_acls());
    const std::string shared(kShared);
    w.row("case@x", kPast, "respect-phoneline", "inbound", World::token("case@x"));
    deliver(kShared, "case@x", "Hold/Safeguarding");
    ASSERT_EQ(sweep().hold_folders.placed, 1);
    ASSERT_EQ(dovecot->doveadm("expunge -u " + shared + " mailbox Hold/Safeguarding all"), 0);
    // No owner line: Dovecot's default gives the shared login every right there.
    deliver(kShared, "case@x", "Hold/Release");

    auto s = sweep();
    EXPECT_EQ(s.exit_code, 0) << w.last_error;
    ASSERT_EQ(s.hold_folders.release_refused.size(), 1u);
    const std::string& why = s.hold_folders.release_refused[0];
    EXPECT_NE(why.find("release folder Hold/Release of the respect-phoneline mailbox not used"), std::string::npos) << why;
    EXPECT_NE(why.find("the shared login itself has insert"), std::string::npos) << why;
    EXPECT_EQ(why.find(kShared), std::string::npos) << "names no login: " << why;
    EXPECT_EQ(s.hold_folders.released, 0);
    EXPECT_FALSE(w.destroyed("case@x"));
    EXPECT_EQ(listed(kShared, "Hold/Release"), ids({"case@x"}));

    // Guarded now: the next run releases it, and it goes.
    ASSERT_EQ(dovecot->doveadm("acl set -u " + shared + " Hold/Release owner lookup read write-seen write-deleted expunge"), 0);
    ASSERT_EQ(dovecot->doveadm("acl set -u " + shared + " Hold/Release anyone lookup"), 0);
    s = sweep();
    EXPECT_EQ(s.exit_code, 0) << w.last_error;
    EXPECT_EQ(s.hold_folders.released, 1);
    EXPECT_TRUE(w.destroyed("case@x"));
    EXPECT_TRUE(listed(kShared, "Hold/Release").empty());
}

// A message held in the hold folder and put in the guarded release folder: a dry run
// says it would release, and lifts nothing; a run whose hold folder cannot be read (the
// copy there may not be the only one) releases nothing and stops.
TEST_P(DovecotSweep, ADryRunOrAnUnreadHoldFolderReleasesNothing) {
    ASSERT_NO_FATAL_FAILURE(release_folder_with_acls());
    const std::string shared(kShared);
    const auto release_acl = [&](const std::string& owner_rights) {
        ASSERT_EQ(dovecot->doveadm("acl set -u " + shared + " Hold/Release owner " + owner_rights), 0);
    };
    ASSERT_EQ(dovecot->doveadm("acl set -u " + shared + " Hold/Release anyone lookup"), 0);
    w.row("case@x", kPast, "respect-phoneline", "inbound", World::token("case@x"));
    w.row("other@x", kPast, "respect-phoneline", "inbound", World::token("other@x"));
    deliver(kShared, "case@x", "Hold/Safeguarding");
    deliver(kShared, "other@x", "Hold/Safeguarding");
    release_acl("lookup read write-seen write-deleted expunge");
    ASSERT_EQ(sweep().hold_folders.placed, 2);
    ASSERT_EQ(dovecot->doveadm("expunge -u " + shared + " mailbox Hold/Safeguarding header message-id case@x"), 0);
    release_acl("lookup read write-seen write-deleted expunge insert");
    deliver(kShared, "case@x", "Hold/Release");
    deliver(kShared, "other@x", "Hold/Release");
    release_acl("lookup read write-seen write-deleted expunge");

    rm::sweep::SweepOptions dry;
    dry.dry_run = true;
    auto s = sweep(dry);
    EXPECT_EQ(s.exit_code, 0) << w.last_error;
    EXPECT_EQ(s.hold_folders.released, 1);
    EXPECT_EQ(s.hold_folders.release_in_hold_folder, 1);
    EXPECT_EQ(w.index->active_holds(w.digest("case@x")).size(), 1u) << "a dry run lifts nothing";
    EXPECT_FALSE(w.destroyed("case@x"));

    // The hold folder cannot be read (other@x's copy there is not seen): nothing released.
    std::string hold_guid;
    {
        rm::SweepDovecot e;
        e.config_file = dovecot->config();
        for (const auto& m : rm::sweep::dovecot::LocalDoveadm(e).mailboxes(shared))
            if (m.name == "Hold/Safeguarding" || m.name == "Hold.Safeguarding") hold_guid = m.guid;
    }
    ASSERT_FALSE(hold_guid.empty());
    log_doveadm_runs("case \"$*\" in *" + hold_guid + "*) [ \"$5\" = fetch ] && { echo 'Error: index corrupted' >&2; exit 75; };; esac");
    s = sweep();
    EXPECT_EQ(s.exit_code, 3) << w.last_error;
    EXPECT_EQ(s.hold_folders.released, 0);
    EXPECT_EQ(w.index->active_holds(w.digest("case@x")).size(), 1u);
    EXPECT_EQ(w.index->active_holds(w.digest("other@x")).size(), 1u);
    EXPECT_FALSE(w.destroyed("case@x"));
}

TEST_P(DovecotSweep, AMissingReleaseFolderIsNotMadeAndReleasesNothing) {
    shared_extra = "hold_folders = { \"Hold/Safeguarding\" = \"safeguarding\" }\nrelease_folder = \"Hold/Release\"\n"
                   "release_logins = [\"lead@staff.example\"]\n";
    deliver(kShared, "first@x");
    const auto s = sweep();
    EXPECT_EQ(s.exit_code, 0) << w.last_error;
    ASSERT_EQ(s.hold_folders.release_refused.size(), 1u);
    EXPECT_NE(s.hold_folders.release_refused[0].find("does not exist"), std::string::npos);
    EXPECT_NE(dovecot->doveadm("mailbox status -u " + std::string(kShared) + " messages Hold/Release"), 0)
        << "made with Dovecot's default ACL, the shared login could release with it";
}

TEST(DovecotStoreNames, FoldersWrittenWithSlashesFindDovecotsNames) {
    using rm::sweep::dovecot::dovecot_names;
    EXPECT_EQ(dovecot_names("Sent Items/2024", '.'),
              (std::vector<std::string>{"Sent Items.2024", "INBOX.Sent Items.2024"}));
    EXPECT_EQ(dovecot_names("Sent", '/'), (std::vector<std::string>{"Sent", "INBOX/Sent"}));
}

TEST(DovecotStoreNames, UidSetsAreRanges) {
    using rm::sweep::dovecot::uid_set;
    EXPECT_EQ(uid_set({7, 1, 2, 3, 9, 10}), "1:3,7,9:10");
    EXPECT_EQ(uid_set({5}), "5");
}
