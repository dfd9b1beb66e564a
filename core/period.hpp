// Retention periods ("6 months", "180 days") and the calendar arithmetic on them.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace rm {

using Date = std::chrono::year_month_day;

struct Period {
    enum class Unit { Days, Months };
    Unit unit = Unit::Days;
    int count = 0;

    // The canonical spelling, e.g. "6 months", "1 day".
    std::string text() const;
    bool operator==(const Period&) const = default;
};

// Parses "N day(s)|week(s)|month(s)|year(s)" with 1 <= N <= 36500 days' worth.
// Weeks become days and years become months, so arithmetic has only two units.
// Returns nothing for anything else ("6 monhts", "-1 days", "0 months", "").
std::optional<Period> parse_period(std::string_view text);

// date + period. Months are calendar months; a day that does not exist in the target
// month is clamped to that month's last day (31 Aug + 6 months = 28/29 Feb).
Date add_period(Date date, const Period& period);

// date - period, the same calendar arithmetic backwards (clamped to the month's last day).
Date subtract_period(Date date, const Period& period);

// date + n days (n may be negative).
Date add_days(Date date, int n);

// The UTC calendar date of a point in time.
Date utc_date(std::chrono::system_clock::time_point t);

// The UTC date a time stamp in seconds since the epoch falls on, or nothing for one
// before 1970 or after 9999 (a Maildir name can start with any digits).
std::optional<Date> date_of_seconds(std::int64_t seconds);
// Whole seconds since the epoch, as the index and the receipts keep times.
std::int64_t epoch_seconds(std::chrono::system_clock::time_point t);

// "YYYY-MM-DD" and back. parse_date accepts only that exact form and real dates.
std::string format_date(Date date);
std::optional<Date> parse_date(std::string_view text);

}  // namespace rm
