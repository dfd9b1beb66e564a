#include "core/period.hpp"

#include <charconv>
#include <cstdio>

#include "core/strings.hpp"

namespace rm {

using namespace std::chrono;

namespace {
// A century is longer than any retention policy should be; larger numbers are typos.
constexpr long kMaxDays = 36500;
}  // namespace

std::string Period::text() const {
    const bool one = count == 1;
    return std::to_string(count) + (unit == Unit::Days ? (one ? " day" : " days")
                                                       : (one ? " month" : " months"));
}

std::optional<Period> parse_period(std::string_view text) {
    text = trim(text);
    const auto space = text.find(' ');
    if (space == std::string_view::npos) return std::nullopt;
    const std::string_view number = text.substr(0, space);
    const std::string unit = to_lower(trim(text.substr(space + 1)));
    if (number.empty() || number.size() > 6 || number[0] == '0') return std::nullopt;
    long n = 0;
    const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), n);
    if (ec != std::errc{} || end != number.data() + number.size() || n <= 0) return std::nullopt;

    Period p;
    if (unit == "day" || unit == "days") {
        p = {Period::Unit::Days, static_cast<int>(n)};
    } else if (unit == "week" || unit == "weeks") {
        p = {Period::Unit::Days, static_cast<int>(n * 7)};
    } else if (unit == "month" || unit == "months") {
        p = {Period::Unit::Months, static_cast<int>(n)};
    } else if (unit == "year" || unit == "years") {
        p = {Period::Unit::Months, static_cast<int>(n * 12)};
    } else {
        return std::nullopt;
    }
    const long days = p.unit == Period::Unit::Days ? p.count : p.count * 31L;
    if (days > kMaxDays) return std::nullopt;
    return p;
}

Date add_period(Date date, const Period& period) {
    if (period.unit == Period::Unit::Days) {
        return Date{sys_days{date} + days{period.count}};
    }
    const year_month ym = year_month{date.year(), date.month()} + months{period.count};
    const day last = year_month_day_last{ym.year(), month_day_last{ym.month()}}.day();
    return Date{ym.year(), ym.month(), date.day() > last ? last : date.day()};
}

Date subtract_period(Date date, const Period& period) {
    if (period.unit == Period::Unit::Days) return Date{sys_days{date} - days{period.count}};
    const year_month ym = year_month{date.year(), date.month()} - months{period.count};
    const day last = year_month_day_last{ym.year(), month_day_last{ym.month()}}.day();
    return Date{ym.year(), ym.month(), date.day() > last ? last : date.day()};
}

Date add_days(Date date, int n) { return Date{sys_days{date} + days{n}}; }

Date utc_date(system_clock::time_point t) { return Date{floor<days>(t)}; }

std::optional<Date> date_of_seconds(std::int64_t t) {
    if (t < 0 || t > 253402300799) return std::nullopt;  // 9999-12-31
    // In whole seconds: a system_clock time point counts nanoseconds and overflows after 2262.
    return Date{floor<days>(sys_seconds{seconds{t}})};
}

std::int64_t epoch_seconds(system_clock::time_point t) { return duration_cast<seconds>(t.time_since_epoch()).count(); }

std::string format_date(Date date) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(date.year()),
                  static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()));
    return buf;
}

std::optional<Date> parse_date(std::string_view text) {
    if (text.size() != 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
    int y = 0;
    unsigned m = 0, d = 0;
    auto num = [&](size_t pos, size_t len, auto& out) {
        const auto [end, ec] = std::from_chars(text.data() + pos, text.data() + pos + len, out);
        return ec == std::errc{} && end == text.data() + pos + len;
    };
    if (!num(0, 4, y) || !num(5, 2, m) || !num(8, 2, d)) return std::nullopt;
    const Date date{year{y}, month{m}, day{d}};
    if (!date.ok()) return std::nullopt;
    return date;
}

}  // namespace rm
