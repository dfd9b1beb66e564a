#include "ctl/words.hpp"

#include <algorithm>
#include <array>
#include <ctime>
#include <string_view>

namespace rm::ctl {

using namespace std::chrono;

std::string number_in_words(int n) {
    static constexpr std::array<std::string_view, 21> kWords = {
        "zero",  "one",    "two",    "three",    "four",     "five",    "six",
        "seven", "eight",  "nine",   "ten",      "eleven",   "twelve",  "thirteen",
        "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty"};
    if (n >= 0 && n < static_cast<int>(kWords.size())) return std::string(kWords[static_cast<size_t>(n)]);
    return std::to_string(n);
}

namespace {

std::string counted(int n, std::string_view singular) {
    return number_in_words(n) + " " + std::string(singular) + (n == 1 ? "" : "s");
}

}  // namespace

std::string period_in_words(const Period& p) {
    if (p.unit == Period::Unit::Days) return counted(p.count, "day");
    // The config turns years into months; give them back as years when they are whole.
    if (p.count % 12 == 0) return counted(p.count / 12, "year");
    return counted(p.count, "month");
}

int shortest_days(const Period& p) {
    if (p.unit == Period::Unit::Days) return p.count;
    // Try every start day of a leap and a common year: the month lengths repeat, so
    // the minimum over these two years is the minimum over all dates.
    int best = p.count * 31;
    const sys_days first{year{2023} / January / 1};
    for (int i = 0; i < 731; ++i) {
        const sys_days start = first + days{i};
        const sys_days end{add_period(Date{start}, p)};
        best = std::min(best, static_cast<int>((end - start).count()));
    }
    return best;
}

namespace {

std::tm utc_tm(system_clock::time_point t) {
    const std::time_t tt = system_clock::to_time_t(t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    return tm;
}

}  // namespace

// Literal formats in each caller, so the compiler checks them.
std::string format_utc(system_clock::time_point t) {
    const std::tm tm = utc_tm(t);
    char buf[64];
    return std::string(buf, std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", &tm));
}

std::string format_utc_iso(system_clock::time_point t) {
    const std::tm tm = utc_tm(t);
    char buf[64];
    return std::string(buf, std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm));
}

}  // namespace rm::ctl
