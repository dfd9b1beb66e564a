// Messages the sweeper must find whatever their header looks like: a header block of any
// size an MTA accepts, and one odd file among them that is not mail it can read.
#include "sweep_test_util.hpp"

using namespace sweeptest;
using rm::sweep::Skip;
using rm::sweep::Summary;

TEST(SweepHeaders, AMessageWithAHugeHeaderBlockIsFoundAndDestroyed) {
    World w;
    // A long relay chain, each field under Postfix's header_size_limit, the block ~1 MB.
    std::string received;
    for (int i = 0; i < 12; ++i)
        received += "Received: from relay" + std::to_string(i) + ".example.org; " + std::string(90 * 1024, 'r') + "\n";
    const auto copy = w.deliver(w.shared_a, "long-chain@x", "cur", received);
    w.row("long-chain@x", kPast);
    const Summary s = w.sweep(kNow);
    EXPECT_EQ(s.exit_code, 0) << w.last_error;
    EXPECT_EQ(skips(s, Skip::HeaderTooLarge), 0);
    expect_gone(w, {copy}, {"long-chain@x"});
}

TEST(SweepHeaders, OneCompressedFileIsASkipAndTheRunGoesOn) {
    World w;
    const auto fine = w.deliver(w.shared_a, "fine@x");
    const auto also = w.deliver(w.shared_a, "also@x");
    // A user's upload, a restore gone wrong: one gzip file among plain messages.
    const fs::path odd = w.shared_a / "cur" / "1700000000.M99P1.odd:2,S";
    spit(odd, std::string("\x1f\x8b\x08\0\0\0\0\0", 8));
    w.row("fine@x", kPast);
    w.row("also@x", kPast);
    const Summary s = w.sweep(kNow);
    EXPECT_EQ(s.exit_code, 4) << w.last_error;
    EXPECT_EQ(skips(s, Skip::ForeignFile), 1);
    EXPECT_TRUE(fs::exists(odd));
    expect_gone(w, {fine, also}, {"fine@x"});
}

TEST(SweepHeaders, AMailboxOfCompressedFilesOnlyIsAConfigErrorAndChangesNothing) {
    World w;
    const auto expired = w.deliver(w.shared_b, "untouched@x");
    w.row("untouched@x", kPast, "mens-advice-line");
    // Dovecot's zlib plugin turned on for one mailbox: every message in it is compressed.
    for (int i = 0; i < 3; ++i)
        spit(w.shared_a / "cur" / ("170000000" + std::to_string(i) + ".M" + std::to_string(i) + "P1.z:2,S"),
             std::string("\x28\xb5\x2f\xfd\0\0", 6));
    const auto before = tree(w.dir / "vmail");
    const Summary s = w.sweep(kNow);
    EXPECT_EQ(s.exit_code, 2);
    EXPECT_NE(w.last_error.find("zstd"), std::string::npos) << w.last_error;
    EXPECT_NE(w.last_error.find("[[sweep.mailbox]] number 1"), std::string::npos) << w.last_error;
    EXPECT_EQ(tree(w.dir / "vmail"), before);
    EXPECT_FALSE(w.destroyed("untouched@x"));
}

TEST(SweepHeaders, FoldedAndOddlyCasedMessageIdsAreFound) {
    World w;
    make_maildir(w.shared_a);
    const fs::path p = w.shared_a / "cur" / "1700000000.M1P1.host:2,";
    spit(p, "message-id:\r\n <folded@\r\n example.org>\r\nSubject: s\r\n\r\nbody\r\n");
    w.row("folded@example.org", kPast);
    EXPECT_EQ(w.sweep(kNow).exit_code, 0);
    expect_gone(w, {p}, {"folded@example.org"});
}
