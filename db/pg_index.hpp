// The index in a PostgreSQL database: the backend for a helpline whose mail passes more
// than one host (two MX hosts, a separate submission host, a mail store of its own), each
// running its own milter or sweeper against one server the admins already run.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <memory>
#include <string>
#include <vector>

#include "db/index.hpp"
#include "db/migrate.hpp"

struct pg_conn;

namespace rm {

namespace dbdetail {
class PgConn;
}

class PgIndex : public Index {
public:
    // Connects with `conninfo` (a libpq URI or key=value string). With `upgrade`, makes the
    // schema when the database has none and migrates it forward under an advisory lock, so
    // that two admins upgrading at once migrate it once; without it (`create` does not
    // count: the milters of several hosts share this index) refuses a database without the
    // schema or with another version, saying to run retentionctl upgrade-index. Times are kept
    // to the second, as in the SQLite backend. Throws IndexError; its message never
    // carries the password from `conninfo`.
    PgIndex(const std::string& conninfo, const Options& opts);
    ~PgIndex() override;

    int schema_version() const override;

    // --- copying an index in (db/migrate.hpp) ---
    // Every row of `table` as stored, numbered tables by id.
    std::vector<StoredRow> stored_rows(const CopiedTable& table) const;
    // Runs `body` in one transaction that no other program can read or write meanwhile;
    // commits when it returns, rolls back when it throws.
    void in_exclusive_transaction(const std::function<void()>& body);
    // Inserts rows as stored, their ids too (then numbers new rows after them); a row
    // whose key is already there is left as it is.
    void insert_stored(const CopiedTable& table, const std::vector<StoredRow>& rows);
    // The server and database, for messages: never the password.
    const std::string& path() const override { return name_; }

    std::vector<std::int64_t> insert(const std::vector<MessageRow>& rows) override;
    int insert_journalled(const std::vector<JournalledRow>& rows) override;

    std::vector<MessageRow> rows_for(const Digest& digest) const override;
    std::vector<MessageRow> rows_for_record(const Digest& record) const override;
    RowsByKey rows_for_each(const std::vector<Digest>& digests) const override;
    RowsByKey rows_for_each_record(const std::vector<Digest>& records) const override;
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

    // A session-level advisory lock on the server: one sweeper at a time across hosts.
    SweepLockAttempt try_lock_sweep() override;
    std::vector<Digest> mark_destroyed(const std::vector<DestroyedRow>& batch, std::chrono::system_clock::time_point when,
                                       Unless unless = Unless::Nothing) override;
    std::vector<bool> claim(const std::vector<Claim>& claims, std::chrono::system_clock::time_point when) override;
    int release_claims() override;

    std::optional<FileKeys> known_file(const std::string& file_key) const override;
    KnownFiles known_files(const std::vector<std::string>& file_keys) const override;
    void remember_files(const std::vector<KnownFile>& files, Date today) override;
    int forget_files_before(Date cutoff) override;
    std::optional<Date> file_first_seen(const std::string& file_key) const override;
    void note_files_seen(const std::vector<std::string>& file_keys, Date today) override;
    void forget_files_seen(const std::vector<std::string>& file_keys) override;
    int forget_files_seen_before(Date cutoff) override;

    // Also vacuums the tables it erased from, so that the erased digests leave the dead
    // tuples too.
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

    // A REPEATABLE READ, READ ONLY transaction over many lookups.
    std::unique_ptr<Snapshot> begin_reads() const override;

    pg_conn* handle() const;

protected:
    // One row by id, whatever its state (the tests' view; no program needs it).
    std::optional<MessageRow> row(std::int64_t id) const;

private:
    static bool pause_before_retry(const std::optional<std::chrono::steady_clock::time_point>& deadline);
    std::vector<std::int64_t> insert_once(const std::vector<MessageRow>& rows, const std::vector<std::string>& tokens);
    class ReadTransaction;
    FolderHold holdable(const dbdetail::PgConn& c, const Digest& digest) const;
    std::int64_t insert_hold(const dbdetail::PgConn& c, const Digest& digest, const std::string& reason,
                             const std::string& ref, const std::string& placed_by, HoldKind kind,
                             std::chrono::system_clock::time_point now);
    class AdvisorySweepLock;
    // The connection, reconnected first when the server dropped it between transactions.
    const dbdetail::PgConn& conn() const;
    std::unique_ptr<dbdetail::PgConn> conn_;
    std::string name_;
    std::string host_;  // the scan cache's and files_seen's host column for this host
    bool sweep_locked_ = false;
};

}  // namespace rm
