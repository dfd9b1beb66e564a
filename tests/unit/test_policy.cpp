#include <gtest/gtest.h>

#include "core/policy.hpp"

using namespace rm;
using namespace std::chrono;

namespace {

const char* kConfig = R"(
[milter]
internal_hosts = ["127.0.0.1/32", "10.1.0.0/16"]
originating_daemons = ["ORIGINATING"]

[policy.email]
retain = "6 months"
[policy.long]
retain = "9 months"

[[line]]
tag = "respect-phoneline"
addresses = ["info@respectphoneline.org.uk"]
domains = ["respectphoneline.org.uk"]
policy = "email"

[[line]]
tag = "mens-advice-line"
addresses = ["info@mensadviceline.org.uk"]
domains = [".mensadviceline.org.uk"]
policy = "email"

[[line]]
tag = "archive-line"
addresses = ["keep@archive.example"]
policy = "long"
)";

class PolicyTest : public ::testing::Test {
protected:
    Config c = parse_config(kConfig, "test.toml");
    // 2026-11-28T15:00:00Z
    system_clock::time_point when = sys_days{Date{year{2026}, month{11}, day{28}}} + hours{15};

    Decision run(std::string sender, std::vector<std::string> rcpts, bool trusted,
                 std::optional<std::string> from = std::nullopt) {
        MessageFacts f;
        f.envelope_sender = std::move(sender);
        f.recipients = std::move(rcpts);
        f.trusted = trusted;
        f.header_from = std::move(from);
        f.passed_at = when;
        return decide(c, f);
    }
};

}  // namespace

TEST_F(PolicyTest, InboundFromAnOutsider) {
    const auto d = run("<someone@example.net>", {"<info@mensadviceline.org.uk>"}, false);
    ASSERT_TRUE(d.helpline());
    EXPECT_EQ(d.line_tags(), "mens-advice-line");
    EXPECT_EQ(d.direction, Direction::Inbound);
    EXPECT_EQ(format_date(d.retain_until), "2027-05-28");
    EXPECT_EQ(d.policy, "email");
    EXPECT_TRUE(d.stamp);
    EXPECT_FALSE(d.spoof_attempt);
}

TEST_F(PolicyTest, MailOfNoLineIsNotTouched) {
    const auto d = run("<a@example.net>", {"<b@example.org>"}, false);
    EXPECT_FALSE(d.helpline());
    EXPECT_FALSE(run("<a@example.net>", {"<b@example.org>"}, true).helpline());
}

TEST_F(PolicyTest, OutboundReplyIsIndexedButNotStamped) {
    const auto d = run("<advisor@respect.org.uk>", {"<caller@example.net>"}, true,
                       "Men's Advice Line <info@mensadviceline.org.uk>");
    ASSERT_TRUE(d.helpline());
    EXPECT_EQ(d.line_tags(), "mens-advice-line");
    EXPECT_EQ(d.direction, Direction::Outbound);
    EXPECT_FALSE(d.stamp);
    c.milter.stamp_outbound = true;
    EXPECT_TRUE(run("<advisor@respect.org.uk>", {"<caller@example.net>"}, true, "info@mensadviceline.org.uk").stamp);
}

TEST_F(PolicyTest, EnvelopeSenderCountsWhenFromIsNotALine) {
    const auto d = run("<info@respectphoneline.org.uk>", {"<caller@example.net>"}, true, "Advisor <a@respect.org.uk>");
    EXPECT_EQ(d.line_tags(), "respect-phoneline");
    EXPECT_EQ(d.direction, Direction::Outbound);
}

TEST_F(PolicyTest, InternalWhenEveryRecipientIsALine) {
    const auto d = run("<advisor@respect.org.uk>", {"<info@mensadviceline.org.uk>", "<info@respectphoneline.org.uk>"},
                       true);
    EXPECT_EQ(d.direction, Direction::Internal);
    EXPECT_TRUE(d.stamp);
    EXPECT_EQ(d.line_tags(), "respect-phoneline,mens-advice-line");  // config order, not RCPT order
}

TEST_F(PolicyTest, SpoofedHelplineSenderFromOutsiderIsInbound) {
    const auto d = run("<info@mensadviceline.org.uk>", {"<info@respectphoneline.org.uk>"}, false,
                       "info@mensadviceline.org.uk");
    EXPECT_EQ(d.direction, Direction::Inbound);
    EXPECT_TRUE(d.spoof_attempt);
    // The claimed sender's line is not added: only recipients count for outsiders.
    EXPECT_EQ(d.line_tags(), "respect-phoneline");
    // Claiming a helpline sender towards outsiders only: no line is touched at all.
    EXPECT_FALSE(run("<info@mensadviceline.org.uk>", {"<x@example.net>"}, false).helpline());
}

TEST_F(PolicyTest, TwoLinesTakeTheLatestDate) {
    const auto d = run("<a@example.net>", {"<keep@archive.example>", "<info@mensadviceline.org.uk>"}, false);
    EXPECT_EQ(d.line_tags(), "mens-advice-line,archive-line");
    EXPECT_EQ(format_date(d.retain_until), "2027-08-28");
    EXPECT_EQ(d.policy, "long");
}

TEST_F(PolicyTest, AddressMatchingDetails) {
    EXPECT_EQ(lines_of_address(c, "<INFO+urgent@MensAdviceLine.org.uk.>").size(), 1u);
    EXPECT_EQ(lines_of_address(c, "<\"info\"@respectphoneline.org.uk>").size(), 1u);
    EXPECT_EQ(lines_of_address(c, "<@relay.example:info@respectphoneline.org.uk>").size(), 1u);
    EXPECT_EQ(lines_of_address(c, "<>").size(), 0u);
    // Subdomains match only where the domain entry asks for them with a leading dot.
    EXPECT_EQ(lines_of_address(c, "<x@mail.mensadviceline.org.uk>").size(), 1u);
    EXPECT_EQ(lines_of_address(c, "<x@mail.respectphoneline.org.uk>").size(), 0u);
    EXPECT_EQ(lines_of_address(c, "<x@notrespectphoneline.org.uk>").size(), 0u);
    // An address entry alone matches that address, not its domain.
    EXPECT_EQ(lines_of_address(c, "<other@archive.example>").size(), 0u);
}

TEST_F(PolicyTest, NullSenderBounceToALineIsInbound) {
    const auto d = run("<>", {"<info@respectphoneline.org.uk>"}, false);
    EXPECT_EQ(d.direction, Direction::Inbound);
    EXPECT_TRUE(d.helpline());
}

TEST_F(PolicyTest, TrustedClients) {
    const auto& m = c.milter;
    EXPECT_TRUE(is_trusted_client(m, "advisor", "192.0.2.1", ""));
    EXPECT_TRUE(is_trusted_client(m, "", "127.0.0.1", ""));
    EXPECT_TRUE(is_trusted_client(m, "", "10.1.2.3", ""));
    EXPECT_TRUE(is_trusted_client(m, "", "192.0.2.1", "ORIGINATING"));
    EXPECT_FALSE(is_trusted_client(m, "", "127.0.0.2", ""));
    EXPECT_FALSE(is_trusted_client(m, "", "192.0.2.1", "smtpd"));
    EXPECT_FALSE(is_trusted_client(m, "", "", ""));
}

TEST_F(PolicyTest, DateIsUtcDayOfPassing) {
    when = sys_days{Date{year{2026}, month{8}, day{31}}} + hours{23} + minutes{59};
    EXPECT_EQ(format_date(run("<a@example.net>", {"<info@mensadviceline.org.uk>"}, false).retain_until), "2027-02-28");
}
