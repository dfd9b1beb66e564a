// The index in one SQLite file: the backend for a mail server that runs the MTA, the
// milter, the mail store and the sweeper on one host.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "db/index.hpp"
#include "db/migrate.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace rm {

class SqliteIndex : public Index {
public:
    // Opens (and with `create`, makes) the index: WAL, synchronous=FULL, secure_delete,
    // foreign keys, busy timeout, forward migrations to the current schema version (a
    // read-only open migrates nothing and refuses a schema other than the current one).
    // A new file is made mode 0660 with the group of its folder; SQLite gives the -wal
    // and -shm files the same mode. Times are kept to the second (Unix seconds, UTC).
    SqliteIndex(const std::string& path, const Options& opts);
    ~SqliteIndex() override;
    // The files an index at `path` is kept in (the database, its -wal and -shm), for
    // retentionctl check's look at their owners and modes.
    static std::vector<std::string> files_at(const std::string& path) { return {path, path + "-wal", path + "-shm"}; }

    int schema_version() const override;
    // Every row of `table` as stored (see db/migrate.hpp), numbered tables by id.
    std::vector<StoredRow> stored_rows(const CopiedTable& table) const;
    const std::string& path() const override { return path_; }

    std::vector<std::int64_t> insert(const std::vector<MessageRow>& rows) override;
    int insert_journalled(const std::vector<JournalledRow>& rows) override;

    std::vector<MessageRow> rows_for(const Digest& digest) const override;
    std::vector<MessageRow> rows_for_record(const Digest& record) const override;
    std::vector<MessageRow> expired(Date today) const override;

    std::int64_t hold(const Digest& digest, const std::string& reason, const std::string& ref,
                      const std::string& user, std::chrono::system_clock::time_point now) override;
    FolderHold hold_from_folder(const Digest& digest, const std::string& reason, const std::string& placed_by,
                                std::chrono::system_clock::time_point now) override;
    int release(const Digest& digest, const std::string& user, std::chrono::system_clock::time_point now,
                std::optional<HoldKind> kind = std::nullopt) override;
    std::vector<Hold> active_holds(const Digest& digest) const override;
    std::vector<Hold> holds_for(const Digest& digest) const override;
    std::vector<Digest> held_digests() const override;
    std::vector<Digest> folder_held_digests() const override;
    std::vector<HeldMessage> holds_in_force() const override;

    // An exclusive flock on "<index>.sweep.lock" beside the database file.
    SweepLockAttempt try_lock_sweep() override;
    std::vector<Digest> mark_destroyed(const std::vector<DestroyedRow>& batch, std::chrono::system_clock::time_point when,
                                       Unless unless = Unless::Nothing) override;
    std::vector<bool> claim(const std::vector<Claim>& claims, std::chrono::system_clock::time_point when) override;
    int release_claims() override;

    std::optional<FileKeys> known_file(const std::string& file_key) const override;
    void remember_files(const std::vector<KnownFile>& files, Date today) override;
    int forget_files_before(Date cutoff) override;
    std::optional<Date> file_first_seen(const std::string& file_key) const override;
    void note_files_seen(const std::vector<std::string>& file_keys, Date today) override;
    void forget_files_seen(const std::vector<std::string>& file_keys) override;
    int forget_files_seen_before(Date cutoff) override;

    // Also checkpoints and truncates the WAL so the erased bytes leave it too
    // (secure_delete zeroes them in the database file).
    int erase_old_digests(std::chrono::system_clock::time_point cutoff) override;
    Receipt add_receipt(Receipt r, const std::vector<Digest>& destroyed_digests) override;
    std::optional<Receipt> last_receipt() const override;
    std::optional<Receipt> last_successful_receipt() const override;
    std::vector<Receipt> recent_receipts(int n) const override;

    ReportCounts report(Date today) const override;
    std::optional<std::string> get_meta(const std::string& key) const override;
    void set_meta(const std::string& key, const std::string& value) override;
    std::optional<bool> key_matches(const DigestKey& key) const override;
    void remember_key(const DigestKey& key) override;

    // One read transaction over many lookups: without it SQLite takes and drops its locks
    // (and stats the WAL) for every statement. A WAL checkpoint cannot pass a reader that
    // stays, hence short-lived.
    std::unique_ptr<Snapshot> begin_reads() const override;

    sqlite3* handle() const { return db_; }

protected:
    // One row by id, whatever its state (the tests' view; no program needs it).
    std::optional<MessageRow> row(std::int64_t id) const;

private:
    class ReadTransaction;
    // A statement of the hot paths (the sweeper's lookups, its marks), prepared once.
    sqlite3_stmt* cached(const char* sql) const;
    // Throws an index_wide() IndexError when the file at path() is no longer the file
    // open here (removed, renamed or replaced): rows written to it would be lost.
    void check_not_replaced() const;
    FolderHold holdable(const Digest& digest) const;
    std::int64_t insert_hold(const Digest& digest, const std::string& reason, const std::string& ref,
                             const std::string& placed_by, HoldKind kind, std::chrono::system_clock::time_point now);
    std::string path_;
    std::string host_;  // the scan cache's and files_seen's host column for this host
    sqlite3* db_ = nullptr;
    mutable std::vector<std::pair<const char*, sqlite3_stmt*>> cache_;
};

}  // namespace rm
