// Files named like the sweeper's own leftovers (".retention-sweep.NAME") are destroyed only
// when a run of it left them; anything else so named is a user's, reported and kept.
#include "sweep_test_util.hpp"
#include "sweeper/scan.hpp"

using namespace sweeptest;
using rm::sweep::Skip;
using rm::sweep::Summary;
using rm::sweep::SweepOptions;

TEST(SweepLeftovers, AUsersFileNamedLikeOurMarkerIsKeptAndReported) {
    World w;
    w.with_files = true;
    const fs::path notes = w.letters / ".retention-sweep.notes";
    spit(notes, "my notes on this year's letters");
    const fs::path in_maildir = w.shared_a / "cur" / ".retention-sweep.1700000000.M1P1.host:2,S";
    spit(in_maildir, "Message-ID: <placed@x>\n\nplaced by hand\n");
    const fs::path in_tmp = w.shared_a / "tmp" / ".retention-sweep.1700000000.M2P1.host";
    spit(in_tmp, "someone's file");
    const auto expired = w.deliver(w.shared_a, "expired@x");
    w.row("expired@x", kPast);
    SweepOptions o;
    o.list = true;
    const Summary s = w.sweep(kNow, o);
    EXPECT_EQ(s.exit_code, 4) << w.last_error;
    EXPECT_EQ(skips(s, Skip::NotOurLeftover), 3);
    EXPECT_EQ(s.residues.interrupted_finished, 0);
    EXPECT_EQ(slurp(notes), "my notes on this year's letters");
    EXPECT_TRUE(fs::exists(in_maildir));
    EXPECT_TRUE(fs::exists(in_tmp));
    EXPECT_FALSE(fs::exists(expired));  // the run goes on
    EXPECT_TRUE(w.destroyed("expired@x"));
}
