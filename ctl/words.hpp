// Numbers, periods and times written for people: the public statement says "six
// months", not "6 months"; the reports print UTC times the same way everywhere.
#pragma once

#include <chrono>
#include <string>

#include "core/period.hpp"

namespace rm::ctl {

// "one" ... "twenty"; larger numbers stay in digits ("180").
std::string number_in_words(int n);

// "six months", "two months", "one year", "180 days", "one day".
std::string period_in_words(const Period& p);

// The fewest days a period can last from any start date: 6 months is at least 181
// days. Used to compare a log's lifetime with a policy without over-warning.
int shortest_days(const Period& p);

// "2026-03-01 14:05 UTC" and "2026-03-01T14:05:00Z".
std::string format_utc(std::chrono::system_clock::time_point t);
std::string format_utc_iso(std::chrono::system_clock::time_point t);

}  // namespace rm::ctl
