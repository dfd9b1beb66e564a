// Phase 1 of a sweep: read every configured store (read-only) and decide what to do.
//
// The plan holds only the actions (files to destroy, copies to move) and the counts, so
// memory grows with what has expired, not with the size of the stores. No message, file or
// index row is changed here: a dry run, a safety stop or a config error found half-way
// leaves everything as is. The one thing a real run writes while it scans is the index's
// scan cache (which file holds which message), which changes no decision.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <array>
#include <chrono>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/config.hpp"
#include "core/maildir.hpp"
#include "db/index.hpp"
#include "sweeper/summary.hpp"

namespace rm::sweep {

// A store that is not Maildir++ (dbox, LAYOUT=fs, compressed or encrypted files): a
// config error (exit 2), never a store in which nothing is found.
class StoreError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Files a run names itself while it works: ".retention-sweep.NAME" is a file it has begun
// to destroy (renamed first, so a killed run leaves a name the next run recognises and
// finishes), and in a shared folder's tmp/ a copy it was writing for a move. Mail servers
// ignore names that start with a dot.
inline constexpr std::string_view kMarkerPrefix = ".retention-sweep.";
std::string marker_name(const std::string& name);

// The files a run renames to a marker name or writes under one, recorded in the index
// before it does (and, for those a finished run could not remove, after it): a later run
// destroys a file of such a name only when it is one of these. Anything else so named (a
// user's ".retention-sweep.notes") is reported and left alone.
struct OwnFiles {
    std::set<std::pair<dev_t, ino_t>> inodes;  // a marker keeps the inode of the file renamed
    std::set<std::string> tmp_names;  // keyed hashes (hex) of the names of copies written in tmp/
    static std::string tmp_key(const DigestKey& key, std::string_view name);
    // Adds what a record made by to_json() holds (inside a JSON object, as its "own").
    void merge(const std::optional<std::string>& record);
    std::string to_json() const;
    bool empty() const { return inodes.empty() && tmp_names.empty(); }
};

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

// What the index knows a [[sweep.files]] file by (files_seen): its inode, then 8 bytes of
// a keyed hash of its device, inode, size and mtime, as the scan saw them.
std::string files_seen_key(const DigestKey& key, const FileRef& f);
// How long a file no sweep has seen stays in files_seen.
inline constexpr std::chrono::days kFilesSeenDays{31};
// Meta key: the date of the first sweep that noted files in files_seen. A file first seen
// then was there before the sweep kept count: its first sighting says nothing of its arrival.
inline constexpr const char* kMetaFilesSeenSince = "sweep.files_seen_since";

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
};

// What a copy is matched to index rows by: the keyed digest of its record token (the
// first well-formed X-Retention-Record header: a copy the milter stamped), and of the
// Message-ID it is indexed by (indexed_message_id over every Message-ID header, each read
// up to a NUL as libmilter reads it). Either may be empty.
Index::FileKeys match_keys(const std::vector<HeaderField>& fields, const DigestKey& key);
// The header fields match_keys reads (read_header_fields keeps only these).
inline const std::vector<std::string_view> kMatchFields = {"Message-ID", "X-Retention-Record"};

// How the scan uses the index's scan cache. A file whose identity (device, inode, size,
// mtime and ctime to the nanosecond) is in the cache is not read again: its digest comes
// from there. The kernel sets ctime on every change to a file, its content, its name or
// its times (even `touch -d` sets it to now), so a file that matches is the file that was
// read; everything else about it (rows, dates, holds) is looked up afresh as for a file read.
struct ScanCache {
    bool look_up = true;          // false: read every file (retention-sweep --read-all)
    Index* learn_into = nullptr;  // where to remember what was read; nullptr: nowhere (dry runs)
    // A file changed less than this long before the scan is read, not remembered: file
    // times tick coarsely (a few ms on ext4), so a second change within the tick of the
    // first would leave ctime as it was (git's "racily clean" rule). By the system clock.
    std::chrono::seconds settle{2};
};
// How long a file stays known before it is read again.
inline constexpr std::chrono::days kScanCacheDays{31};

// Builds the plan. Counts go into `summary` as what the run will do (phase 2 corrects
// them when something fails). Throws StoreError for a store that is not Maildir++.
Plan make_plan(const Config& config, const Index& index, const DigestKey& key, Date today, Summary& summary,
               ScanCache cache = {});

// The folder of a shared mailbox that receives moved Sent copies: the first of its
// sent_folders that exists, else the first of them (to be created).
std::string sent_folder_of(int rootfd, const SweepMailbox& entry);

}  // namespace rm::sweep
