#include "sweeper/sweep.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <spdlog/spdlog.h>
#include <unordered_map>
#include <unordered_set>

#include "core/strings.hpp"
#include "db/index.hpp"
#include "db/journal.hpp"
#include "sweeper/destroy.hpp"
#include "sweeper/move.hpp"
#include "sweeper/plan.hpp"
#include "sweeper/safety.hpp"

namespace rm::sweep {

namespace {

using namespace std::chrono;

std::int64_t epoch_seconds(system_clock::time_point t) { return duration_cast<seconds>(t.time_since_epoch()).count(); }

std::optional<std::int64_t> parse_int(const std::optional<std::string>& s) {
    if (!s || s->empty()) return std::nullopt;
    std::int64_t v = 0;
    const auto [end, ec] = std::from_chars(s->data(), s->data() + s->size(), v);
    if (ec != std::errc{} || end != s->data() + s->size()) return std::nullopt;
    return v;
}

std::optional<Digest> from_hex(std::string_view hex) {
    if (hex.size() % 2) return std::nullopt;
    Digest out;
    for (size_t i = 0; i < hex.size(); i += 2) {
        unsigned v = 0;
        const auto [end, ec] = std::from_chars(hex.data() + i, hex.data() + i + 2, v, 16);
        if (ec != std::errc{} || end != hex.data() + i + 2) return std::nullopt;
        out += static_cast<char>(v);
    }
    return out;
}

// How far one index row's copies have got in phase 2: it is marked destroyed only when
// every copy planned is gone (a copy that moved away meanwhile is not gone: the next run
// finds it, or finds it nowhere).
struct RowProgress {
    int pending = 0;  // inode groups still to destroy
    int copies = 0;
    bool failed = false;
    bool held = false;  // held before the claim: no copy is destroyed
};

class Sweeper {
public:
    Sweeper(const Config& c, const SweepOptions& o, system_clock::time_point now, Date today, Summary& s,
            std::string& error)
        : c_(c), o_(o), now_(now), today_(today), s_(s), error_(error), started_(steady_clock::now()) {}

    int run() {
        try {
            auto opened = open_index_checked(
                c_.index, {.create = false, .read_only = o_.dry_run, .busy_timeout_ms = 30000, .cache_mib = 64}, false);
            key_.emplace(std::move(opened.key));
            index_ = std::move(opened.index);
        } catch (const KeyMismatch& e) {
            // With another key no copy would match its rows: every expired row would look
            // copy-less and be marked destroyed while its mail stayed. Stop instead.
            error_ = std::string(e.what()) + ": nothing was done; restore the right key from backup";
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
    const Config& c_;
    const SweepOptions& o_;
    system_clock::time_point now_;
    Date today_;
    Summary& s_;
    std::string& error_;
    steady_clock::time_point started_;
    std::optional<DigestKey> key_;
    std::unique_ptr<Index> index_;
    std::optional<Config> no_expiry_config_;  // the config without orphan expiry, when needed
    std::vector<Digest> receipt_digests_;
    std::set<Digest> receipt_seen_;
    bool acting_ = false;
    bool rows_frozen_ = false;  // see Plan::rows_frozen
    // Marker-named files (OwnFiles): recorded by earlier runs, left by this one, gone for good.
    OwnFiles carried_, left_behind_;
    std::set<std::pair<dev_t, ino_t>> removed_;
    std::vector<std::string> files_gone_;  // files_seen keys of [[sweep.files]] files destroyed

    int take_lock(std::unique_ptr<SweepLock>& lock) {
        SweepLockAttempt attempt = index_->try_lock_sweep();
        switch (attempt.status) {
            case SweepLockAttempt::Status::Held: lock = std::move(attempt.lock); return 0;
            case SweepLockAttempt::Status::Busy:
                s_.stop = "another retention-sweep is running (it holds " + attempt.where + "); nothing was done";
                spdlog::warn("{}", *s_.stop);
                return kExitSafetyStop;
            case SweepLockAttempt::Status::Failed:
                if (o_.dry_run) {
                    // A dry run changes nothing, so an admin without write access to the
                    // index's folder may still look.
                    s_.warn("dry run without the sweep lock (" + attempt.where + ": " + attempt.error + ")");
                    return 0;
                }
                error_ = "cannot open the lock file " + attempt.where + ": " + attempt.error +
                         " (run as the mail store's user, in the index's group)";
                return kExitRuntime;
        }
        return kExitRuntime;
    }

    int sweep() {
        spdlog::info("sweep started: today {}{}{}", s_.today, o_.now_date ? " (--now what-if)" : "",
                     o_.dry_run ? ", dry run" : "");
        const auto last_run = parse_int(index_->get_meta(kMetaLastRun));
        // Claims a killed run left (it holds no lock now): lifted before anything else, so
        // that a run which then stops for safety does not keep holds refused.
        if (!o_.dry_run) index_->release_claims();
        const Config& config = take_in_pending_journal() ? c_ : without_orphan_expiry();
        Plan plan = make_plan(config, *index_, *key_, today_, s_,
                              ScanCache{.look_up = !o_.read_all,
                                        .learn_into = o_.dry_run ? nullptr : index_.get(),
                                        .settle = o_.scan_cache_settle});
        if (auto why = stop_reason(last_run)) {
            s_.stop = *why;
            spdlog::error("safety stop, nothing destroyed: {}", *why);
            if (!o_.dry_run) record_run(kExitSafetyStop);
            return kExitSafetyStop;
        }
        if (o_.dry_run) return s_.skip_count() ? kExitSkipped : kExitOk;
        if (o_.between_phases) o_.between_phases();
        acting_ = true;
        execute(plan);
        const int rc = s_.skip_count() ? kExitSkipped : kExitOk;
        return record_run(rc);
    }

    // --- the pending journal -----------------------------------------------------------

    // Rows the milter journalled (on_index_error = "accept") are records like any other: a
    // message known only there must not look like an orphan. A real run imports them
    // first; a dry run, which writes nothing, says so when there are some. Returns false
    // when journalled rows remain unread: then no orphan is expired in this run.
    bool take_in_pending_journal() {
        PendingJournal journal(c_.index);
        if (o_.dry_run) {
            if (!journal.has_rows()) return true;
            s_.warn("rows wait in the pending journal " + journal.path() +
                    " (a dry run does not import them): orphans are not expired in this what-if");
            return false;
        }
        try {
            if (const int n = journal.import_into(*index_); n > 0)
                spdlog::info("imported {} row(s) from the pending journal before the sweep", n);
            return true;
        } catch (const IndexError& e) {
            s_.warn(std::string("the pending journal could not be imported, so orphans are not expired in this run: ") +
                    e.what());
            spdlog::error("pending journal: {}", e.what());
            return false;
        }
    }

    const Config& without_orphan_expiry() {
        no_expiry_config_ = c_;
        if (no_expiry_config_->sweep.orphans == Orphans::Expire) no_expiry_config_->sweep.orphans = Orphans::Report;
        return *no_expiry_config_;
    }

    // --- safety ------------------------------------------------------------------------

    std::optional<std::string> stop_reason(std::optional<std::int64_t> last_run) {
        std::vector<std::string> reasons;
        // --now pretends a date for a what-if; the clock checks compare the real clock.
        if (!o_.now_date) {
            if (auto p = clock_problem(last_run, epoch_seconds(now_), c_.sweep.max_clock_jump)) reasons.push_back(*p);
        }
        const long n = s_.planned_destroys();
        if (n > c_.sweep.max_destroy_per_run)
            reasons.push_back("this run would destroy " + std::to_string(n) +
                              " messages and files, more than max_destroy_per_run (" +
                              std::to_string(c_.sweep.max_destroy_per_run) +
                              "): check the clock and the config (policies, [[sweep.mailbox]] entries, orphans), "
                              "see what would go with --dry-run --list, then run with --force (or raise "
                              "max_destroy_per_run)");
        if (reasons.empty()) return std::nullopt;
        if (o_.force) {
            for (const auto& r : reasons) {
                s_.warn("--force: went on although " + r);
                spdlog::warn("--force: going on although {}", r);
            }
            return std::nullopt;
        }
        return join(reasons, "; and ");
    }

    // --- phase 2 -----------------------------------------------------------------------

    void execute(Plan& plan) {
        const auto started = recover_interrupted_receipt();
        carried_.merge(index_->get_meta(kMetaInProgress));
        carried_.merge(index_->get_meta(kMetaLeftovers));
        write_in_progress(plan, started);
        rows_frozen_ = plan.rows_frozen;
        Dirs dirs(plan);
        std::set<std::pair<size_t, std::string>> touched;
        destroy_all(plan, dirs, touched);
        forget_files_gone();
        move_all(plan, dirs, touched);
        mark_unseen(plan);
        index_->release_claims();  // what could not be destroyed may be held again
        report_index_caches(plan, dirs, touched);
        run_after_mailbox(plan);
    }

    using Groups = std::vector<std::vector<size_t>>;

    // All names of one inode destroyed together (hard links: Dovecot copies with them),
    // in folder order so that directory descriptors are reused.
    static Groups inode_groups(const Plan& plan) {
        std::map<std::pair<dev_t, ino_t>, std::vector<size_t>> by_inode;
        for (size_t i = 0; i < plan.destroys.size(); ++i)
            by_inode[{plan.destroys[i].file.dev, plan.destroys[i].file.ino}].push_back(i);
        Groups groups;
        for (auto& [inode, items] : by_inode) groups.push_back(std::move(items));
        std::sort(groups.begin(), groups.end(), [&](const auto& a, const auto& b) {
            const FileRef& x = plan.destroys[a.front()].file;
            const FileRef& y = plan.destroys[b.front()].file;
            return std::tie(x.root, x.folder, x.sub) < std::tie(y.root, y.folder, y.sub);
        });
        return groups;
    }

    static std::vector<std::int64_t> rows_of(const Plan& plan, const std::vector<size_t>& group) {
        std::vector<std::int64_t> out;
        for (const size_t i : group) {
            const auto& d = plan.destroys[i];
            if (d.kind != DestroyKind::Message) continue;
            for (const auto id : d.rows)
                if (std::find(out.begin(), out.end(), id) == out.end()) out.push_back(id);
        }
        return out;
    }

    static bool has_message(const Plan& plan, const std::vector<size_t>& group) {
        return std::any_of(group.begin(), group.end(),
                           [&](size_t i) { return plan.destroys[i].kind == DestroyKind::Message; });
    }

    // Files are destroyed in batches: each batch's folders are synced once; the rows of
    // every message whose copies are all gone and synced are then marked, up to
    // kMarkMessages in one transaction. A transaction writes each index page it changes
    // once, so few large ones write far less than many small ones (2048 per transaction
    // wrote 75 000 pages for 30 000 messages). A run killed before the mark leaves present
    // rows, and the next run finds what is left.
    static constexpr size_t kBatchFiles = 2048;
    static constexpr size_t kBatchFolders = 64;
    static constexpr size_t kMarkMessages = 16384;

    void destroy_all(Plan& plan, Dirs& dirs, std::set<std::pair<size_t, std::string>>& touched) {
        const Groups groups = inode_groups(plan);
        std::unordered_map<std::int64_t, RowProgress> progress;
        for (const auto& g : groups)
            for (const auto id : rows_of(plan, g)) ++progress[id].pending;
        DirSyncs unsynced;
        std::vector<Index::DestroyedRow> done, synced;
        size_t files = 0;
        const auto flush = [&](bool last) {
            unsynced.sync_all();
            synced.insert(synced.end(), done.begin(), done.end());
            done.clear();
            files = 0;
            if (last || synced.size() >= kMarkMessages) {
                mark_destroyed(synced);
                synced.clear();
            }
        };
        for (size_t start = 0; start < groups.size(); start += kBatchFiles) {
            const size_t end = std::min(groups.size(), start + kBatchFiles);
            const std::unordered_set<Digest> held = claim(plan, groups, start, end);
            for (size_t gi = start; gi < end; ++gi) {
                const auto& g = groups[gi];
                if (is_held(plan, g, held)) {
                    count_held(plan, g, progress);
                    continue;
                }
                std::vector<FileRef> names;
                for (const size_t i : g) names.push_back(plan.destroys[i].file);
                const DestroyOutcome out = destroy_file(dirs, names, c_.sweep.secure_delete, &unsynced);
                account_destroy(plan, g, out, touched);
                const bool all_gone = static_cast<size_t>(out.removed) == names.size();
                for (const auto id : rows_of(plan, g)) {
                    RowProgress& p = progress[id];
                    p.copies += out.removed;
                    p.failed = p.failed || !all_gone;
                    if (--p.pending == 0 && !p.failed && !p.held) done.push_back({id, p.copies});
                }
                files += names.size();
                if (files >= kBatchFiles || unsynced.size() >= kBatchFolders) flush(false);
            }
        }
        flush(true);
    }

    // Claims the messages of groups [start, end) just before they are destroyed, in the
    // transaction that checks their holds: a hold placed before the claim wins (the files
    // are kept, counted held, their rows stay present); one placed after is refused
    // ("being destroyed"). Returns the digests found held.
    std::unordered_set<Digest> claim(const Plan& plan, const Groups& groups, size_t start, size_t end) {
        std::map<Digest, std::vector<std::int64_t>> rows_by_digest;
        for (size_t gi = start; gi < end; ++gi) {
            for (const size_t i : groups[gi]) {
                const DestroyItem& d = plan.destroys[i];
                if (d.kind != DestroyKind::Message) continue;
                auto& rows = rows_by_digest[d.digest];
                rows.insert(rows.end(), d.rows.begin(), d.rows.end());
            }
        }
        std::vector<Index::Claim> claims;
        for (auto& [digest, rows] : rows_by_digest) claims.push_back({digest, std::move(rows)});
        const std::vector<bool> claimed = index_->claim(claims, now_);
        std::unordered_set<Digest> held;
        for (size_t i = 0; i < claims.size(); ++i)
            if (!claimed[i]) held.insert(claims[i].digest);
        return held;
    }

    static bool is_held(const Plan& plan, const std::vector<size_t>& g, const std::unordered_set<Digest>& held) {
        if (held.empty() || !has_message(plan, g)) return false;
        return std::any_of(g.begin(), g.end(), [&](size_t i) {
            const DestroyItem& d = plan.destroys[i];
            return d.kind == DestroyKind::Message && held.count(d.digest) > 0;
        });
    }

    void count_held(const Plan& plan, const std::vector<size_t>& g, std::unordered_map<std::int64_t, RowProgress>& progress) {
        for (const auto id : rows_of(plan, g)) {
            progress[id].held = true;
            --progress[id].pending;
        }
        for (const size_t i : g) {
            const DestroyItem& d = plan.destroys[i];
            --s_.lines[d.label].destroyed;
            ++s_.lines[d.label].held;
        }
    }

    void account_destroy(Plan& plan, const std::vector<size_t>& g, const DestroyOutcome& out,
                         std::set<std::pair<size_t, std::string>>& touched) {
        const DestroyItem& first = plan.destroys[g.front()];
        const std::string path = path_of(plan, first.file);
        for (const auto& f : out.folders) {
            touched.insert(f);
            plan.roots[f.first].changed = true;
        }
        for (const Skip why : out.skips) s_.skip(why, first.kind == DestroyKind::File ? "" : first.label, path);
        const std::pair<dev_t, ino_t> inode{first.file.dev, first.file.ino};
        if (static_cast<size_t>(out.removed + out.vanished) == g.size()) {
            removed_.insert(inode);
            if (first.kind == DestroyKind::File) files_gone_.push_back(files_seen_key(*key_, first.file));
        } else {
            left_behind_.inodes.insert(inode);
        }
        // What did not happen comes off the counts phase 1 made.
        long undone = static_cast<long>(g.size()) - out.removed;
        s_.vanished += out.vanished;
        for (auto it = g.rbegin(); it != g.rend() && undone > 0; ++it, --undone) {
            const DestroyItem& d = plan.destroys[*it];
            switch (d.kind) {
                case DestroyKind::Message: --s_.lines[d.label].destroyed; break;
                case DestroyKind::Orphan:
                    --s_.lines[d.label].orphans_destroyed;
                    ++s_.lines[d.label].orphans;
                    break;
                case DestroyKind::File:
                    --s_.files[d.label].destroyed;
                    ++s_.files[d.label].kept;
                    break;
                case DestroyKind::Residue: --s_.residues.interrupted_finished; break;
            }
        }
    }

    // A destroyed letter file is not remembered (its row would only wait for kFilesSeenDays).
    void forget_files_gone() {
        try {
            index_->forget_files_seen(files_gone_);
        } catch (const IndexError& e) {
            s_.warn(std::string("could not forget destroyed [[sweep.files]] files in the index: ") + e.what());
        }
    }

    void mark_destroyed(const std::vector<Index::DestroyedRow>& batch, Index::Unless unless = Index::Unless::Nothing) {
        if (rows_frozen_) {
            s_.rows_mark_deferred += static_cast<long>(batch.size());
            return;
        }
        for (const auto& d : index_->mark_destroyed(batch, now_, unless))
            if (receipt_seen_.insert(d).second) receipt_digests_.push_back(d);
    }

    void move_all(Plan& plan, Dirs& dirs, std::set<std::pair<size_t, std::string>>& touched) {
        Destinations dests;
        for (const MoveItem& m : plan.moves) {
            const MoveOutcome out = move_copy(dirs, dests, m, *key_, c_.sweep.secure_delete);
            const std::string path = path_of(plan, m.source);
            if (out.result == MoveOutcome::Result::Failed || !out.source.skips.empty()) {
                left_behind_.inodes.insert({m.source.dev, m.source.ino});
                left_behind_.tmp_names.insert(own_tmp_key(m));
            }
            switch (out.result) {
                case MoveOutcome::Result::Moved:
                case MoveOutcome::Result::AlreadyThere:
                    plan.roots[m.source.root].changed = true;
                    plan.roots[m.dest_root].changed = true;
                    for (const auto& f : out.source.folders) touched.insert(f);
                    for (const Skip why : out.source.skips) s_.skip(why, m.line, path);
                    break;
                case MoveOutcome::Result::Vanished:
                    --s_.lines[m.line].moved;
                    ++s_.vanished;
                    break;
                case MoveOutcome::Result::Failed:
                    --s_.lines[m.line].moved;
                    ++s_.lines[m.line].kept;
                    s_.skip(out.skip.value_or(Skip::MoveFailed), m.line, path);
                    break;
            }
            if (out.created_folder) {
                ++s_.folders_created;
                s_.warn("created a Sent folder in a shared mailbox for moved copies; mail clients may have to "
                        "subscribe to it before staff see it");
            }
        }
    }

    // Rows past their date whose message no store holds (destroyed by hand, or by a run
    // killed after the files went and before the rows were marked): marked with 0 copies.
    // The plan knew the holds of when the scan began: one placed since still wins, checked
    // in the statement that marks.
    void mark_unseen(const Plan& plan) {
        if (rows_frozen_) return;  // the plan deferred them already; never marked now
        std::vector<Index::DestroyedRow> batch;
        for (const auto& u : plan.unseen) batch.push_back({u.id, 0});
        const auto marked = index_->mark_destroyed(batch, now_, Index::Unless::Held);
        const std::set<Digest> marked_set(marked.begin(), marked.end());
        for (const auto& d : marked)
            if (receipt_seen_.insert(d).second) receipt_digests_.push_back(d);
        for (const auto& u : plan.unseen)
            if (!marked_set.count(u.digest)) --s_.rows_marked_unseen;  // held since the scan
    }

    void report_index_caches(const Plan& plan, Dirs& dirs, const std::set<std::pair<size_t, std::string>>& touched) {
        for (const auto& [root, folder] : touched) {
            if (plan.roots[root].is_files) continue;
            const auto fd = dirs.open(root, folder);
            struct stat st {};
            if (fd && ::fstatat(fd->get(), "dovecot.index.cache", &st, AT_SYMLINK_NOFOLLOW) == 0) {
                ++s_.residues.index_cache_folders;
                s_.listed("residue", plan.roots[root].path + (folder.empty() ? "" : "/" + folder),
                          "dovecot.index.cache may hold header copies of destroyed messages");
            }
        }
    }

    void run_after_mailbox(const Plan& plan) {
        if (c_.sweep.after_mailbox.empty()) return;
        for (const Root& root : plan.roots) {
            if (!root.changed || root.is_files) continue;
            std::vector<std::string> argv;
            bool needs_user = false;
            for (const auto& arg : c_.sweep.after_mailbox) {
                std::string a = arg;
                for (size_t pos = 0; (pos = a.find("%u", pos)) != std::string::npos; pos += root.user.size()) {
                    needs_user = true;
                    a.replace(pos, 2, root.user);
                }
                argv.push_back(std::move(a));
            }
            if (needs_user && root.user.empty()) {
                s_.skip(Skip::NoUserForCommand, root.kind == MailboxKind::Shared ? root.line : "", root.path);
                continue;
            }
            std::string why;
            const int rc = run_command(argv, o_.command_timeout, why);
            if (rc == 0) {
                ++s_.after_mailbox_ran;
            } else {
                spdlog::warn("after_mailbox ({}) {}", argv.front(), why);
                s_.skip(Skip::AfterMailboxFailed, root.kind == MailboxKind::Shared ? root.line : "", root.path);
            }
        }
    }

    static std::string path_of(const Plan& plan, const FileRef& f) {
        const std::string dir = f.dir();
        return plan.roots[f.root].path + (dir.empty() ? "" : "/" + dir) + "/" + f.name;
    }

    // --- between runs ------------------------------------------------------------------

    // The digests this run is about to destroy, so that a run killed before its receipt
    // still gets them into the receipt chain: the next run adds those that were destroyed.
    // Digests recovered from an earlier killed run are carried on, with its start time.
    void write_in_progress(const Plan& plan, system_clock::time_point started) {
        nlohmann::json j;
        j["started"] = epoch_seconds(started);
        const auto last = index_->last_receipt();
        j["after_receipt"] = last ? last->id : 0;
        std::set<std::string> hex;
        for (const auto& d : receipt_digests_) hex.insert(to_hex(d));
        for (const auto& d : plan.destroys)
            if (d.kind == DestroyKind::Message) hex.insert(to_hex(d.digest));
        for (const auto& u : plan.unseen) hex.insert(to_hex(u.digest));
        j["digests"] = hex;
        j["own"] = nlohmann::json::parse(own_files(plan).to_json());
        index_->set_meta(kMetaInProgress, j.dump());
    }

    // Every file this run may rename to a marker name, and the tmp/ names of its move copies.
    OwnFiles own_files(const Plan& plan) const {
        OwnFiles own;
        for (const auto& d : plan.destroys) own.inodes.insert({d.file.dev, d.file.ino});
        for (const auto& m : plan.moves) {
            own.inodes.insert({m.source.dev, m.source.ino});
            own.tmp_names.insert(own_tmp_key(m));
        }
        return own;
    }

    std::string own_tmp_key(const MoveItem& m) const {
        const auto name = parse_maildir_name(m.source.name);
        return OwnFiles::tmp_key(*key_, marker_name(name ? name->unique : m.source.name));
    }

    // What a finished run hands on: the marker files it could not remove and, when it
    // skipped something (a folder it could not read may hold older ones), what earlier
    // runs recorded, less what is gone for good.
    void record_leftovers(int rc) {
        OwnFiles left = left_behind_;
        if (rc != kExitOk) {
            left.inodes.insert(carried_.inodes.begin(), carried_.inodes.end());
            left.tmp_names.insert(carried_.tmp_names.begin(), carried_.tmp_names.end());
        }
        for (const auto& i : removed_) left.inodes.erase(i);
        index_->set_meta(kMetaLeftovers, left.empty() ? std::string() : "{\"own\":" + left.to_json() + "}");
    }

    // Returns when the earliest run whose digests are still to be receipted started.
    system_clock::time_point recover_interrupted_receipt() {
        const auto text = index_->get_meta(kMetaInProgress);
        if (!text || text->empty()) return now_;
        const auto j = nlohmann::json::parse(*text, nullptr, false);
        if (j.is_discarded() || !j.is_object()) return now_;
        const auto last = index_->last_receipt();
        // The killed run got as far as its own receipt: nothing to recover.
        if (j.value("after_receipt", std::int64_t{0}) != (last ? last->id : 0)) return now_;
        const auto started = system_clock::time_point(seconds(j.value("started", std::int64_t{0})));
        for (const auto& h : j.value("digests", std::vector<std::string>{})) {
            const auto d = from_hex(h);
            if (!d) continue;
            const auto rows = index_->rows_for(*d);
            const bool destroyed_then =
                !rows.empty() && std::all_of(rows.begin(), rows.end(), [&](const MessageRow& r) {
                    return r.state == RowState::Destroyed && r.destroyed_at && *r.destroyed_at >= started;
                });
            if (destroyed_then && receipt_seen_.insert(*d).second) receipt_digests_.push_back(*d);
        }
        spdlog::info("an earlier sweep was interrupted; {} message(s) it destroyed join this run's receipt",
                     receipt_digests_.size());
        return std::min(started, now_);
    }

    // The receipt, the digest erasure, the clock mark and the metrics of a real run.
    int record_run(int rc) {
        s_.exit_code = rc;
        try {
            Receipt r;
            r.run_at = now_;
            r.today = today_;
            r.counts_json = receipt_counts_json(s_);
            r.destroyed = static_cast<std::int64_t>(receipt_digests_.size());
            r.exit_code = rc;
            index_->add_receipt(r, receipt_digests_);
            if (rc == kExitOk || rc == kExitSkipped) {
                record_leftovers(rc);
                erase_old_digests();
                destroy_old_rejected_journal();
                const std::string t = std::to_string(epoch_seconds(now_));
                index_->set_meta(kMetaLastRun, t);
                index_->set_meta(kMetaLastSuccess, t);
                index_->set_meta(kMetaInProgress, "");
            }
        } catch (const std::exception& e) {
            if (error_.empty()) error_ = e.what();
            rc = kExitRuntime;
            s_.exit_code = rc;
        }
        write_metrics_file();
        log_result();
        return rc;
    }

    void erase_old_digests() {
        const Date cutoff_day = subtract_period(today_, c_.index.digest_grace);
        const auto time_of_day = now_ - floor<days>(now_);
        const int erased = index_->erase_old_digests(sys_days{cutoff_day} + time_of_day);
        if (erased > 0) spdlog::info("erased the digests of {} row(s) destroyed more than {} ago", erased,
                                     c_.index.digest_grace.text());
    }

    // The journal's rejected lines may hold digests: kept no longer than the longest
    // retention of any policy plus digest_grace after they were last written.
    void destroy_old_rejected_journal() {
        const PendingJournal journal(c_.index);
        const auto result = journal.destroy_rejected_if([&](Date until) {
            Date last = until;
            for (const auto& [name, policy] : c_.policies) last = std::max(last, add_period(until, policy.retain));
            return sys_days{add_period(last, c_.index.digest_grace)} < sys_days{today_};
        });
        if (result.outcome == PendingJournal::Outcome::Failed)
            s_.warn("could not destroy " + journal.rejected_path() + " (journal lines no import could read, past every "
                    "retention period): " + result.error);
        else if (result.outcome == PendingJournal::Outcome::Destroyed)
            spdlog::info("destroyed {}: its lines were past every retention period and digest_grace",
                         journal.rejected_path());
    }

    void write_metrics_file() {
        if (c_.sweep.metrics_file.empty()) return;
        try {
            std::optional<system_clock::time_point> last_success;
            s_.duration_seconds = duration<double>(steady_clock::now() - started_).count();
            if (auto t = parse_int(index_->get_meta(kMetaLastSuccess))) last_success = system_clock::time_point(seconds(*t));
            const long overdue = static_cast<long>(index_->expired(today_).size());
            write_metrics(c_.sweep.metrics_file, s_, now_, last_success, overdue);
        } catch (const std::exception& e) {
            spdlog::error("{}", e.what());
            s_.warn(std::string("metrics not written: ") + e.what());
        }
    }

    void log_result() {
        LineCounts total;
        for (const auto& [tag, c] : s_.lines) {
            total.destroyed += c.destroyed;
            total.moved += c.moved;
            total.kept += c.kept;
            total.held += c.held;
            total.orphans += c.orphans;
            total.orphans_destroyed += c.orphans_destroyed;
        }
        long files = 0;
        for (const auto& [p, c] : s_.files) files += c.destroyed;
        for (const auto& [why, n] : s_.skips) spdlog::warn("skipped {} x {}", n, skip_text(why));
        for (const auto& [number, pattern] : s_.mailboxes_not_read)
            spdlog::warn("not read completely: {}; no index row marked destroyed in this run",
                         mailbox_entry_text(number, pattern));
        spdlog::info("sweep finished with exit code {}: destroyed {} message copies, {} orphans, {} files; moved {}; "
                     "kept {}; held {}; orphans left {}; skipped {}",
                     s_.exit_code, total.destroyed, total.orphans_destroyed, files, total.moved, total.kept, total.held,
                     total.orphans, s_.skip_count());
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
