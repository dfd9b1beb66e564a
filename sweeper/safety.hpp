// The sweeper's safety rails: one sweeper at a time, and no run on a clock that cannot
// be trusted.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "core/maildir.hpp"
#include "core/period.hpp"

namespace rm::sweep {

// An exclusive flock on "<index>.sweep.lock", held for the life of the object.
class SweepLock {
public:
    enum class Status { Held, Busy, Failed };
    // Busy when another sweeper holds it; Failed (errno in `err`) when the file cannot be
    // opened. A lock file made by root is given the index's owner (see give_index_owner).
    static Status acquire(const std::string& path, const std::string& index_path, SweepLock& lock, int& err);
    bool held() const { return fd_.valid(); }

private:
    UniqueFd fd_;
};

std::string lock_path_for(const std::string& index_path);

// Why the clock cannot be trusted, or nothing: earlier than the last run, or more than
// `max_jump` after it. Times are whole seconds since the epoch.
std::optional<std::string> clock_problem(std::optional<std::int64_t> last_run, std::int64_t now, const Period& max_jump);

// `date` minus `period` (calendar months clamped to the month's last day).
Date subtract_period(Date date, const Period& period);

// Runs `argv` without a shell (fork + execvp), its stdout sent to our stderr, waiting at
// most `timeout`. Returns its exit status, or -1 with `error` set when it could not run,
// was killed, or took too long.
int run_command(const std::vector<std::string>& argv, std::chrono::seconds timeout, std::string& error);

}  // namespace rm::sweep
