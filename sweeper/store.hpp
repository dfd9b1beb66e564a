// The seam between the sweep and a mail store. The Maildir store (maildir_store.hpp)
// implements it on the file system today; a store reached through Dovecot's doveadm (users
// listed by mask, IMAP folder names, header fields fetched and messages expunged in
// batches) and hold folders fit behind the same calls. The scan (scan.hpp) and phase 2
// (execute.hpp) speak only to this interface.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "db/index.hpp"
#include "sweeper/outcomes.hpp"
#include "sweeper/summary.hpp"
#include "sweeper/sweep_plan.hpp"

namespace rm::sweep {

// A store that is not in a format its kind can read (dbox where Maildir++ was configured,
// compressed or encrypted files): a config error (exit 2), found in phase 1 so that nothing
// is changed, never a store in which nothing is found.
class StoreError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// What a folder means to the sweep. The role decides which copies may be matched to which
// rows (rows_of_unstamped_copy), and what is done with a copy past its date.
enum class FolderRole {
    Shared,   // any folder of a shared mailbox: the helpline's own mail, orphans reported
    Sent,     // a staff member's Sent folder or one below it: helpline replies move out of it
    Deleted,  // a staff member's deleted items: helpline copies are destroyed on their date
    Hold,     // a shared mailbox's hold folder (staff holding from their mail client): its
              // messages are held, and one that cannot be read stops all destruction
    Release,  // a shared mailbox's release folder, listed by scan_holds: the folder holds of its
              // messages are lifted (it is listed by scan() as well, as Shared)
};

// The header facts matching needs, as the store read them: every Message-ID (matching
// reads them all, each up to a NUL), every X-Retention-Record (the first well-formed one
// is our stamp), and the sender. A remote store fetches these in batches.
struct HeaderFacts {
    std::vector<std::string> message_ids;
    std::vector<std::string> records;
    std::string sender;  // empty where no matching rule uses it yet (Maildir does not read it)
};

// One message as a store lists it in phase 1.
struct StoredMessage {
    // Where it is, and what phase 2 checks before it acts (a Maildir file's inode, size and
    // mtime; a remote store's mailbox GUID and UID would go here).
    FileRef where;
    FolderRole role = FolderRole::Shared;
    // The day the store received it, if known: orphans expire by it, never by a date
    // written in the message, which anyone could forge.
    std::optional<Date> delivered;
    // The keyed digests of its header facts (match_keys): taken from the scan cache when
    // the store can tell the message is the one read before, else from its header.
    Index::FileKeys keys;
    // Role Hold: the hold folder as the config names it (its key in hold_folders); role
    // Release: the release folder.
    std::string hold_folder;
};

// What the scan does with what a store lists, and how it learns of places the store could
// not read completely.
class ScanSink {
public:
    virtual ~ScanSink() = default;
    // Called once per batch (a folder's worth, or less): a remote store fetches header
    // fields for many messages in one call, and the scan looks their rows up together.
    virtual void messages(std::vector<StoredMessage>& batch) = 0;
    // A location of a [[sweep.mailbox]] entry (a mailbox, a glob's parent, a folder) that
    // could not be read: a copy of any message may be there, so rows must wait. `shown` is
    // the entry as the summary may name it (empty when that would name a staff member).
    virtual void location_unread(Skip why, int entry, const std::string& line, const std::string& path,
                                 const std::string& shown) = 0;
    // One message that could not be read: its rows are not "found nowhere" this run.
    virtual void message_unread(Skip why, const Root& root, const std::string& path) = 0;
    // A message gone between the listing and the read (expunged meanwhile): nothing to do,
    // but "found nowhere" is then no proof for rows past their date.
    virtual void vanished() = 0;
    // A header read (the summary counts them, with those the scan cache knew).
    virtual void message_read() = 0;
    // The scan cache, by an identity the store gives a message and that changes whenever
    // the message could have (Maildir: scan_cache_key). A hit counts as a message read.
    virtual std::optional<Index::FileKeys> known(const std::string& identity) = 0;
    // The identities known() will be asked for next, looked up together beforehand: on a
    // database server each look-up is a round trip.
    virtual void prefetch_known(const std::vector<std::string>& identities) { (void)identities; }
    virtual void learn(std::string identity, const Index::FileKeys& keys) = 0;
    // A file named with our marker prefix (own_files.hpp): finished if an earlier run made
    // it, else reported and left alone.
    virtual void leftover(size_t root, const std::string& folder, const std::string& sub, const std::string& name,
                          const struct stat& st) = 0;
    // A hold folder `name` of root `r` (or its mailbox, or a message in it) that could not
    // be read: a message held there may have copies anywhere, so nothing is destroyed or
    // moved this run. `path` is where, for --list.
    virtual void hold_folder_unread(Skip why, size_t r, const std::string& name, const std::string& path) = 0;
    // A hold folder `name` of root `r` that does not exist; `folder` is what ensure_folder
    // takes to make it.
    virtual void hold_folder_missing(size_t r, const std::string& folder, const std::string& name) = 0;
    // The release folder `name` of root `r` is not used this run (missing, not guarded by
    // the store's ACLs, or unreadable): nothing is released from it. `why` names no one.
    virtual void release_folder_refused(size_t r, const std::string& name, const std::string& why) = 0;
    // A folder where the server keeps copies of expunged mail (lazy_expunge): a residue.
    virtual void expunged_copies_folder(const std::string& path) = 0;
};

// A store holding the mailboxes of some [[sweep.mailbox]] entries.
class Store {
public:
    virtual ~Store() = default;

    // --- phase 1 (read-only) ---

    // Adds a root to the plan for each mailbox of the entries this store serves (a glob or
    // a user mask lists several). An entry whose listing fails is reported, never "nobody".
    virtual void add_roots(Plan& plan, ScanSink& sink) = 0;
    // Lists the messages of root `r` in the folders whose role matters, in batches, and
    // reports what it could not read. Throws StoreError for a store it cannot read.
    virtual void scan(Plan& plan, size_t r, ScanSink& sink) = 0;
    // Lists the messages of root `r`'s hold folders (role Hold) and reports those missing
    // or unreadable; called for every shared root before any scan(), which leaves the hold
    // folders out. A root whose entry has no hold_folders lists nothing. Then the messages
    // of its release folder (role Release), only while the store's ACLs guard it.
    virtual void scan_holds(Plan& plan, size_t r, ScanSink& sink) = 0;
    // The folder of root `r` that receives moved copies (role Sent): the first of the
    // entry's sent_folders that exists, else the first of them, made in phase 2. Empty
    // when the mailbox cannot be reached: then nothing is moved there.
    virtual std::string sent_folder(const Plan& plan, size_t r) = 0;

    // --- phase 2 ---

    // Destroys a batch of messages, each given as every name the scan found for it (hard
    // links in Maildir), and returns one outcome each. What it destroyed is durable when it
    // returns (Maildir: folders synced), so the caller may then mark rows destroyed.
    virtual std::vector<DestroyOutcome> destroy(const Plan& plan, const std::vector<std::vector<FileRef>>& batch) = 0;
    // Moves a batch of copies (written with our headers into the destination, then the
    // source destroyed), one outcome each. Destination folders are made when missing.
    virtual std::vector<MoveOutcome> move(const Plan& plan, const std::vector<MoveItem>& batch) = 0;
    // Makes `folder` of root `r` when missing (Sent for moves, hold folders): 0 or errno.
    virtual int ensure_folder(const Plan& plan, size_t r, const std::string& folder, bool& created) = 0;
    // After phase 2: what the store may still hold of destroyed messages that the sweep
    // cannot clear itself (Maildir: dovecot.index.cache files in changed folders).
    virtual void report_residues(const Plan& plan, const std::set<std::pair<size_t, std::string>>& changed,
                                 Summary& summary) = 0;
    // Phase 2 is over: what it kept open is let go.
    virtual void end_phase2() = 0;
};

}  // namespace rm::sweep
