// What phase 1 of a sweep decides and phase 2 carries out: the places read, the files to
// destroy, the copies to move, and the rows whose message no store holds.
//
// The plan holds only the actions, so memory grows with what has expired, not with the
// size of the stores.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "db/index.hpp"
#include "sweeper/summary.hpp"

namespace rm::sweep {

// One directory the sweep works in: a mailbox (a glob match) or a [[sweep.files]] folder.
struct Root {
    std::string path;
    bool is_files = false;
    MailboxKind kind = MailboxKind::Shared;
    std::string line;  // shared mailboxes: the line's tag
    std::string user;  // for after_mailbox's %u ({name} already replaced); may be empty
    int entry = -1;    // index of its [[sweep.mailbox]] entry
    dev_t dev = 0;
    ino_t ino = 0;
    bool usable = false;   // opened and scanned
    bool changed = false;  // phase 2 destroyed or moved something in or out of it
};

// A file as the scan saw it. `folder` is relative to the root ("" or ".Sent Items" in a
// Maildir, "a/b" in a files folder); `sub` is "cur", "new" or "tmp" in a Maildir, else empty.
struct FileRef {
    size_t root = 0;
    std::string folder;
    std::string sub;
    std::string name;
    dev_t dev = 0;
    ino_t ino = 0;
    nlink_t nlink = 1;
    off_t size = 0;
    struct timespec mtime {};

    std::string dir() const;  // folder/sub relative to the root
    void take(const struct stat& st);  // identity from the scan's fstat
    // Still the file the scan read: same inode, size and modification time (a freed inode
    // number can come back for a new file, so the inode alone is not enough).
    bool same_file(const struct stat& st) const;
    bool in_maildir() const { return sub == "cur" || sub == "new"; }
};


enum class DestroyKind {
    Message,  // a helpline message: every index row past its date, no hold
    Orphan,   // a shared-mailbox message without a row, orphans = "expire"
    File,     // a [[sweep.files]] file past its date
    Residue,  // a file an interrupted run had begun to destroy (our marker name)
};

struct DestroyItem {
    FileRef file;
    DestroyKind kind = DestroyKind::Message;
    Digest digest;      // Message only: the Message-ID digest its holds are placed by
    std::vector<std::int64_t> rows;  // Message only: the present index rows it is a copy of
    std::string label;  // the line tag (messages, orphans) or the policy (files)
};

struct MoveItem {
    FileRef source;
    Digest digest;
    std::string line;                    // for the counts
    std::array<std::string, 4> headers;  // values of our four headers, in kOurHeaders order
    size_t dest_root = 0;
    std::string dest_folder;  // ".Sent"; created if missing
};

// An expired row whose message no store held: marked destroyed with 0 copies.
struct UnseenRow {
    std::int64_t id = 0;
    Digest digest;
};

// A message found in a hold folder, to be held before anything is destroyed.
struct FolderHoldItem {
    Digest digest;
    std::string reason;
    std::string label;  // folder_hold_label: the folder and the line, never a person
    bool in_force = false;  // on folder hold when the scan began
};

// A message found in a guarded release folder whose folder hold is lifted before
// anything is destroyed (an admin hold on it stays).
struct FolderReleaseItem {
    Digest digest;
    std::string label;  // folder_hold_label of the release folder: who released, never a person
};

// A hold folder to make (not in a dry run).
struct MissingHoldFolder {
    size_t root = 0;
    std::string folder;  // as Store::ensure_folder takes it
    std::string label;
};

struct Plan {
    std::vector<Root> roots;
    std::vector<DestroyItem> destroys;
    std::vector<MoveItem> moves;
    std::vector<UnseenRow> unseen;
    bool scope_incomplete = false;  // some mailbox, folder or file could not be read
    // Some location of a [[sweep.mailbox]] entry (its root, a glob's parent, a folder)
    // could not be read: a copy of any message may be there, so no row is marked
    // destroyed this run (its digest would be erased after digest_grace, and that copy
    // never found again). The expired copies found are still destroyed.
    bool rows_frozen = false;
    std::vector<FolderHoldItem> folder_holds;
    std::vector<FolderReleaseItem> folder_releases;
    std::vector<MissingHoldFolder> missing_hold_folders;
    // A hold folder could not be read: nothing may be destroyed or moved this run.
    bool holds_unread = false;
};

// Messages, orphans and files the plan destroys (what max_destroy_per_run limits).
long planned_destroys(const Plan& plan);
// Counts the plan into `summary` as done: what a dry run or a stopped run reports it
// would do.
void count_planned(const Plan& plan, Summary& summary);

// Paths as the summary and --list name them.
std::string path_of(const Plan& plan, size_t root, const std::string& rel);
std::string path_of(const Plan& plan, const FileRef& f);
// The line a skip in this root counts against: a shared mailbox's, else none.
std::string line_of(const Root& root);

}  // namespace rm::sweep
