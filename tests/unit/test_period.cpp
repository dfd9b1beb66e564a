#include <gtest/gtest.h>

#include "core/period.hpp"

using namespace rm;
using std::chrono::year; using std::chrono::month; using std::chrono::day; using std::chrono::sys_days; using std::chrono::sys_seconds; using std::chrono::hours; using std::chrono::minutes; using std::chrono::seconds;

namespace {
Date d(int y, unsigned m, unsigned dd) { return Date{year{y}, month{m}, day{dd}}; }
Period mo(int n) { return {Period::Unit::Months, n}; }
Period dy(int n) { return {Period::Unit::Days, n}; }
}  // namespace

TEST(Period, ParsesTheSpellingsAdminsWrite) {
    EXPECT_EQ(parse_period("6 months"), mo(6));
    EXPECT_EQ(parse_period("2 months"), mo(2));
    EXPECT_EQ(parse_period("180 days"), dy(180));
    EXPECT_EQ(parse_period("1 month"), mo(1));
    EXPECT_EQ(parse_period("1 day"), dy(1));
    EXPECT_EQ(parse_period("2 weeks"), dy(14));
    EXPECT_EQ(parse_period("1 year"), mo(12));
    EXPECT_EQ(parse_period("  6   Months "), mo(6));
}

TEST(Period, RejectsTyposAndNonsense) {
    for (const char* bad : {"6 monhts", "-1 days", "0 months", "", "months", "6", "6months", "06 months",
                            "1.5 months", "6 months ago", "99999999 days", "101 years", "0x10 days", "+6 months"}) {
        EXPECT_FALSE(parse_period(bad)) << bad;
    }
}

TEST(Period, CanonicalText) {
    EXPECT_EQ(mo(6).text(), "6 months");
    EXPECT_EQ(dy(1).text(), "1 day");
}

TEST(Period, CalendarMonthsClampToTheLastDay) {
    EXPECT_EQ(add_period(d(2026, 8, 31), mo(6)), d(2027, 2, 28));
    EXPECT_EQ(add_period(d(2027, 8, 31), mo(6)), d(2028, 2, 29));  // leap year
    EXPECT_EQ(add_period(d(2024, 2, 29), mo(12)), d(2025, 2, 28));
    EXPECT_EQ(add_period(d(2024, 2, 29), mo(48)), d(2028, 2, 29));
    EXPECT_EQ(add_period(d(2026, 3, 31), mo(1)), d(2026, 4, 30));
    EXPECT_EQ(add_period(d(2026, 1, 31), mo(1)), d(2026, 2, 28));
    EXPECT_EQ(add_period(d(2026, 11, 28), mo(6)), d(2027, 5, 28));
}

TEST(Period, MonthsCrossYearEnds) {
    EXPECT_EQ(add_period(d(2026, 12, 31), mo(2)), d(2027, 2, 28));
    EXPECT_EQ(add_period(d(2026, 7, 15), mo(6)), d(2027, 1, 15));
    EXPECT_EQ(add_period(d(2026, 12, 1), mo(1)), d(2027, 1, 1));
}

TEST(Period, DaysAreExactDays) {
    EXPECT_EQ(add_period(d(2026, 12, 31), dy(1)), d(2027, 1, 1));
    EXPECT_EQ(add_period(d(2028, 2, 28), dy(1)), d(2028, 2, 29));
    EXPECT_EQ(add_period(d(2026, 1, 1), dy(180)), d(2026, 6, 30));
    EXPECT_EQ(add_period(d(2026, 12, 25), dy(10)), d(2027, 1, 4));
}

TEST(Period, SubtractingClampsToTheMonthsLastDay) {
    EXPECT_EQ(subtract_period(d(2026, 3, 31), {Period::Unit::Months, 1}), d(2026, 2, 28));
    EXPECT_EQ(subtract_period(d(2026, 3, 1), {Period::Unit::Days, 1}), d(2026, 2, 28));
    EXPECT_EQ(add_days(d(2026, 2, 28), 1), d(2026, 3, 1));
    EXPECT_EQ(add_days(d(2026, 1, 1), -1), d(2025, 12, 31));
}

TEST(Period, DateOfSecondsRefusesAbsurdTimes) {
    EXPECT_EQ(date_of_seconds(0), d(1970, 1, 1));
    EXPECT_EQ(date_of_seconds(253402300799), d(9999, 12, 31));
    EXPECT_FALSE(date_of_seconds(-1));
    EXPECT_FALSE(date_of_seconds(253402300800));
}

TEST(Period, UtcDateIgnoresLocalTime) {
    // 2026-05-31T23:59:59Z is still the 31st in UTC.
    const sys_seconds t = sys_days{d(2026, 5, 31)} + hours{23} + minutes{59} + seconds{59};
    EXPECT_EQ(utc_date(t), d(2026, 5, 31));
    EXPECT_EQ(utc_date(t + seconds{1}), d(2026, 6, 1));
}

TEST(Period, DatesFormatAndParse) {
    EXPECT_EQ(format_date(d(2027, 5, 28)), "2027-05-28");
    EXPECT_EQ(parse_date("2027-05-28"), d(2027, 5, 28));
    EXPECT_FALSE(parse_date("2027-02-30"));
    EXPECT_FALSE(parse_date("2027-5-28"));
    EXPECT_FALSE(parse_date("28/05/2027"));
    EXPECT_FALSE(parse_date(""));
}
