// Phase 2 of a sweep: carry out the plan through the store. Files are destroyed in
// batches, each claimed in the index just before (a hold placed before the claim wins);
// rows are marked destroyed only once every copy is gone and durably so; Sent copies are
// moved; rows no store held are marked; then residues are reported and after_mailbox runs.
#pragma once

#include <chrono>
#include <set>
#include <string>
#include <utility>

#include "core/config.hpp"
#include "db/index.hpp"
#include "sweeper/own_files.hpp"
#include "sweeper/receipts.hpp"
#include "sweeper/store.hpp"
#include "sweeper/summary.hpp"
#include "sweeper/sweep_plan.hpp"

namespace rm::sweep {

struct Phase2 {
    const Config& config;
    Index& index;
    const DigestKey& key;
    Store& store;
    std::chrono::system_clock::time_point now;
    std::chrono::seconds command_timeout;  // after_mailbox
    Summary& summary;
    Receipts& receipts;
    Leftovers& leftovers;
};

void execute(const Phase2& run, Plan& plan);

}  // namespace rm::sweep
