// A thin RAII layer over libpq: one connection, parameterised queries, transactions,
// errors that name the server and database. Private to db/: only the PostgreSQL index and
// the db unit tests include it.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "db/index.hpp"

struct pg_conn;
struct pg_result;

namespace rm::dbdetail {

// The parameters of one query, bound by position ($1, $2...). Values travel apart from
// the SQL text: nothing is ever spliced into a statement.
class PgParams {
public:
    PgParams& text(std::string_view v);
    PgParams& opt_text(std::string_view v);   // empty text is sent as NULL
    PgParams& bytes(std::string_view v);      // bytea, sent in binary; empty is sent as NULL
    PgParams& int64(std::int64_t v);
    PgParams& null();  // a NULL of whatever type the server expects there

    int size() const { return static_cast<int>(values_.size()); }
    const unsigned int* types() const { return types_.data(); }
    const int* lengths() const { return lengths_.data(); }
    const int* formats() const { return formats_.data(); }
    // Pointers into the values: valid while this object lives and is not added to.
    std::vector<const char*> pointers() const;

private:
    PgParams& add(unsigned int type, std::string v, int format, bool is_null);
    std::vector<std::string> values_;
    std::vector<bool> nulls_;
    std::vector<unsigned int> types_;
    std::vector<int> lengths_;
    std::vector<int> formats_;
};

// One statement of several sent together, and what failed when it fails.
struct PgStatement {
    std::string sql;
    PgParams params;
    std::string what;
};

// A query's result, in text form (bytea is unescaped by bytes()).
class PgResult {
public:
    explicit PgResult(pg_result* r);
    int rows() const;
    bool is_null(int row, int col) const;
    std::string text(int row, int col) const;
    std::string bytes(int row, int col) const;  // NULL reads as empty
    std::int64_t int64(int row, int col) const; // NULL reads as 0
    // The number of rows an INSERT, UPDATE or DELETE touched.
    int changed() const;
    const pg_result* get() const { return r_.get(); }

private:
    struct Clear {
        void operator()(pg_result* r) const;
    };
    std::unique_ptr<pg_result, Clear> r_;
};

// One connection to the server. Every failure throws IndexError saying which server and
// database, and what went wrong, never a parameter's value or the password; a failure
// any query would meet (the server gone, full, read-only, shutting down, a schema it
// lacks) is index_wide().
class PgConn {
public:
    // Connects. `conninfo` is a libpq URI or key=value string; it is never quoted in a
    // message (it may hold the password). Fails after `connect_timeout_s` (or the answer
    // timeout, when shorter) unless the conninfo sets its own connect_timeout. The
    // keepalives and tcp_user_timeout of `link` go to libpq unless the conninfo sets them.
    PgConn(const std::string& conninfo, int connect_timeout_s, const Index::Options& link = {});
    ~PgConn();
    PgConn(const PgConn&) = delete;
    PgConn& operator=(const PgConn&) = delete;

    pg_conn* get() const { return conn_; }
    // "postgresql://HOST:PORT/DATABASE", for messages.
    const std::string& name() const { return name_; }

    // Runs SQL without parameters (several statements allowed). Throws IndexError.
    void exec(std::string_view sql, std::string_view what) const;
    PgResult query(std::string_view sql, const PgParams& params, std::string_view what) const;
    PgResult query(std::string_view sql, std::string_view what) const { return query(sql, PgParams{}, what); }
    std::int64_t scalar(std::string_view sql, const PgParams& params, std::string_view what) const;

    // Runs the statements in one round trip (libpq's pipeline mode) and returns their
    // results in order; throws as query() does for the first that failed (the server
    // skips the ones after it).
    std::vector<PgResult> pipeline(const std::vector<PgStatement>& statements) const;

    // Sets a server setting for this session and for every session a reconnect makes.
    void keep_setting(std::string_view name, std::string_view value, std::string_view what) const;

    // Whether a transaction (or read snapshot) is open on this connection.
    bool in_transaction() const;
    // Whether the connection is gone: the server closed it, or it was dropped because
    // the server did not answer in time. The next ensure_connected() reconnects.
    bool lost() const;
    // Whether the connection was dropped because the server did not answer in time.
    bool timed_out() const { return dropped_; }
    using Clock = std::chrono::steady_clock;
    // While it lives, every query and reconnect on the connection shares one deadline
    // (the milter's write of a message's row, retries included, which its MTA waits for);
    // without one, each query gets the answer timeout. Nothing when `until` is empty.
    class OneDeadline {
    public:
        OneDeadline(const PgConn& conn, std::optional<Clock::time_point> until);
        ~OneDeadline();
        OneDeadline(const OneDeadline&) = delete;
        OneDeadline& operator=(const OneDeadline&) = delete;

    private:
        const PgConn& conn_;
        std::optional<Clock::time_point> before_;
    };
    // Now plus the answer timeout; empty when there is none.
    std::optional<Clock::time_point> answer_deadline() const;
    // The deadline in force, if any.
    const std::optional<Clock::time_point>& deadline() const { return deadline_; }
    // Runs SQL whose failure changes nothing worth saying (ending a read snapshot,
    // rolling back): skipped on a lost connection, errors ignored.
    void exec_quietly(const char* sql) const;
    // Reconnects when the server dropped the connection (a restart), so that the next
    // query may succeed; not while a transaction is open, nor while a session lock is
    // held (it would be silently lost). Throws an index_wide IndexError when the
    // connection is still down.
    void ensure_connected() const;
    // Starts a transaction. A connection the server dropped since the last query (a
    // restart) is only found out here: then it reconnects and tries once more, which is
    // safe as nothing was done yet.
    void begin(std::string_view sql) const;
    // begin(), with `first` sent in the same round trip; their results.
    std::vector<PgResult> begin_with(const std::vector<PgStatement>& first) const;
    // A session lock (the sweep lock) lives on this connection: never reconnect.
    void keep_session(bool keep) const { keep_session_ = keep; }

    [[noreturn]] void fail(std::string_view what, const pg_result* r) const;

    // Transactions and read snapshots of ours open now: no reconnecting under them.
    void enter() const { ++depth_; }
    void leave() const { --depth_; }

private:
    // Sends the query and waits for all its results until the deadline; returns the
    // last result, or the first failed one (null when it could not be sent).
    pg_result* run(const std::string& sql, const PgParams* params) const;
    void await_result(Clock::time_point deadline) const;
    [[noreturn]] void give_up() const;
    [[noreturn]] void too_late() const;
    // PQreset, within the deadline when one is in force (PQreset alone waits for the
    // connect_timeout, per address tried).
    void reset() const;
    // Reads the results of `n` statements and the sync after them.
    std::vector<PgResult> pipeline_results(std::size_t n, Clock::time_point deadline) const;
    // Drops a connection left in a state no query can follow.
    void drop() const;
    void reset_within(Clock::time_point deadline) const;

    pg_conn* conn_ = nullptr;
    int answer_timeout_ms_ = 0;
    mutable std::optional<Clock::time_point> deadline_;
    mutable bool dropped_ = false;
    mutable std::vector<std::pair<std::string, std::string>> settings_;
    mutable int depth_ = 0;
    mutable bool keep_session_ = false;
    std::string name_;
};

// Tests only: called right after a COMMIT is sent, before its answer is read (to lose
// that answer); never set by the programs.
inline void (*pg_commit_sent_hook)(pg_conn*) = nullptr;

// BEGIN (READ COMMITTED) on construction; ROLLBACK unless committed. Refuses to start
// inside another transaction or a read snapshot (as SQLite does).
class PgTransaction {
public:
    // Each query must finish within the connection's deadline (PgConn::OneDeadline), or
    // else within the answer timeout.
    explicit PgTransaction(const PgConn& conn);
    // BEGIN and `first` in one round trip; their results are first_results().
    PgTransaction(const PgConn& conn, const std::vector<PgStatement>& first);
    ~PgTransaction();
    PgTransaction(const PgTransaction&) = delete;
    PgTransaction& operator=(const PgTransaction&) = delete;
    void commit();
    const std::vector<PgResult>& first_results() const { return first_; }

private:
    const PgConn& conn_;
    bool done_ = false;
    std::vector<PgResult> first_;
};

// The server and database named by a conninfo string, for a message about a connection
// that failed before the server could say; never the password. Empty when the string
// does not parse.
std::string pg_describe(const std::string& conninfo);

}  // namespace rm::dbdetail
