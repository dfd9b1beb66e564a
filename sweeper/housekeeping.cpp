#include "sweeper/housekeeping.hpp"

#include <algorithm>
#include <spdlog/spdlog.h>

#include "db/journal.hpp"
#include "sweeper/safety.hpp"

namespace rm::sweep {

using namespace std::chrono;

bool take_in_pending_journal(const Config& config, Index& index, bool dry_run, Summary& summary) {
    PendingJournal journal(config.index);
    if (dry_run) {
        if (!journal.has_rows()) return true;
        summary.warn("rows wait in the pending journal " + journal.path() +
                     " (a dry run does not import them): orphans are not expired in this what-if");
        return false;
    }
    try {
        if (const int n = journal.import_into(index); n > 0)
            spdlog::info("imported {} row(s) from the pending journal before the sweep", n);
        return true;
    } catch (const IndexError& e) {
        // On a shared index the sweeper's role may not add rows: the milter that wrote the
        // journal takes it in once a row of its own commits again.
        const std::string who = config.index.backend == IndexBackend::Postgresql
                                    ? " (the milter on this host takes it in once the index answers it again)"
                                    : "";
        summary.warn(std::string("the pending journal could not be imported, so orphans are not expired in this run") +
                     who + ": " + e.what());
        spdlog::error("pending journal: {}", e.what());
        return false;
    }
}

void erase_old_digests(const Config& config, Index& index, Date today, system_clock::time_point now) {
    const Date cutoff_day = subtract_period(today, config.index.digest_grace);
    const auto time_of_day = now - floor<days>(now);
    const int erased = index.erase_old_digests(sys_days{cutoff_day} + time_of_day);
    if (erased > 0)
        spdlog::info("erased the digests of {} row(s) destroyed more than {} ago", erased,
                     config.index.digest_grace.text());
}

// The journal's rejected lines may hold digests: kept no longer than the longest
// retention of any policy plus digest_grace after they were last written.
void destroy_old_rejected_journal(const Config& config, Date today, Summary& summary) {
    const PendingJournal journal(config.index);
    const auto result = journal.destroy_rejected_if([&](Date until) {
        Date last = until;
        for (const auto& [name, policy] : config.policies) last = std::max(last, add_period(until, policy.retain));
        return sys_days{add_period(last, config.index.digest_grace)} < sys_days{today};
    });
    if (result.outcome == PendingJournal::Outcome::Failed)
        summary.warn("could not destroy " + journal.rejected_path() +
                     " (journal lines no import could read, past every retention period): " + result.error);
    else if (result.outcome == PendingJournal::Outcome::Destroyed)
        spdlog::info("destroyed {}: its lines were past every retention period and digest_grace",
                     journal.rejected_path());
}

}  // namespace rm::sweep
