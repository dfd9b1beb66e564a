#include <gtest/gtest.h>

#include <algorithm>

#include "config_test_util.hpp"
#include "core/config.hpp"
#include "core/review.hpp"

using namespace rm;
using namespace std::chrono;
using namespace std::string_literals;


namespace {

const char* kReviewConfig = R"(
[policy.email]
retain = "6 months"
[[line]]
tag = "respect-phoneline"
domains = ["respectphoneline.test"]
policy = "email"
review_mailbox = "quality-review@respectphoneline.test"
review_sample = 0.25
[[line]]
tag = "mens-advice-line"
domains = ["mensadviceline.test"]
policy = "email"
)";

MessageFacts reply_from(const std::string& from) {
    MessageFacts f;
    f.envelope_sender = "<advisor@respect.test>";
    f.recipients = {"<caller@example.net>"};
    f.trusted = true;
    f.header_from = from;
    f.passed_at = sys_days{Date{year{2026}, month{11}, day{28}}};
    return f;
}

Decision decide_reply(const Config& c, const std::string& from) { return decide(c, reply_from(from)); }

}  // namespace

TEST(Review, SamplesOutboundRepliesByTheLinesShare) {
    const Config c = parse_config(kReviewConfig, "t");
    const Decision d = decide_reply(c, "info@respectphoneline.test");
    EXPECT_EQ(review_recipients(d, [] { return 0.2; }),
              std::vector<std::string>{"<quality-review@respectphoneline.test>"});
    EXPECT_TRUE(review_recipients(d, [] { return 0.25; }).empty());
    EXPECT_TRUE(review_recipients(d, [] { return 0.9; }).empty());
}

TEST(Review, NeverForLinesWithoutReviewOrForInboundMail) {
    const Config c = parse_config(kReviewConfig, "t");
    EXPECT_TRUE(review_recipients(decide_reply(c, "info@mensadviceline.test"), [] { return 0.0; }).empty());
    MessageFacts in;
    in.envelope_sender = "<caller@example.net>";
    in.recipients = {"<info@respectphoneline.test>"};
    in.passed_at = sys_days{Date{year{2026}, month{11}, day{28}}};
    EXPECT_TRUE(review_recipients(decide(c, in), [] { return 0.0; }).empty());
}

TEST(Review, SecureUniformIsInRangeAndVaries) {
    double lo = 1, hi = 0;
    for (int i = 0; i < 2000; ++i) {
        const double u = secure_uniform();
        ASSERT_GE(u, 0.0);
        ASSERT_LT(u, 1.0);
        lo = std::min(lo, u);
        hi = std::max(hi, u);
    }
    EXPECT_LT(lo, 0.05);
    EXPECT_GT(hi, 0.95);
}


TEST(Review, OnlyALineWithAMailboxAndAShareAsksForRecipients) {
    EXPECT_TRUE(samples_reviews(parse_config(kReviewConfig, "/etc/retention-milter/retention.toml")));
    const Config none = test::one_line_config();
    EXPECT_FALSE(samples_reviews(none));
}
