// The sweeper's safety rails: no run on a clock that cannot be trusted, and commands run
// with a deadline. (One sweeper at a time is the index's lock: Index::try_lock_sweep.)
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "core/maildir.hpp"
#include "core/period.hpp"

namespace rm::sweep {

// Why the clock cannot be trusted, or nothing: earlier than the last run, or more than
// `max_jump` after it. Times are whole seconds since the epoch.
std::optional<std::string> clock_problem(std::optional<std::int64_t> last_run, std::int64_t now, const Period& max_jump);

// Runs `argv` without a shell (fork + execvp), its stdout sent to our stderr, waiting at
// most `timeout`. Returns its exit status, or -1 with `error` set when it could not run,
// was killed, or took too long.
int run_command(const std::vector<std::string>& argv, std::chrono::seconds timeout, std::string& error);

}  // namespace rm::sweep
