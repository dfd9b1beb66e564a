// The SQLite index: opening (pragmas, file modes, migrations), every query, the sweep lock.
// The schema and what it may hold are described in db/schema.hpp.
#include "db/sqlite_index.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <map>
#include <tuple>

#include "core/strings.hpp"
#include "db/detail.hpp"
#include "db/row_check.hpp"
#include "db/sqlite.hpp"
#include "db/schema.hpp"

namespace rm {


namespace dbdetail {
// The INSERT behind insert() and insert_journalled(). `token` may be empty (no journal
// token); the statement skips a row whose token is already in the index.
constexpr std::string_view kInsertSql =
    "INSERT INTO messages (digest, queue_id, lines, direction, policy, passed_on, retain_until, "
    "state, copies, journal_token, record) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'present', 0, ?8, ?9) "
    "ON CONFLICT (journal_token) DO NOTHING";

// Checks a row with row_problem() and binds it to a statement prepared from kInsertSql.
// Throws IndexError saying what is wrong.
void bind_row(Stmt& stmt, const std::string& path, const MessageRow& row, std::string_view token) {
    if (auto problem = row_problem(row)) throw IndexError("index " + path + ": refusing a row: " + *problem);
    stmt.bind_blob(1, row.digest)
        .bind_opt_text(2, row.queue_id)
        .bind_text(3, row.lines)
        .bind_text(4, row.direction)
        .bind_text(5, row.policy)
        .bind_text(6, format_date(row.passed_on))
        .bind_text(7, format_date(row.retain_until))
        .bind_opt_text(8, token)
        .bind_blob(9, row.record);
}

}  // namespace dbdetail


using namespace dbdetail;

namespace {

constexpr std::string_view kRowColumns =
    "id, digest, queue_id, lines, direction, policy, passed_on, retain_until, state, destroyed_at, copies, record, "
    "claimed_at";

Date read_date(const Stmt& s, int col, const std::string& path) {
    auto d = parse_date(s.text(col));
    if (!d) throw IndexError("index " + path + ": a row holds an invalid date '" + s.text(col) + "'");
    return *d;
}

MessageRow read_row(const Stmt& s, const std::string& path) {
    MessageRow r;
    r.id = s.int64(0);
    r.digest = s.blob(1);
    r.queue_id = s.text(2);
    r.lines = s.text(3);
    r.direction = s.text(4);
    r.policy = s.text(5);
    r.passed_on = read_date(s, 6, path);
    r.retain_until = read_date(s, 7, path);
    r.state = s.text(8) == "destroyed" ? RowState::Destroyed : RowState::Present;
    if (!s.is_null(9)) r.destroyed_at = from_unix(s.int64(9));
    r.copies = static_cast<int>(s.int64(10));
    r.record = s.blob(11);
    r.claimed = !s.is_null(12);
    return r;
}

std::vector<MessageRow> read_rows(Stmt& s, const std::string& path) {
    std::vector<MessageRow> out;
    while (s.step()) out.push_back(read_row(s, path));
    return out;
}

Hold read_hold(const Stmt& s) {
    Hold h;
    h.id = s.int64(0);
    h.reason = s.text(1);
    h.ref = s.text(2);
    h.placed_at = from_unix(s.int64(3));
    h.placed_by = s.text(4);
    if (!s.is_null(5)) h.released_at = from_unix(s.int64(5));
    h.released_by = s.text(6);
    h.kind = hold_kind_from(s.text(7));
    return h;
}

std::int64_t scalar(sqlite3* db, const std::string& path, std::string_view sql) {
    Stmt s(db, path, sql);
    return s.step() ? s.int64(0) : 0;
}

std::string pragma_text(sqlite3* db, const std::string& path, std::string_view sql) {
    Stmt s(db, path, sql);
    return s.step() ? s.text(0) : std::string();
}

// Makes the empty database file ourselves, so that its mode is 0660 whatever the umask
// and its group that of its folder: SQLite gives the -wal and -shm files the mode (and,
// as root, the owner) of the database file, so the three programs sharing a group can
// all use whichever files another one created, and nobody else can read any of them.
void create_file(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0660);
    if (fd < 0) {
        if (errno == EEXIST) return;  // another program made it first
        throw IndexError("cannot create the index " + path + ": " + errno_text(errno));
    }
    try {
        if (::fchmod(fd, 0660) != 0) throw IndexError("cannot chmod the index " + path + ": " + errno_text(errno));
        give_folder_group(fd, path);
        if (::fsync(fd) != 0) throw IndexError("cannot sync the index " + path + ": " + errno_text(errno));
    } catch (...) {
        ::close(fd);
        throw;
    }
    ::close(fd);
    sync_dir_or_throw(parent_dir(path));
}

void check_file(const std::string& path, const Index::Options& opts) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0) {
        // SQLite is asked not to follow links either: say why rather than "unable to open".
        if (S_ISLNK(st.st_mode)) {
            throw IndexError("the index " + path + " is a symbolic link; point [index] path at the file itself");
        }
        if (!S_ISREG(st.st_mode)) throw IndexError("the index " + path + " is not a regular file");
        return;
    }
    if (errno != ENOENT) throw IndexError("cannot reach the index " + path + ": " + errno_text(errno));
    if (!opts.create || opts.read_only) {
        throw IndexError("no index at " + path +
                         ": the file does not exist (retention-milter makes it at its first start; check [index] path)");
    }
    create_file(path);
}

// Brings the schema to kSchemaVersion. The version is re-read under the write lock, in
// case another program migrated it meanwhile; all steps and the new version commit together.
// Files the sweep saw before files_seen had a host column were seen on this host: an
// SQLite index serves one host. Returns the version found (0: a new file).
std::int64_t migrate(sqlite3* db, const std::string& path, const std::string& host) {
    auto newer = [&](std::int64_t v) {
        return IndexError("the index " + path + " was written by a newer retention-milter (schema version " +
                          std::to_string(v) + ", this program knows up to " + std::to_string(kSchemaVersion) +
                          "); upgrade this program");
    };
    std::int64_t v = scalar(db, path, "PRAGMA user_version");
    if (v > kSchemaVersion) throw newer(v);
    if (v == kSchemaVersion) return v;
    Transaction tx(db, path);
    v = scalar(db, path, "PRAGMA user_version");
    if (v > kSchemaVersion) throw newer(v);
    if (v == kSchemaVersion) return v;
    for (auto step = static_cast<std::size_t>(v); step < kMigrations.size(); ++step) exec(db, path, kMigrations[step]);
    Stmt claim(db, path, "UPDATE files_seen SET host = ?1 WHERE host = X''");
    claim.bind_blob(1, host);
    claim.run();
    exec(db, path, "PRAGMA user_version = " + std::to_string(kSchemaVersion));
    tx.commit();
    return v;
}

std::int64_t check_version_read_only(sqlite3* db, const std::string& path) {
    const std::int64_t v = scalar(db, path, "PRAGMA user_version");
    if (v > kSchemaVersion) {
        throw IndexError("the index " + path + " was written by a newer retention-milter (schema version " +
                         std::to_string(v) + "); upgrade this program");
    }
    if (v < kSchemaVersion) {
        throw IndexError("the index " + path + " has schema version " + std::to_string(v) + ", older than this program's " +
                         std::to_string(kSchemaVersion) +
                         "; start retention-milter once, or run retentionctl upgrade-index, to upgrade it");
    }
    return v;
}

std::int64_t configure(sqlite3* db, const std::string& path, const std::string& host, const Index::Options& opts) {
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, opts.busy_timeout_ms);
    if (!opts.read_only) {
        // WAL: readers never block the milter's writer, and one fsync per commit.
        if (to_lower(pragma_text(db, path, "PRAGMA journal_mode = WAL")) != "wal") {
            throw IndexError("the index " + path + " cannot use write-ahead logging (WAL); is it on a network file system?");
        }
    }
    // FULL: a row is on disk before the milter lets the MTA accept the message.
    exec(db, path, "PRAGMA synchronous = FULL; PRAGMA secure_delete = ON; PRAGMA foreign_keys = ON;");
    if (opts.cache_mib > 0) exec(db, path, "PRAGMA cache_size = -" + std::to_string(opts.cache_mib * 1024));
    if (opts.read_only) return check_version_read_only(db, path);
    return migrate(db, path, host);
}

// A present, unheld row: shared by the report's queries.
constexpr std::string_view kPresentUnheld =
    "state = 'present' AND NOT EXISTS (SELECT 1 FROM holds h WHERE h.digest = messages.digest "
    "AND h.released_at IS NULL)";

}  // namespace

SqliteIndex::SqliteIndex(const std::string& path, const Options& opts)
    : path_(path), host_(host_column(opts.host_id)) {
    check_file(path, opts);
    const int flags = (opts.read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) | SQLITE_OPEN_NOFOLLOW;
    if (sqlite3_open_v2(path.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
        const std::string msg = db_ != nullptr ? sqlite3_errmsg(db_) : "out of memory";
        sqlite3_close_v2(db_);
        throw IndexError("cannot open the index " + path + ": " + msg);
    }
    try {
        found_version_ = static_cast<int>(configure(db_, path_, host_, opts));
    } catch (...) {
        sqlite3_close_v2(db_);
        throw;
    }
}

SqliteIndex::~SqliteIndex() {
    for (const auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
    sqlite3_close_v2(db_);
}

sqlite3_stmt* SqliteIndex::cached(const char* sql) const {
    for (const auto& [text, stmt] : cache_)
        if (text == sql) return stmt;
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) != SQLITE_OK)
        throw_sqlite(db_, path_, "cannot prepare a query");
    cache_.emplace_back(sql, stmt);
    return stmt;
}

class SqliteIndex::ReadTransaction : public Index::Snapshot {
public:
    explicit ReadTransaction(const SqliteIndex& index) : index_(index) {
        // Inside a write transaction already (or another scope): nothing to add.
        if (sqlite3_get_autocommit(index_.db_) == 0) return;
        exec(index_.db_, index_.path_, "BEGIN DEFERRED");
        open_ = true;
    }
    ~ReadTransaction() override {
        if (open_ && sqlite3_get_autocommit(index_.db_) == 0) sqlite3_exec(index_.db_, "COMMIT", nullptr, nullptr, nullptr);
    }
    ReadTransaction(const ReadTransaction&) = delete;
    ReadTransaction& operator=(const ReadTransaction&) = delete;

private:
    const SqliteIndex& index_;
    bool open_ = false;
};

std::unique_ptr<Index::Snapshot> SqliteIndex::begin_reads() const { return std::make_unique<ReadTransaction>(*this); }

int SqliteIndex::schema_version() const { return static_cast<int>(scalar(db_, path_, "PRAGMA user_version")); }

// SQLite goes on writing to the file it opened even when that file was removed, renamed
// or replaced, and nobody will ever read it again: a row committed there is lost, and its
// message must not be accepted. SQLITE_FCNTL_HAS_MOVED is SQLite's own check that the
// path still names the open file (a stat() per call).
void SqliteIndex::check_not_replaced() const {
    int moved = 0;
    if (sqlite3_file_control(db_, "main", SQLITE_FCNTL_HAS_MOVED, &moved) != SQLITE_OK || moved == 0) return;
    throw IndexError("index " + path_ +
                         ": the file was removed or replaced while retention-milter had it open; no row is "
                         "written until it is back at that path (restore it with the milter stopped, or "
                         "restart the milter to make a new, empty index)",
                     true);
}

std::vector<std::int64_t> SqliteIndex::insert(const std::vector<MessageRow>& rows) {
    if (rows.empty()) return {};
    check_not_replaced();
    std::vector<std::int64_t> ids;
    ids.reserve(rows.size());
    Transaction tx(db_, path_);
    // Kept prepared: the milter inserts a batch per group commit, and parsing the INSERT
    // each time would be SQLite's largest cost.
    Stmt s(db_, path_, cached(kInsertSql.data()));
    for (const MessageRow& r : rows) {
        s.reset();
        bind_row(s, path_, r, {});
        s.run();
        ids.push_back(sqlite3_last_insert_rowid(db_));
    }
    tx.commit();
    check_not_replaced();  // replaced during the commit: the rows went into the old file
    return ids;
}

int SqliteIndex::insert_journalled(const std::vector<JournalledRow>& rows) {
    int imported = 0;
    Transaction tx(db_, path_);
    Stmt s(db_, path_, kInsertSql);
    for (const JournalledRow& jr : rows) {
        s.reset();
        bind_row(s, path_, jr.row, jr.token);
        s.run();
        imported += sqlite3_changes(db_);
    }
    tx.commit();
    return imported;
}

namespace {

class FlockSweepLock : public SweepLock {
public:
    explicit FlockSweepLock(UniqueFd fd) : fd_(std::move(fd)) {}

private:
    UniqueFd fd_;
};

}  // namespace

SweepLockAttempt SqliteIndex::try_lock_sweep() {
    SweepLockAttempt out;
    out.where = path_ + ".sweep.lock";
    // 0660: the sweeper and retentionctl share the index's group, like the index itself.
    UniqueFd fd(::open(out.where.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0660));
    if (!fd) {
        out.error = errno_text(errno);
        return out;
    }
    // Whatever the umask of whoever made it: the sweeper's user is in the group, not the owner.
    ::fchmod(fd.get(), 0660);
    try {
        give_index_owner(fd.get(), out.where, path_);
    } catch (const IndexError&) {
        out.error = errno_text(errno);
        return out;
    }
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
        const int err = errno;
        out.error = errno_text(err);
        if (err == EWOULDBLOCK) out.status = SweepLockAttempt::Status::Busy;
        return out;
    }
    out.status = SweepLockAttempt::Status::Held;
    out.lock = std::make_unique<FlockSweepLock>(std::move(fd));
    return out;
}

std::vector<MessageRow> SqliteIndex::rows_for(const Digest& digest) const {
    if (digest.empty()) return {};
    static const std::string sql =
        "SELECT " + std::string(kRowColumns) + " FROM messages WHERE digest = ?1 ORDER BY id";
    Stmt s(db_, path_, cached(sql.c_str()));
    s.bind_blob(1, digest);
    return read_rows(s, path_);
}

std::vector<MessageRow> SqliteIndex::rows_for_record(const Digest& record) const {
    if (record.empty()) return {};
    static const std::string sql = "SELECT " + std::string(kRowColumns) + " FROM messages WHERE record = ?1";
    Stmt s(db_, path_, cached(sql.c_str()));
    s.bind_blob(1, record);
    return read_rows(s, path_);
}

std::optional<MessageRow> SqliteIndex::row(std::int64_t id) const {
    Stmt s(db_, path_, "SELECT " + std::string(kRowColumns) + " FROM messages WHERE id = ?1");
    s.bind(1, id);
    if (!s.step()) return std::nullopt;
    return read_row(s, path_);
}

std::vector<MessageRow> SqliteIndex::expired(Date today) const {
    Stmt s(db_, path_,
           "SELECT " + std::string(kRowColumns) +
               " FROM messages WHERE state = 'present' AND retain_until <= ?1 ORDER BY retain_until, id");
    s.bind_text(1, format_date(today));
    return read_rows(s, path_);
}

// Whether a hold may be placed on the message now: every copy is counted, and a claimed
// one is refused (a sweep is destroying it).
FolderHold SqliteIndex::holdable(const Digest& digest) const {
    Stmt count(db_, path_,
               "SELECT count(*), sum(state = 'present'), sum(state = 'present' AND claimed_at IS NOT NULL) "
               "FROM messages WHERE digest = ?1");
    count.bind_blob(1, digest);
    count.step();
    if (digest.empty() || count.int64(0) == 0) return FolderHold::NotInIndex;
    if (count.int64(1) == 0) return FolderHold::AllDestroyed;
    if (count.int64(2) > 0) throw IndexError(kBeingDestroyed);
    return FolderHold::Placed;
}

std::int64_t SqliteIndex::insert_hold(const Digest& digest, const std::string& reason, const std::string& ref,
                                      const std::string& placed_by, HoldKind kind,
                                      std::chrono::system_clock::time_point now) {
    Stmt s(db_, path_,
           "INSERT INTO holds (digest, reason, ref, placed_at, placed_by, kind) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
    s.bind_blob(1, digest).bind_text(2, reason).bind_opt_text(3, ref).bind(4, to_unix(now)).bind_text(5, placed_by);
    s.bind_text(6, std::string(hold_kind_name(kind)));
    s.run();
    return sqlite3_last_insert_rowid(db_);
}

std::int64_t SqliteIndex::hold(const Digest& digest, const std::string& reason, const std::string& ref,
                         const std::string& user, std::chrono::system_clock::time_point now) {
    Transaction tx(db_, path_);
    const FolderHold state = holdable(digest);
    if (state == FolderHold::NotInIndex) throw IndexError(kNotInIndex);
    if (state == FolderHold::AllDestroyed) throw IndexError(kAlreadyDestroyed);
    for (const Hold& h : active_holds(digest)) {
        if (h.kind == HoldKind::Admin) throw IndexError(already_on_hold(h));
    }
    const std::int64_t id = insert_hold(digest, reason, ref, user, HoldKind::Admin, now);
    tx.commit();
    return id;
}

FolderHold SqliteIndex::hold_from_folder(const Digest& digest, const std::string& reason, const std::string& placed_by,
                                         std::chrono::system_clock::time_point now) {
    Transaction tx(db_, path_);
    const FolderHold state = holdable(digest);
    if (state != FolderHold::Placed) return state;
    for (const Hold& h : active_holds(digest)) {
        if (h.kind == HoldKind::Folder) return FolderHold::AlreadyInForce;
    }
    insert_hold(digest, reason, "", placed_by, HoldKind::Folder, now);
    tx.commit();
    return FolderHold::Placed;
}

int SqliteIndex::release(const Digest& digest, const std::string& user, std::chrono::system_clock::time_point now,
                         std::optional<HoldKind> kind) {
    Transaction tx(db_, path_);
    Stmt s(db_, path_,
           "UPDATE holds SET released_at = ?1, released_by = ?2 WHERE digest = ?3 AND released_at IS NULL "
           "AND (?4 IS NULL OR kind = ?4)");
    s.bind(1, to_unix(now)).bind_text(2, user).bind_blob(3, digest);
    if (kind) s.bind_text(4, std::string(hold_kind_name(*kind)));
    s.run();
    const int released = sqlite3_changes(db_);
    if (digest.empty() || released == 0) throw IndexError(not_on_hold(kind));
    tx.commit();
    return released;
}

std::vector<Hold> SqliteIndex::active_holds(const Digest& digest) const {
    std::vector<Hold> out;
    if (digest.empty()) return out;
    static const std::string sql = "SELECT " + std::string(kHoldColumns) +
                                   " FROM holds WHERE digest = ?1 AND released_at IS NULL ORDER BY kind = 'folder', id";
    Stmt s(db_, path_, cached(sql.c_str()));
    s.bind_blob(1, digest);
    while (s.step()) out.push_back(read_hold(s));
    return out;
}

std::vector<Hold> SqliteIndex::holds_for(const Digest& digest) const {
    std::vector<Hold> out;
    if (digest.empty()) return out;
    Stmt s(db_, path_, "SELECT " + std::string(kHoldColumns) + " FROM holds WHERE digest = ?1 ORDER BY placed_at, id");
    s.bind_blob(1, digest);
    while (s.step()) out.push_back(read_hold(s));
    return out;
}

std::vector<Digest> SqliteIndex::held_digests() const {
    Stmt s(db_, path_, "SELECT DISTINCT digest FROM holds WHERE released_at IS NULL AND digest IS NOT NULL");
    std::vector<Digest> out;
    while (s.step()) out.push_back(s.blob(0));
    return out;
}

std::vector<Digest> SqliteIndex::folder_held_digests() const {
    Stmt s(db_, path_,
           "SELECT digest FROM holds WHERE released_at IS NULL AND kind = 'folder' AND digest IS NOT NULL");
    std::vector<Digest> out;
    while (s.step()) out.push_back(s.blob(0));
    return out;
}

std::vector<HeldMessage> SqliteIndex::holds_in_force() const {
    Stmt s(db_, path_,
           "SELECT h.id, h.reason, h.ref, h.placed_at, h.placed_by, h.released_at, h.released_by, h.kind, "
           "(SELECT m.lines FROM messages m WHERE m.digest = h.digest ORDER BY m.retain_until DESC, m.id DESC LIMIT 1), "
           "(SELECT max(m.retain_until) FROM messages m WHERE m.digest = h.digest) "
           "FROM holds h WHERE h.released_at IS NULL ORDER BY h.placed_at, h.id");
    std::vector<HeldMessage> out;
    while (s.step()) {
        HeldMessage m{read_hold(s), s.text(8), {}};
        if (!s.is_null(9)) m.retain_until = read_date(s, 9, path_);
        out.push_back(std::move(m));
    }
    return out;
}

std::optional<Index::FileKeys> SqliteIndex::known_file(const std::string& file_key) const {
    Stmt s(db_, path_, cached("SELECT digest, record FROM scan_cache WHERE host = ?2 AND file_key = ?1"));
    s.bind_blob(1, file_key).bind_blob(2, host_);
    if (!s.step()) return std::nullopt;
    return FileKeys{s.blob(0), s.blob(1)};
}

void SqliteIndex::remember_files(const std::vector<KnownFile>& files, Date today) {
    if (files.empty()) return;
    Transaction tx(db_, path_);
    Stmt s(db_, path_,
           cached("INSERT OR REPLACE INTO scan_cache (host, file_key, digest, record, added_on) "
                  "VALUES (?5, ?1, ?2, ?3, ?4)"));
    const std::string on = format_date(today);
    for (const auto& f : files) {
        s.reset();
        s.bind_blob(1, f.file_key).bind_blob(2, f.keys.digest).bind_blob(3, f.keys.record).bind_text(4, on);
        s.bind_blob(5, host_);
        s.run();
    }
    tx.commit();
}

namespace {

// Runs a DELETE whose parameters are a cutoff date and a host, in a transaction; returns
// how many rows went.
int delete_before(sqlite3* db, const std::string& path, std::string_view sql, Date cutoff, const std::string& host) {
    Transaction tx(db, path);
    Stmt s(db, path, sql);
    s.bind_text(1, format_date(cutoff)).bind_blob(2, host);
    s.run();
    const int n = sqlite3_changes(db);
    tx.commit();
    return n;
}

}  // namespace

int SqliteIndex::forget_files_before(Date cutoff) {
    return delete_before(db_, path_, "DELETE FROM scan_cache WHERE added_on < ?1 AND host = ?2", cutoff, host_);
}

std::optional<Date> SqliteIndex::file_first_seen(const std::string& file_key) const {
    Stmt s(db_, path_, cached("SELECT first_seen FROM files_seen WHERE host = ?2 AND file_key = ?1"));
    s.bind_blob(1, file_key).bind_blob(2, host_);
    if (!s.step()) return std::nullopt;
    return parse_date(s.text(0));
}

void SqliteIndex::note_files_seen(const std::vector<std::string>& file_keys, Date today) {
    if (file_keys.empty()) return;
    Transaction tx(db_, path_);
    Stmt s(db_, path_,
           "INSERT INTO files_seen (host, file_key, first_seen, last_seen) VALUES (?3, ?1, ?2, ?2) "
           "ON CONFLICT (host, file_key) DO UPDATE SET last_seen = excluded.last_seen");
    const std::string on = format_date(today);
    for (const auto& k : file_keys) {
        s.reset();
        s.bind_blob(1, k).bind_text(2, on).bind_blob(3, host_);
        s.run();
    }
    tx.commit();
}

void SqliteIndex::forget_files_seen(const std::vector<std::string>& file_keys) {
    if (file_keys.empty()) return;
    Transaction tx(db_, path_);
    Stmt s(db_, path_, "DELETE FROM files_seen WHERE host = ?2 AND file_key = ?1");
    for (const auto& k : file_keys) {
        s.reset();
        s.bind_blob(1, k).bind_blob(2, host_);
        s.run();
    }
    tx.commit();
}

int SqliteIndex::forget_files_seen_before(Date cutoff) {
    return delete_before(db_, path_, "DELETE FROM files_seen WHERE last_seen < ?1 AND host = ?2", cutoff, host_);
}

std::vector<Digest> SqliteIndex::mark_destroyed(const std::vector<DestroyedRow>& batch,
                                          std::chrono::system_clock::time_point when, Unless unless) {
    std::vector<Digest> changed;
    if (batch.empty()) return changed;
    Transaction tx(db_, path_);
    // One statement checks the hold and marks, so no hold placed meanwhile is outrun.
    Stmt s(db_, path_,
           cached(unless == Unless::Held
                      ? "UPDATE messages SET state = 'destroyed', destroyed_at = ?1, copies = ?2, claimed_at = NULL "
                        "WHERE id = ?3 AND state = 'present' AND NOT EXISTS (SELECT 1 FROM holds h "
                        "WHERE h.digest = messages.digest AND h.released_at IS NULL) RETURNING digest"
                      : "UPDATE messages SET state = 'destroyed', destroyed_at = ?1, copies = ?2, claimed_at = NULL "
                        "WHERE id = ?3 AND state = 'present' RETURNING digest"));
    for (const auto& b : batch) {
        s.reset();
        s.bind(1, to_unix(when)).bind(2, b.copies).bind(3, b.id);
        while (s.step()) {
            Digest d = s.blob(0);
            if (!d.empty() && std::find(changed.begin(), changed.end(), d) == changed.end()) changed.push_back(std::move(d));
        }
    }
    tx.commit();
    return changed;
}

std::vector<bool> SqliteIndex::claim(const std::vector<Claim>& claims, std::chrono::system_clock::time_point when) {
    std::vector<bool> out(claims.size(), false);
    if (claims.empty()) return out;
    Transaction tx(db_, path_);
    Stmt held(db_, path_,
              cached("SELECT 1 FROM holds WHERE digest = ?1 AND released_at IS NULL"));
    Stmt mark(db_, path_,
              cached("UPDATE messages SET claimed_at = ?1 WHERE id = ?2 AND state = 'present' AND claimed_at IS NULL"));
    for (size_t i = 0; i < claims.size(); ++i) {
        held.reset();
        held.bind_blob(1, claims[i].digest);
        if (!claims[i].digest.empty() && held.step()) continue;
        for (const std::int64_t id : claims[i].rows) {
            mark.reset();
            mark.bind(1, to_unix(when)).bind(2, id);
            mark.run();
        }
        out[i] = true;
    }
    tx.commit();
    return out;
}

int SqliteIndex::release_claims() {
    Transaction tx(db_, path_);
    exec(db_, path_, "UPDATE messages SET claimed_at = NULL WHERE claimed_at IS NOT NULL AND state = 'present'");
    const int n = sqlite3_changes(db_);
    tx.commit();
    return n;
}

int SqliteIndex::erase_old_digests(std::chrono::system_clock::time_point cutoff) {
    Transaction tx(db_, path_);
    // The scan cache's copies of these digests go with them (one pass over the cache).
    Stmt files(db_, path_,
               "DELETE FROM scan_cache WHERE digest IN (SELECT digest FROM messages WHERE state = 'destroyed' "
               "AND destroyed_at < ?1 AND digest IS NOT NULL) OR record IN (SELECT record FROM messages "
               "WHERE state = 'destroyed' AND destroyed_at < ?1 AND record IS NOT NULL)");
    files.bind(1, to_unix(cutoff));
    files.run();
    Stmt rows(db_, path_,
              "UPDATE messages SET digest = NULL, record = NULL, queue_id = NULL, erased_at = ?1 "
              "WHERE state = 'destroyed' AND destroyed_at < ?2 "
              "AND (digest IS NOT NULL OR record IS NOT NULL OR queue_id IS NOT NULL)");
    rows.bind(1, to_unix(std::chrono::system_clock::now())).bind(2, to_unix(cutoff));
    rows.run();
    const int n = sqlite3_changes(db_);
    // Released holds whose message has no row left with that digest would otherwise keep
    // the digest, and with it the proof that the message passed.
    exec(db_, path_,
         "UPDATE holds SET digest = NULL WHERE digest IS NOT NULL AND released_at IS NOT NULL "
         "AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.digest = holds.digest)");
    tx.commit();
    // Old page images holding the digests sit in the WAL until it is checkpointed and
    // truncated. If a reader prevents that now, a later checkpoint finishes the job.
    exec(db_, path_, "PRAGMA wal_checkpoint(TRUNCATE)");
    return n;
}

Receipt SqliteIndex::add_receipt(Receipt r, const std::vector<Digest>& destroyed_digests) {
    Transaction tx(db_, path_);
    const auto prev = last_receipt();
    r.chain_hex = receipt_chain(path_, prev ? prev->chain_hex : std::string(), destroyed_digests);
    Stmt s(db_, path_,
           "INSERT INTO receipts (run_at, counts_json, destroyed, chain, exit_code) VALUES (?1, ?2, ?3, ?4, ?5)");
    s.bind(1, to_unix(r.run_at)).bind_text(2, r.counts_json.empty() ? "{}" : r.counts_json).bind(3, r.destroyed);
    s.bind_text(4, r.chain_hex).bind(5, r.exit_code);
    s.run();
    r.id = sqlite3_last_insert_rowid(db_);
    tx.commit();
    return r;
}

namespace {

std::vector<Receipt> receipts(sqlite3* db, const std::string& path, std::string_view where, int limit) {
    Stmt s(db, path,
           "SELECT id, run_at, counts_json, destroyed, chain, exit_code FROM receipts " + std::string(where) +
               " ORDER BY id DESC LIMIT ?1");
    s.bind(1, static_cast<std::int64_t>(limit));
    std::vector<Receipt> out;
    while (s.step()) {
        Receipt r;
        r.id = s.int64(0);
        r.run_at = from_unix(s.int64(1));
        r.counts_json = s.text(2);
        r.destroyed = s.int64(3);
        r.chain_hex = s.text(4);
        r.exit_code = static_cast<int>(s.int64(5));
        out.push_back(std::move(r));
    }
    return out;
}

std::optional<Receipt> one_receipt(sqlite3* db, const std::string& path, std::string_view where) {
    auto found = receipts(db, path, where, 1);
    if (found.empty()) return std::nullopt;
    return std::move(found.front());
}

}  // namespace

std::optional<Receipt> SqliteIndex::last_receipt() const { return one_receipt(db_, path_, ""); }

// A run ending 0 or 4 without --dry-run is a successful sweep (a dry run writes no receipt).
std::optional<Receipt> SqliteIndex::last_successful_receipt() const {
    return one_receipt(db_, path_, "WHERE exit_code IN (0, 4)");
}

std::vector<Receipt> SqliteIndex::recent_receipts(int n) const { return receipts(db_, path_, "", n); }

ReportCounts SqliteIndex::report(Date today) const {
    ReportCounts rc;
    std::map<std::tuple<std::string, std::string, std::string>, std::int64_t> buckets;
    Stmt s(db_, path_, "SELECT lines, direction, state, count(*) FROM messages GROUP BY lines, direction, state");
    while (s.step()) {
        for (const std::string& tag : split(s.text(0), ',')) {
            const std::string t(trim(tag));
            if (!t.empty()) buckets[{t, s.text(1), s.text(2)}] += s.int64(3);
        }
    }
    for (const auto& [key, n] : buckets) {
        rc.buckets.push_back({std::get<0>(key), std::get<1>(key), std::get<2>(key), n});
    }
    // Expiring within N days: present, unheld rows that the sweeps of today and the next
    // N-1 days will destroy (today <= retain_until < today + N). Overdue: present, unheld
    // rows whose date is before today, which a daily sweep should already have destroyed.
    const std::string t = format_date(today);
    auto unheld_between = [&](const std::string& from, const std::string& until) {
        Stmt q(db_, path_,
               "SELECT count(*) FROM messages WHERE " + std::string(kPresentUnheld) +
                   " AND retain_until >= ?1 AND retain_until < ?2");
        q.bind_text(1, from).bind_text(2, until);
        return q.step() ? q.int64(0) : 0;
    };
    const auto plus = [&](int n) { return format_date(add_days(today, n)); };
    rc.expiring_7 = unheld_between(t, plus(7));
    rc.expiring_30 = unheld_between(t, plus(30));
    rc.overdue = unheld_between("", t);
    rc.active_holds = scalar(db_, path_, "SELECT count(*) FROM holds WHERE released_at IS NULL");
    return rc;
}

std::optional<std::string> SqliteIndex::get_meta(const std::string& key) const {
    Stmt s(db_, path_, "SELECT value FROM meta WHERE key = ?1");
    s.bind_text(1, key);
    if (!s.step()) return std::nullopt;
    return s.text(0);
}

void SqliteIndex::set_meta(const std::string& key, const std::string& value) {
    Stmt s(db_, path_,
           "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value");
    s.bind_text(1, key).bind_text(2, value);
    s.run();
}

namespace {
constexpr const char* kKeyFingerprint = kKeyFingerprintMeta;
}  // namespace

std::optional<bool> SqliteIndex::key_matches(const DigestKey& key) const {
    const auto recorded = get_meta(kKeyFingerprint);
    if (!recorded) return std::nullopt;
    return *recorded == key.fingerprint();
}

void SqliteIndex::remember_key(const DigestKey& key) {
    Stmt s(db_, path_, "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO NOTHING");
    s.bind_text(1, kKeyFingerprint).bind_text(2, key.fingerprint());
    s.run();
}

}  // namespace rm

namespace rm {

std::vector<StoredRow> SqliteIndex::stored_rows(const CopiedTable& t) const {
    Stmt s(db_, path_,
           "SELECT " + column_list(t) + " FROM " + std::string(t.name) + (t.numbered ? " ORDER BY id" : ""));
    std::vector<StoredRow> rows;
    while (s.step()) {
        StoredRow row;
        for (std::size_t i = 0; i < t.columns.size(); ++i) {
            const int col = static_cast<int>(i);
            if (s.is_null(col))
                row.emplace_back(std::nullopt);
            else if (t.columns[i].kind == CopiedTable::Kind::Integer)
                row.emplace_back(std::to_string(s.int64(col)));
            else if (t.columns[i].kind == CopiedTable::Kind::Bytes)
                row.emplace_back(s.blob(col));
            else
                row.emplace_back(s.text(col));
        }
        rows.push_back(std::move(row));
    }
    if (!t.numbered) std::sort(rows.begin(), rows.end());
    return rows;
}

}  // namespace rm
