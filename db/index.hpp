// The retention index: one SQLite file that records every helpline message by a keyed
// digest of its Message-ID, and nothing that identifies a person.
//
// Shared by the milter (inserts rows), the sweeper (marks them destroyed, writes
// receipts) and retentionctl (lookups, holds, reports). Nothing here includes libmilter.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "core/period.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace rm {

// A failure to open, read or write the index (SQLite error, locked past the busy
// timeout, disk full, key trouble). `what()` names the file and says what happened.
class IndexError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Gives a file just made beside the index (a lock, the pending journal, its rejected
// lines) to whoever must open it next. Run as root (retentionctl by an admin, a sweep by
// hand), the file gets the index's owner and group, or its folder's when there is no
// index yet: the milter and the sweeper never run as root, and a root-owned lock or
// journal would lock them out. Otherwise it gets the folder's group (EPERM is fine: a
// setgid folder gave it already). Throws IndexError when root cannot change the owner.
void give_index_owner(int fd, const std::string& file, const std::string& index_path);

// A digest is 32 raw bytes of HMAC-SHA-256.
using Digest = std::string;

// The secret that keys the Message-ID digests. It is made once, together with a new
// index; with an existing index a missing or others-readable key is an error, because
// a silently new key would orphan every row.
class DigestKey {
public:
    // Loads `key_file`. When `index_path` does not exist yet and the key file does not
    // either, a new 32-byte key is made (mode 0640, the group of the index's folder).
    // Throws IndexError with a message an admin can act on.
    static DigestKey load_or_create(const std::string& key_file, const std::string& index_path,
                                    bool may_create);
    static DigestKey from_bytes(std::string bytes);  // tests

    // HMAC-SHA-256 of a Message-ID already normalised by normalise_message_id().
    Digest digest(std::string_view normalised_message_id) const;

    // The keyed digest of a record token (kHdrRecord), which the index row keeps instead
    // of the token: the index alone cannot link a copy to its row without the key.
    Digest record_digest(std::string_view token) const;

    // A keyed hash of a file's identity for the sweeper's scan cache (the sweeper puts
    // the inode before 8 bytes of it). A label prefix keeps it apart from every Message-ID
    // digest.
    Digest file_hash(std::string_view identity) const;

    // Names the key without revealing it (hex HMAC of a fixed label), so an index can
    // record which key its digests were made with.
    std::string fingerprint() const;

private:
    explicit DigestKey(std::string bytes) : key_(std::move(bytes)) {}
    std::string key_;
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

struct Hold {
    std::int64_t id = 0;
    std::string reason;
    std::string ref;
    std::chrono::system_clock::time_point placed_at;
    std::string placed_by;  // the Unix user who placed it
    std::optional<std::chrono::system_clock::time_point> released_at;
    std::string released_by;
};

// A hold in force, with what a report may show of its message (never the digest).
struct HeldMessage {
    Hold hold;
    std::string lines;    // the line tags of its latest row
    Date retain_until{};  // the latest retention date among its rows
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

class Index {
public:
    struct Options {
        bool create = false;        // create the file and schema when missing
        bool read_only = false;
        int busy_timeout_ms = 5000;
        // SQLite's page cache for this connection, in MiB; 0 keeps SQLite's 2 MiB. The
        // sweeper looks up every message it scans at random places in the index: with the
        // default cache most lookups read their pages again from the OS (issue 7's profile).
        int cache_mib = 0;
    };

    // Opens (and with `create`, makes) the index: WAL, synchronous=FULL, secure_delete,
    // foreign keys, busy timeout, forward migrations to the current schema version (a
    // read-only open migrates nothing and refuses a schema other than the current one).
    // A new file is made mode 0660 with the group of its folder; SQLite gives the -wal
    // and -shm files the same mode. Times are kept to the second (Unix seconds, UTC).
    static std::unique_ptr<Index> open(const std::string& path, const Options& opts);
    ~Index();
    Index(const Index&) = delete;
    Index& operator=(const Index&) = delete;

    int schema_version() const;
    const std::string& path() const { return path_; }

    // --- the milter ---------------------------------------------------------------
    // Inserts rows in one transaction (group commit: many messages share one sync).
    // Returns the new row ids, in order. Throws IndexError; then nothing was written.
    std::vector<std::int64_t> insert(const std::vector<MessageRow>& rows);

    // --- lookups -------------------------------------------------------------------
    std::vector<MessageRow> rows_for(const Digest& digest) const;
    // The row whose stamped copies carry a record token with this digest (at most one).
    std::vector<MessageRow> rows_for_record(const Digest& record) const;
    std::optional<MessageRow> row(std::int64_t id) const;
    // Present rows whose date is on or before `today`, oldest first. Held rows are
    // included: the sweeper asks is_held() for each digest before destroying.
    std::vector<MessageRow> expired(Date today) const;

    // --- holds ---------------------------------------------------------------------
    // Places a hold on every copy of a message: every row with that Message-ID digest
    // (a reused Message-ID holds them all). Throws IndexError when the index has no row
    // for the digest (an unknown message), when every row is already destroyed, when a
    // sweep has claimed it for destruction ("being destroyed"), or when the message
    // already has an active hold.
    std::int64_t hold(const Digest& digest, const std::string& reason, const std::string& ref,
                      const std::string& user, std::chrono::system_clock::time_point now);
    // Releases the active hold. Throws IndexError when there is none.
    void release(const Digest& digest, const std::string& user, std::chrono::system_clock::time_point now);
    std::optional<Hold> active_hold(const Digest& digest) const;
    std::vector<Hold> holds_for(const Digest& digest) const;  // history, oldest first
    bool is_held(const Digest& digest) const;
    // The digests of every message on hold now (few: holds are placed by hand).
    std::vector<Digest> held_digests() const;
    // Every active hold, oldest first.
    std::vector<HeldMessage> holds_in_force() const;

    // --- the sweeper ---------------------------------------------------------------
    // Marks every present row of the digest destroyed, with the time and the number of
    // copies destroyed. Returns how many rows changed.
    int mark_destroyed(const Digest& digest, std::chrono::system_clock::time_point when, int copies);
    // Marks rows destroyed by id, many in one transaction (one sync instead of one per
    // message); rows no longer present are left as they are. With Unless::Held, a row whose
    // message is on hold is left present, checked in the same statement. Returns the
    // digests of the rows that changed, each once, in the order met.
    struct DestroyedRow {
        std::int64_t id = 0;
        int copies = 0;
    };
    enum class Unless { Nothing, Held };
    std::vector<Digest> mark_destroyed(const std::vector<DestroyedRow>& batch, std::chrono::system_clock::time_point when,
                                       Unless unless = Unless::Nothing);
    // Claims messages for destruction: in one transaction, each claim whose digest has no
    // active hold marks its present rows claimed (then hold() refuses them); a held one is
    // left alone. Returns, for each claim, whether it was claimed.
    struct Claim {
        Digest digest;  // for the hold check
        std::vector<std::int64_t> rows;
    };
    std::vector<bool> claim(const std::vector<Claim>& claims, std::chrono::system_clock::time_point when);
    // Lifts every claim on rows still present (a sweep's end, or the claims of a run that
    // was killed). Returns how many.
    int release_claims();
    // --- the sweeper's scan cache (see db/schema.hpp) ---------------------------------
    // What a file is matched by: its Message-ID digest and its record digest (either may
    // be empty).
    struct FileKeys {
        Digest digest;
        Digest record;
        bool operator==(const FileKeys&) const = default;
    };
    struct KnownFile {
        std::string file_key;  // DigestKey::file_key of the file's identity
        FileKeys keys;
    };
    // What was last read from the file with that key, if anything.
    std::optional<FileKeys> known_file(const std::string& file_key) const;
    // Remembers files read on `today`, in one transaction (a key seen again is replaced).
    void remember_files(const std::vector<KnownFile>& files, Date today);
    // Forgets files remembered before `cutoff` (they are read again next time). Returns how many.
    int forget_files_before(Date cutoff);

    // --- when a sweep first saw each [[sweep.files]] file (see db/schema.hpp) ---------
    std::optional<Date> file_first_seen(const std::string& file_key) const;
    // Notes the files seen on `today`: first seen today unless known, last seen today.
    void note_files_seen(const std::vector<std::string>& file_keys, Date today);
    // Forgets destroyed files, and files last seen before `cutoff`.
    void forget_files_seen(const std::vector<std::string>& file_keys);
    int forget_files_seen_before(Date cutoff);

    // Erases digest, record digest and queue id of rows destroyed before `cutoff` (digest_grace after
    // destruction), the scan cache's entries with those digests, and the digest of
    // released holds no row shares any more; then
    // checkpoints and truncates the WAL so the erased bytes leave it too (secure_delete
    // zeroes them in the database file). Returns how many rows were erased.
    int erase_old_digests(std::chrono::system_clock::time_point cutoff);
    // Appends a receipt chained to the previous one; fills id and chain_hex. The chain is
    // SHA-256(previous chain's 32 bytes, none for the first || the destroyed digests,
    // sorted bytewise, duplicates dropped, concatenated), in lower-case hex.
    Receipt add_receipt(Receipt r, const std::vector<Digest>& destroyed_digests);
    std::optional<Receipt> last_receipt() const;
    // The last receipt of a successful sweep: exit code 0, or 4 (finished, skipped some).
    std::optional<Receipt> last_successful_receipt() const;

    // --- reports -------------------------------------------------------------------
    ReportCounts report(Date today) const;

    // Key/value settings the programs keep between runs (the sweeper's last clock).
    std::optional<std::string> get_meta(const std::string& key) const;
    void set_meta(const std::string& key, const std::string& value);

    // Whether `key` is the key this index recorded (remember_key): true or false, or
    // nothing when none is recorded yet. A wrong key finds no row, silently, so
    // `retentionctl check` and the programs can ask before trusting an empty lookup.
    std::optional<bool> key_matches(const DigestKey& key) const;
    // Records the key's fingerprint when none is recorded yet (the milter, at start).
    // Never replaces a recorded one: that is key_matches()'s job to report.
    void remember_key(const DigestKey& key);

    // Holds one read transaction over many lookups: without it SQLite takes and drops its
    // locks (and stats the WAL) for every statement, which dominates a sweep's scan. Keep
    // it short-lived (the sweeper renews it every few thousand lookups): a WAL checkpoint
    // cannot pass a reader that stays. Ends with the object; nothing is written in it.
    class ReadScope {
    public:
        explicit ReadScope(const Index& index);
        ~ReadScope();
        ReadScope(const ReadScope&) = delete;
        ReadScope& operator=(const ReadScope&) = delete;

    private:
        const Index& index_;
        bool open_ = false;
    };

    sqlite3* handle() const { return db_; }

private:
    Index(std::string path, sqlite3* db) : path_(std::move(path)), db_(db) {}
    // A statement of the hot paths (the sweeper's lookups, its marks), prepared once.
    sqlite3_stmt* cached(const char* sql) const;
    std::string path_;
    sqlite3* db_ = nullptr;
    mutable std::vector<std::pair<const char*, sqlite3_stmt*>> cache_;
};

// The pending journal used when on_index_error = "accept": rows the milter could not
// write to the index, appended (and synced) to "<index>.pending" and imported later.
class PendingJournal {
public:
    explicit PendingJournal(std::string index_path);
    const std::string& path() const { return path_; }
    // Appends one row and fsyncs the file. Throws IndexError when that fails.
    void append(const MessageRow& row);
    // Moves every journalled row into the index in one transaction, then empties the
    // journal. Returns how many were imported. Safe to call when there is no journal.
    int import_into(Index& index);
    // How many malformed lines the last import_into() skipped. They are logged, and kept
    // in "<index>.pending.rejected" for the admin rather than dropped.
    int skipped() const { return skipped_; }

private:
    int import_file(Index& index, const std::string& file);
    std::string index_path_;
    std::string path_;
    int skipped_ = 0;
};

}  // namespace rm
