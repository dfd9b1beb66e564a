#include <gtest/gtest.h>

#include <algorithm>

#include "config_test_util.hpp"
#include "core/message_edits.hpp"

using namespace rm;
using namespace std::chrono;
using namespace std::string_literals;


namespace {

const char* kConfig = test::kOneLineConfig;

MessageFacts inbound() {
    MessageFacts f;
    f.envelope_sender = "<a@example.net>";
    f.recipients = {"<info@mensadviceline.org.uk>"};
    f.passed_at = sys_days{Date{year{2026}, month{11}, day{28}}};
    return f;
}

}  // namespace

TEST(MessageEdits, ForgedCopiesRemovedHighestFirstThenOursAdded) {
    const Config c = parse_config(kConfig, "t");
    HeaderTracker h;
    h.add("From", "a@example.net");
    h.add("x-retain-until", "2099-01-01");
    h.add("Message-ID", "<m1@example.net>");
    h.add("X-RETAIN-UNTIL", " 2099-01-02");
    h.add(" X-Helpline-Line", "forged");
    h.add("X-Retain-Until", "\r\n\t2099-01-03");
    const auto plan = plan_message(c, inbound(), h, "mx");
    std::vector<HeaderEdit> want = {
        {HeaderEdit::Kind::Delete, "X-Helpline-Line", 1, ""},
        {HeaderEdit::Kind::Delete, "X-Retain-Until", 3, ""},
        {HeaderEdit::Kind::Delete, "X-Retain-Until", 2, ""},
        {HeaderEdit::Kind::Delete, "X-Retain-Until", 1, ""},
        {HeaderEdit::Kind::Add, "X-Helpline-Line", 0, "mens-advice-line"},
        {HeaderEdit::Kind::Add, "X-Helpline-Direction", 0, "inbound"},
        {HeaderEdit::Kind::Add, "X-Retain-Until", 0, "2027-05-28"},
        {HeaderEdit::Kind::Add, "X-Retention-Policy", 0, "email"},
        {HeaderEdit::Kind::Add, "X-Retention-Record", 0, plan.record_token},
    };
    EXPECT_EQ(plan.edits, want);
    EXPECT_EQ(plan.message_id, "m1@example.net");
    EXPECT_FALSE(plan.added_message_id);
    EXPECT_TRUE(record_token_of(plan.record_token)) << plan.record_token;
}

TEST(MessageEdits, EachStampedMessageGetsARecordTokenOfItsOwnAndForgedOnesGo) {
    const Config c = parse_config(kConfig, "t");
    HeaderTracker h;
    h.add("Message-ID", "<same@example.net>");
    h.add("x-retention-record", "0123456789abcdef0123456789abcdef");
    h.add("X-Retention-Record", "forged");
    const auto a = plan_message(c, inbound(), h, "mx");
    const auto b = plan_message(c, inbound(), h, "mx");
    EXPECT_EQ(a.message_id, b.message_id);
    EXPECT_NE(a.record_token, b.record_token) << "a reused Message-ID must not share a record";
    const std::vector<HeaderEdit> deletes = {{HeaderEdit::Kind::Delete, "X-Retention-Record", 2, ""},
                                             {HeaderEdit::Kind::Delete, "X-Retention-Record", 1, ""}};
    EXPECT_EQ(std::vector<HeaderEdit>(a.edits.begin(), a.edits.begin() + 2), deletes);
    EXPECT_EQ(a.edits.back(), (HeaderEdit{HeaderEdit::Kind::Add, "X-Retention-Record", 0, a.record_token}));
}

// Clients show the first Message-ID header: the one indexed must be the first one left.
TEST(MessageEdits, UnusableMessageIdsBeforeAUsableOneAreDeletedNotJoined) {
    const Config c = parse_config(kConfig, "t");
    HeaderTracker h;
    h.add("Message-ID", "");
    h.add("Message-ID", " <>");
    h.add("Message-ID", " <");
    h.add("Message-ID", " <real@example.net>");
    h.add("Message-ID", " <second@example.net>");
    const auto plan = plan_message(c, inbound(), h, "mx");
    EXPECT_EQ(plan.message_id, "real@example.net");
    EXPECT_FALSE(plan.added_message_id);
    // Every other one goes, the later usable one too: a copy has the one id it is indexed by.
    const std::vector<HeaderEdit> deletes = {{HeaderEdit::Kind::Delete, "Message-ID", 5, ""},
                                             {HeaderEdit::Kind::Delete, "Message-ID", 3, ""},
                                             {HeaderEdit::Kind::Delete, "Message-ID", 2, ""},
                                             {HeaderEdit::Kind::Delete, "Message-ID", 1, ""}};
    EXPECT_EQ(std::vector<HeaderEdit>(plan.edits.begin(), plan.edits.begin() + 4), deletes);
    for (const auto& e : plan.edits) EXPECT_FALSE(e.kind == HeaderEdit::Kind::Add && e.name == "Message-ID");
}

TEST(MessageEdits, HelplineMailWithAFloodOfMessageIdsIsRefusedForGood) {
    const Config c = parse_config(kConfig, "t");
    HeaderTracker h;
    for (int i = 0; i < kMaxForgedCopies; ++i) h.add("Message-ID", "");
    EXPECT_FALSE(plan_message(c, inbound(), h, "mx").refuse_message_ids);
    h.add("Message-ID", "");
    const auto plan = plan_message(c, inbound(), h, "mx");
    EXPECT_TRUE(plan.refuse_message_ids);
    EXPECT_TRUE(plan.edits.empty());
    auto other = inbound();
    other.recipients = {"<x@example.org>"};
    EXPECT_FALSE(plan_message(c, other, h, "mx").refuse_message_ids) << "mail of no line is not edited, so not refused";
}

TEST(MessageEdits, NoUsableMessageIdAtAllMeansEveryOneIsReplacedByOurs) {
    const Config c = parse_config(kConfig, "t");
    for (const std::vector<std::string>& values : std::vector<std::vector<std::string>>{
             {"", ""}, {"<>"}, {"<"}, {"not an id"}, {"<a\0b@example.net>"s}}) {
        HeaderTracker h;
        for (const auto& v : values) h.add("Message-ID", v);
        const auto plan = plan_message(c, inbound(), h, "mx");
        EXPECT_TRUE(plan.added_message_id);
        int deleted = 0;
        for (const auto& e : plan.edits) deleted += e.kind == HeaderEdit::Kind::Delete && e.name == "Message-ID";
        EXPECT_EQ(deleted, static_cast<int>(values.size()));
        EXPECT_EQ(plan.edits.back().name, "Message-ID");
        EXPECT_EQ(normalise_message_id(plan.edits.back().value), plan.message_id);
    }
}

// libmilter hands a header value over as a C string: the sweeper, reading the file's
// bytes, must key the same text, and so must retentionctl for what staff see.
TEST(MessageEdits, AMessageIdIsReadUpToANulAsLibmilterReadsIt) {
    using V = std::vector<std::string_view>;
    const std::string nul_after = "<kept@example.net>\0<tail@x>"s;
    const std::string nul_inside = "<cut\0here@example.net>"s;
    EXPECT_EQ(indexed_message_id(V{nul_after}), "kept@example.net");
    EXPECT_EQ(indexed_message_id(V{nul_inside, "<real@example.net>"}), "real@example.net");
    EXPECT_EQ(message_id_key(nul_after), "kept@example.net");
    EXPECT_EQ(indexed_message_id(V{}), "");
    // With none usable: how such copies were keyed before (white space removed).
    EXPECT_EQ(indexed_message_id(V{" <> ", "<"}), "<>");
}

TEST(MessageEdits, MailOfNoLineOnlyLosesForgedHeaders) {
    const Config c = parse_config(kConfig, "t");
    HeaderTracker h;
    h.add("X-Retention-Policy", "none");
    auto f = inbound();
    f.recipients = {"<x@example.org>"};
    const auto plan = plan_message(c, f, h, "mx");
    ASSERT_EQ(plan.edits.size(), 1u);
    EXPECT_EQ(plan.edits[0], (HeaderEdit{HeaderEdit::Kind::Delete, "X-Retention-Policy", 1, ""}));
    EXPECT_TRUE(plan.message_id.empty());
    // And a clean message of no line is not changed at all, not even a Message-ID.
    EXPECT_TRUE(plan_message(c, f, HeaderTracker{}, "mx").edits.empty());
}

TEST(MessageEdits, MissingMessageIdIsAdded) {
    const Config c = parse_config(kConfig, "t");
    const auto plan = plan_message(c, inbound(), HeaderTracker{}, "mx.respect.test");
    EXPECT_TRUE(plan.added_message_id);
    ASSERT_EQ(plan.edits.size(), 6u);
    EXPECT_EQ(plan.edits.back().name, "Message-ID");
    EXPECT_EQ(normalise_message_id(plan.edits.back().value), plan.message_id);
}

TEST(MessageEdits, EmptyMessageIdIsReplaced) {
    const Config c = parse_config(kConfig, "t");
    HeaderTracker h;
    h.add("Message-Id", "  ");
    const auto plan = plan_message(c, inbound(), h, "mx");
    EXPECT_TRUE(plan.added_message_id);
    ASSERT_GE(plan.edits.size(), 2u);
    EXPECT_EQ(plan.edits.front(), (HeaderEdit{HeaderEdit::Kind::Delete, "Message-ID", 1, ""}));
    EXPECT_EQ(plan.edits.back().kind, HeaderEdit::Kind::Add);
    EXPECT_EQ(plan.edits.back().name, "Message-ID");
}

TEST(MessageEdits, OutboundCarriesNoHeadersButIsIndexed) {
    const Config c = parse_config(kConfig, "t");
    MessageFacts f;
    f.envelope_sender = "<advisor@respect.org.uk>";
    f.recipients = {"<caller@example.net>"};
    f.trusted = true;
    f.passed_at = sys_days{Date{year{2026}, month{11}, day{28}}};
    HeaderTracker h;
    h.add("From", "Men's Advice Line <info@mensadviceline.org.uk>");
    h.add("Message-ID", "<reply1@respect.org.uk>");
    h.add("X-Helpline-Line", "mens-advice-line");  // a forwarded copy's header
    const auto plan = plan_message(c, f, h, "mx");
    EXPECT_EQ(plan.decision.direction, Direction::Outbound);
    EXPECT_EQ(plan.message_id, "reply1@respect.org.uk");
    EXPECT_TRUE(plan.record_token.empty()) << "no record header leaves for outside recipients";
    ASSERT_EQ(plan.edits.size(), 1u);
    EXPECT_EQ(plan.edits[0].kind, HeaderEdit::Kind::Delete);
}

namespace {

// Copies spread over every one of our headers, in turn: `n` in all.
HeaderTracker with_forged_copies(int n) {
    HeaderTracker h;
    h.add("From", "a@example.net");
    h.add("Message-ID", "<m1@example.net>");
    for (int i = 0; i < n; ++i) h.add(kOurHeaders[static_cast<size_t>(i) % kOurHeaders.size()], "forged");
    return h;
}

}  // namespace

TEST(MessageEdits, UpToTheLimitForgedCopiesAreEachRemoved) {
    const Config c = parse_config(kConfig, "t");
    const HeaderTracker h = with_forged_copies(kMaxForgedCopies);
    EXPECT_EQ(h.ours_total(), kMaxForgedCopies);
    const auto plan = plan_message(c, inbound(), h, "mx");
    EXPECT_FALSE(plan.refuse_forged);
    const auto deletions = std::count_if(plan.edits.begin(), plan.edits.end(),
                                         [](const HeaderEdit& e) { return e.kind == HeaderEdit::Kind::Delete; });
    EXPECT_EQ(deletions, kMaxForgedCopies);
}

TEST(MessageEdits, MoreForgedCopiesThanTheLimitRefuseTheMessageWithoutEdits) {
    const Config c = parse_config(kConfig, "t");
    for (const int n : {kMaxForgedCopies + 1, 5000}) {
        const auto plan = plan_message(c, inbound(), with_forged_copies(n), "mx");
        EXPECT_TRUE(plan.refuse_forged) << n;
        EXPECT_TRUE(plan.edits.empty()) << n;
        EXPECT_TRUE(plan.message_id.empty()) << n;  // nothing is recorded
    }
}

TEST(MessageEdits, ForgedCopiesOfOneHeaderCountTowardsTheLimit) {
    const Config c = parse_config(kConfig, "t");
    HeaderTracker h;
    for (int i = 0; i <= kMaxForgedCopies; ++i) h.add(kOurHeaders.back(), "forged");
    EXPECT_TRUE(plan_message(c, inbound(), h, "mx").refuse_forged);
}
