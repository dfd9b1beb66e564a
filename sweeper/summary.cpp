#include "sweeper/summary.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

namespace rm::sweep {

namespace {

struct SkipInfo {
    const char* key;
    const char* text;
};

SkipInfo info(Skip s) {
    switch (s) {
        case Skip::Symlink: return {"symlink", "symbolic link (never followed)"};
        case Skip::NotRegular: return {"not_regular", "not a regular file"};
        case Skip::Unreadable: return {"unreadable", "file could not be read"};
        case Skip::Empty: return {"empty", "empty file"};
        case Skip::NoHeaderBlock: return {"no_header_block", "file without a header block"};
        case Skip::HeaderTooLarge:
            return {"header_too_large", "a header field the sweeper reads (Message-ID) is longer than 128 KB"};
        case Skip::NotMaildirName: return {"not_maildir_name", "file name is not a Maildir name"};
        case Skip::HardLink:
            return {"hard_link", "hard link to a file outside the swept folders: name removed, content not overwritten"};
        case Skip::CannotOverwrite: return {"cannot_overwrite", "file could not be overwritten: only unlinked"};
        case Skip::CannotDestroy: return {"cannot_destroy", "file could not be destroyed (folder not writable?)"};
        case Skip::Changed: return {"changed", "file replaced or changed since the scan: left alone"};
        case Skip::MailboxMissing: return {"mailbox_missing", "configured mailbox does not exist"};
        case Skip::MailboxUnreadable: return {"mailbox_unreadable", "mailbox could not be read"};
        case Skip::MailboxIsLink: return {"mailbox_is_link", "mailbox path is a symbolic link: configure the real path"};
        case Skip::NotAMaildir: return {"not_a_maildir", "mailbox has no cur/ or new/: not a Maildir"};
        case Skip::FolderIsLink: return {"folder_is_link", "mail folder is a symbolic link (never followed)"};
        case Skip::FolderUnreadable: return {"folder_unreadable", "mail folder could not be read"};
        case Skip::NoDestination:
            return {"no_destination", "no usable shared mailbox for the line: personal Sent copy left in place"};
        case Skip::NameTaken: return {"name_taken", "destination already holds another message of that name"};
        case Skip::MoveFailed: return {"move_failed", "personal Sent copy could not be moved"};
        case Skip::FilesFolderMissing: return {"files_folder_missing", "[[sweep.files]] folder missing or unreadable"};
        case Skip::TooDeep: return {"too_deep", "folder nested too deep (over 64 levels)"};
        case Skip::AfterMailboxFailed: return {"after_mailbox_failed", "after_mailbox command failed"};
        case Skip::NoUserForCommand: return {"no_user", "after_mailbox uses %u but the mailbox has no user"};
        case Skip::ForeignFile:
            return {"foreign_format", "message file compressed or encrypted (gzip, bzip2, xz, zstd, mail_crypt): not read"};
        case Skip::MailboxEmpty:
            return {"mailbox_empty",
                    "shared mailbox folder is empty (its store not mounted?): nothing in it read, nothing moved there"};
        case Skip::NotOurLeftover:
            return {"not_our_leftover",
                    "file named like a leftover of retention-sweep that no run of it left: left alone (rename it)"};
        case Skip::DovecotUnreachable:
            return {"dovecot_unreachable", "Dovecot could not be reached (not running, or doveadm's API down)"};
        case Skip::DovecotRefused:
            return {"dovecot_refused",
                    "doveadm refused the sweeper (wrong API key, or a command missing from doveadm_allowed_commands)"};
        case Skip::DovecotBadAnswer:
            return {"dovecot_bad_answer", "doveadm's answer was cut off or not understood, or doveadm failed"};
        case Skip::NoUsers:
            return {"no_users", "user mask lists no Dovecot user (can the userdb iterate its users?)"};
        case Skip::MoveAcrossStores:
            return {"move_across_stores",
                    "personal Sent copy and its line's shared mailbox are not in the same Dovecot: not moved"};
        case Skip::MoveWouldChangeBytes:
            return {"move_would_change_bytes",
                    "personal Sent copy has bytes doveadm cannot pass on unchanged (not UTF-8): not moved"};
    }
    return {"unknown", "unknown"};
}

nlohmann::json line_json(const LineCounts& c) {
    return {{"destroyed", c.destroyed}, {"moved", c.moved},     {"kept", c.kept},
            {"held", c.held},           {"orphans", c.orphans}, {"orphans_destroyed", c.orphans_destroyed},
            {"skipped", c.skipped}};
}

nlohmann::json counts_json(const Summary& s) {
    nlohmann::json j;
    j["today"] = s.today;
    j["dry_run"] = s.dry_run;
    j["now_override"] = s.now_override;
    j["forced"] = s.forced;
    j["exit_code"] = s.exit_code;
    j["stop"] = s.stop ? nlohmann::json(*s.stop) : nlohmann::json(nullptr);
    j["lines"] = nlohmann::json::object();
    for (const auto& [tag, c] : s.lines) j["lines"][tag] = line_json(c);
    j["files"] = nlohmann::json::object();
    for (const auto& [policy, c] : s.files) j["files"][policy] = {{"destroyed", c.destroyed}, {"kept", c.kept}};
    j["skips"] = nlohmann::json::object();
    for (const auto& [why, n] : s.skips) j["skips"][skip_key(why)] = n;
    j["residues"] = {{"interrupted_destructions_finished", s.residues.interrupted_finished},
                     {"index_cache_folders", s.residues.index_cache_folders},
                     {"lazy_expunge_folders", s.residues.lazy_expunge_folders},
                     {"rewritten_mboxes", s.residues.rewritten_mboxes},
                     {"purged_mdbox_users", s.residues.purged_mdbox_users},
                     {"unpurged_mdbox_users", s.residues.unpurged_mdbox_users},
                     {"not_overwritten_remote", s.residues.not_overwritten_remote},
                     {"fts_index_users", s.residues.fts_index_users},
                     {"attachment_dir_users", s.residues.attachment_dir_users}};
    j["messages_scanned"] = s.messages_scanned;
    j["messages_known"] = s.messages_known;
    j["vanished"] = s.vanished;
    j["rows_marked_unseen"] = s.rows_marked_unseen;
    j["rows_unseen_deferred"] = s.rows_unseen_deferred;
    j["mailboxes_not_read"] = nlohmann::json::array();
    for (const auto& [number, pattern] : s.mailboxes_not_read)
        j["mailboxes_not_read"].push_back({{"entry", number}, {"path", pattern.empty() ? nlohmann::json(nullptr) : nlohmann::json(pattern)}});
    j["rows_mark_deferred"] = s.rows_mark_deferred;
    j["folders_created"] = s.folders_created;
    const HoldFolderCounts& h = s.hold_folders;
    j["hold_folders"] = {{"placed", h.placed},       {"already_held", h.already},
                         {"not_helpline", h.not_helpline}, {"folders_made", h.made},
                         {"no_longer_in_folder", h.no_longer}, {"unreadable", h.unreadable},
                         {"released", h.released}, {"release_kept_by_admin_hold", h.release_admin_kept},
                         {"release_still_in_hold_folder", h.release_in_hold_folder},
                         {"release_folders_not_used", h.release_refused}};
    j["others_access"] = {{"folders", s.others_access_folders}, {"files", s.others_access_files}};
    j["after_mailbox_ran"] = s.after_mailbox_ran;
    return j;
}

std::string pad(const std::string& s, size_t width) { return s.size() >= width ? s : s + std::string(width - s.size(), ' '); }

std::string num(long n, size_t width) {
    std::string s = std::to_string(n);
    return s.size() >= width ? s : std::string(width - s.size(), ' ') + s;
}

void print_lines_table(std::ostream& out, const Summary& s) {
    size_t w = 18;
    for (const auto& [tag, c] : s.lines) w = std::max(w, tag.size() + 2);
    for (const auto& [policy, c] : s.files) w = std::max(w, policy.size() + 8);
    out << pad("line", w) << "destroyed  moved   kept   held  orphans  orphans-destroyed  skipped\n";
    for (const auto& [tag, c] : s.lines) {
        out << pad(tag, w) << num(c.destroyed, 9) << num(c.moved, 7) << num(c.kept, 7) << num(c.held, 7)
            << num(c.orphans, 9) << num(c.orphans_destroyed, 19) << num(c.skipped, 9) << "\n";
    }
    for (const auto& [policy, c] : s.files) {
        out << pad("files:" + policy, w) << num(c.destroyed, 9) << "      -" << num(c.kept, 7)
            << "      -        -                  -        -\n";
    }
}

void print_skips(std::ostream& out, const Summary& s) {
    if (s.skips.empty()) return;
    out << "skipped (exit code 4):\n";
    for (const auto& [why, n] : s.skips) out << "  " << n << " x " << skip_text(why) << "\n";
}

void print_mailboxes_not_read(std::ostream& out, const Summary& s) {
    if (s.mailboxes_not_read.empty()) return;
    out << "not read completely (--list names the locations):\n";
    for (const auto& [number, pattern] : s.mailboxes_not_read) out << "  " << mailbox_entry_text(number, pattern) << "\n";
    out << "so no index row was marked destroyed in this run";
    if (s.rows_mark_deferred) out << " (" << s.rows_mark_deferred << " message(s) whose copies found were destroyed)";
    out << "; the next run that reads every location marks them\n";
}

void print_hold_folders(std::ostream& out, const Summary& s) {
    const HoldFolderCounts& h = s.hold_folders;
    const bool acted = !s.dry_run;
    if (h.made) out << "hold folders: " << (acted ? "made " : "would make ") << h.made << " missing hold folder(s)\n";
    if (h.placed)
        out << "hold folders: " << (acted ? "placed " : "would place ") << h.placed << " folder hold(s)\n";
    if (h.already) out << "hold folders: " << h.already << " message(s) already on folder hold\n";
    if (h.not_helpline)
        out << "hold folders: " << h.not_helpline
            << " message(s) in hold folders are not helpline mail (no index row): left alone\n";
    if (h.no_longer)
        out << h.no_longer << " message(s) on folder hold are no longer in a hold folder; they stay held until "
                              "released with retentionctl release\n";
    if (h.released)
        out << "release folders: " << (acted ? "released " : "would release ") << h.released << " folder hold(s)\n";
    if (h.release_admin_kept)
        out << "release folders: " << h.release_admin_kept
            << " message(s) stay held by an admin hold (only retentionctl release lifts it)\n";
    if (h.release_in_hold_folder)
        out << "release folders: " << h.release_in_hold_folder
            << " message(s) are in a hold folder too: they stay held\n";
    for (const auto& why : h.release_refused) out << why << "; nothing released from it\n";
}

void print_residues(std::ostream& out, const Summary& s) {
    const Residues& r = s.residues;
    if (r.interrupted_finished)
        out << "finished " << r.interrupted_finished << " destruction(s) that an interrupted run had begun\n";
    if (r.index_cache_folders)
        out << "residue: " << r.index_cache_folders
            << " changed folder(s) have a dovecot.index.cache that may still hold header copies of destroyed "
               "messages until Dovecot rebuilds it (after_mailbox, e.g. doveadm force-resync)\n";
    if (r.lazy_expunge_folders)
        out << "residue: " << r.lazy_expunge_folders
            << " lazy_expunge folder(s) (EXPUNGED) keep copies of messages expunged by users\n";
    if (r.rewritten_mboxes)
        out << "residue: " << r.rewritten_mboxes
            << " mbox folder(s) were rewritten by Dovecot without the destroyed messages; their old bytes were not "
               "overwritten in place and may stay on disk until reused (keep mail on encrypted storage)\n";
    if (r.purged_mdbox_users)
        out << "residue: " << r.purged_mdbox_users
            << " mdbox mailbox(es) purged: the storage files were rewritten without the destroyed messages, whose "
               "old bytes were not overwritten in place (keep mail on encrypted storage)\n";
    if (r.unpurged_mdbox_users)
        out << "residue: " << r.unpurged_mdbox_users
            << " mdbox mailbox(es) could not be purged (see the log): the destroyed messages are gone from the "
               "mailbox but still whole in its storage files until `doveadm purge` runs for it\n";
    if (r.not_overwritten_remote)
        out << "residue: " << r.not_overwritten_remote
            << " Dovecot folder(s) changed over doveadm's HTTP API: Dovecot deleted the messages, nothing was "
               "overwritten in place, and its full-text search index or mail_attachment_dir, if any, cannot be "
               "asked over the API (keep mail on encrypted storage)\n";
    if (r.fts_index_users)
        out << "residue: " << r.fts_index_users
            << " Dovecot user(s) changed have a full-text search index, which may keep words of destroyed "
               "messages until Dovecot rebuilds it (doveadm fts rescan; keep the index on encrypted storage)\n";
    if (r.attachment_dir_users)
        out << "residue: " << r.attachment_dir_users
            << " Dovecot user(s) changed keep attachments in mail_attachment_dir: Dovecot deletes a destroyed "
               "message's attachments once nothing refers to them, without overwriting them (keep it on "
               "encrypted storage)\n";
}

}  // namespace

const char* skip_key(Skip s) { return info(s).key; }
const char* skip_text(Skip s) { return info(s).text; }

void Summary::skip(Skip why, const std::string& line, const std::string& path) {
    ++skips[why];
    if (!line.empty()) ++lines[line].skipped;
    listed("skip", path, skip_text(why));
}

void Summary::listed(const std::string& action, const std::string& path, const std::string& detail) {
    if (list && !path.empty()) list_entries.push_back({action, path, detail});
}

std::string mailbox_entry_text(int number, const std::string& pattern) {
    std::string t = "[[sweep.mailbox]] number " + std::to_string(number);
    if (pattern.empty()) return t + " (kind = \"personal\")";
    // A Dovecot entry comes already described (its line, or a personal entry's mask).
    if (pattern.front() != '/') return t + " (" + pattern + ")";
    return t + " (path = \"" + pattern + "\")";
}

void Summary::mailbox_not_read(int number, const std::string& pattern) { mailboxes_not_read.emplace(number, pattern); }

void Summary::warn(const std::string& text) {
    for (const auto& w : warnings) {
        if (w == text) return;
    }
    warnings.push_back(text);
}

long Summary::skip_count() const {
    long n = 0;
    for (const auto& [why, count] : skips) n += count;
    return n;
}

long Summary::destroyed_total() const {
    long n = 0;
    for (const auto& [tag, c] : lines) n += c.destroyed + c.orphans_destroyed;
    for (const auto& [policy, c] : files) n += c.destroyed;
    return n;
}

void print_text(std::ostream& out, const Summary& s) {
    out << "retention-sweep: today " << s.today;
    if (s.now_override) out << " (--now what-if)";
    if (s.dry_run) out << (s.stop ? ", dry run" : ", dry run: nothing was changed; counts say what a real run would do");
    if (s.forced) out << ", --force";
    out << "\n";
    if (s.stop) out << "STOPPED, nothing destroyed" << (s.dry_run ? "" : " or moved") << ": " << *s.stop << "\n";
    print_lines_table(out, s);
    out << "messages scanned: " << s.messages_scanned;
    if (s.messages_known) out << " (" << s.messages_known << " known from earlier runs, not read again)";
    if (s.vanished) out << ", " << s.vanished << " gone meanwhile";
    out << "\n";
    if (s.rows_marked_unseen)
        out << s.rows_marked_unseen << " expired index row(s) had no copy in any store: marked destroyed with 0 copies\n";
    if (s.rows_unseen_deferred)
        out << s.rows_unseen_deferred
            << " expired index row(s) had no copy in the stores read; not marked, because some could not be read\n";
    if (s.folders_created) out << "created " << s.folders_created << " Sent folder(s) in shared mailboxes\n";
    print_hold_folders(out, s);
    if (s.after_mailbox_ran) out << "after_mailbox ran for " << s.after_mailbox_ran << " mailbox(es)\n";
    print_skips(out, s);
    print_mailboxes_not_read(out, s);
    print_residues(out, s);
    for (const auto& w : s.warnings) out << "warning: " << w << "\n";
    for (const auto& e : s.list_entries) {
        out << e.action << "\t" << e.path;
        if (!e.detail.empty()) out << "\t" << e.detail;
        out << "\n";
    }
}

std::string to_json(const Summary& s) {
    nlohmann::json j = counts_json(s);
    j["warnings"] = s.warnings;
    if (s.list) {
        j["list"] = nlohmann::json::array();
        for (const auto& e : s.list_entries)
            j["list"].push_back({{"action", e.action}, {"path", e.path}, {"detail", e.detail}});
    }
    // Paths are bytes from the file system; replace what is not UTF-8 rather than fail.
    return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string receipt_counts_json(const Summary& s) { return counts_json(s).dump(); }

void log_result(const Summary& summary) {
    LineCounts total;
    for (const auto& [tag, c] : summary.lines) {
        total.destroyed += c.destroyed;
        total.moved += c.moved;
        total.kept += c.kept;
        total.held += c.held;
        total.orphans += c.orphans;
        total.orphans_destroyed += c.orphans_destroyed;
    }
    long files = 0;
    for (const auto& [p, c] : summary.files) files += c.destroyed;
    for (const auto& [why, n] : summary.skips) spdlog::warn("skipped {} x {}", n, skip_text(why));
    for (const auto& [number, pattern] : summary.mailboxes_not_read)
        spdlog::warn("not read completely: {}; no index row marked destroyed in this run",
                     mailbox_entry_text(number, pattern));
    const HoldFolderCounts& h = summary.hold_folders;
    for (const auto& label : h.unreadable) spdlog::error("hold {} could not be read: nothing destroyed or moved", label);
    for (const auto& why : h.release_refused) spdlog::warn("{}; nothing released from it", why);
    if (h.released || h.release_admin_kept || h.release_in_hold_folder)
        spdlog::info("release folders: {} folder hold(s) released; {} message(s) kept by an admin hold, {} still in a "
                     "hold folder",
                     h.released, h.release_admin_kept, h.release_in_hold_folder);
    if (h.placed || h.already || h.not_helpline || h.no_longer || h.made)
        spdlog::info("hold folders: {} hold(s) placed, {} already held, {} message(s) without an index row left alone, "
                     "{} folder(s) made; {} message(s) on folder hold are no longer in a hold folder",
                     h.placed, h.already, h.not_helpline, h.made, h.no_longer);
    spdlog::info("sweep finished with exit code {}: destroyed {} message copies, {} orphans, {} files; moved {}; "
                 "kept {}; held {}; orphans left {}; skipped {}",
                 summary.exit_code, total.destroyed, total.orphans_destroyed, files, total.moved, total.kept,
                 total.held, total.orphans, summary.skip_count());
}

}  // namespace rm::sweep
