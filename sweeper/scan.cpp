#include "sweeper/scan.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "core/strings.hpp"
#include "sweeper/letter_files.hpp"
#include "sweeper/matching.hpp"
#include "sweeper/own_files.hpp"
#include "sweeper/stores.hpp"
#include "sweeper/sweep.hpp"

namespace rm::sweep {

namespace {

// Decides, for each message a store lists, whether it is destroyed, moved, kept or held,
// and which rows past their date no store holds.
class Planner : public ScanSink {
public:
    Planner(Store& store, const Config& config, const Index& index, const DigestKey& key, Date today,
            Summary& summary, ScanCache cache)
        : store_(store), config_(config), index_(index), key_(key), today_(today), summary_(summary),
          look_up_(cache.look_up), cache_(cache.learn_into, today, summary), reads_(index, cache_),
          letters_(config, key, today, summary, reads_, cache.learn_into) {}

    Plan run() {
        // A killed run's record, and what finished runs could not remove.
        own_.merge(index_.get_meta(kMetaInProgress));
        own_.merge(index_.get_meta(kMetaLeftovers));
        for (const auto& row : index_.expired(today_)) expired_.emplace(row.id, Expired{row.digest, false});
        // Read once rather than asked per message: there are few, and phase 2 looks again
        // for holds placed since, just before it destroys.
        for (auto& d : index_.held_digests()) held_.insert(std::move(d));
        for (auto& d : index_.folder_held_digests()) folder_held_.insert(std::move(d));
        store_.add_roots(plan_, *this);
        // Hold folders first: what staff hold there is held everywhere this run, whichever
        // mailbox its other copies are found in.
        for (size_t r = 0; r < plan_.roots.size(); ++r)
            if (plan_.roots[r].kind == MailboxKind::Shared) store_.scan_holds(plan_, r, *this);
        // Releases once every hold folder is read: a message in one stays held.
        plan_releases();
        // Shared mailboxes first: moves from personal Sent folders need to know that
        // their destination could be read.
        for (size_t r = 0; r < plan_.roots.size(); ++r)
            if (plan_.roots[r].kind == MailboxKind::Shared) store_.scan(plan_, r, *this);
        for (size_t r = 0; r < plan_.roots.size(); ++r)
            if (plan_.roots[r].kind == MailboxKind::Personal) store_.scan(plan_, r, *this);
        letters_.scan(plan_, *this);
        find_unseen();
        reads_.end();
        cache_.finish();
        letters_.note_files_seen();
        warn_about_orphans();
        count_holds_out_of_folders();
        return std::move(plan_);
    }

    // --- what the store reports -----------------------------------------------------

    void messages(std::vector<StoredMessage>& batch) override {
        look_up_rows(batch);
        for (const StoredMessage& m : batch) classify(m);
        batch_rows_.reset();
    }

    void location_unread(Skip why, int entry, const std::string& line, const std::string& path,
                         const std::string& shown) override {
        summary_.skip(why, line, path);
        plan_.scope_incomplete = true;
        plan_.rows_frozen = true;
        summary_.mailbox_not_read(entry + 1, shown);
    }

    void message_unread(Skip why, const Root& root, const std::string& path) override {
        summary_.skip(why, line_of(root), path);
        // A file we could not read may be a copy of an expired message: its rows must not
        // be marked "found nowhere" in this run.
        plan_.scope_incomplete = true;
    }

    void vanished() override { ++summary_.vanished; }
    void message_read() override { ++summary_.messages_scanned; }

    void prefetch_known(const std::vector<std::string>& identities) override {
        if (!look_up_) return;
        prefetched_ = reads_.get(identities.size()).known_files(identities);
        prefetch_asked_ = std::unordered_set<std::string>(identities.begin(), identities.end());
    }

    std::optional<Index::FileKeys> known(const std::string& identity) override {
        if (!look_up_) return std::nullopt;
        auto keys = prefetched(identity);
        if (keys) {
            ++summary_.messages_scanned;
            ++summary_.messages_known;
        }
        return keys;
    }

    // What prefetch_known() found for an identity it was asked, else a look-up of its own.
    std::optional<Index::FileKeys> prefetched(const std::string& identity) {
        if (!prefetch_asked_.count(identity)) return reads_.get().known_file(identity);
        const auto it = prefetched_.find(identity);
        if (it == prefetched_.end()) return std::nullopt;
        return it->second;
    }

    void learn(std::string identity, const Index::FileKeys& keys) override { cache_.add(std::move(identity), keys); }

    void leftover(size_t r, const std::string& folder, const std::string& sub, const std::string& name,
                  const struct stat& st) override {
        FileRef f{r, folder, sub, name};
        f.take(st);
        if (!own_.owns(st, sub, name, key_)) return summary_.skip(Skip::NotOurLeftover, line_of(plan_.roots[r]), path_of(plan_, f));
        summary_.listed("residue", path_of(plan_, f), "finishing an interrupted destruction");
        plan_.destroys.push_back({std::move(f), DestroyKind::Residue, {}, {}, {}});
    }

    void hold_folder_unread(Skip why, size_t r, const std::string& name, const std::string& path) override {
        const std::string label = folder_hold_label(name, plan_.roots[r].line);
        plan_.holds_unread = true;
        auto& unread = summary_.hold_folders.unreadable;
        if (std::find(unread.begin(), unread.end(), label) == unread.end()) unread.push_back(label);
        summary_.listed("skip", path, std::string("hold folder: ") + skip_text(why));
    }

    void release_folder_refused(size_t r, const std::string& name, const std::string& why) override {
        if (!refused_releases_.insert({r, name}).second) return;
        summary_.hold_folders.release_refused.push_back("release " + folder_hold_label(name, plan_.roots[r].line) +
                                                        " not used: " + why);
    }

    void hold_folder_missing(size_t r, const std::string& folder, const std::string& name) override {
        plan_.missing_hold_folders.push_back({r, folder, folder_hold_label(name, plan_.roots[r].line)});
    }

    void expunged_copies_folder(const std::string& path) override {
        ++summary_.residues.lazy_expunge_folders;
        summary_.listed("residue", path, "lazy_expunge folder");
    }

private:
    Store& store_;
    const Config& config_;
    const Index& index_;
    const DigestKey& key_;
    Date today_;
    Summary& summary_;
    bool look_up_;
    Index::KnownFiles prefetched_;
    std::unordered_set<std::string> prefetch_asked_;
    CacheWriter cache_;
    IndexReads reads_;
    LetterFiles letters_;
    Plan plan_;
    struct Expired {
        Digest digest;
        bool seen = false;
    };
    std::unordered_map<std::int64_t, Expired> expired_;  // present rows past their date, by id
    std::unordered_set<Digest> held_;                    // digests on hold when the scan began, and found in hold folders
    std::unordered_set<Digest> folder_held_;             // digests on folder hold when the scan began
    std::unordered_set<Digest> in_hold_folders_;         // digests found in a hold folder this run
    std::unordered_set<Digest> released_;                // digests whose folder hold this run lifts
    struct ReleaseCandidate {
        size_t root;
        std::string folder;
        Digest digest;
    };
    std::vector<ReleaseCandidate> release_candidates_;   // messages found in release folders
    std::set<std::pair<size_t, std::string>> refused_releases_;  // release folders not used this run
    std::map<std::string, std::optional<std::pair<size_t, std::string>>> destinations_;
    long orphans_kept_ = 0;
    struct BatchRows {
        Index::RowsByKey by_record;
        Index::RowsByKey by_digest;
    };
    std::optional<BatchRows> batch_rows_;  // the rows of the messages being classified
    OwnFiles own_;  // files earlier runs named with kMarkerPrefix

    // --- what to do with one message ------------------------------------------------

    // A copy the milter stamped is its record's alone; any other copy is matched by its
    // Message-ID digest (see rows_of_unstamped_copy).
    std::vector<MessageRow> rows_matching(const Index::FileKeys& keys, FolderRole role) {
        if (!keys.record.empty()) {
            auto rows = batch_rows_ ? found(batch_rows_->by_record, keys.record) : reads_.get().rows_for_record(keys.record);
            if (!rows.empty()) return rows;
        }
        if (keys.digest.empty()) return {};
        std::vector<MessageRow> rows =
            batch_rows_ ? found(batch_rows_->by_digest, keys.digest) : reads_.get().rows_for(keys.digest);
        if (rows.empty() && !keys.legacy.empty()) rows = reads_.get().rows_for(keys.legacy);
        return rows_of_unstamped_copy(std::move(rows), role);
    }

    // The rows of a batch of messages in two look-ups instead of one or two per message:
    // on a database server each is a round trip.
    void look_up_rows(const std::vector<StoredMessage>& batch) {
        std::vector<Digest> records, digests;
        for (const StoredMessage& m : batch) {
            records.push_back(m.keys.record);
            digests.push_back(m.keys.digest);
        }
        const Index& index = reads_.get(batch.size());
        batch_rows_ = BatchRows{index.rows_for_each_record(records), index.rows_for_each(digests)};
    }

    static std::vector<MessageRow> found(const Index::RowsByKey& rows, const Digest& key) {
        const auto it = rows.find(key);
        return it == rows.end() ? std::vector<MessageRow>{} : it->second;
    }

    void classify(const StoredMessage& m) {
        if (m.role == FolderRole::Hold) return hold_found(m);
        if (m.role == FolderRole::Release) return release_found(m);
        const std::vector<MessageRow> rows = rows_matching(m.keys, m.role);
        if (rows.empty()) {
            // In a personal mailbox, a message the index does not know is the staff
            // member's own mail: never touched.
            if (m.role == FolderRole::Shared) plan_orphan(m);
            return;
        }
        std::vector<std::int64_t> present;
        for (const auto& row : rows) {
            if (auto it = expired_.find(row.id); it != expired_.end()) it->second.seen = true;
            if (row.state == RowState::Present) present.push_back(row.id);
        }
        // Holds are placed by Message-ID digest: the rows' own (a stamped copy's record
        // may belong to a message whose copies carry several ids).
        const Digest& digest = rows.front().digest.empty() ? m.keys.digest : rows.front().digest;
        const RowFacts facts = facts_of(rows, config_, today_);
        const bool held = held_.count(digest) > 0;
        const std::string line = m.role == FolderRole::Shared
                                     ? plan_.roots[m.where.root].line
                                     : (facts.tags.empty() ? std::string("unknown") : facts.tags.front());
        LineCounts& counts = summary_.lines[line];
        if (facts.due && !held) {
            plan_.destroys.push_back({m.where, DestroyKind::Message, digest, std::move(present), line});
            summary_.listed("destroy", path_of(plan_, m.where));
        } else if (m.role == FolderRole::Sent) {
            plan_move(m.where, m.keys.digest, facts, line);
        } else if (held) {
            ++counts.held;
        } else {
            ++counts.kept;
        }
    }

    // A message staff put in a hold folder: held (every copy, wherever it is) before
    // anything is destroyed. One the index has no row in force for is not helpline mail
    // the sweep keeps: left where it is, never destroyed from here.
    void hold_found(const StoredMessage& m) {
        const Root& root = plan_.roots[m.where.root];
        const std::vector<MessageRow> rows = rows_matching(m.keys, FolderRole::Shared);
        bool present = false;
        for (const auto& row : rows) {
            if (auto it = expired_.find(row.id); it != expired_.end()) it->second.seen = true;
            present = present || row.state == RowState::Present;
        }
        if (!present) {
            ++summary_.hold_folders.not_helpline;
            return;
        }
        const Digest& digest = rows.front().digest.empty() ? m.keys.digest : rows.front().digest;
        held_.insert(digest);
        if (facts_of(rows, config_, today_).due) ++summary_.lines[root.line].held;
        else ++summary_.lines[root.line].kept;
        if (!in_hold_folders_.insert(digest).second) return;  // in two hold folders: the first gives the reason
        const SweepMailbox& box = config_.sweep.mailboxes.at(static_cast<size_t>(root.entry));
        const auto reason = box.hold_folders.find(m.hold_folder);
        if (reason == box.hold_folders.end()) return;  // a store that named no hold folder: never so
        plan_.folder_holds.push_back({digest, reason->second, folder_hold_label(m.hold_folder, root.line),
                                      folder_held_.count(digest) > 0});
    }

    // A message a team leader put in a release folder: decided once every hold folder is
    // read (plan_releases). The folder is scanned as a shared folder too, which finds
    // the rows' other facts; here only the digest its holds are placed by matters.
    void release_found(const StoredMessage& m) {
        const std::vector<MessageRow> rows = rows_matching(m.keys, FolderRole::Shared);
        if (rows.empty()) return;
        const Digest& digest = rows.front().digest.empty() ? m.keys.digest : rows.front().digest;
        release_candidates_.push_back({m.where.root, m.hold_folder, digest});
    }

    // Lifts the folder hold of each message in a release folder the store used (a folder
    // not read completely releases nothing), unless the message is in a hold folder too.
    // An admin hold stays: only retentionctl release lifts it. A message released here
    // is destroyed in this same run when its date has come.
    void plan_releases() {
        HoldFolderCounts& counts = summary_.hold_folders;
        // A hold folder not read completely may hold a copy of any of them: no release.
        if (plan_.holds_unread) release_candidates_.clear();
        for (const auto& c : release_candidates_) {
            if (refused_releases_.count({c.root, c.folder}) || released_.count(c.digest)) continue;
            if (in_hold_folders_.count(c.digest)) {
                ++counts.release_in_hold_folder;
                continue;
            }
            const auto holds = index_.active_holds(c.digest);
            const bool admin = std::any_of(holds.begin(), holds.end(), [](const Hold& h) { return h.kind == HoldKind::Admin; });
            if (admin) ++counts.release_admin_kept;
            if (!folder_held_.count(c.digest)) continue;
            released_.insert(c.digest);
            plan_.folder_releases.push_back({c.digest, folder_hold_label(c.folder, plan_.roots[c.root].line)});
            if (!admin) held_.erase(c.digest);
        }
        release_candidates_.clear();
    }

    // Messages taken out of a hold folder stay held until released; the count tells the
    // team. Not when a hold folder could not be read: its messages were not all seen.
    void count_holds_out_of_folders() {
        if (plan_.holds_unread) return;
        for (const auto& d : folder_held_)
            if (!in_hold_folders_.count(d) && !released_.count(d)) ++summary_.hold_folders.no_longer;
    }

    void plan_orphan(const StoredMessage& m) {
        const Root& root = plan_.roots[m.where.root];
        LineCounts& counts = summary_.lines[root.line];
        if (config_.sweep.orphans == Orphans::Expire) {
            const Line* line = config_.find_line(root.line);
            if (m.delivered && line && add_period(*m.delivered, config_.policy_of(*line).retain) <= today_) {
                plan_.destroys.push_back({m.where, DestroyKind::Orphan, {}, {}, root.line});
                summary_.listed("destroy", path_of(plan_, m.where), "orphan");
                return;
            }
        }
        ++counts.orphans;
        ++orphans_kept_;
        if (config_.sweep.orphans == Orphans::Report) summary_.listed("orphan", path_of(plan_, m.where));
    }

    void plan_move(const FileRef& f, const Digest& digest, const RowFacts& facts, const std::string& line) {
        const auto dest = destination_for(facts.tags);
        if (!dest) {
            summary_.skip(Skip::NoDestination, line, path_of(plan_, f));
            ++summary_.lines[line].kept;
            return;
        }
        MoveItem m;
        m.source = f;
        m.digest = digest;
        m.line = line;
        m.headers = {join(facts.tags, ","), facts.latest->direction, format_date(facts.latest->retain_until),
                     facts.latest->policy};
        m.dest_root = dest->first;
        m.dest_folder = dest->second;
        summary_.listed("move", path_of(plan_, f), "to " + path_of(plan_, dest->first, dest->second));
        plan_.moves.push_back(std::move(m));
    }

    // The Sent folder of the first shared [[sweep.mailbox]] of the message's first line
    // that has one. A glob entry uses its first match.
    std::optional<std::pair<size_t, std::string>> destination_for(const std::vector<std::string>& tags) {
        for (const auto& tag : tags) {
            auto cached = destinations_.find(tag);
            if (cached == destinations_.end()) cached = destinations_.emplace(tag, find_destination(tag)).first;
            if (cached->second) return cached->second;
        }
        return std::nullopt;
    }

    std::optional<std::pair<size_t, std::string>> find_destination(const std::string& tag) {
        for (size_t e = 0; e < config_.sweep.mailboxes.size(); ++e) {
            const SweepMailbox& box = config_.sweep.mailboxes[e];
            if (box.kind != MailboxKind::Shared || box.line != tag) continue;
            for (size_t r = 0; r < plan_.roots.size(); ++r) {
                if (plan_.roots[r].entry != static_cast<int>(e)) continue;
                if (!plan_.roots[r].usable) return std::nullopt;
                std::string folder = store_.sent_folder(plan_, r);
                if (folder.empty()) return std::nullopt;
                return std::make_pair(r, std::move(folder));
            }
            return std::nullopt;  // the line's first shared entry matched nothing
        }
        return std::nullopt;
    }

    // --- rows past their date that no store holds ------------------------------------

    // A message that moved between folders while the scan ran (a staff member filing it)
    // can be missed by both listings: then "seen nowhere" is not proof, and those rows
    // wait for the next run, as they do when a location could not be read.
    void find_unseen() {
        const bool proof = !plan_.scope_incomplete && summary_.vanished == 0;
        for (const auto& [id, row] : expired_) {
            if (row.seen || held_.count(row.digest)) continue;
            if (!proof) {
                ++summary_.rows_unseen_deferred;
            } else {
                plan_.unseen.push_back({id, row.digest});
            }
        }
    }

    void warn_about_orphans() {
        if (config_.sweep.orphans != Orphans::Report || orphans_kept_ == 0) return;
        summary_.warn(std::to_string(orphans_kept_) +
                      " message(s) in shared mailboxes have no index row (mail from before installation, or saved "
                      "straight into the mailbox) and are kept; set orphans = \"expire\" to expire them by delivery "
                      "time, or \"keep\" to stop this warning");
    }
};

}  // namespace

Plan scan_stores(Store& store, const Config& config, const Index& index, const DigestKey& key, Date today,
                 Summary& summary, ScanCache cache) {
    return Planner(store, config, index, key, today, summary, cache).run();
}

Plan make_plan(const Config& config, const Index& index, const DigestKey& key, Date today, Summary& summary,
               ScanCache cache) {
    Stores store(config, key, cache.settle);
    return scan_stores(store, config, index, key, today, summary, cache);
}

}  // namespace rm::sweep
