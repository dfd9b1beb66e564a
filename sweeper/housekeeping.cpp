#include "sweeper/housekeeping.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <spdlog/spdlog.h>

#include "core/maildir.hpp"
#include "sweeper/destroy.hpp"
#include "sweeper/safety.hpp"

namespace rm::sweep {

using namespace std::chrono;

namespace {

bool journal_has_rows(const std::string& path) {
    struct stat st {};
    for (const std::string& p : {path, path + ".importing"})
        if (::stat(p.c_str(), &st) == 0 && st.st_size > 0) return true;
    return false;
}

}  // namespace

bool take_in_pending_journal(const Config& config, Index& index, bool dry_run, Summary& summary) {
    PendingJournal journal(config.index.path);
    if (dry_run) {
        if (!journal_has_rows(journal.path())) return true;
        summary.warn("rows wait in the pending journal " + journal.path() +
                     " (a dry run does not import them): orphans are not expired in this what-if");
        return false;
    }
    try {
        if (const int n = journal.import_into(index); n > 0)
            spdlog::info("imported {} row(s) from the pending journal before the sweep", n);
        return true;
    } catch (const IndexError& e) {
        summary.warn(std::string("the pending journal could not be imported, so orphans are not expired in this run: ") +
                     e.what());
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

void destroy_old_rejected_journal(const Config& config, Date today, Summary& summary) {
    const std::string path = config.index.path + ".pending.rejected";
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return;
    Date until = Date{floor<days>(system_clock::time_point(seconds(st.st_mtime)))};
    Date last = until;
    for (const auto& [name, policy] : config.policies) last = std::max(last, add_period(until, policy.retain));
    last = add_period(last, config.index.digest_grace);
    if (sys_days{last} >= sys_days{today}) return;
    const std::string lock_path = config.index.path + ".pending.lock";
    UniqueFd lock(::open(lock_path.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC));
    if (lock && ::flock(lock.get(), LOCK_EX) != 0) lock.reset();
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    if (!fd || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || overwrite_with_zeros(fd.get(), st.st_size) != 0 ||
        ::unlink(path.c_str()) != 0) {
        summary.warn("could not destroy " + path + " (journal lines no import could read, past every retention "
                     "period): " + std::strerror(errno));
        return;
    }
    spdlog::info("destroyed {}: its lines were past every retention period and digest_grace", path);
}

}  // namespace rm::sweep
