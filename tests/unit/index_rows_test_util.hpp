// Rows, digests and dates for the tests of the index and the pending journal.
#pragma once

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <string>

#include "db/index.hpp"

namespace rm::test {

using Clock = std::chrono::system_clock;

inline Date d(int y, unsigned m, unsigned dd) {
    return Date{std::chrono::year{y}, std::chrono::month{m}, std::chrono::day{dd}};
}

inline Clock::time_point at(Date day, int hour = 0) {
    return Clock::time_point{std::chrono::sys_days{day}} + std::chrono::hours{hour};
}

inline const DigestKey& test_key() {
    static const DigestKey key = DigestKey::from_bytes(std::string(32, 'K'));
    return key;
}

inline Digest dig(int n) { return test_key().digest("msg-" + std::to_string(n) + "@example.org"); }

inline MessageRow make_row(const Digest& digest, Date passed, Date until, std::string lines = "mens-advice-line",
                    std::string direction = "inbound") {
    MessageRow r;
    r.digest = digest;
    r.queue_id = "4Q1ABC";
    r.lines = std::move(lines);
    r.direction = std::move(direction);
    r.policy = "email";
    r.passed_on = passed;
    r.retain_until = until;
    return r;
}

template <typename F>
std::string error_of(F f) {
    try {
        f();
    } catch (const IndexError& e) {
        return e.what();
    }
    return {};
}

inline std::int64_t count_rows(sqlite3* db, const char* sql = "SELECT count(*) FROM messages") {
    sqlite3_stmt* s = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql, -1, &s, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
    std::int64_t n = -1;
    if (sqlite3_step(s) == SQLITE_ROW) n = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return n;
}

}  // namespace rm::test
