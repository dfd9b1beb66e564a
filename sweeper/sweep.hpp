// One run of the sweeper: lock, plan (phase 1, read-only), safety checks, act (phase 2),
// receipt, metrics. main.cpp only parses the command line and prints the summary.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "core/config.hpp"
#include "db/index.hpp"
#include "sweeper/summary.hpp"

namespace rm::sweep {

struct SweepOptions {
    bool dry_run = false;
    bool force = false;
    bool list = false;
    bool read_all = false;  // --read-all: ignore the scan cache, read every message
    std::chrono::seconds scan_cache_settle{2};  // see ScanCache::settle (tests shorten it)
    std::optional<Date> now_date;  // --now: a what-if, dry runs only
    std::chrono::seconds command_timeout{600};  // after_mailbox
    // --wait-for-lock: how long a run waits for another sweep's lock (a standby sweeper on
    // another host) before it stops with exit 3; zero: it does not wait.
    std::chrono::seconds lock_wait{0};
    std::chrono::milliseconds lock_retry{5000};  // how often it tries again meanwhile
    // Called after the plan, before anything is done: tests act there as staff and the
    // mail server may while a long scan runs (a hold placed, a message expunged).
    std::function<void()> between_phases;
};

// Meta keys the sweeper keeps in the index between runs.
inline constexpr const char* kMetaLastRun = "sweep.last_run";          // seconds; end of each completed run
inline constexpr const char* kMetaLastSuccess = "sweep.last_success";  // seconds; runs ending 0 or 4
inline constexpr const char* kMetaInProgress = "sweep.in_progress";    // JSON; cleared at the end of a run
inline constexpr const char* kMetaLeftovers = "sweep.own_leftovers";   // JSON; marker files a run left (OwnFiles)

// A time kept under one of those keys (seconds), if it is there and a number.
std::optional<std::int64_t> meta_seconds(const Index& index, const char* key);

// Runs one sweep as of `now` (main passes the system clock; tests their own). The exit
// code is in the summary; `error` says what went wrong for exit codes 1 and 2 (and why
// the lock could not be had).
Summary run_sweep(const Config& config, const SweepOptions& options, std::chrono::system_clock::time_point now,
                  std::string& error);

}  // namespace rm::sweep
