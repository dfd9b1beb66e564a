// Phase 1 of a sweep: read every configured store (read-only) and decide what to do.
//
// No message, file or index row is changed here: a dry run, a safety stop or a config
// error found half-way leaves everything as is. The one thing a real run writes while it
// scans is the index's scan cache (which file holds which message), which changes no
// decision.
#pragma once

#include "core/config.hpp"
#include "db/index.hpp"
#include "sweeper/scan_cache.hpp"
#include "sweeper/store.hpp"
#include "sweeper/summary.hpp"
#include "sweeper/sweep_plan.hpp"

namespace rm::sweep {

// Builds the plan from what `store` lists and the [[sweep.files]] folders. What is planned
// (destroyed, moved, rows marked) is in the plan only: phase 2 counts what it did, and a
// run that does not act counts the plan (count_planned). What the scan found as it is
// (kept, held, orphans left, skips) goes into `summary`. Throws StoreError for a store it
// cannot read.
Plan scan_stores(Store& store, const Config& config, const Index& index, const DigestKey& key, Date today,
                 Summary& summary, ScanCache cache = {});

// The same over the Maildir store of `config`.
Plan make_plan(const Config& config, const Index& index, const DigestKey& key, Date today, Summary& summary,
               ScanCache cache = {});

}  // namespace rm::sweep
