#include "sweeper/execute.hpp"

#include <algorithm>
#include <map>
#include <spdlog/spdlog.h>
#include <unordered_map>
#include <unordered_set>

#include "sweeper/letter_files.hpp"
#include "sweeper/safety.hpp"

namespace rm::sweep {

namespace {

// How far one index row's copies have got in phase 2: it is marked destroyed only when
// every copy planned is gone (a copy that moved away meanwhile is not gone: the next run
// finds it, or finds it nowhere).
struct RowProgress {
    int pending = 0;  // inode groups still to destroy
    int copies = 0;
    bool failed = false;
    bool held = false;  // held before the claim: no copy is destroyed
};

using Group = std::vector<size_t>;  // the plan's destroys that are names of one inode
using Folders = std::set<std::pair<size_t, std::string>>;

// Messages are claimed and destroyed this many inode groups at a time: through doveadm
// each batch costs a few program runs (a look, the expunge, a check, an mdbox purge) of
// about 0.1 s each, so batches are large; one folder's UIDs in a batch still fit in one
// argument (at most about 90 kB written as a UID set, under Linux's 128 kB). The rows of every
// message whose copies are all gone are marked up to kMarkMessages in one transaction: a
// transaction writes each index page it changes once, so few large ones write far less
// than many small ones. A run killed before the mark leaves present rows, and the next
// run finds what is left.
constexpr size_t kBatchGroups = 8192;
constexpr size_t kMarkMessages = 16384;

class Executor {
public:
    Executor(const Phase2& run, Plan& plan) : run_(run), plan_(plan), summary_(run.summary) {}

    void execute() {
        destroy_all();
        forget_files_gone();
        move_all();
        mark_unseen();
        run_.index.release_claims();  // what could not be destroyed may be held again
        run_.store.report_residues(plan_, changed_, summary_);
        run_.store.end_phase2();
        run_after_mailbox();
    }

private:
    const Phase2& run_;
    Plan& plan_;
    Summary& summary_;
    Folders changed_;  // folders where phase 2 removed names
    std::vector<std::string> files_gone_;  // files_seen keys of [[sweep.files]] files destroyed
    std::unordered_map<std::int64_t, RowProgress> progress_;
    std::vector<Index::DestroyedRow> done_;  // rows whose every copy is gone, not marked yet

    // --- destruction ----------------------------------------------------------------

    // All names of one inode destroyed together (hard links: Dovecot copies with them),
    // in folder order so that directory descriptors are reused.
    std::vector<Group> inode_groups() const {
        std::map<std::pair<dev_t, ino_t>, Group> by_inode;
        std::vector<Group> groups;
        for (size_t i = 0; i < plan_.destroys.size(); ++i) {
            const FileRef& f = plan_.destroys[i].file;
            // A message of a store without inodes (Dovecot's, by UID) is a group of its own.
            if (f.ino == 0) groups.push_back({i});
            else by_inode[{f.dev, f.ino}].push_back(i);
        }
        for (auto& [inode, items] : by_inode) groups.push_back(std::move(items));
        std::sort(groups.begin(), groups.end(), [&](const auto& a, const auto& b) {
            const FileRef& x = plan_.destroys[a.front()].file;
            const FileRef& y = plan_.destroys[b.front()].file;
            return std::tie(x.root, x.folder, x.sub) < std::tie(y.root, y.folder, y.sub);
        });
        return groups;
    }

    std::vector<std::int64_t> rows_of(const Group& group) const {
        std::vector<std::int64_t> out;
        for (const size_t i : group) {
            const auto& d = plan_.destroys[i];
            if (d.kind != DestroyKind::Message) continue;
            for (const auto id : d.rows)
                if (std::find(out.begin(), out.end(), id) == out.end()) out.push_back(id);
        }
        return out;
    }

    void destroy_all() {
        const std::vector<Group> groups = inode_groups();
        for (const auto& g : groups)
            for (const auto id : rows_of(g)) ++progress_[id].pending;
        for (size_t start = 0; start < groups.size(); start += kBatchGroups) {
            const size_t end = std::min(groups.size(), start + kBatchGroups);
            const std::unordered_set<Digest> held = claim(groups, start, end);
            std::vector<const Group*> acting;
            std::vector<std::vector<FileRef>> batch;
            for (size_t gi = start; gi < end; ++gi) {
                if (is_held(groups[gi], held)) {
                    count_held(groups[gi]);
                    continue;
                }
                acting.push_back(&groups[gi]);
                batch.emplace_back();
                for (const size_t i : groups[gi]) batch.back().push_back(plan_.destroys[i].file);
            }
            const std::vector<DestroyOutcome> outcomes = run_.store.destroy(plan_, batch);
            for (size_t k = 0; k < acting.size(); ++k) account_destroy(*acting[k], outcomes[k]);
            if (done_.size() >= kMarkMessages) mark_done();
        }
        mark_done();
    }

    // Claims the messages of groups [start, end) just before they are destroyed, in the
    // transaction that checks their holds: a hold placed before the claim wins (the files
    // are kept, counted held, their rows stay present); one placed after is refused
    // ("being destroyed"). Returns the digests found held.
    std::unordered_set<Digest> claim(const std::vector<Group>& groups, size_t start, size_t end) {
        std::map<Digest, std::vector<std::int64_t>> rows_by_digest;
        for (size_t gi = start; gi < end; ++gi) {
            for (const size_t i : groups[gi]) {
                const DestroyItem& d = plan_.destroys[i];
                if (d.kind != DestroyKind::Message) continue;
                auto& rows = rows_by_digest[d.digest];
                rows.insert(rows.end(), d.rows.begin(), d.rows.end());
            }
        }
        std::vector<Index::Claim> claims;
        for (auto& [digest, rows] : rows_by_digest) claims.push_back({digest, std::move(rows)});
        const std::vector<bool> claimed = run_.index.claim(claims, run_.now);
        std::unordered_set<Digest> held;
        for (size_t i = 0; i < claims.size(); ++i)
            if (!claimed[i]) held.insert(claims[i].digest);
        return held;
    }

    bool is_held(const Group& g, const std::unordered_set<Digest>& held) const {
        if (held.empty()) return false;
        return std::any_of(g.begin(), g.end(), [&](size_t i) {
            const DestroyItem& d = plan_.destroys[i];
            return d.kind == DestroyKind::Message && held.count(d.digest) > 0;
        });
    }

    void count_held(const Group& g) {
        for (const auto id : rows_of(g)) {
            progress_[id].held = true;
            --progress_[id].pending;
        }
        for (const size_t i : g) ++summary_.lines[plan_.destroys[i].label].held;
    }

    void account_destroy(const Group& g, const DestroyOutcome& out) {
        const DestroyItem& first = plan_.destroys[g.front()];
        const std::string path = path_of(plan_, first.file);
        for (const auto& f : out.folders) {
            changed_.insert(f);
            plan_.roots[f.first].changed = true;
        }
        for (const Skip why : out.skips) summary_.skip(why, first.kind == DestroyKind::File ? "" : first.label, path);
        const std::pair<dev_t, ino_t> inode{first.file.dev, first.file.ino};
        if (static_cast<size_t>(out.removed + out.vanished) == g.size()) {
            run_.leftovers.removed(inode);
            if (first.kind == DestroyKind::File) files_gone_.push_back(files_seen_key(run_.key, first.file));
        } else {
            run_.leftovers.left_behind(inode);
        }
        const bool all_gone = static_cast<size_t>(out.removed) == g.size();
        for (const auto id : rows_of(g)) {
            RowProgress& p = progress_[id];
            p.copies += out.removed;
            p.failed = p.failed || !all_gone;
            if (--p.pending == 0 && !p.failed && !p.held) done_.push_back({id, p.copies});
        }
        count_destroyed(g, out);
    }

    // The names removed count as destroyed, one item each; the others stay where they
    // were: an orphan is left, a letter file kept.
    void count_destroyed(const Group& g, const DestroyOutcome& out) {
        summary_.vanished += out.vanished;
        for (size_t k = 0; k < g.size(); ++k) {
            const DestroyItem& d = plan_.destroys[g[k]];
            const bool removed = k < static_cast<size_t>(out.removed);
            switch (d.kind) {
                case DestroyKind::Message:
                    if (removed) ++summary_.lines[d.label].destroyed;
                    break;
                case DestroyKind::Orphan: {
                    LineCounts& c = summary_.lines[d.label];
                    ++(removed ? c.orphans_destroyed : c.orphans);
                    break;
                }
                case DestroyKind::File: {
                    FileCounts& c = summary_.files[d.label];
                    ++(removed ? c.destroyed : c.kept);
                    break;
                }
                case DestroyKind::Residue:
                    if (removed) ++summary_.residues.interrupted_finished;
                    break;
            }
        }
    }

    // A destroyed letter file is not remembered (its row would only wait for kFilesSeenDays).
    void forget_files_gone() {
        try {
            run_.index.forget_files_seen(files_gone_);
        } catch (const IndexError& e) {
            summary_.warn(std::string("could not forget destroyed [[sweep.files]] files in the index: ") + e.what());
        }
    }

    void mark_done() {
        if (plan_.rows_frozen) {
            summary_.rows_mark_deferred += static_cast<long>(done_.size());
        } else {
            for (const auto& d : run_.index.mark_destroyed(done_, run_.now, Index::Unless::Nothing))
                run_.receipts.add(d);
        }
        done_.clear();
    }

    // --- moves ----------------------------------------------------------------------

    void move_all() {
        const std::vector<MoveOutcome> outcomes = run_.store.move(plan_, plan_.moves);
        for (size_t i = 0; i < plan_.moves.size(); ++i) account_move(plan_.moves[i], outcomes[i]);
    }

    void account_move(const MoveItem& m, const MoveOutcome& out) {
        const std::string path = path_of(plan_, m.source);
        if (out.result == MoveOutcome::Result::Failed || !out.source.skips.empty())
            run_.leftovers.left_behind_move(m, run_.key);
        switch (out.result) {
            case MoveOutcome::Result::Moved:
            case MoveOutcome::Result::AlreadyThere:
                ++summary_.lines[m.line].moved;
                plan_.roots[m.source.root].changed = true;
                plan_.roots[m.dest_root].changed = true;
                for (const auto& f : out.source.folders) changed_.insert(f);
                for (const Skip why : out.source.skips) summary_.skip(why, m.line, path);
                break;
            case MoveOutcome::Result::Vanished:
                ++summary_.vanished;
                break;
            case MoveOutcome::Result::Failed:
                ++summary_.lines[m.line].kept;
                summary_.skip(out.skip.value_or(Skip::MoveFailed), m.line, path);
                break;
        }
        if (out.created_folder) {
            ++summary_.folders_created;
            summary_.warn("created a Sent folder in a shared mailbox for moved copies; mail clients may have to "
                          "subscribe to it before staff see it");
        }
    }

    // --- rows no store held ---------------------------------------------------------

    // Rows past their date whose message no store holds (destroyed by hand, or by a run
    // killed after the files went and before the rows were marked): marked with 0 copies.
    // The plan knew the holds of when the scan began: one placed since still wins, checked
    // in the statement that marks.
    void mark_unseen() {
        if (plan_.rows_frozen) return;  // the plan deferred them already; never marked now
        std::vector<Index::DestroyedRow> batch;
        for (const auto& u : plan_.unseen) batch.push_back({u.id, 0});
        const auto marked = run_.index.mark_destroyed(batch, run_.now, Index::Unless::Held);
        const std::set<Digest> marked_set(marked.begin(), marked.end());
        for (const auto& d : marked) run_.receipts.add(d);
        // A row held since the scan is not marked: only those marked count.
        for (const auto& u : plan_.unseen)
            if (marked_set.count(u.digest)) ++summary_.rows_marked_unseen;
    }

    // --- after_mailbox --------------------------------------------------------------

    void run_after_mailbox() {
        if (run_.config.sweep.after_mailbox.empty()) return;
        for (const Root& root : plan_.roots) {
            if (root.changed && !root.is_files) after_mailbox(root);
        }
    }

    void after_mailbox(const Root& root) {
        std::vector<std::string> argv;
        bool needs_user = false;
        for (const auto& arg : run_.config.sweep.after_mailbox) {
            std::string a = arg;
            for (size_t pos = 0; (pos = a.find("%u", pos)) != std::string::npos; pos += root.user.size()) {
                needs_user = true;
                a.replace(pos, 2, root.user);
            }
            argv.push_back(std::move(a));
        }
        if (needs_user && root.user.empty()) return summary_.skip(Skip::NoUserForCommand, line_of(root), root.path);
        std::string why;
        if (run_command(argv, run_.command_timeout, why) == 0) {
            ++summary_.after_mailbox_ran;
        } else {
            spdlog::warn("after_mailbox ({}) {}", argv.front(), why);
            summary_.skip(Skip::AfterMailboxFailed, line_of(root), root.path);
        }
    }
};

}  // namespace

void execute(const Phase2& run, Plan& plan) { Executor(run, plan).execute(); }

}  // namespace rm::sweep
