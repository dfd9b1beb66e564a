// The retention index: records every helpline message by a keyed digest of its
// Message-ID, and nothing that identifies a person.
//
// Shared by the milter (inserts rows), the sweeper (marks them destroyed, writes
// receipts) and retentionctl (lookups, holds, reports). Index is the interface the three
// programs use; SQLite (db/sqlite_index.hpp) and PostgreSQL (db/pg_index.hpp) implement it. Nothing here includes libmilter.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/config.hpp"
#include "core/period.hpp"
#include "db/digest_key.hpp"

namespace rm {

// A failure to open, read or write the index (SQLite error, locked past the busy
// timeout, disk full, key trouble). `what()` names the file and says what happened.
// `index_wide()`: a failure any row would meet (locked, full, I/O, read-only, the file
// replaced), as opposed to one row that cannot be written.
class IndexError : public std::runtime_error {
public:
    explicit IndexError(const std::string& msg, bool index_wide = false)
        : std::runtime_error(msg), index_wide_(index_wide) {}
    bool index_wide() const { return index_wide_; }

private:
    bool index_wide_ = false;
};

enum class RowState { Present, Destroyed };

struct MessageRow {
    std::int64_t id = 0;
    Digest digest;          // empty once erased
    Digest record;          // record_digest of the stamped copies' token; empty when not stamped or erased
    std::string queue_id;   // empty once erased
    std::string lines;      // comma-separated tags, as in X-Helpline-Line
    std::string direction;  // inbound | outbound | internal
    std::string policy;
    Date passed_on{};
    Date retain_until{};
    RowState state = RowState::Present;
    std::optional<std::chrono::system_clock::time_point> destroyed_at;
    int copies = 0;
    bool claimed = false;  // a sweep is destroying it: holds are refused ("being destroyed")
};

// Who placed a hold: an admin with retentionctl, or the sweeper for a message that staff
// moved into a hold folder. A message may have one of each in force: releasing one leaves
// the other.
enum class HoldKind { Admin, Folder };

struct Hold {
    std::int64_t id = 0;
    std::string reason;
    std::string ref;
    std::chrono::system_clock::time_point placed_at;
    // Admin: the Unix user who placed it. Folder: the folder (folder_hold_label): a folder
    // cannot tell which person moved the message, and the record must not pretend to.
    std::string placed_by;
    HoldKind kind = HoldKind::Admin;
    std::optional<std::chrono::system_clock::time_point> released_at;
    std::string released_by;
};

// A hold in force, with what a report may show of its message (never the digest).
struct HeldMessage {
    Hold hold;
    std::string lines;    // the line tags of its latest row
    Date retain_until{};  // the latest retention date among its rows
};

// "folder Hold/Safeguarding of the mens-advice-line mailbox": what a folder hold records as
// having placed it.
std::string folder_hold_label(const std::string& folder, const std::string& line);
// "admin" | "folder", as stored and as reports and JSON show it.
std::string_view hold_kind_name(HoldKind kind);

// What hold_from_folder did.
enum class FolderHold {
    Placed,
    AlreadyInForce,  // a folder hold was already in force: each night's run asks again
    NotInIndex,      // no row has the digest: not helpline mail, left alone
    AllDestroyed,    // every row is destroyed already
};

struct Receipt {
    std::int64_t id = 0;
    std::chrono::system_clock::time_point run_at;
    Date today{};             // the date the run acted as (may be a --now what-if: never stored)
    std::string counts_json;  // counts by line and action; no paths, no digests
    std::int64_t destroyed = 0;
    std::string chain_hex;    // SHA-256(previous chain || sorted destroyed digests)
    int exit_code = 0;
};

struct ReportCounts {
    struct Bucket {
        std::string line, direction, state;
        std::int64_t count = 0;
    };
    std::vector<Bucket> buckets;  // one row per (single line tag, direction, state), sorted
    // Present, unheld rows that the sweeps of today and the next N-1 days will destroy:
    // today <= retain_until < today + N.
    std::int64_t expiring_7 = 0, expiring_30 = 0;
    // Present, unheld rows past their date (retain_until < today): a daily sweep should
    // already have destroyed them. Rows due today are not overdue until tomorrow, so a
    // sweep timer that runs late in the day does not raise false alarms.
    std::int64_t overdue = 0;
    std::int64_t active_holds = 0;
};

// A row read from the pending journal, with the journal line's token: a row whose token
// the index already holds was imported before, and is skipped.
struct JournalledRow {
    MessageRow row;
    std::string token;
};

// One sweeper at a time: held for the life of the object.
class SweepLock {
public:
    virtual ~SweepLock() = default;
};

struct SweepLockAttempt {
    enum class Status { Held, Busy, Failed };
    Status status = Status::Failed;
    std::unique_ptr<SweepLock> lock;  // when Held
    std::string where;                // what carries the lock, for messages
    std::string error;                // why it could not be taken, when Failed
};

class Index {
public:
    struct Options {
        // Makes an index that is one file of this host (SQLite) when it is missing: the
        // milter does at its first start.
        bool create = false;
        // The admin's `retentionctl upgrade-index`: also makes a shared index (PostgreSQL)
        // when its database holds none, and migrates its schema forward. Without it a
        // shared index is used as it is, never made or changed by a program every host runs.
        bool upgrade = false;
        bool read_only = false;
        int busy_timeout_ms = 5000;
        // SQLite's page cache for this connection, in MiB; 0 keeps SQLite's 2 MiB. The
        // sweeper looks up every message it scans at random places in the index: with the
        // default cache most lookups read their pages again from the OS.
        int cache_mib = 0;
        // PostgreSQL: how long to wait for the server to connect or to finish a write
        // transaction before giving up, cancelling it and dropping the connection (the next
        // write reconnects); 0: as long as the keepalives allow. The milter sets it below
        // its MTA's milter timeouts.
        int answer_timeout_ms = 0;
        // PostgreSQL: libpq's keepalives_idle, keepalives_interval, keepalives_count (in
        // seconds and probes) and tcp_user_timeout (in ms), so that a server that vanished
        // without closing the connection is noticed; 0 leaves libpq's default. A conninfo
        // that sets one of them wins. Index::open fills them in from [index].
        int keepalives_idle_s = 0;
        int keepalives_interval_s = 0;
        int keepalives_count = 0;
        int tcp_user_timeout_ms = 0;
        // The host whose files the scan cache and files_seen describe (a file's device
        // and inode mean something on one host only); empty: this host's name.
        std::string host_id = {};
    };

    // Opens (and with `create`, makes) the index [index] names: the SQLite file at its
    // path, or the PostgreSQL database of its conninfo.
    static std::unique_ptr<Index> open(const IndexSection& c, const Options& opts);
    // Opens (and with `create`, makes) the SQLite index at `path`: see SqliteIndex.
    static std::unique_ptr<Index> open(const std::string& path, const Options& opts);
    virtual ~Index() = default;
    Index(const Index&) = delete;
    Index& operator=(const Index&) = delete;

    virtual int schema_version() const = 0;
    // The schema version the index had when this object opened it: 0 when the open made it.
    int found_version() const { return found_version_; }
    // Names the index in messages (for SQLite, its file).
    virtual const std::string& path() const = 0;

    // --- the milter ---------------------------------------------------------------
    // Inserts rows in one transaction (group commit: many messages share one sync).
    // Returns the new row ids, in order. Throws IndexError; then nothing was written (or,
    // when the index was replaced meanwhile, written where nobody reads it: the error
    // says so and is index_wide()).
    virtual std::vector<std::int64_t> insert(const std::vector<MessageRow>& rows) = 0;
    // Inserts rows from the pending journal in one transaction, skipping rows whose token
    // is already in the index. Returns how many were added.
    virtual int insert_journalled(const std::vector<JournalledRow>& rows) = 0;

    // --- lookups -------------------------------------------------------------------
    virtual std::vector<MessageRow> rows_for(const Digest& digest) const = 0;
    // The row whose stamped copies carry a record token with this digest (at most one).
    virtual std::vector<MessageRow> rows_for_record(const Digest& record) const = 0;
    // rows_for() and rows_for_record() of many keys at once (one statement on a database
    // server, where each look-up costs a round trip): each key that has rows, with them.
    using RowsByKey = std::unordered_map<Digest, std::vector<MessageRow>>;
    virtual RowsByKey rows_for_each(const std::vector<Digest>& digests) const;
    virtual RowsByKey rows_for_each_record(const std::vector<Digest>& records) const;
    // Present rows whose date is on or before `today`, oldest first. Held rows are
    // included: the sweeper asks for the holds before destroying.
    virtual std::vector<MessageRow> expired(Date today) const = 0;

    // --- holds ---------------------------------------------------------------------
    // Places an admin hold on every copy of a message: every row with that Message-ID
    // digest (a reused Message-ID holds them all). Throws IndexError when the index has no
    // row for the digest (an unknown message), when every row is already destroyed, when a
    // sweep has claimed it for destruction ("being destroyed"), or when the message
    // already has an admin hold in force (a folder hold does not stop it).
    virtual std::int64_t hold(const Digest& digest, const std::string& reason, const std::string& ref,
                              const std::string& user, std::chrono::system_clock::time_point now) = 0;
    // Places a folder hold, as hold() does but naming the folder (`placed_by`, made by
    // folder_hold_label). What it found is returned rather than thrown, since the sweeper
    // asks for every message of every hold folder every night; a claimed message throws
    // IndexError as in hold().
    virtual FolderHold hold_from_folder(const Digest& digest, const std::string& reason, const std::string& placed_by,
                                        std::chrono::system_clock::time_point now) = 0;
    // Releases the holds in force of `kind` (of every kind when none is given), each
    // recorded as released by `user`. Returns how many; throws IndexError when none.
    virtual int release(const Digest& digest, const std::string& user, std::chrono::system_clock::time_point now,
                        std::optional<HoldKind> kind = std::nullopt) = 0;
    // The holds in force on a message: at most one of each kind, admin first.
    virtual std::vector<Hold> active_holds(const Digest& digest) const = 0;
    virtual std::vector<Hold> holds_for(const Digest& digest) const = 0;  // history, oldest first
    // The digests of every message on hold now, each once (few: holds are placed by hand
    // or by moving a message into a hold folder).
    virtual std::vector<Digest> held_digests() const = 0;
    // The digests of the messages with a folder hold in force: the sweeper reports those
    // no longer in a hold folder (they stay held).
    virtual std::vector<Digest> folder_held_digests() const = 0;
    // Every hold in force, oldest first (a message with two holds is listed twice).
    virtual std::vector<HeldMessage> holds_in_force() const = 0;

    // --- the sweeper ---------------------------------------------------------------
    // One sweeper at a time: Busy when another holds the lock.
    virtual SweepLockAttempt try_lock_sweep() = 0;
    // Marks rows destroyed by id, many in one transaction (one sync instead of one per
    // message); rows no longer present are left as they are. With Unless::Held, a row whose
    // message is on hold is left present, checked in the same statement. Returns the
    // digests of the rows that changed, each once, in the order met.
    struct DestroyedRow {
        std::int64_t id = 0;
        int copies = 0;
    };
    enum class Unless { Nothing, Held };
    virtual std::vector<Digest> mark_destroyed(const std::vector<DestroyedRow>& batch,
                                               std::chrono::system_clock::time_point when,
                                               Unless unless = Unless::Nothing) = 0;
    // Claims messages for destruction: in one transaction, each claim whose digest has no
    // active hold marks its present rows claimed (then hold() refuses them); a held one is
    // left alone. Returns, for each claim, whether it was claimed.
    struct Claim {
        Digest digest;  // for the hold check
        std::vector<std::int64_t> rows;
    };
    virtual std::vector<bool> claim(const std::vector<Claim>& claims, std::chrono::system_clock::time_point when) = 0;
    // Lifts every claim on rows still present (a sweep's end, or the claims of a run that
    // was killed). Returns how many.
    virtual int release_claims() = 0;

    // --- the sweeper's scan cache, kept per host (see db/schema.hpp) -------------------
    // What a file is matched by: its Message-ID digest and its record digest (either may
    // be empty).
    struct FileKeys {
        Digest digest;
        Digest record;
        // The Message-ID digest as keys were made before they took the form Dovecot's JSON
        // gives (dovecot_json_utf8): rows written then for an id with bytes that are not
        // UTF-8 carry it. Empty when it equals `digest`; never kept in the scan cache.
        Digest legacy{};
        bool operator==(const FileKeys&) const = default;
    };
    struct KnownFile {
        std::string file_key;  // from DigestKey::file_hash of the file's identity
        FileKeys keys;
    };
    // What was last read on this host from the file with that key, if anything.
    virtual std::optional<FileKeys> known_file(const std::string& file_key) const = 0;
    // known_file() of many keys at once (one statement on a database server, where each
    // look-up costs a round trip): each key the cache knows, with its keys.
    using KnownFiles = std::unordered_map<std::string, FileKeys>;
    virtual KnownFiles known_files(const std::vector<std::string>& file_keys) const;
    // Remembers files read on `today`, in one transaction (a key seen again is replaced).
    virtual void remember_files(const std::vector<KnownFile>& files, Date today) = 0;
    // Forgets files remembered before `cutoff` (they are read again next time). Returns how many.
    virtual int forget_files_before(Date cutoff) = 0;

    // --- when a sweep first saw each [[sweep.files]] file, per host (see db/schema.hpp) --
    virtual std::optional<Date> file_first_seen(const std::string& file_key) const = 0;
    // Notes the files seen on `today`: first seen today unless known, last seen today.
    virtual void note_files_seen(const std::vector<std::string>& file_keys, Date today) = 0;
    // Forgets destroyed files, and files last seen before `cutoff`.
    virtual void forget_files_seen(const std::vector<std::string>& file_keys) = 0;
    virtual int forget_files_seen_before(Date cutoff) = 0;

    // Erases digest, record digest and queue id of rows destroyed before `cutoff`
    // (digest_grace after destruction), the scan cache's entries with those digests, and
    // the digest of released holds no row shares any more, so that the erased bytes leave
    // the storage too. Returns how many rows were erased.
    virtual int erase_old_digests(std::chrono::system_clock::time_point cutoff) = 0;
    // Appends a receipt chained to the previous one; fills id and chain_hex. The chain is
    // SHA-256(previous chain's 32 bytes, none for the first || the destroyed digests,
    // sorted bytewise, duplicates dropped, concatenated), in lower-case hex.
    virtual Receipt add_receipt(Receipt r, const std::vector<Digest>& destroyed_digests) = 0;
    virtual std::optional<Receipt> last_receipt() const = 0;
    // The last receipt of a successful sweep: exit code 0, or 4 (finished, skipped some).
    virtual std::optional<Receipt> last_successful_receipt() const = 0;
    // The last `n` receipts, newest first: the sweeper's recent runs, for the report.
    virtual std::vector<Receipt> recent_receipts(int n) const = 0;

    // --- reports -------------------------------------------------------------------
    virtual ReportCounts report(Date today) const = 0;

    // Key/value settings the programs keep between runs (the sweeper's last clock).
    virtual std::optional<std::string> get_meta(const std::string& key) const = 0;
    virtual void set_meta(const std::string& key, const std::string& value) = 0;

    // Whether `key` is the key this index recorded (remember_key): true or false, or
    // nothing when none is recorded yet. A wrong key finds no row, silently, so
    // `retentionctl check` and the programs can ask before trusting an empty lookup.
    virtual std::optional<bool> key_matches(const DigestKey& key) const = 0;
    // Records the key's fingerprint when none is recorded yet (the milter, at start).
    // Never replaces a recorded one: that is key_matches()'s job to report.
    virtual void remember_key(const DigestKey& key) = 0;

    // Holds one read snapshot over many lookups (the sweeper's scan): cheaper than one
    // per lookup. Keep it short-lived (the sweeper renews it every few thousand lookups).
    // Ends with the object; nothing is written in it.
    class Snapshot {
    public:
        virtual ~Snapshot() = default;
    };
    class ReadScope {
    public:
        explicit ReadScope(const Index& index) : snapshot_(index.begin_reads()) {}

    private:
        std::unique_ptr<Snapshot> snapshot_;
    };
    virtual std::unique_ptr<Snapshot> begin_reads() const = 0;

protected:
    Index() = default;
    int found_version_ = 0;
};

// The key and the index a program works with, checked to belong together.
struct CheckedIndex {
    DigestKey key;
    std::unique_ptr<Index> index;
};

// The key is not the one the index records: no row could ever be found with it.
class KeyMismatch : public IndexError {
public:
    using IndexError::IndexError;
};

// What to do about a key file that is not the index's key, as a sentence without its
// capital: a host of a shared index gets the key every other host has, from the first host.
std::string key_mismatch_remedy(const IndexSection& c);

// Throws IndexError, saying where the milter would have made it, when there is plainly no
// index yet (no SQLite file); a database is asked when opened.
void require_index(const IndexSection& c);

// The meta key under which an index records its key's fingerprint.
inline constexpr const char* kKeyFingerprintMeta = "key_fingerprint";

// Loads the key (made only with `may_create_key`, and only when there is no index yet:
// see DigestKey::load_or_create), opens the index, and throws KeyMismatch when the index
// records another key. Throws IndexError when either cannot be opened.
// A shared index (PostgreSQL) never has a key made here: see upgrade_index.
CheckedIndex open_index_checked(const IndexSection& c, const Index::Options& opts, bool may_create_key);

// What upgrade_index did.
struct IndexUpgrade {
    std::string index;   // names the index, for messages
    int from = 0;        // the schema version found; 0: the index was made now
    int to = 0;          // the version it has now
    enum class Key { Checked, Recorded, Made } key = Key::Checked;
    // What the admin must still do by hand (a PostgreSQL index: roles only a superuser may
    // make or configure), each with the SQL to run.
    std::vector<std::string> left_to_admin;
};

// retentionctl upgrade-index: makes the index when there is none (with a new key when
// there is no key file: the key is made once, with a new empty index; an existing key
// file becomes the new index's key), migrates an older schema forward, and checks the key.
// On PostgreSQL it also grants the programs' group roles their rights (db/pg_roles.hpp).
// Throws KeyMismatch when the key file is not the index's key, IndexError otherwise.
IndexUpgrade upgrade_index(const IndexSection& c);

}  // namespace rm
