// What one sweep did, counted by line and action, and how it is told: a text summary, the
// same as JSON, the counts for the receipt, and one log line (the Prometheus textfile is in
// metrics.hpp). Nothing in it identifies a person:
// file paths are kept only when --list asks for them.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace rm::sweep {

// Why something was skipped. Every skip makes the run end with exit code 4.
enum class Skip {
    Symlink,
    NotRegular,
    Unreadable,
    Empty,
    NoHeaderBlock,
    HeaderTooLarge,
    NotMaildirName,
    HardLink,
    CannotOverwrite,
    CannotDestroy,
    Changed,
    MailboxMissing,
    MailboxUnreadable,
    MailboxIsLink,
    NotAMaildir,
    FolderIsLink,
    FolderUnreadable,
    NoDestination,
    NameTaken,
    MoveFailed,
    FilesFolderMissing,
    TooDeep,
    AfterMailboxFailed,
    NoUserForCommand,
    ForeignFile,
    NotOurLeftover,
    MailboxEmpty,
    DovecotUnreachable,
    DovecotRefused,
    DovecotBadAnswer,
    NoUsers,
    MoveAcrossStores,
    MoveWouldChangeBytes,
};
// A stable key for JSON and metrics ("symlink", "hard_link", ...).
const char* skip_key(Skip s);
// Words an admin can act on.
const char* skip_text(Skip s);

struct LineCounts {
    long destroyed = 0;          // helpline messages destroyed (files: copies)
    long moved = 0;              // personal Sent copies moved into the line's shared mailbox
    long kept = 0;               // messages whose date has not come
    long held = 0;               // messages past their date but on hold
    long orphans = 0;            // shared-mailbox messages without an index row, left in place
    long orphans_destroyed = 0;  // orphans destroyed by orphans = "expire"
    long skipped = 0;
};

struct FileCounts {
    long destroyed = 0;
    long kept = 0;
};

struct Residues {
    long interrupted_finished = 0;  // files a killed run had started to destroy, finished now
    long index_cache_folders = 0;   // folders changed whose dovecot.index.cache may hold header copies
    long lazy_expunge_folders = 0;  // lazy_expunge-looking folders seen
    // Dovecot mailboxes where destroyed messages' bytes could not be overwritten in place:
    long rewritten_mboxes = 0;      // mbox files Dovecot rewrote without the messages
    long purged_mdbox_users = 0;    // mdbox users purged (storage files rewritten)
    long unpurged_mdbox_users = 0;  // mdbox users whose purge failed: destroyed messages still in storage
    long not_overwritten_remote = 0;  // mailboxes changed over doveadm's HTTP API
    // Dovecot users changed whose messages also live outside their mailboxes:
    long fts_index_users = 0;       // in a full-text search index
    long attachment_dir_users = 0;  // attachments in mail_attachment_dir (sdbox, mdbox)
};

// What the hold folders of shared mailboxes gave this run (a dry run: what it would give).
struct HoldFolderCounts {
    long placed = 0;        // folder holds placed on messages found in a hold folder
    long already = 0;       // messages in a hold folder already on folder hold
    long not_helpline = 0;  // messages in a hold folder without an index row in force: left alone
    long made = 0;          // hold folders made because they were missing
    long no_longer = 0;     // folder holds in force whose message is in no hold folder now
    // Hold folders that could not be read, as folder_hold_label names them (no person).
    std::vector<std::string> unreadable;
    // Release folders: folder holds lifted; messages there that stay held, by an admin
    // hold or because they are in a hold folder too; and why a release folder was not
    // used ("release folder X of the LINE mailbox not used: WHY", naming no person).
    long released = 0;
    long release_admin_kept = 0;
    long release_in_hold_folder = 0;
    std::vector<std::string> release_refused;
};

struct ListEntry {
    std::string action;  // destroy, move, skip, residue, warning
    std::string path;
    std::string detail;
};

struct Summary {
    std::string today;  // YYYY-MM-DD the run acted as
    bool dry_run = false;
    bool now_override = false;
    bool forced = false;
    bool list = false;  // keep file paths (--list)
    int exit_code = 0;
    std::optional<std::string> stop;  // why the run stopped without acting (exit 3)

    std::map<std::string, LineCounts> lines;  // by line tag
    std::map<std::string, FileCounts> files;  // [[sweep.files]] by policy
    std::map<Skip, long> skips;
    Residues residues;
    long messages_scanned = 0;
    long messages_known = 0;  // of those, known from the scan cache and not read again
    long vanished = 0;            // gone before we got to them (expunged meanwhile): fine
    long rows_marked_unseen = 0;  // expired rows whose message was in no store: marked, copies 0
    long rows_unseen_deferred = 0;  // the same, left for a run that can read every store
    // [[sweep.mailbox]] entries (by number, from 1) some location of which could not be
    // read, with their path pattern (empty for a personal entry without a glob: its path
    // names someone). While there are any, no row is marked destroyed.
    std::map<int, std::string> mailboxes_not_read;
    long rows_mark_deferred = 0;  // messages whose copies were destroyed but rows left present
    long folders_created = 0;
    HoldFolderCounts hold_folders;
    long others_access_folders = 0;  // [[sweep.files]] folders open to others
    long others_access_files = 0;
    long after_mailbox_ran = 0;
    std::vector<std::string> warnings;
    std::vector<ListEntry> list_entries;
    double duration_seconds = 0;

    void skip(Skip why, const std::string& line, const std::string& path);
    void listed(const std::string& action, const std::string& path, const std::string& detail = {});
    void warn(const std::string& text);
    void mailbox_not_read(int number, const std::string& pattern);
    long skip_count() const;
    long destroyed_total() const;  // messages, orphans and files destroyed (or, not acting, planned)
};

// "[[sweep.mailbox]] number 3 (path = \"/var/vmail/example.org/*\")", as summary and log say it.
std::string mailbox_entry_text(int number, const std::string& pattern);

// The human summary (stdout).
void print_text(std::ostream& out, const Summary& s);
// The same as one JSON document.
std::string to_json(const Summary& s);
// The counts as JSON for the receipt: no paths, no warnings' details.
std::string receipt_counts_json(const Summary& s);
// The totals, the skips and the entries not read, in the log.
void log_result(const Summary& s);

}  // namespace rm::sweep
