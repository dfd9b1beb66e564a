// Staff hold a message from their mail client by moving it into a hold folder of the
// line's shared mailbox: the sweep holds it (every copy) before it destroys anything.
#include <nlohmann/json.hpp>

#include <sstream>

#include "sweep_test_util.hpp"
#include "sweeper/summary.hpp"

using namespace sweeptest;
using rm::sweep::Summary;
using rm::sweep::SweepOptions;

namespace {

const std::string kLabel = "folder Hold/Safeguarding of the mens-advice-line mailbox";

// A world whose mens-advice-line mailbox has the hold folder "Hold/Safeguarding".
struct HoldWorld : World {
    HoldWorld() {
        shared_b_extra = "hold_folders = { \"Hold/Safeguarding\" = \"safeguarding\" }\n";
        make_maildir(hold_folder());
    }
    fs::path hold_folder() const { return shared_b / ".Hold.Safeguarding"; }
    // The folder hold in force on the message, if any.
    std::optional<rm::Hold> hold_on(const std::string& id) const {
        for (auto& h : index->active_holds(digest(id)))
            if (h.kind == rm::HoldKind::Folder) return h;
        return std::nullopt;
    }
};

std::string text_of(const Summary& s) {
    std::ostringstream out;
    rm::sweep::print_text(out, s);
    return out.str();
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST(SweepHoldFolders, AMessageInAHoldFolderIsHeldWithEveryCopyBeforeAnythingIsDestroyed) {
    HoldWorld w;
    // A copy in the other line's mailbox, read before the hold folder's mailbox, and one
    // in a staff member's deleted items: all past their date.
    const auto held = w.deliver(w.hold_folder(), "case@x");
    const auto elsewhere = w.deliver(w.shared_a, "case@x");
    const auto deleted = w.deliver(w.staff / "alice" / ".Trash", "case@x");
    const auto other = w.deliver(w.shared_b, "other@x");
    w.row("case@x", kPast, "mens-advice-line,respect-phoneline", "internal");
    w.row("other@x", kPast, "mens-advice-line");

    const Summary s = w.sweep(kNow);
    EXPECT_EQ(s.exit_code, 0) << w.last_error;
    for (const auto& copy : {held, elsewhere, deleted}) EXPECT_TRUE(fs::exists(copy)) << copy;
    EXPECT_FALSE(w.destroyed("case@x"));
    expect_gone(w, {other}, {"other@x"});
    const auto hold = w.hold_on("case@x");
    ASSERT_TRUE(hold);
    EXPECT_EQ(hold->reason, "safeguarding");
    EXPECT_EQ(hold->placed_by, kLabel);
    EXPECT_EQ(hold->placed_at, kNow);
    EXPECT_EQ(s.hold_folders.placed, 1);
    EXPECT_EQ(s.hold_folders.already, 0);
    EXPECT_TRUE(contains(text_of(s), "hold folders: placed 1 folder hold(s)\n")) << text_of(s);
    const auto j = nlohmann::json::parse(rm::sweep::to_json(s));
    EXPECT_EQ(j["hold_folders"]["placed"], 1);

    // Each night asks again: the hold is there already.
    const Summary again = w.sweep(kNow + hours(24));
    EXPECT_EQ(again.exit_code, 0) << w.last_error;
    EXPECT_EQ(again.hold_folders.placed, 0);
    EXPECT_EQ(again.hold_folders.already, 1);
    EXPECT_TRUE(contains(text_of(again), "hold folders: 1 message(s) already on folder hold\n")) << text_of(again);
    for (const auto& copy : {held, elsewhere, deleted}) EXPECT_TRUE(fs::exists(copy)) << copy;
}

TEST(SweepHoldFolders, AMessageTakenOutOfTheHoldFolderStaysHeldUntilReleased) {
    HoldWorld w;
    const auto held = w.deliver(w.hold_folder(), "case@x");
    w.row("case@x", kFuture, "mens-advice-line");
    EXPECT_EQ(w.sweep(kNow).exit_code, 0) << w.last_error;
    ASSERT_TRUE(w.hold_on("case@x"));

    // A staff member moves it back to the inbox; its date comes.
    const fs::path back = w.shared_b / "cur" / held.filename();
    fs::rename(held, back);
    const Summary s = w.sweep(at(kFuture));
    EXPECT_EQ(s.exit_code, 0) << w.last_error;
    EXPECT_TRUE(fs::exists(back));
    EXPECT_FALSE(w.destroyed("case@x"));
    EXPECT_EQ(s.hold_folders.no_longer, 1);
    EXPECT_EQ(s.lines.at("mens-advice-line").held, 1);
    EXPECT_TRUE(contains(text_of(s), "1 message(s) on folder hold are no longer in a hold folder; they stay held "
                                     "until released with retentionctl release\n"))
        << text_of(s);

    w.index->release(w.digest("case@x"), "tester", at(kFuture));
    const Summary released = w.sweep(at(kFuture) + hours(1));
    EXPECT_EQ(released.exit_code, 0) << w.last_error;
    EXPECT_EQ(released.hold_folders.no_longer, 0);
    expect_gone(w, {back}, {"case@x"});
}

TEST(SweepHoldFolders, ADryRunPlacesNothingButSaysWhatItWould) {
    HoldWorld w;
    fs::remove_all(w.hold_folder());
    const auto elsewhere = w.deliver(w.shared_a, "case@x");
    w.row("case@x", kPast, "mens-advice-line");
    SweepOptions dry;
    dry.dry_run = true;
    const Summary missing = w.sweep(kNow, dry);
    EXPECT_EQ(missing.exit_code, 0) << w.last_error;
    EXPECT_EQ(missing.hold_folders.made, 1);
    EXPECT_FALSE(fs::exists(w.hold_folder()));
    EXPECT_TRUE(contains(text_of(missing), "hold folders: would make 1 missing hold folder(s)\n")) << text_of(missing);

    make_maildir(w.hold_folder());
    const auto held = w.deliver(w.hold_folder(), "case@x");
    const auto before = tree(w.dir / "vmail");
    const Summary s = w.sweep(kNow, dry);
    EXPECT_EQ(s.exit_code, 0) << w.last_error;
    EXPECT_EQ(s.hold_folders.placed, 1);
    EXPECT_FALSE(w.hold_on("case@x"));
    EXPECT_EQ(tree(w.dir / "vmail"), before);
    // What it would destroy leaves the held message's copies out.
    EXPECT_EQ(s.destroyed_total(), 0);
    EXPECT_TRUE(contains(text_of(s), "hold folders: would place 1 folder hold(s)\n")) << text_of(s);
    (void)elsewhere;
    (void)held;
}

TEST(SweepHoldFolders, AMissingHoldFolderIsMadeForStaffToUse) {
    HoldWorld w;
    fs::remove_all(w.hold_folder());
    const Summary s = w.sweep(kNow);
    EXPECT_EQ(s.exit_code, 0) << w.last_error;
    EXPECT_EQ(s.hold_folders.made, 1);
    EXPECT_TRUE(fs::is_directory(w.hold_folder() / "cur"));
    EXPECT_TRUE(fs::exists(w.hold_folder() / "maildirfolder"));
    EXPECT_TRUE(contains(text_of(s), "hold folders: made 1 missing hold folder(s)\n")) << text_of(s);
    EXPECT_EQ(w.sweep(kNow + hours(1)).hold_folders.made, 0);
}

TEST(SweepHoldFolders, MailWithoutARowInAHoldFolderIsLeftAlone) {
    HoldWorld w;
    w.sweep_extra = "orphans = \"expire\"\n";
    // Delivered long ago: as an orphan elsewhere in the mailbox it would expire.
    const auto stranger = w.deliver(w.hold_folder(), "not-ours@x", "cur", "", 1600000000);
    const Summary s = w.sweep(kNow);
    EXPECT_EQ(s.exit_code, 0) << w.last_error;
    EXPECT_TRUE(fs::exists(stranger));
    EXPECT_EQ(s.hold_folders.not_helpline, 1);
    EXPECT_EQ(s.hold_folders.placed, 0);
    EXPECT_TRUE(contains(text_of(s), "hold folders: 1 message(s) in hold folders are not helpline mail (no index "
                                     "row): left alone\n"))
        << text_of(s);
}

TEST(SweepHoldFolders, AHoldFolderThatCannotBeReadStopsAllDestruction) {
    HoldWorld w;
    // The hold folder is a symbolic link (never followed): its messages cannot be seen.
    fs::remove_all(w.hold_folder());
    make_maildir(w.dir / "elsewhere");
    fs::create_directory_symlink(w.dir / "elsewhere", w.hold_folder());
    const auto expired = w.deliver(w.shared_a, "old@x");
    const auto sent = w.deliver(w.staff / "alice" / ".Sent", "reply@x");
    w.row("old@x", kPast);
    w.row("reply@x", kFuture, "respect-phoneline", "outbound");
    for (const bool force : {false, true}) {
        SweepOptions o;
        o.force = force;
        const Summary s = w.sweep(kNow, o);
        EXPECT_EQ(s.exit_code, 3) << w.last_error;
        ASSERT_TRUE(s.stop);
        EXPECT_TRUE(contains(*s.stop, "hold " + kLabel + " could not be read")) << *s.stop;
        EXPECT_FALSE(contains(*s.stop, w.dir.string())) << *s.stop;
        EXPECT_TRUE(fs::exists(expired));
        EXPECT_TRUE(fs::exists(sent));  // nor moved
        EXPECT_FALSE(w.destroyed("old@x"));
        EXPECT_EQ(s.hold_folders.unreadable, std::vector<std::string>{kLabel});
    }
}

// Staff file held mail in folders of their own below the hold folder.
TEST(SweepHoldFolders, AFolderBelowAHoldFolderHoldsToo) {
    HoldWorld w;
    const fs::path below = w.shared_b / ".Hold.Safeguarding.Case 12";
    make_maildir(below);
    const auto held = w.deliver(below, "case@x");
    const auto elsewhere = w.deliver(w.staff / "alice" / ".Trash", "case@x");
    w.row("case@x", kPast, "mens-advice-line");
    const Summary s = w.sweep(kNow);
    EXPECT_EQ(s.exit_code, 0) << w.last_error;
    EXPECT_TRUE(fs::exists(held));
    EXPECT_TRUE(fs::exists(elsewhere));
    EXPECT_FALSE(w.destroyed("case@x"));
    const auto hold = w.hold_on("case@x");
    ASSERT_TRUE(hold);
    EXPECT_EQ(hold->placed_by, kLabel);
}

// The shared mailbox's disk is not mounted: its mount point is an empty folder. What staff
// put in its hold folders cannot be seen, so nothing anywhere is destroyed, and no hold
// folder is made on the mount point.
TEST(SweepHoldFolders, ASharedMailboxThatIsNotThereStopsAllDestruction) {
    HoldWorld w;
    fs::remove_all(w.shared_b);
    fs::create_directories(w.shared_b);
    const auto deleted = w.deliver(w.staff / "alice" / ".Trash", "case@x");
    w.row("case@x", kPast, "mens-advice-line");
    SweepOptions o;
    o.force = true;
    const Summary s = w.sweep(kNow, o);
    EXPECT_EQ(s.exit_code, 3) << w.last_error;
    ASSERT_TRUE(s.stop);
    EXPECT_TRUE(contains(*s.stop, "hold " + kLabel + " could not be read")) << *s.stop;
    EXPECT_TRUE(fs::exists(deleted));
    EXPECT_FALSE(w.destroyed("case@x"));
    EXPECT_TRUE(fs::is_empty(w.shared_b)) << "nothing made on the mount point";
}

TEST(SweepHoldFolders, AHoldFolderTheSweeperMayNotReadStopsAllDestruction) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to run the sweep as another user";
    HoldWorld w;
    w.deliver(w.hold_folder(), "case@x");
    const auto expired = w.deliver(w.shared_a, "old@x");
    w.row("old@x", kPast);
    ::chmod(w.hold_folder().c_str(), 0);
    const Summary s = w.sweep_as_unprivileged(kNow);
    EXPECT_EQ(s.exit_code, 3) << w.last_error;
    EXPECT_TRUE(fs::exists(expired));
    EXPECT_FALSE(w.destroyed("old@x"));
}
