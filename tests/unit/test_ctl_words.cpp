// The words retentionctl uses for periods in the statement and the report.
#include <gtest/gtest.h>

#include "core/period.hpp"
#include "ctl/words.hpp"

using namespace rm;
using namespace rm::ctl;

TEST(CtlWords, PeriodsReadAsPeopleSayThem) {
    EXPECT_EQ(period_in_words({Period::Unit::Months, 6}), "six months");
    EXPECT_EQ(period_in_words({Period::Unit::Months, 2}), "two months");
    EXPECT_EQ(period_in_words({Period::Unit::Months, 1}), "one month");
    EXPECT_EQ(period_in_words({Period::Unit::Months, 12}), "one year");
    EXPECT_EQ(period_in_words({Period::Unit::Months, 24}), "two years");
    EXPECT_EQ(period_in_words({Period::Unit::Months, 18}), "eighteen months");
    EXPECT_EQ(period_in_words({Period::Unit::Months, 30}), "30 months");
    EXPECT_EQ(period_in_words({Period::Unit::Days, 180}), "180 days");
    EXPECT_EQ(period_in_words({Period::Unit::Days, 1}), "one day");
    EXPECT_EQ(period_in_words({Period::Unit::Days, 14}), "fourteen days");
}

TEST(CtlWords, APeriodLastsAtLeastItsShortestNumberOfDays) {
    EXPECT_EQ(shortest_days({Period::Unit::Days, 180}), 180);
    EXPECT_EQ(shortest_days({Period::Unit::Months, 1}), 28);
    EXPECT_EQ(shortest_days({Period::Unit::Months, 2}), 59);
    EXPECT_EQ(shortest_days({Period::Unit::Months, 6}), 181);
    EXPECT_EQ(shortest_days({Period::Unit::Months, 12}), 365);
}
