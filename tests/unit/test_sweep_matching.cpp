// Which index records a copy in a store belongs to, when senders reuse Message-IDs or
// choose them to match someone else's mail, and how holds and a running milter meet a
// sweep that is destroying. Real Maildir trees and a real index, as in test_sweep.cpp.
#include <fcntl.h>
#include <unistd.h>

#include <fstream>

#include "sweep_test_util.hpp"

using namespace sweeptest;
using rm::sweep::SweepOptions;
using rm::sweep::Summary;

// A web contact form that gives every message one Message-ID: each stamped copy goes on
// its own date, not on the date of the newest message that shares its ID.
TEST(Matching, EachStampedCopyOfAReusedMessageIdIsDestroyedOnItsOwnDate) {
    World w;
    const std::string first = World::token("form@x", 1), second = World::token("form@x", 2);
    const auto old_copy = w.deliver(w.shared_a, "form@x", "cur", World::record_header(first));
    const auto new_copy = w.deliver(w.shared_a, "form@x", "cur", World::record_header(second));
    w.row("form@x", kPast, "respect-phoneline", "inbound", first);
    w.row("form@x", kFuture, "respect-phoneline", "inbound", second);

    EXPECT_EQ(w.sweep(kNow).exit_code, 0) << w.last_error;
    EXPECT_FALSE(fs::exists(old_copy)) << "the earlier message waited for the later one's date";
    EXPECT_TRUE(fs::exists(new_copy));
    const auto rows = w.rows("form@x");
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[0].state, rm::RowState::Destroyed);
    EXPECT_EQ(rows[0].copies, 1);
    EXPECT_EQ(rows[1].state, rm::RowState::Present) << "only the record whose copies went is marked";

    EXPECT_EQ(w.sweep(at(kFuture)).exit_code, 0) << w.last_error;
    expect_gone(w, {new_copy}, {"form@x"});
}

// An outsider who received a staff member's private mail knows its Message-ID, and can
// write to a line with it: that must not make the private copy helpline mail.
TEST(Matching, AnOutsiderReusingAPrivateMessageIdCannotTouchAStaffMembersOwnMail) {
    World w;
    const auto sent = w.deliver(w.staff / "alice" / ".Sent", "private@alice.example");
    const auto trash = w.deliver(w.staff / "alice" / ".Trash", "private@alice.example");
    const std::string before_sent = slurp(sent), before_trash = slurp(trash);
    w.row("private@alice.example", kPast, "respect-phoneline", "inbound", World::token("private@alice.example"));

    const Summary day_before = w.sweep(at("2026-05-31"));
    EXPECT_EQ(day_before.exit_code, 0) << w.last_error;
    EXPECT_EQ(w.sweep(kNow).exit_code, 0) << w.last_error;
    ASSERT_TRUE(fs::exists(sent)) << "moved or destroyed";
    ASSERT_TRUE(fs::exists(trash)) << "destroyed";
    EXPECT_EQ(slurp(sent), before_sent);
    EXPECT_EQ(slurp(trash), before_trash);
    EXPECT_TRUE(w.copies("private@alice.example").size() == 2u) << "a copy appeared in a shared mailbox";
}

// A reply's Message-ID is known to its recipient, who can write back with it: the copy
// of the reply (no record token: the mail client saved it) still goes on its own date.
TEST(Matching, AnInboundMessageReusingAReplysIdDoesNotPostponeTheReply) {
    World w;
    const auto reply = w.deliver(w.shared_a / ".Sent", "reply@respect.example");
    const auto inbound = w.deliver(w.shared_a, "reply@respect.example", "cur",
                                   World::record_header(World::token("reply@respect.example")));
    w.row("reply@respect.example", kPast, "respect-phoneline", "outbound");
    w.row("reply@respect.example", kFuture, "respect-phoneline", "inbound", World::token("reply@respect.example"));

    EXPECT_EQ(w.sweep(kNow).exit_code, 0) << w.last_error;
    EXPECT_FALSE(fs::exists(reply));
    EXPECT_TRUE(fs::exists(inbound));
}

// The copy staff receive carries the record token, whatever the Message-ID headers are;
// a copy without one is matched by the first usable Message-ID, as the milter keyed it.
TEST(Matching, OddMessageIdHeadersDoNotHideACopy) {
    World w;
    const std::string token = World::token("odd@x");
    const auto stamped = w.deliver(w.shared_a / ".Archive", "ignored@x", "cur",
                                   "Message-ID:\nMessage-ID: <>\n" + World::record_header(token));
    w.row("odd@x", kPast, "respect-phoneline", "inbound", token);
    // A mail client's copy of a reply whose first Message-ID header is empty.
    make_maildir(w.staff / "bob" / ".Sent");
    const fs::path client = w.staff / "bob" / ".Sent" / "cur" / "1700000000.M1P1.host,S=1:2,S";
    spit(client, "Message-ID:\nMessage-ID: <second@respect.example>\nSubject: reply\n\nbody\n");
    w.row("second@respect.example", kPast, "respect-phoneline", "outbound");

    EXPECT_EQ(w.sweep(kNow).exit_code, 0) << w.last_error;
    expect_gone(w, {stamped, client}, {"odd@x", "second@respect.example"});
}

// The milter records while a sweep runs; a new message that reuses an expired one's
// Message-ID (or an MTA retrying) must not be written off by that sweep.
TEST(Matching, ARowRecordedWhileTheSweepRunsIsNotMarkedByIt) {
    World w;
    const auto copy = w.deliver(w.shared_a, "busy@x");
    w.row("busy@x", kPast);
    SweepOptions o;
    o.between_phases = [&] { w.row("busy@x", kFuture, "respect-phoneline", "inbound", World::token("busy@x", 2)); };
    EXPECT_EQ(w.sweep(kNow, o).exit_code, 0) << w.last_error;
    const auto rows = w.rows("busy@x");
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[1].state, rm::RowState::Present) << "a row written during the sweep was marked destroyed";
    (void)copy;
}

// Dovecot renames a file when its flags change, and staff file messages away: a copy
// that moved to another folder between the scan and its destruction still exists, so its
// record is not marked destroyed; the next run finds it there.
TEST(Matching, ACopyThatMovedAwayBeforeItsDestructionIsNotCountedDestroyed) {
    World w;
    const auto copy = w.deliver(w.shared_a, "filed@x");
    w.row("filed@x", kPast);
    make_maildir(w.shared_a / ".Archive");
    const fs::path filed = w.shared_a / ".Archive" / "cur" / copy.filename();
    SweepOptions o;
    o.between_phases = [&] { fs::rename(copy, filed); };
    w.sweep(kNow, o);
    EXPECT_TRUE(fs::exists(filed));
    EXPECT_FALSE(w.destroyed("filed@x")) << "marked destroyed while a copy exists";

    EXPECT_EQ(w.sweep(kNow + hours(1)).exit_code, 0) << w.last_error;
    expect_gone(w, {filed}, {"filed@x"});
    EXPECT_EQ(w.rows("filed@x").at(0).copies, 1);
}

// A hold placed after the scan but before the sweep claims the message still wins.
TEST(Matching, AHoldPlacedBeforeTheClaimKeepsEveryCopy) {
    World w;
    const auto copy = w.deliver(w.shared_a, "late@x");
    w.row("late@x", kPast);
    SweepOptions o;
    o.between_phases = [&] { w.index->hold(w.digest("late@x"), "police-request", "", "tester", kNow); };
    EXPECT_EQ(w.sweep(kNow, o).exit_code, 0) << w.last_error;
    EXPECT_TRUE(fs::exists(copy));
    EXPECT_FALSE(w.destroyed("late@x"));
    EXPECT_FALSE(w.rows("late@x").at(0).claimed) << "a claim outlived the run";
}

// With on_index_error = "accept", rows the index could not take wait in the pending
// journal: the sweep takes them in first, so such a message is no orphan.
TEST(Matching, ARowWaitingInThePendingJournalIsNoOrphan) {
    World w;
    w.sweep_extra = "orphans = \"expire\"\n";
    // Delivered eight months before the sweep (by its Maildir name), recorded with a date
    // that is still ahead: "expire" would take it by the line's policy.
    const auto copy = w.deliver(w.shared_a, "journalled@x", "cur", "", 1760500000);
    rm::MessageRow r;
    r.digest = w.digest("journalled@x");
    r.queue_id = "QJ1";
    r.lines = "respect-phoneline";
    r.direction = "inbound";
    r.policy = "email";
    r.passed_on = date("2026-01-01");
    r.retain_until = date(kFuture);
    rm::PendingJournal(w.index_path).append(r);

    SweepOptions dry;
    dry.dry_run = true;
    const Summary d = w.sweep(kNow, dry);
    EXPECT_EQ(d.lines.count("respect-phoneline") ? d.lines.at("respect-phoneline").orphans_destroyed : 0, 0)
        << "a dry run planned to destroy a journalled message as an orphan";

    EXPECT_EQ(w.sweep(kNow).exit_code, 0) << w.last_error;
    EXPECT_TRUE(fs::exists(copy)) << "destroyed as an orphan";
    ASSERT_EQ(w.rows("journalled@x").size(), 1u) << "the journal was not imported";
    EXPECT_EQ(w.rows("journalled@x").at(0).state, rm::RowState::Present);
    EXPECT_EQ(w.sweep(at(kFuture)).exit_code, 0) << w.last_error;
    EXPECT_FALSE(fs::exists(copy));
}
