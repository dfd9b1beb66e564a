// Holds through retentionctl's logic: reasons from the config, case references checked,
// clear refusals for unknown, already held and not held messages.
#include <gtest/gtest.h>
#include <pwd.h>
#include <unistd.h>

#include "core/config.hpp"
#include "ctl/error.hpp"
#include "ctl/holds.hpp"
#include "config_test_util.hpp"
#include "ctl_test_util.hpp"

using namespace rm;
using namespace rm::ctl;
using namespace ctltest;

namespace {

const std::string kConfig = std::string(test::kOneLineConfig) + R"(
[holds]
reasons = ["safeguarding", "court-order"]
)";

// Runs `f`, which must throw CtlError; returns it.
template <typename F>
CtlError error_of(F f) {
    try {
        f();
    } catch (const CtlError& e) {
        return e;
    }
    ADD_FAILURE() << "no CtlError";
    return CtlError(0, "");
}

const auto kNow = at(date(2026, 3, 1));

}  // namespace

TEST(CtlHolds, ReasonMustBeOneOfTheConfiguredReasons) {
    const Config c = parse_config(kConfig, "/etc/retention-milter/retention.toml");
    EXPECT_NO_THROW(validate_reason(c, "safeguarding"));
    EXPECT_NO_THROW(validate_reason(c, "court-order"));
    // "legal" is a default reason, but this config replaced the list.
    for (const char* bad : {"legal", "", "Safeguarding", "safeguarding "}) {
        const CtlError e = error_of([&] { validate_reason(c, bad); });
        EXPECT_EQ(e.code(), kExitConfig);
        EXPECT_NE(std::string(e.what()).find("safeguarding, court-order"), std::string::npos) << e.what();
    }
}

TEST(CtlHolds, DefaultReasonsApplyWithoutAHoldsTable) {
    const Config c = parse_config(R"(
[policy.email]
retain = "6 months"
[[line]]
tag = "a"
addresses = ["a@example.org"]
policy = "email"
)", "x.toml");
    for (const char* r : {"safeguarding", "legal", "police-request", "consent"}) EXPECT_NO_THROW(validate_reason(c, r)) << r;
}

TEST(CtlHolds, ReferencesAreCaseNumbersNeverFreeText) {
    for (const char* good : {"", "SG-2026-0142", "a", "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"}) EXPECT_NO_THROW(validate_ref(good)) << good;
    for (const char* bad : {"John Smith", "SG_1", "SG/1", "ref:1", "é", "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456", "a b"}) {
        const CtlError e = error_of([&] { validate_ref(bad); });
        EXPECT_EQ(e.code(), kExitConfig) << bad;
        EXPECT_NE(std::string(e.what()).find("never be a name"), std::string::npos);
    }
}

TEST(CtlHolds, InvokingUserIsTheSudoUserWhenRootRunsThroughSudo) {
    const passwd* root = ::getpwuid(0);
    ASSERT_NE(root, nullptr);
    EXPECT_EQ(invoking_user(0, nullptr), root->pw_name);
    EXPECT_EQ(invoking_user(0, ""), root->pw_name);
    EXPECT_EQ(invoking_user(0, "no-such-user-here-xyz"), root->pw_name);  // not a real account: ignored
    EXPECT_EQ(invoking_user(0, root->pw_name), root->pw_name);
    // A non-root user cannot claim to be someone else through the environment.
    if (const passwd* other = ::getpwnam("nobody")) {
        EXPECT_EQ(invoking_user(other->pw_uid, "root"), "nobody");
    }
    EXPECT_EQ(invoking_user(4000123, nullptr), "uid 4000123");
}

TEST(CtlHolds, HoldAndReleaseAreRecordedWithUserAndTime) {
    IndexScene s;
    s.add("a@example.org", "mens-advice-line", date(2026, 1, 10), date(2026, 7, 10));
    s.add("a@example.org", "mens-advice-line", date(2026, 1, 11), date(2026, 7, 11), "outbound");
    const Digest d = s.key.digest("a@example.org");
    place_hold(*s.index, d, {"safeguarding", "SG-1", "alice", kNow}, true);
    const auto holds = s.index->active_holds(d);
    ASSERT_EQ(holds.size(), 1u);
    const Hold* h = &holds.front();
    EXPECT_EQ(h->reason, "safeguarding");
    EXPECT_EQ(h->ref, "SG-1");
    EXPECT_EQ(h->placed_by, "alice");
    EXPECT_EQ(h->placed_at, std::chrono::floor<std::chrono::seconds>(kNow));

    const Hold lifted = release_hold(*s.index, d, "bob", kNow + std::chrono::hours(1), true).front();
    EXPECT_EQ(lifted.reason, "safeguarding");
    EXPECT_TRUE(s.index->active_holds(d).empty());
    const auto history = s.index->holds_for(d);
    ASSERT_EQ(history.size(), 1u);
    EXPECT_EQ(history[0].released_by, "bob");
}

// A folder hold (staff) and an admin's hold (police request, say) on one message: lifting
// both by one command must be asked for by name.
TEST(CtlHolds, ReleaseAsksWhichHoldWhenAnAdminAndAFolderHoldBothKeepAMessage) {
    IndexScene s;
    s.add("a@example.org", "mens-advice-line", date(2026, 1, 10), date(2026, 7, 10));
    const Digest d = s.key.digest("a@example.org");
    ASSERT_EQ(s.index->hold_from_folder(d, "safeguarding", folder_hold_label("Hold/Safeguarding", "mens-advice-line"),
                                        kNow),
              FolderHold::Placed);
    place_hold(*s.index, d, {"police-request", "PR-1", "alice", kNow}, true);
    const CtlError both = error_of([&] { release_hold(*s.index, d, "bob", kNow, true); });
    EXPECT_EQ(both.code(), 2);
    EXPECT_NE(std::string(both.what()).find("--kind"), std::string::npos) << both.what();
    EXPECT_NE(std::string(both.what()).find("folder Hold/Safeguarding of the mens-advice-line mailbox"),
              std::string::npos)
        << both.what();
    EXPECT_EQ(s.index->active_holds(d).size(), 2u) << "nothing lifted";

    const auto lifted = release_hold(*s.index, d, "bob", kNow, true, HoldKind::Folder);
    ASSERT_EQ(lifted.size(), 1u);
    EXPECT_EQ(lifted[0].kind, HoldKind::Folder);
    const auto left = s.index->active_holds(d);
    ASSERT_EQ(left.size(), 1u);
    EXPECT_EQ(left[0].placed_by, "alice");
    EXPECT_EQ(error_of([&] { release_hold(*s.index, d, "bob", kNow, true, HoldKind::Folder); }).code(), 1);
    EXPECT_EQ(error_of([&] { parse_hold_kind("both"); }).code(), 2);
}

TEST(CtlHolds, HoldOnAnUnknownMessageIsAClearError) {
    IndexScene s;
    const CtlError e = error_of([&] { place_hold(*s.index, s.key.digest("nobody@example.org"), {"legal", "", "alice", kNow}, true); });
    EXPECT_EQ(e.code(), kExitRuntime);
    EXPECT_NE(std::string(e.what()).find("no message with that Message-ID is in the index"), std::string::npos);
    EXPECT_EQ(std::string(e.what()).find("does not look like"), std::string::npos);
    const CtlError malformed = error_of([&] { place_hold(*s.index, s.key.digest("x y"), {"legal", "", "alice", kNow}, false); });
    EXPECT_NE(std::string(malformed.what()).find("does not look like a Message-ID"), std::string::npos);
}

TEST(CtlHolds, SecondHoldIsRefusedNamingTheFirst) {
    IndexScene s;
    s.add("a@example.org", "mens-advice-line", date(2026, 1, 10), date(2026, 7, 10));
    const Digest d = s.key.digest("a@example.org");
    place_hold(*s.index, d, {"safeguarding", "SG-1", "alice", kNow}, true);
    const CtlError e = error_of([&] { place_hold(*s.index, d, {"legal", "L-2", "bob", kNow}, true); });
    EXPECT_EQ(e.code(), kExitRuntime);
    EXPECT_NE(std::string(e.what()).find("already held"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("SG-1"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("release it first"), std::string::npos);
}

TEST(CtlHolds, ReleasingAMessageNotHeldIsAClearError) {
    IndexScene s;
    s.add("a@example.org", "mens-advice-line", date(2026, 1, 10), date(2026, 7, 10));
    const CtlError e = error_of([&] { release_hold(*s.index, s.key.digest("a@example.org"), "bob", kNow, true); });
    EXPECT_EQ(e.code(), kExitRuntime);
    EXPECT_NE(std::string(e.what()).find("not held"), std::string::npos);
    const CtlError unknown = error_of([&] { release_hold(*s.index, s.key.digest("b@example.org"), "bob", kNow, true); });
    EXPECT_NE(std::string(unknown.what()).find("no message with that Message-ID"), std::string::npos);
}

TEST(CtlHolds, ADestroyedMessageCannotBeHeld) {
    IndexScene s;
    s.add("a@example.org", "mens-advice-line", date(2025, 1, 10), date(2025, 7, 10));
    const Digest d = s.key.digest("a@example.org");
    s.index->mark_destroyed(d, at(date(2025, 7, 11)), 2);
    const CtlError e = error_of([&] { place_hold(*s.index, d, {"legal", "", "alice", kNow}, true); });
    EXPECT_NE(std::string(e.what()).find("already been destroyed"), std::string::npos);
}
