// The PostgreSQL index: connecting, the schema and its migrations, every query, the sweep
// lock. The schema is in db/pg_schema.hpp; each method means what SqliteIndex's does.
#include "db/pg_index.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include "core/random.hpp"
#include "core/strings.hpp"
#include "db/detail.hpp"
#include "db/pg.hpp"
#include "db/pg_schema.hpp"
#include "db/row_check.hpp"
#include "db/sqlite.hpp"

namespace rm {

using namespace dbdetail;

namespace {

constexpr std::string_view kRowColumns =
    "id, digest, queue_id, lines, direction, policy, passed_on, retain_until, state, destroyed_at, copies, record, "
    "claimed_at";

// Skips a row whose journal token is already in the index; a row without a token (NULL)
// never conflicts.
constexpr std::string_view kInsertSql =
    "INSERT INTO messages (digest, queue_id, lines, direction, policy, passed_on, retain_until, state, copies, "
    "journal_token, record) VALUES ($1, $2, $3, $4, $5, $6, $7, 'present', 0, $8, $9) "
    "ON CONFLICT (journal_token) DO NOTHING RETURNING id";

// The milter's batch in one statement: a round trip per row would cost a busy milter more
// than the commit does once the server is a network hop away.
constexpr std::string_view kInsertManyHead =
    "INSERT INTO messages (digest, queue_id, lines, direction, policy, passed_on, retain_until, state, copies, "
    "journal_token, record) VALUES ";
constexpr std::string_view kInsertManyTail = " ON CONFLICT (journal_token) DO NOTHING RETURNING id, journal_token";
constexpr int kRowParams = 9;
// Rows per statement: far below the protocol's 65535 parameters.
constexpr std::size_t kRowsPerInsert = 512;

constexpr int kConnectTimeoutS = 10;
// Between attempts to reach a server that is restarting.
constexpr std::chrono::milliseconds kRetryPause{200};

void add_row_params(PgParams& p, const std::string& name, const MessageRow& row, std::string_view token) {
    if (auto problem = row_problem(row)) throw IndexError("index " + name + ": refusing a row: " + *problem);
    p.bytes(row.digest).opt_text(row.queue_id).text(row.lines).text(row.direction).text(row.policy);
    p.text(format_date(row.passed_on)).text(format_date(row.retain_until)).opt_text(token).bytes(row.record);
}

PgParams row_params(const std::string& name, const MessageRow& row, std::string_view token) {
    PgParams p;
    add_row_params(p, name, row, token);
    return p;
}

// "INSERT ... VALUES ($1, ..., $9), ($10, ...) ..." for `rows` rows.
std::string insert_many_sql(std::size_t rows) {
    std::string sql(kInsertManyHead);
    for (std::size_t r = 0; r < rows; ++r) {
        const int b = static_cast<int>(r) * kRowParams;
        auto at = [b](int k) { return "$" + std::to_string(b + k); };
        if (r > 0) sql += ", ";
        sql += "(" + at(1) + ", " + at(2) + ", " + at(3) + ", " + at(4) + ", " + at(5) + ", " + at(6) + ", " + at(7) +
               ", 'present', 0, " + at(8) + ", " + at(9) + ")";
    }
    sql += kInsertManyTail;
    return sql;
}

// A text[] literal of hex tokens (nothing in them needs quoting).
std::string token_array(const std::vector<std::string>& tokens) {
    std::string a = "{";
    for (const std::string& t : tokens) a += (a.size() > 1 ? "," : "") + t;
    return a + "}";
}

// Array parameters: a batch in one statement (unnest) instead of a round trip per item.
// A look-up by many keys is written `column = ANY(ARRAY(SELECT ...))`, not `column IN
// (SELECT ...)`: PostgreSQL plans the latter as a hash join over a scan of the whole table
// until it has statistics (a table just filled by a first sweep or a migration), 15 ms a
// batch at 100 000 rows where the index takes 1 ms.
// Bytes travel as hex text (decoded by the statement), an empty value as NULL.
std::string hex_array(const std::vector<std::string>& values) {
    std::string a = "{";
    for (const std::string& v : values) {
        if (a.size() > 1) a += ',';
        a += v.empty() ? "NULL" : to_hex(v);
    }
    return a + "}";
}

std::string int_array(const std::vector<std::int64_t>& values) {
    std::string a = "{";
    for (const std::int64_t v : values) a += (a.size() > 1 ? "," : "") + std::to_string(v);
    return a + "}";
}

Date read_date(const PgResult& r, int row, int col, const std::string& name) {
    auto d = parse_date(r.text(row, col));
    if (!d) throw IndexError("index " + name + ": a row holds an invalid date");
    return *d;
}

MessageRow read_row(const PgResult& r, int i, const std::string& name) {
    MessageRow m;
    m.id = r.int64(i, 0);
    m.digest = r.bytes(i, 1);
    m.queue_id = r.text(i, 2);
    m.lines = r.text(i, 3);
    m.direction = r.text(i, 4);
    m.policy = r.text(i, 5);
    m.passed_on = read_date(r, i, 6, name);
    m.retain_until = read_date(r, i, 7, name);
    m.state = r.text(i, 8) == "destroyed" ? RowState::Destroyed : RowState::Present;
    if (!r.is_null(i, 9)) m.destroyed_at = from_unix(r.int64(i, 9));
    m.copies = static_cast<int>(r.int64(i, 10));
    m.record = r.bytes(i, 11);
    m.claimed = !r.is_null(i, 12);
    return m;
}

std::vector<MessageRow> read_rows(const PgResult& r, const std::string& name) {
    std::vector<MessageRow> out;
    out.reserve(static_cast<std::size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) out.push_back(read_row(r, i, name));
    return out;
}

Hold read_hold(const PgResult& r, int i) {
    Hold h;
    h.id = r.int64(i, 0);
    h.reason = r.text(i, 1);
    h.ref = r.text(i, 2);
    h.placed_at = from_unix(r.int64(i, 3));
    h.placed_by = r.text(i, 4);
    if (!r.is_null(i, 5)) h.released_at = from_unix(r.int64(i, 5));
    h.released_by = r.text(i, 6);
    h.kind = hold_kind_from(r.text(i, 7));
    return h;
}

std::string sql_of(std::string_view a, std::string_view b = {}, std::string_view c = {}) {
    std::string s(a);
    s += b;
    s += c;
    return s;
}

// The schema version, 0 when the database holds no index yet.
std::int64_t stored_version(const PgConn& c) {
    // The catalog itself, not to_regclass(): its cache may not yet know of the tables another
    // host has just made while this one waited for the schema lock.
    if (c.scalar("SELECT count(*) FROM pg_catalog.pg_tables WHERE tablename = 'retention_schema' "
                 "AND schemaname = current_schema()",
                 {}, "cannot read the schema version") == 0)
        return 0;
    return c.scalar("SELECT max(version) FROM retention_schema", {}, "cannot read the schema version");
}

IndexError newer(const PgConn& c, std::int64_t v) {
    return IndexError("the index " + c.name() + " was written by a newer retention-milter (schema version " +
                          std::to_string(v) + ", this program knows up to " + std::to_string(kSchemaVersion) +
                          "); upgrade this program",
                      true);
}

constexpr const char* kAdminUpgrades = "`retentionctl upgrade-index`, run once by the admin";

// Makes or migrates the schema to kSchemaVersion in one transaction, under an advisory
// lock: admins upgrading at once wait for the first, then find nothing left to do.
// Returns the version found (0: made now).
std::int64_t migrate(const PgConn& c) {
    std::int64_t v = stored_version(c);
    if (v > kSchemaVersion) throw newer(c, v);
    if (v == kSchemaVersion) return v;
    PgTransaction tx(c);
    c.query("SELECT pg_advisory_xact_lock($1)", PgParams().int64(kPgMigrationLock), "cannot take the schema lock");
    const std::int64_t found = v = stored_version(c);
    if (v > kSchemaVersion) throw newer(c, v);
    if (v == kSchemaVersion) return v;
    if (v == 0) {
        c.exec(kPgCreate, "cannot create the index's tables");
        c.query("INSERT INTO retention_schema (version) VALUES ($1)", PgParams().int64(kPgBaseline),
                "cannot record the schema version");
        v = kPgBaseline;
    }
    if (v < kPgBaseline) {
        throw IndexError("the index " + c.name() + " has an unknown schema version " + std::to_string(v), true);
    }
    for (auto step = static_cast<std::size_t>(v - kPgBaseline); step < kPgMigrations.size(); ++step)
        c.exec(kPgMigrations[step], "cannot migrate the index's schema");
    c.query("UPDATE retention_schema SET version = $1", PgParams().int64(kSchemaVersion),
            "cannot record the schema version");
    tx.commit();
    return found;
}

// The programs every host runs use the schema as it is: several hosts share it, so only
// the admin makes or changes it.
std::int64_t check_version(const PgConn& c) {
    const std::int64_t v = stored_version(c);
    if (v == 0) {
        throw IndexError("the database " + c.name() + " holds no index yet: it is made by " + kAdminUpgrades +
                             " (or check [index] conninfo)",
                         true);
    }
    if (v > kSchemaVersion) throw newer(c, v);
    if (v < kSchemaVersion) {
        throw IndexError("the index " + c.name() + " has schema version " + std::to_string(v) +
                             ", older than this program's " + std::to_string(kSchemaVersion) + "; it is upgraded by " +
                             kAdminUpgrades,
                         true);
    }
    return v;
}

std::int64_t configure(const PgConn& c, const Index::Options& opts) {
    // Waiting for another host's lock fails after the busy timeout, as with SQLite.
    c.keep_setting("lock_timeout", std::to_string(opts.busy_timeout_ms) + "ms", "cannot set the lock timeout");
    if (opts.read_only) c.keep_setting("default_transaction_read_only", "on", "cannot make the session read-only");
    if (opts.upgrade && !opts.read_only) return migrate(c);
    return check_version(c);
}

// A present, unheld row: shared by the report's queries.
constexpr std::string_view kPresentUnheld =
    "state = 'present' AND NOT EXISTS (SELECT 1 FROM holds h WHERE h.digest = messages.digest "
    "AND h.released_at IS NULL)";

}  // namespace

PgIndex::PgIndex(const std::string& conninfo, const Options& opts)
    : conn_(std::make_unique<PgConn>(conninfo, kConnectTimeoutS, opts)), name_(conn_->name()), host_(host_column(opts.host_id)) {
    found_version_ = static_cast<int>(configure(*conn_, opts));
}

PgIndex::~PgIndex() = default;

pg_conn* PgIndex::handle() const { return conn_->get(); }

const PgConn& PgIndex::conn() const {
    conn_->ensure_connected();
    return *conn_;
}

class PgIndex::ReadTransaction : public Index::Snapshot {
public:
    explicit ReadTransaction(const PgConn& conn) : conn_(conn) {
        // Inside a transaction already (or another scope): nothing to add.
        if (conn_.in_transaction()) return;
        conn_.begin("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
        conn_.enter();
        open_ = true;
    }
    ~ReadTransaction() override {
        if (!open_) return;
        conn_.leave();
        if (conn_.in_transaction()) conn_.exec_quietly("COMMIT");
    }
    ReadTransaction(const ReadTransaction&) = delete;
    ReadTransaction& operator=(const ReadTransaction&) = delete;

private:
    const PgConn& conn_;
    bool open_ = false;
};

std::unique_ptr<Index::Snapshot> PgIndex::begin_reads() const { return std::make_unique<ReadTransaction>(conn()); }

int PgIndex::schema_version() const { return static_cast<int>(stored_version(conn())); }

// --- the milter ----------------------------------------------------------------------------

// Each row goes in with a random token of its own (in the journal tokens' column and
// form): when the connection breaks after COMMIT was sent, the server may have committed
// or not, and writing the rows again under the same tokens tells which. A token already
// in the index is that row, committed: its id is looked up instead. A row still being
// committed by the old session makes the new insert wait for its outcome (the tokens are
// unique). Digests are not unique: a Message-ID may be used again by a later message.
std::vector<std::int64_t> PgIndex::insert(const std::vector<MessageRow>& rows) {
    if (rows.empty()) return {};
    std::vector<std::string> tokens;
    tokens.reserve(rows.size());
    for (std::size_t i = 0; i < rows.size(); ++i) tokens.push_back(to_hex(random_bytes(16, "a row's token")));
    // The MTA waits for the milter's answer: every attempt, reconnect and wait for a
    // restarting server shares one deadline.
    const PgConn::OneDeadline deadline(*conn_, conn_->answer_deadline());
    for (int attempt = 0;; ++attempt) {
        try {
            return insert_once(rows, tokens);
        } catch (const IndexError&) {
            // Given up on at the deadline, or refused by a server that answers: trying again
            // would not help. Without a deadline, a lost connection is tried once more.
            if (!conn_->lost() || conn_->timed_out()) throw;
            if (!conn_->deadline() && attempt > 0) throw;
            if (!pause_before_retry(conn_->deadline())) throw;
        }
    }
}

// Waits a moment for a server that is restarting; false when the deadline came first.
bool PgIndex::pause_before_retry(const std::optional<PgConn::Clock::time_point>& deadline) {
    if (!deadline) {
        std::this_thread::sleep_for(kRetryPause);
        return true;
    }
    const auto left = *deadline - PgConn::Clock::now();
    if (left <= decltype(left)::zero()) return false;
    std::this_thread::sleep_for(std::min<PgConn::Clock::duration>(kRetryPause, left));
    return PgConn::Clock::now() < *deadline;
}

std::vector<std::int64_t> PgIndex::insert_once(const std::vector<MessageRow>& rows,
                                               const std::vector<std::string>& tokens) {
    const PgConn& c = conn();
    std::unordered_map<std::string, std::int64_t> id_of;
    std::vector<PgStatement> inserts;
    for (std::size_t from = 0; from < rows.size(); from += kRowsPerInsert) {
        const std::size_t n = std::min(kRowsPerInsert, rows.size() - from);
        PgParams p;
        for (std::size_t i = from; i < from + n; ++i) add_row_params(p, name_, rows[i], tokens[i]);
        inserts.push_back({insert_many_sql(n), std::move(p), n == 1 ? "cannot insert a row" : "cannot insert rows"});
    }
    // BEGIN and the rows in one round trip; COMMIT in one of its own, sent only while the
    // deadline allows, so that rows the milter gave up on are never committed.
    PgTransaction tx(c, inserts);
    for (const PgResult& res : tx.first_results())
        for (int r = 0; r < res.rows(); ++r) id_of.emplace(res.text(r, 1), res.int64(r, 0));
    // Rows whose token was there already: written before the connection broke.
    if (id_of.size() < rows.size()) {
        std::vector<std::string> missing;
        for (const std::string& t : tokens)
            if (!id_of.contains(t)) missing.push_back(t);
        const PgResult res = c.query("SELECT id, journal_token FROM messages WHERE journal_token = ANY($1::text[])",
                                     PgParams().text(token_array(missing)),
                                     "cannot look up rows written before the connection broke");
        for (int r = 0; r < res.rows(); ++r) id_of.emplace(res.text(r, 1), res.int64(r, 0));
    }
    std::vector<std::int64_t> ids;
    ids.reserve(rows.size());
    for (const std::string& t : tokens) {
        const auto it = id_of.find(t);
        if (it == id_of.end()) throw IndexError("index " + name_ + ": a row written is not in the index", true);
        ids.push_back(it->second);
    }
    tx.commit();
    return ids;
}

int PgIndex::insert_journalled(const std::vector<JournalledRow>& rows) {
    const PgConn& c = conn();
    int imported = 0;
    PgTransaction tx(c);
    for (const JournalledRow& jr : rows)
        imported += c.query(kInsertSql, row_params(name_, jr.row, jr.token), "cannot import a row").rows();
    tx.commit();
    return imported;
}

// --- lookups -------------------------------------------------------------------------------

std::vector<MessageRow> PgIndex::rows_for(const Digest& digest) const {
    if (digest.empty()) return {};
    static const std::string sql = sql_of("SELECT ", kRowColumns, " FROM messages WHERE digest = $1 ORDER BY id");
    return read_rows(conn().query(sql, PgParams().bytes(digest), "cannot look up a message"), name_);
}

std::vector<MessageRow> PgIndex::rows_for_record(const Digest& record) const {
    if (record.empty()) return {};
    static const std::string sql = sql_of("SELECT ", kRowColumns, " FROM messages WHERE record = $1 ORDER BY id");
    return read_rows(conn().query(sql, PgParams().bytes(record), "cannot look up a record"), name_);
}

namespace {

// The rows of each key, where `column` is digest or record; empty keys have none.
Index::RowsByKey rows_by(const PgConn& c, std::string_view column, const std::vector<Digest>& keys,
                         const std::string& name) {
    Index::RowsByKey out;
    std::vector<Digest> wanted;
    for (const Digest& k : keys)
        if (!k.empty()) wanted.push_back(k);
    if (wanted.empty()) return out;
    const std::string sql = sql_of(sql_of("SELECT ", kRowColumns, " FROM messages WHERE "), column,
                                   " = ANY(ARRAY(SELECT decode(k, 'hex') FROM unnest($1::text[]) AS k)) ORDER BY id");
    const PgResult r = c.query(sql, PgParams().text(hex_array(wanted)), "cannot look up messages");
    for (MessageRow& row : read_rows(r, name)) {
        Digest key = column == "record" ? row.record : row.digest;
        out[std::move(key)].push_back(std::move(row));
    }
    return out;
}

}  // namespace

Index::RowsByKey PgIndex::rows_for_each(const std::vector<Digest>& digests) const {
    return rows_by(conn(), "digest", digests, name_);
}

Index::RowsByKey PgIndex::rows_for_each_record(const std::vector<Digest>& records) const {
    return rows_by(conn(), "record", records, name_);
}

std::optional<MessageRow> PgIndex::row(std::int64_t id) const {
    const PgResult r =
        conn().query(sql_of("SELECT ", kRowColumns, " FROM messages WHERE id = $1"), PgParams().int64(id), "cannot read a row");
    if (r.rows() == 0) return std::nullopt;
    return read_row(r, 0, name_);
}

std::vector<MessageRow> PgIndex::expired(Date today) const {
    const std::string sql = sql_of("SELECT ", kRowColumns,
                                   " FROM messages WHERE state = 'present' AND retain_until <= $1 ORDER BY retain_until, id");
    return read_rows(conn().query(sql, PgParams().text(format_date(today)), "cannot list expired rows"), name_);
}

// --- holds ---------------------------------------------------------------------------------

// Whether a hold may be placed on the message now, under the hold lock (a sweep's claim
// and a hold on the same message must not pass each other).
FolderHold PgIndex::holdable(const PgConn& c, const Digest& digest) const {
    c.query("SELECT pg_advisory_xact_lock($1)", PgParams().int64(kPgHoldLock), "cannot take the hold lock");
    const PgResult count = c.query(
        "SELECT count(*), count(*) FILTER (WHERE state = 'present'), "
        "count(*) FILTER (WHERE state = 'present' AND claimed_at IS NOT NULL) FROM messages WHERE digest = $1",
        PgParams().bytes(digest), "cannot look up the message");
    if (digest.empty() || count.int64(0, 0) == 0) return FolderHold::NotInIndex;
    if (count.int64(0, 1) == 0) return FolderHold::AllDestroyed;
    if (count.int64(0, 2) > 0) throw IndexError(kBeingDestroyed);
    return FolderHold::Placed;
}

std::int64_t PgIndex::insert_hold(const PgConn& c, const Digest& digest, const std::string& reason,
                                  const std::string& ref, const std::string& placed_by, HoldKind kind,
                                  std::chrono::system_clock::time_point now) {
    const PgResult r = c.query(
        "INSERT INTO holds (digest, reason, ref, placed_at, placed_by, kind) VALUES ($1, $2, $3, $4, $5, $6) "
        "RETURNING id",
        PgParams().bytes(digest).text(reason).opt_text(ref).int64(to_unix(now)).text(placed_by).text(
            std::string(hold_kind_name(kind))),
        "cannot place the hold");
    return r.int64(0, 0);
}

std::int64_t PgIndex::hold(const Digest& digest, const std::string& reason, const std::string& ref,
                           const std::string& user, std::chrono::system_clock::time_point now) {
    const PgConn& c = conn();
    PgTransaction tx(c);
    const FolderHold state = holdable(c, digest);
    if (state == FolderHold::NotInIndex) throw IndexError(kNotInIndex);
    if (state == FolderHold::AllDestroyed) throw IndexError(kAlreadyDestroyed);
    for (const Hold& h : active_holds(digest)) {
        if (h.kind == HoldKind::Admin) throw IndexError(already_on_hold(h));
    }
    const std::int64_t id = insert_hold(c, digest, reason, ref, user, HoldKind::Admin, now);
    tx.commit();
    return id;
}

FolderHold PgIndex::hold_from_folder(const Digest& digest, const std::string& reason, const std::string& placed_by,
                                     std::chrono::system_clock::time_point now) {
    const PgConn& c = conn();
    PgTransaction tx(c);
    const FolderHold state = holdable(c, digest);
    if (state != FolderHold::Placed) return state;
    for (const Hold& h : active_holds(digest)) {
        if (h.kind == HoldKind::Folder) return FolderHold::AlreadyInForce;
    }
    insert_hold(c, digest, reason, "", placed_by, HoldKind::Folder, now);
    tx.commit();
    return FolderHold::Placed;
}

int PgIndex::release(const Digest& digest, const std::string& user, std::chrono::system_clock::time_point now,
                     std::optional<HoldKind> kind) {
    if (digest.empty()) throw IndexError(not_on_hold(kind));
    const PgConn& c = conn();
    PgTransaction tx(c);
    const PgResult r = c.query(
        "UPDATE holds SET released_at = $1, released_by = $2 WHERE digest = $3 AND released_at IS NULL "
        "AND ($4::text IS NULL OR kind = $4::text)",
        PgParams().int64(to_unix(now)).text(user).bytes(digest).opt_text(kind ? std::string(hold_kind_name(*kind)) : ""),
        "cannot release the hold");
    if (r.changed() == 0) throw IndexError(not_on_hold(kind));
    tx.commit();
    return static_cast<int>(r.changed());
}

std::vector<Hold> PgIndex::active_holds(const Digest& digest) const {
    std::vector<Hold> out;
    if (digest.empty()) return out;
    static const std::string sql = sql_of("SELECT ", kHoldColumns,
                                          " FROM holds WHERE digest = $1 AND released_at IS NULL "
                                          "ORDER BY kind = 'folder', id");
    const PgResult r = conn().query(sql, PgParams().bytes(digest), "cannot look up a hold");
    for (int i = 0; i < r.rows(); ++i) out.push_back(read_hold(r, i));
    return out;
}

std::vector<Hold> PgIndex::holds_for(const Digest& digest) const {
    std::vector<Hold> out;
    if (digest.empty()) return out;
    static const std::string sql = sql_of("SELECT ", kHoldColumns, " FROM holds WHERE digest = $1 ORDER BY placed_at, id");
    const PgResult r = conn().query(sql, PgParams().bytes(digest), "cannot list holds");
    for (int i = 0; i < r.rows(); ++i) out.push_back(read_hold(r, i));
    return out;
}

std::vector<Digest> PgIndex::held_digests() const {
    const PgResult r = conn().query(
        "SELECT DISTINCT digest FROM holds WHERE released_at IS NULL AND digest IS NOT NULL", "cannot list holds");
    std::vector<Digest> out;
    for (int i = 0; i < r.rows(); ++i) out.push_back(r.bytes(i, 0));
    return out;
}

std::vector<Digest> PgIndex::folder_held_digests() const {
    const PgResult r = conn().query(
        "SELECT digest FROM holds WHERE released_at IS NULL AND kind = 'folder' AND digest IS NOT NULL",
        "cannot list holds");
    std::vector<Digest> out;
    for (int i = 0; i < r.rows(); ++i) out.push_back(r.bytes(i, 0));
    return out;
}

std::vector<HeldMessage> PgIndex::holds_in_force() const {
    const PgResult r = conn().query(
        "SELECT h.id, h.reason, h.ref, h.placed_at, h.placed_by, h.released_at, h.released_by, h.kind, "
        "(SELECT m.lines FROM messages m WHERE m.digest = h.digest ORDER BY m.retain_until DESC, m.id DESC LIMIT 1), "
        "(SELECT max(m.retain_until) FROM messages m WHERE m.digest = h.digest) "
        "FROM holds h WHERE h.released_at IS NULL ORDER BY h.placed_at, h.id",
        "cannot list holds");
    std::vector<HeldMessage> out;
    for (int i = 0; i < r.rows(); ++i) {
        HeldMessage m{read_hold(r, i), r.text(i, 8), {}};
        if (!r.is_null(i, 9)) m.retain_until = read_date(r, i, 9, name_);
        out.push_back(std::move(m));
    }
    return out;
}

// --- the sweeper ---------------------------------------------------------------------------

class PgIndex::AdvisorySweepLock : public SweepLock {
public:
    explicit AdvisorySweepLock(PgIndex& index) : index_(index) {
        index_.sweep_locked_ = true;
        index_.conn_->keep_session(true);
    }
    ~AdvisorySweepLock() override {
        index_.sweep_locked_ = false;
        index_.conn_->keep_session(false);
        // A connection that was lost took the lock with it.
        if (index_.conn_->lost()) return;
        try {
            index_.conn_->query("SELECT pg_advisory_unlock($1)", PgParams().int64(kPgSweepLock), "cannot release the sweep lock");
        } catch (const IndexError&) {
            // Ending the session releases it too.
        }
    }
    AdvisorySweepLock(const AdvisorySweepLock&) = delete;
    AdvisorySweepLock& operator=(const AdvisorySweepLock&) = delete;

private:
    PgIndex& index_;
};

SweepLockAttempt PgIndex::try_lock_sweep() {
    SweepLockAttempt out;
    out.where = "the advisory lock " + std::to_string(kPgSweepLock) + " on " + name_;
    // Session locks stack: a second attempt through this same connection would succeed.
    if (sweep_locked_) {
        out.status = SweepLockAttempt::Status::Busy;
        out.error = "this program already holds it";
        return out;
    }
    try {
        const PgResult r =
            conn().query("SELECT pg_try_advisory_lock($1)", PgParams().int64(kPgSweepLock), "cannot take the sweep lock");
        if (r.rows() == 0 || r.text(0, 0) != "t") {
            out.status = SweepLockAttempt::Status::Busy;
            out.error = "another sweep holds it";
            return out;
        }
    } catch (const IndexError& e) {
        out.error = e.what();
        return out;
    }
    out.status = SweepLockAttempt::Status::Held;
    out.lock = std::make_unique<AdvisorySweepLock>(*this);
    return out;
}

std::vector<Digest> PgIndex::mark_destroyed(const std::vector<DestroyedRow>& batch,
                                            std::chrono::system_clock::time_point when, Unless unless) {
    std::vector<Digest> changed;
    if (batch.empty()) return changed;
    const PgConn& c = conn();
    std::vector<std::int64_t> ids;
    std::vector<std::int64_t> copies;
    for (const auto& b : batch) {
        ids.push_back(b.id);
        copies.push_back(b.copies);
    }
    // One statement checks the hold and marks; the hold lock keeps a hold being placed
    // meanwhile from slipping between them.
    const std::string sql = sql_of(
        "UPDATE messages SET state = 'destroyed', destroyed_at = $1, copies = b.copies, claimed_at = NULL "
        "FROM unnest($2::bigint[], $3::bigint[]) AS b(id, copies) WHERE messages.id = b.id AND state = 'present'",
        unless == Unless::Held ? " AND NOT EXISTS (SELECT 1 FROM holds h WHERE h.digest = messages.digest "
                                 "AND h.released_at IS NULL)"
                               : "",
        " RETURNING messages.id, messages.digest");
    PgStatement mark{sql, PgParams().int64(to_unix(when)).text(int_array(ids)).text(int_array(copies)),
                     "cannot mark rows destroyed"};
    std::optional<PgTransaction> tx;
    std::optional<PgResult> marked;
    if (unless == Unless::Held) {
        tx.emplace(c, std::vector<PgStatement>{
                          {"SELECT pg_advisory_xact_lock($1)", PgParams().int64(kPgHoldLock), "cannot take the hold lock"},
                          std::move(mark)});
    } else {
        marked.emplace(c.query(mark.sql, mark.params, mark.what));  // one statement: its own transaction
    }
    const PgResult& r = tx ? tx->first_results().back() : *marked;
    // In the batch's order, as the receipts' chain takes them.
    std::unordered_map<std::int64_t, Digest> digest_of;
    for (int i = 0; i < r.rows(); ++i) digest_of.emplace(r.int64(i, 0), r.bytes(i, 1));
    for (const auto& b : batch) {
        const auto it = digest_of.find(b.id);
        if (it == digest_of.end() || it->second.empty()) continue;
        if (std::find(changed.begin(), changed.end(), it->second) == changed.end()) changed.push_back(it->second);
    }
    if (tx) tx->commit();
    return changed;
}

std::vector<bool> PgIndex::claim(const std::vector<Claim>& claims, std::chrono::system_clock::time_point when) {
    std::vector<bool> out(claims.size(), false);
    if (claims.empty()) return out;
    const PgConn& c = conn();
    std::vector<std::string> digests;
    for (const Claim& cl : claims) digests.push_back(cl.digest);
    PgTransaction tx(c, {{"SELECT pg_advisory_xact_lock($1)", PgParams().int64(kPgHoldLock), "cannot take the hold lock"},
                         {"SELECT DISTINCT digest FROM holds WHERE released_at IS NULL "
                          "AND digest = ANY(ARRAY(SELECT decode(d, 'hex') FROM unnest($1::text[]) AS d))",
                          PgParams().text(hex_array(digests)), "cannot look up holds"}});
    const PgResult& held = tx.first_results().back();
    std::unordered_set<std::string> is_held;
    for (int i = 0; i < held.rows(); ++i) is_held.insert(held.bytes(i, 0));
    std::vector<std::int64_t> ids;
    for (std::size_t i = 0; i < claims.size(); ++i) {
        if (!claims[i].digest.empty() && is_held.contains(claims[i].digest)) continue;
        ids.insert(ids.end(), claims[i].rows.begin(), claims[i].rows.end());
        out[i] = true;
    }
    if (!ids.empty()) {
        c.query("UPDATE messages SET claimed_at = $1 WHERE id = ANY($2::bigint[]) AND state = 'present' "
                "AND claimed_at IS NULL",
                PgParams().int64(to_unix(when)).text(int_array(ids)), "cannot claim rows");
    }
    tx.commit();
    return out;
}

int PgIndex::release_claims() {
    return conn()
        .query("UPDATE messages SET claimed_at = NULL WHERE claimed_at IS NOT NULL AND state = 'present'",
               "cannot release claims")
        .changed();
}

// --- the scan cache and files_seen -----------------------------------------------------------

std::optional<Index::FileKeys> PgIndex::known_file(const std::string& file_key) const {
    const PgResult r = conn().query("SELECT digest, record FROM scan_cache WHERE host = $2 AND file_key = $1",
                                    PgParams().bytes(file_key).bytes(host_), "cannot read the scan cache");
    if (r.rows() == 0) return std::nullopt;
    return FileKeys{r.bytes(0, 0), r.bytes(0, 1), {}};
}

Index::KnownFiles PgIndex::known_files(const std::vector<std::string>& file_keys) const {
    KnownFiles out;
    if (file_keys.empty()) return out;
    const PgResult r = conn().query(
        "SELECT file_key, digest, record FROM scan_cache WHERE host = $1 "
        "AND file_key = ANY(ARRAY(SELECT decode(k, 'hex') FROM unnest($2::text[]) AS k))",
        PgParams().bytes(host_).text(hex_array(file_keys)), "cannot read the scan cache");
    for (int i = 0; i < r.rows(); ++i) out.emplace(r.bytes(i, 0), FileKeys{r.bytes(i, 1), r.bytes(i, 2), {}});
    return out;
}

void PgIndex::remember_files(const std::vector<KnownFile>& files, Date today) {
    if (files.empty()) return;
    const PgConn& c = conn();
    // A file twice in one statement would be refused (ON CONFLICT updates a row once):
    // the last of its entries wins, as it would one at a time.
    std::unordered_map<std::string, std::size_t> last;
    for (std::size_t i = 0; i < files.size(); ++i) last[files[i].file_key] = i;
    std::vector<std::string> keys, digests, records;
    for (std::size_t i = 0; i < files.size(); ++i) {
        if (last[files[i].file_key] != i) continue;
        keys.push_back(files[i].file_key);
        digests.push_back(files[i].keys.digest);
        records.push_back(files[i].keys.record);
    }
    c.query("INSERT INTO scan_cache (host, file_key, digest, record, added_on) "
            "SELECT $1, decode(f.k, 'hex'), decode(f.d, 'hex'), decode(f.r, 'hex'), $2 "
            "FROM unnest($3::text[], $4::text[], $5::text[]) AS f(k, d, r) "
            "ON CONFLICT (host, file_key) DO UPDATE SET digest = excluded.digest, record = excluded.record, "
            "added_on = excluded.added_on",
            PgParams().bytes(host_).text(format_date(today)).text(hex_array(keys)).text(hex_array(digests)).text(
                hex_array(records)),
            "cannot write the scan cache");
}

int PgIndex::forget_files_before(Date cutoff) {
    return conn()
        .query("DELETE FROM scan_cache WHERE added_on < $1 AND host = $2",
               PgParams().text(format_date(cutoff)).bytes(host_), "cannot trim the scan cache")
        .changed();
}

std::optional<Date> PgIndex::file_first_seen(const std::string& file_key) const {
    const PgResult r = conn().query("SELECT first_seen FROM files_seen WHERE host = $2 AND file_key = $1",
                                    PgParams().bytes(file_key).bytes(host_), "cannot read files_seen");
    if (r.rows() == 0) return std::nullopt;
    return parse_date(r.text(0, 0));
}

void PgIndex::note_files_seen(const std::vector<std::string>& file_keys, Date today) {
    if (file_keys.empty()) return;
    const PgConn& c = conn();
    const std::set<std::string> keys(file_keys.begin(), file_keys.end());  // each once, as ON CONFLICT needs
    c.query("INSERT INTO files_seen (host, file_key, first_seen, last_seen) "
            "SELECT $1, decode(k, 'hex'), $2, $2 FROM unnest($3::text[]) AS k "
            "ON CONFLICT (host, file_key) DO UPDATE SET last_seen = excluded.last_seen",
            PgParams().bytes(host_).text(format_date(today)).text(hex_array({keys.begin(), keys.end()})),
            "cannot write files_seen");
}

void PgIndex::forget_files_seen(const std::vector<std::string>& file_keys) {
    if (file_keys.empty()) return;
    conn().query("DELETE FROM files_seen WHERE host = $1 AND file_key = ANY(ARRAY(SELECT decode(k, 'hex') FROM unnest($2::text[]) AS k))",
                 PgParams().bytes(host_).text(hex_array(file_keys)), "cannot write files_seen");
}

int PgIndex::forget_files_seen_before(Date cutoff) {
    return conn()
        .query("DELETE FROM files_seen WHERE last_seen < $1 AND host = $2",
               PgParams().text(format_date(cutoff)).bytes(host_), "cannot trim files_seen")
        .changed();
}

// --- erasing, receipts ---------------------------------------------------------------------

int PgIndex::erase_old_digests(std::chrono::system_clock::time_point cutoff) {
    const PgConn& c = conn();
    PgTransaction tx(c);
    // The scan cache's copies of these digests go with them (every host's).
    int touched = c.query("DELETE FROM scan_cache WHERE digest IN (SELECT digest FROM messages WHERE state = 'destroyed' "
            "AND destroyed_at < $1 AND digest IS NOT NULL) OR record IN (SELECT record FROM messages "
            "WHERE state = 'destroyed' AND destroyed_at < $1 AND record IS NOT NULL)",
            PgParams().int64(to_unix(cutoff)), "cannot erase from the scan cache").changed();
    const int n = c.query("UPDATE messages SET digest = NULL, record = NULL, queue_id = NULL, erased_at = $1 "
                          "WHERE state = 'destroyed' AND destroyed_at < $2 "
                          "AND (digest IS NOT NULL OR record IS NOT NULL OR queue_id IS NOT NULL)",
                          PgParams().int64(to_unix(std::chrono::system_clock::now())).int64(to_unix(cutoff)),
                          "cannot erase digests")
                      .changed();
    // Released holds whose message has no row left with that digest would otherwise keep
    // the digest, and with it the proof that the message passed.
    touched += n + c.query("UPDATE holds SET digest = NULL WHERE digest IS NOT NULL AND released_at IS NOT NULL "
                           "AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.digest = holds.digest)",
                           "cannot erase digests of released holds")
                       .changed();
    tx.commit();
    // The old row versions keep the digests until a vacuum removes them. Outside any
    // transaction; if it cannot run now (a long reader elsewhere), autovacuum finishes it.
    if (touched > 0) c.exec("VACUUM messages, scan_cache, holds", "cannot vacuum the erased rows");
    return n;
}

Receipt PgIndex::add_receipt(Receipt r, const std::vector<Digest>& destroyed_digests) {
    const PgConn& c = conn();
    PgTransaction tx(c);
    // Two sweeps never write receipts at once (the sweep lock), but a chain must not fork
    // if they did: the receipts lock orders them (an advisory lock: a table lock in this
    // mode would need rights on receipts the sweeper is not given).
    c.query("SELECT pg_advisory_xact_lock($1)", PgParams().int64(kPgReceiptLock), "cannot lock the receipts");
    const auto prev = last_receipt();
    r.chain_hex = receipt_chain(name_, prev ? prev->chain_hex : std::string(), destroyed_digests);
    const PgResult res = c.query(
        "INSERT INTO receipts (run_at, counts_json, destroyed, chain, exit_code) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        PgParams()
            .int64(to_unix(r.run_at))
            .text(r.counts_json.empty() ? "{}" : r.counts_json)
            .int64(r.destroyed)
            .text(r.chain_hex)
            .int64(r.exit_code),
        "cannot write a receipt");
    r.id = res.int64(0, 0);
    tx.commit();
    return r;
}

namespace {

std::vector<Receipt> receipts(const PgConn& c, std::string_view where, int limit) {
    const PgResult s = c.query(sql_of("SELECT id, run_at, counts_json, destroyed, chain, exit_code FROM receipts ", where,
                                      " ORDER BY id DESC LIMIT $1"),
                               PgParams().int64(limit), "cannot read the receipts");
    std::vector<Receipt> out;
    for (int i = 0; i < s.rows(); ++i) {
        Receipt r;
        r.id = s.int64(i, 0);
        r.run_at = from_unix(s.int64(i, 1));
        r.counts_json = s.text(i, 2);
        r.destroyed = s.int64(i, 3);
        r.chain_hex = s.text(i, 4);
        r.exit_code = static_cast<int>(s.int64(i, 5));
        out.push_back(std::move(r));
    }
    return out;
}

std::optional<Receipt> one_receipt(const PgConn& c, std::string_view where) {
    auto found = receipts(c, where, 1);
    if (found.empty()) return std::nullopt;
    return std::move(found.front());
}

}  // namespace

std::optional<Receipt> PgIndex::last_receipt() const { return one_receipt(conn(), ""); }

std::optional<Receipt> PgIndex::last_successful_receipt() const {
    return one_receipt(conn(), "WHERE exit_code IN (0, 4)");
}

std::vector<Receipt> PgIndex::recent_receipts(int n) const { return receipts(conn(), "", n); }

// --- reports and settings ----------------------------------------------------------------------

ReportCounts PgIndex::report(Date today) const {
    const PgConn& c = conn();
    ReportCounts rc;
    std::map<std::tuple<std::string, std::string, std::string>, std::int64_t> buckets;
    const PgResult s =
        c.query("SELECT lines, direction, state, count(*) FROM messages GROUP BY lines, direction, state", "cannot count rows");
    for (int i = 0; i < s.rows(); ++i) {
        for (const std::string& tag : split(s.text(i, 0), ',')) {
            const std::string t(trim(tag));
            if (!t.empty()) buckets[{t, s.text(i, 1), s.text(i, 2)}] += s.int64(i, 3);
        }
    }
    for (const auto& [key, n] : buckets) {
        rc.buckets.push_back({std::get<0>(key), std::get<1>(key), std::get<2>(key), n});
    }
    const std::string t = format_date(today);
    auto unheld_between = [&](const std::string& from, const std::string& until) {
        return c.scalar(sql_of("SELECT count(*) FROM messages WHERE ", kPresentUnheld,
                               " AND retain_until >= $1 AND retain_until < $2"),
                        PgParams().text(from).text(until), "cannot count rows");
    };
    const auto plus = [&](int n) { return format_date(add_days(today, n)); };
    rc.expiring_7 = unheld_between(t, plus(7));
    rc.expiring_30 = unheld_between(t, plus(30));
    rc.overdue = unheld_between("", t);
    rc.active_holds =
        c.scalar("SELECT count(*) FROM holds WHERE released_at IS NULL", {}, "cannot count holds");
    return rc;
}

std::optional<std::string> PgIndex::get_meta(const std::string& key) const {
    const PgResult r = conn().query("SELECT value FROM meta WHERE key = $1", PgParams().text(key), "cannot read a setting");
    if (r.rows() == 0) return std::nullopt;
    return r.text(0, 0);
}

void PgIndex::set_meta(const std::string& key, const std::string& value) {
    conn().query("INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                 PgParams().text(key).text(value), "cannot write a setting");
}

namespace {
constexpr const char* kKeyFingerprint = kKeyFingerprintMeta;
}  // namespace

std::optional<bool> PgIndex::key_matches(const DigestKey& key) const {
    const auto recorded = get_meta(kKeyFingerprint);
    if (!recorded) return std::nullopt;
    return *recorded == key.fingerprint();
}

void PgIndex::remember_key(const DigestKey& key) {
    // The milter calls this at every start, and may read the fingerprint but not write it.
    if (get_meta(kKeyFingerprint)) return;
    conn().query("INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
                 PgParams().text(kKeyFingerprint).text(key.fingerprint()), "cannot record the key's fingerprint");
}

}  // namespace rm

// --- copying an index in ---------------------------------------------------------------------

namespace rm {

std::vector<StoredRow> PgIndex::stored_rows(const CopiedTable& t) const {
    const PgResult r = conn().query("SELECT " + column_list(t) + " FROM " + std::string(t.name) +
                                        (t.numbered ? " ORDER BY id" : ""),
                                    "cannot read the table " + std::string(t.name));
    std::vector<StoredRow> rows;
    for (int i = 0; i < r.rows(); ++i) {
        StoredRow row;
        for (std::size_t c = 0; c < t.columns.size(); ++c) {
            const int col = static_cast<int>(c);
            if (r.is_null(i, col))
                row.emplace_back(std::nullopt);
            else if (t.columns[c].kind == CopiedTable::Kind::Bytes)
                row.emplace_back(r.bytes(i, col));
            else
                row.emplace_back(r.text(i, col));
        }
        rows.push_back(std::move(row));
    }
    if (!t.numbered) std::sort(rows.begin(), rows.end());
    return rows;
}

void PgIndex::in_exclusive_transaction(const std::function<void()>& body) {
    const PgConn& c = conn();
    PgTransaction tx(c);
    c.exec("LOCK TABLE messages, holds, receipts, meta, files_seen IN ACCESS EXCLUSIVE MODE", "cannot lock the index");
    body();
    tx.commit();
}

namespace {

PgParams stored_params(const CopiedTable& t, const StoredRow& row) {
    PgParams p;
    for (std::size_t i = 0; i < t.columns.size(); ++i) {
        if (!row[i])
            p.null();
        else if (t.columns[i].kind == CopiedTable::Kind::Integer)
            p.int64(std::stoll(*row[i]));
        else if (t.columns[i].kind == CopiedTable::Kind::Bytes)
            p.bytes(*row[i]);
        else
            p.text(*row[i]);
    }
    return p;
}

}  // namespace

void PgIndex::insert_stored(const CopiedTable& t, const std::vector<StoredRow>& rows) {
    const PgConn& c = conn();
    std::string sql = "INSERT INTO " + std::string(t.name) + " (" + column_list(t) + ") VALUES (";
    for (std::size_t i = 1; i <= t.columns.size(); ++i) sql += (i > 1 ? ", $" : "$") + std::to_string(i);
    sql += ") ON CONFLICT DO NOTHING";
    const std::string what = "cannot copy a row into the table " + std::string(t.name);
    for (const StoredRow& row : rows) c.query(sql, stored_params(t, row), what);
    if (!t.numbered) return;
    // The next row the milter inserts gets the id after the last one copied.
    const std::string name(t.name);
    c.query("SELECT setval(pg_get_serial_sequence('" + name + "', 'id'), coalesce(max(id), 0) + 1, false) FROM " + name,
            "cannot number the table " + name);
}

}  // namespace rm
