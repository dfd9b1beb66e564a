#include "sweeper/sweep.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <memory>
#include <optional>
#include <spdlog/spdlog.h>
#include <string>
#include <thread>
#include <vector>

#include "core/strings.hpp"
#include "db/index.hpp"
#include "sweeper/execute.hpp"
#include "sweeper/housekeeping.hpp"
#include "sweeper/own_files.hpp"
#include "sweeper/receipts.hpp"
#include "sweeper/metrics.hpp"
#include "sweeper/safety.hpp"
#include "sweeper/scan.hpp"
#include "sweeper/stores.hpp"

namespace rm::sweep {

using namespace std::chrono;

std::optional<std::int64_t> meta_seconds(const Index& index, const char* key) {
    const auto s = index.get_meta(key);
    if (!s || s->empty()) return std::nullopt;
    std::int64_t v = 0;
    const auto [end, ec] = std::from_chars(s->data(), s->data() + s->size(), v);
    if (ec != std::errc{} || end != s->data() + s->size()) return std::nullopt;
    return v;
}

namespace {

class Sweeper {
public:
    Sweeper(const Config& config, const SweepOptions& options, system_clock::time_point now, Date today,
            Summary& summary, std::string& error)
        : config_(config), options_(options), now_(now), today_(today), summary_(summary), error_(error),
          started_(steady_clock::now()) {}

    int run() {
        try {
            auto opened = open_index_checked(
                config_.index, {.create = false, .read_only = options_.dry_run, .busy_timeout_ms = 30000, .cache_mib = 64}, false);
            key_.emplace(std::move(opened.key));
            index_ = std::move(opened.index);
        } catch (const KeyMismatch& e) {
            // With another key no copy would match its rows: every expired row would look
            // copy-less and be marked destroyed while its mail stayed. Stop instead.
            error_ = std::string(e.what()) + ": nothing was done; " + key_mismatch_remedy(config_.index);
            // A safety stop is reported as one (stderr, log, the summary's "stop"), else the
            // admin would see exit 3 and no reason.
            summary_.stop = error_;
            spdlog::error("{}", error_);
            return kExitSafetyStop;
        } catch (const std::exception& e) {
            error_ = e.what();
            return kExitRuntime;
        }
        std::unique_ptr<SweepLock> lock;
        if (const int rc = take_lock(lock); rc != 0) return rc;
        try {
            return sweep();
        } catch (const StoreError& e) {
            error_ = e.what();
            return kExitConfig;  // found in phase 1: nothing was changed
        } catch (const std::exception& e) {
            error_ = e.what();
            if (acting_) record_run(kExitRuntime);
            return kExitRuntime;
        }
    }

private:
    const Config& config_;
    const SweepOptions& options_;
    system_clock::time_point now_;
    Date today_;
    Summary& summary_;
    std::string& error_;
    steady_clock::time_point started_;
    std::optional<DigestKey> key_;
    std::unique_ptr<Index> index_;
    std::optional<Config> no_expiry_config_;  // the config without orphan expiry, when needed
    Receipts receipts_;
    Leftovers leftovers_;
    bool acting_ = false;

    // Tries for the lock until it is had or --wait-for-lock is over: a standby sweeper then
    // runs after the first host's sweep, finding that night's work done.
    SweepLockAttempt wait_for_lock() {
        const auto began = steady_clock::now();
        const auto until = began + options_.lock_wait;
        SweepLockAttempt attempt = index_->try_lock_sweep();
        if (attempt.status != SweepLockAttempt::Status::Busy || options_.lock_wait.count() == 0) return attempt;
        spdlog::info("another retention-sweep is running ({}): waiting up to {} s for it", attempt.where,
                     options_.lock_wait.count());
        while (attempt.status == SweepLockAttempt::Status::Busy && steady_clock::now() < until) {
            std::this_thread::sleep_for(std::min<steady_clock::duration>(options_.lock_retry, until - steady_clock::now()));
            attempt = index_->try_lock_sweep();
        }
        move_clock_on(steady_clock::now() - began);
        return attempt;
    }

    // A run that waited for another's lock acts as of when it got it: the other run
    // recorded its end as the last run, later than the time this one started with, and
    // an earlier clock would be taken for one that went back.
    void move_clock_on(steady_clock::duration waited) {
        now_ += duration_cast<system_clock::duration>(waited);
        if (options_.now_date) return;  // a what-if keeps the day it was given
        today_ = utc_date(now_);
        summary_.today = format_date(today_);
    }

    int take_lock(std::unique_ptr<SweepLock>& lock) {
        SweepLockAttempt attempt = wait_for_lock();
        switch (attempt.status) {
            case SweepLockAttempt::Status::Held: lock = std::move(attempt.lock); return 0;
            case SweepLockAttempt::Status::Busy:
                summary_.stop = "another retention-sweep is running (it holds " + attempt.where + "); nothing was done";
                spdlog::warn("{}", *summary_.stop);
                return kExitSafetyStop;
            case SweepLockAttempt::Status::Failed:
                if (options_.dry_run) {
                    // A dry run changes nothing, so an admin without write access to the
                    // index's folder may still look.
                    summary_.warn("dry run without the sweep lock (" + attempt.where + ": " + attempt.error + ")");
                    return 0;
                }
                error_ = "cannot take the sweep lock (" + attempt.where + "): " + attempt.error +
                         " (run as the mail store's user, in the index's group)";
                return kExitRuntime;
        }
        return kExitRuntime;
    }

    int sweep() {
        spdlog::info("sweep started: today {}{}{}", summary_.today, options_.now_date ? " (--now what-if)" : "",
                     options_.dry_run ? ", dry run" : "");
        const auto last_run = meta_seconds(*index_, kMetaLastRun);
        // Claims a killed run left (it holds no lock now): lifted before anything else, so
        // that a run which then stops for safety does not keep holds refused.
        if (!options_.dry_run) index_->release_claims();
        const bool journal_read = take_in_pending_journal(config_, *index_, options_.dry_run, summary_);
        const Config& config = journal_read ? config_ : without_orphan_expiry();
        Stores store(config, *key_, options_.scan_cache_settle);
        Plan plan = scan_stores(store, config, *index_, *key_, today_, summary_,
                                ScanCache{.look_up = !options_.read_all,
                                          .learn_into = options_.dry_run ? nullptr : index_.get(),
                                          .settle = options_.scan_cache_settle});
        // Before anything else is done, and also when the run then stops: what staff put
        // in a hold folder is held whatever this run does next.
        hold_from_folders(store, plan);
        if (auto why = stop_reason(last_run, plan)) {
            count_planned(plan, summary_);
            summary_.stop = *why;
            spdlog::error("safety stop, nothing destroyed: {}", *why);
            if (!options_.dry_run) record_run(kExitSafetyStop);
            return kExitSafetyStop;
        }
        release_from_folders(plan);
        if (options_.dry_run) {
            count_planned(plan, summary_);
            return summary_.skip_count() ? kExitSkipped : kExitOk;
        }
        if (options_.between_phases) options_.between_phases();
        acting_ = true;
        act(store, plan);
        return record_run(summary_.skip_count() ? kExitSkipped : kExitOk);
    }

    const Config& without_orphan_expiry() {
        no_expiry_config_ = config_;
        if (no_expiry_config_->sweep.orphans == Orphans::Expire) no_expiry_config_->sweep.orphans = Orphans::Report;
        return *no_expiry_config_;
    }

    void hold_from_folders(Store& store, const Plan& plan) {
        HoldFolderCounts& counts = summary_.hold_folders;
        for (const auto& missing : plan.missing_hold_folders) {
            // Never in a mailbox the scan could not read as one: an empty mount point, say.
            if (!plan.roots[missing.root].usable) {
                summary_.warn("the " + missing.label + " is not made: its mailbox could not be read as one");
                continue;
            }
            if (options_.dry_run) {
                ++counts.made;
                continue;
            }
            bool created = false;
            if (const int err = store.ensure_folder(plan, missing.root, missing.folder, created); err != 0)
                summary_.warn("cannot make the " + missing.label + ": " + std::strerror(err));
            else if (created)
                ++counts.made;
        }
        for (const auto& item : plan.folder_holds) {
            if (options_.dry_run) {
                ++(item.in_force ? counts.already : counts.placed);
                continue;
            }
            switch (index_->hold_from_folder(item.digest, item.reason, item.label, now_)) {
                case FolderHold::Placed: ++counts.placed; break;
                case FolderHold::AlreadyInForce: ++counts.already; break;
                case FolderHold::NotInIndex:
                case FolderHold::AllDestroyed: ++counts.not_helpline; break;
            }
        }
        if (counts.placed) spdlog::info("placed {} folder hold(s) on messages in hold folders", counts.placed);
    }

    // Only in a run that goes on to act (or a dry run saying what it would do): a run that
    // stops for safety lifts no hold. A hold that cannot be lifted stays, and phase 2,
    // which asks for holds before it destroys, keeps its message.
    void release_from_folders(const Plan& plan) {
        HoldFolderCounts& counts = summary_.hold_folders;
        for (const auto& item : plan.folder_releases) {
            if (!options_.dry_run) {
                try {
                    const auto holds = index_->active_holds(item.digest);
                    if (std::none_of(holds.begin(), holds.end(), [](const Hold& h) { return h.kind == HoldKind::Folder; }))
                        continue;  // released meanwhile (retentionctl release)
                    index_->release(item.digest, item.label, now_, HoldKind::Folder);
                } catch (const IndexError& e) {
                    summary_.warn(std::string("folder holds could not be lifted, so they stay (an index made before "
                                              "release folders existed needs retentionctl upgrade-index): ") +
                                  e.what());
                    spdlog::error("cannot lift a folder hold: {}", e.what());
                    break;
                }
            }
            ++counts.released;
        }
        if (counts.released && !options_.dry_run)
            spdlog::info("released {} folder hold(s) on messages in release folders", counts.released);
    }

    // A message held in a hold folder that could not be read may have copies in any
    // mailbox: no --force makes destroying them safe.
    static std::optional<std::string> hold_folders_unread(const Plan& plan, const Summary& summary) {
        if (!plan.holds_unread) return std::nullopt;
        return "hold " + join(summary.hold_folders.unreadable, ", ") +
               " could not be read: a message held there may have copies in any mailbox, so nothing is destroyed or "
               "moved until every hold folder can be read (check the folder's permissions and the mail server; "
               "--list names where)";
    }

    std::optional<std::string> stop_reason(std::optional<std::int64_t> last_run, const Plan& plan) {
        if (auto why = hold_folders_unread(plan, summary_)) return why;
        std::vector<std::string> reasons;
        // --now pretends a date for a what-if; the clock checks compare the real clock.
        if (!options_.now_date) {
            if (auto p = clock_problem(last_run, epoch_seconds(now_), config_.sweep.max_clock_jump))
                reasons.push_back(*p);
        }
        const long n = planned_destroys(plan);
        if (n > config_.sweep.max_destroy_per_run)
            reasons.push_back("this run would destroy " + std::to_string(n) +
                              " messages and files, more than max_destroy_per_run (" +
                              std::to_string(config_.sweep.max_destroy_per_run) +
                              "): check the clock and the config (policies, [[sweep.mailbox]] entries, orphans), "
                              "see what would go with --dry-run --list, then run with --force (or raise "
                              "max_destroy_per_run)");
        if (reasons.empty()) return std::nullopt;
        if (options_.force) {
            for (const auto& r : reasons) {
                summary_.warn("--force: went on although " + r);
                spdlog::warn("--force: going on although {}", r);
            }
            return std::nullopt;
        }
        return join(reasons, "; and ");
    }

    void act(Store& store, Plan& plan) {
        const auto started = receipts_.recover_interrupted(*index_, now_);
        leftovers_.carry(index_->get_meta(kMetaInProgress));
        leftovers_.carry(index_->get_meta(kMetaLeftovers));
        receipts_.write_in_progress(*index_, plan, started, own_files_of(plan, *key_));
        execute({config_, *index_, *key_, store, now_, options_.command_timeout, summary_, receipts_, leftovers_},
                plan);
    }

    // The receipt, the digest erasure, the clock mark and the metrics of a real run.
    int record_run(int rc) {
        summary_.exit_code = rc;
        try {
            receipts_.append(*index_, now_, today_, summary_, rc);
            if (rc == kExitOk || rc == kExitSkipped) {
                index_->set_meta(kMetaLeftovers, leftovers_.record(rc != kExitOk));
                erase_old_digests(config_, *index_, today_, now_);
                destroy_old_rejected_journal(config_, today_, summary_);
                const std::string t = std::to_string(epoch_seconds(now_));
                index_->set_meta(kMetaLastRun, t);
                index_->set_meta(kMetaLastSuccess, t);
                index_->set_meta(kMetaInProgress, "");
            }
        } catch (const std::exception& e) {
            if (error_.empty()) error_ = e.what();
            rc = kExitRuntime;
            summary_.exit_code = rc;
        }
        write_metrics_file(config_, *index_, summary_, today_, now_, started_);
        log_result(summary_);
        return rc;
    }
};

}  // namespace

Summary run_sweep(const Config& config, const SweepOptions& options, system_clock::time_point now, std::string& error) {
    const auto started = steady_clock::now();
    Summary s;
    s.dry_run = options.dry_run;
    s.now_override = options.now_date.has_value();
    s.forced = options.force;
    s.list = options.list;
    const Date today = options.now_date ? *options.now_date : utc_date(now);
    s.today = format_date(today);
    Sweeper sweeper(config, options, now, today, s, error);
    s.exit_code = sweeper.run();
    s.duration_seconds = duration<double>(steady_clock::now() - started).count();
    return s;
}

}  // namespace rm::sweep
