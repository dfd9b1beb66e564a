// What a real run tidies in the index's neighbourhood besides the stores: journalled rows
// taken in before the scan, and, after a run that ended well, digests past digest_grace
// and a rejected-journal file past every retention period.
#pragma once

#include <chrono>

#include "core/config.hpp"
#include "db/index.hpp"
#include "sweeper/summary.hpp"

namespace rm::sweep {

// Rows the milter journalled (on_index_error = "accept") are records like any other: a
// message known only there must not look like an orphan. A real run imports them first;
// a dry run, which writes nothing, says so when there are some. Returns false when
// journalled rows remain unread: then no orphan is expired in this run.
bool take_in_pending_journal(const Config& config, Index& index, bool dry_run, Summary& summary);

// Erases the digests of rows destroyed more than digest_grace before `now`.
void erase_old_digests(const Config& config, Index& index, Date today, std::chrono::system_clock::time_point now);

// "<index>.pending.rejected" keeps journal lines no import could read, for the admin;
// they may hold digests. Once its last line is older than the longest retention of any
// policy plus digest_grace, nothing in it may be kept any more: it is destroyed like a
// message (overwritten, synced, unlinked), under the importers' lock.
void destroy_old_rejected_journal(const Config& config, Date today, Summary& summary);

}  // namespace rm::sweep
