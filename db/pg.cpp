// The libpq layer of the PostgreSQL index (declared in db/pg.hpp).
#include "db/pg.hpp"

#include <libpq-fe.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <thread>

namespace rm::dbdetail {

namespace {

// Type OIDs of the parameters we send (pg_type.h is a server header).
constexpr unsigned int kByteaOid = 17;
constexpr unsigned int kInt8Oid = 20;
constexpr unsigned int kTextOid = 25;

// libpq's messages end in a newline and may span lines: one line, for logs.
std::string trim_newlines(std::string s) {
    for (char& ch : s)
        if (ch == '\n' || ch == '\t') ch = ' ';
    while (!s.empty() && s.back() == ' ') s.pop_back();
    std::string out;
    for (const char ch : s)
        if (ch != ' ' || out.empty() || out.back() != ' ') out += ch;
    return out;
}

// A failure any query would meet, as opposed to one row the server refuses: the server
// gone or shutting down (08, 57), out of resources or disk (53), its own I/O trouble (58,
// XX), a read-only standby or transaction (25006), a schema or rights it lacks (42).
bool index_wide_state(std::string_view state) {
    if (state.size() != 5) return true;
    const std::string_view cls = state.substr(0, 2);
    return cls != "22" && cls != "23" && cls != "40";
}

// The server's primary message only: its DETAIL may quote the values of a row (a key
// that already exists), and a data exception's message may quote the value it refused.
std::string server_message(const PGresult* r, const PGconn* conn) {
    if (r == nullptr) return trim_newlines(PQerrorMessage(conn));
    const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    const char* primary = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    if (state != nullptr && std::strncmp(state, "22", 2) == 0) {
        return std::string("the server refused a value (SQLSTATE ") + state + ")";
    }
    std::string msg = primary != nullptr ? primary : trim_newlines(PQresultErrorMessage(r));
    if (state != nullptr) msg += std::string(" (SQLSTATE ") + state + ")";
    return msg;
}

// As a libpq URI an admin could paste into psql: a Unix socket's folder goes into the
// host parameter, where it reads as a path.
std::string describe(const char* host, const char* port, const char* db) {
    const std::string h = host != nullptr && *host != '\0' ? host : "localhost";
    const std::string p = port != nullptr && *port != '\0' ? port : "";
    const std::string d = db != nullptr ? db : "";
    if (h.front() == '/' || h.front() == '@') {
        return "postgresql:///" + d + "?host=" + h + (p.empty() ? "" : "&port=" + p);
    }
    std::string out = "postgresql://" + (h.find(':') != std::string::npos ? "[" + h + "]" : h);
    if (!p.empty()) out += ":" + p;
    return out + "/" + d;
}

// Asks the server to stop the connection's query, without waiting: libpq's PQcancel
// connects to the server and may block as long as the server does not answer, which is
// what the caller stopped waiting for.
void cancel_in_background(PGconn* conn) {
    PGcancel* cancel = PQgetCancel(conn);
    if (cancel == nullptr) return;
    std::thread([cancel] {
        char err[256];
        PQcancel(cancel, err, sizeof err);
        PQfreeCancel(cancel);
    }).detach();
}

// Keepalives matter when the server vanishes without closing the connection (a host
// crash, a failover that moved its address): without them a query waits for ever.
std::vector<std::pair<std::string, std::string>> link_params(const Index::Options& link) {
    std::vector<std::pair<std::string, std::string>> out;
    const auto add = [&](const char* key, int v) {
        if (v > 0) out.emplace_back(key, std::to_string(v));
    };
    if (link.keepalives_idle_s > 0 || link.keepalives_interval_s > 0 || link.keepalives_count > 0)
        out.emplace_back("keepalives", "1");
    add("keepalives_idle", link.keepalives_idle_s);
    add("keepalives_interval", link.keepalives_interval_s);
    add("keepalives_count", link.keepalives_count);
    add("tcp_user_timeout", link.tcp_user_timeout_ms);
    return out;
}

}  // namespace

// --- parameters ---------------------------------------------------------------------------

PgParams& PgParams::add(unsigned int type, std::string v, int format, bool is_null) {
    lengths_.push_back(static_cast<int>(v.size()));
    values_.push_back(std::move(v));
    nulls_.push_back(is_null);
    types_.push_back(type);
    formats_.push_back(format);
    return *this;
}

PgParams& PgParams::text(std::string_view v) { return add(kTextOid, std::string(v), 0, false); }
PgParams& PgParams::opt_text(std::string_view v) { return add(kTextOid, std::string(v), 0, v.empty()); }
PgParams& PgParams::bytes(std::string_view v) { return add(kByteaOid, std::string(v), 1, v.empty()); }
PgParams& PgParams::int64(std::int64_t v) { return add(kInt8Oid, std::to_string(v), 0, false); }
// Untyped: the server gives it the type of the column it goes to.
PgParams& PgParams::null() { return add(0, std::string(), 0, true); }

std::vector<const char*> PgParams::pointers() const {
    std::vector<const char*> out;
    out.reserve(values_.size());
    for (std::size_t i = 0; i < values_.size(); ++i) out.push_back(nulls_[i] ? nullptr : values_[i].data());
    return out;
}

// --- results ------------------------------------------------------------------------------

void PgResult::Clear::operator()(pg_result* r) const { PQclear(r); }

PgResult::PgResult(pg_result* r) : r_(r) {}

int PgResult::rows() const { return PQntuples(r_.get()); }

bool PgResult::is_null(int row, int col) const { return PQgetisnull(r_.get(), row, col) != 0; }

std::string PgResult::text(int row, int col) const {
    return std::string(PQgetvalue(r_.get(), row, col), static_cast<std::size_t>(PQgetlength(r_.get(), row, col)));
}

std::string PgResult::bytes(int row, int col) const {
    if (is_null(row, col)) return {};
    std::size_t n = 0;
    unsigned char* raw = PQunescapeBytea(reinterpret_cast<const unsigned char*>(PQgetvalue(r_.get(), row, col)), &n);
    if (raw == nullptr) throw IndexError("the server sent bytes that cannot be read (out of memory?)", true);
    std::string out(reinterpret_cast<const char*>(raw), n);
    PQfreemem(raw);
    return out;
}

std::int64_t PgResult::int64(int row, int col) const {
    if (is_null(row, col)) return 0;
    const char* v = PQgetvalue(r_.get(), row, col);
    const char* end = v + PQgetlength(r_.get(), row, col);
    std::int64_t out = 0;
    const auto [ptr, ec] = std::from_chars(v, end, out);
    if (ec != std::errc() || ptr != end) throw IndexError("the server sent a number that cannot be read", true);
    return out;
}

int PgResult::changed() const {
    const char* n = PQcmdTuples(r_.get());
    return n == nullptr || *n == '\0' ? 0 : std::atoi(n);
}

// --- the connection -----------------------------------------------------------------------

std::string pg_describe(const std::string& conninfo) {
    char* err = nullptr;
    PQconninfoOption* opts = PQconninfoParse(conninfo.c_str(), &err);
    if (err != nullptr) PQfreemem(err);
    if (opts == nullptr) return {};
    const char* host = nullptr;
    const char* hostaddr = nullptr;
    const char* port = nullptr;
    const char* db = nullptr;
    const char* user = nullptr;
    for (PQconninfoOption* o = opts; o->keyword != nullptr; ++o) {
        if (o->val == nullptr) continue;
        const std::string_view k = o->keyword;
        if (k == "host") host = o->val;
        else if (k == "hostaddr") hostaddr = o->val;
        else if (k == "port") port = o->val;
        else if (k == "dbname") db = o->val;
        else if (k == "user") user = o->val;
    }
    std::string out = describe(host != nullptr ? host : hostaddr, port, db != nullptr ? db : user);
    PQconninfoFree(opts);
    return out;
}

PgConn::PgConn(const std::string& conninfo, int connect_timeout_s, const Index::Options& link)
    : answer_timeout_ms_(link.answer_timeout_ms) {
    // Parsed first so that a malformed string is refused without libpq's message, which
    // may quote part of it (and with it the password).
    char* err = nullptr;
    PQconninfoOption* parsed = PQconninfoParse(conninfo.c_str(), &err);
    if (err != nullptr) PQfreemem(err);
    if (parsed == nullptr) {
        throw IndexError("[index] conninfo is not a valid PostgreSQL connection string (a libpq URI such as "
                         "postgresql://user@host/dbname, or key=value pairs)");
    }
    PQconninfoFree(parsed);
    // Later entries win: the conninfo may set its own timeouts, keepalives and application
    // name. libpq counts a connect_timeout below 2 as 2.
    if (answer_timeout_ms_ > 0) connect_timeout_s = std::min(connect_timeout_s, (answer_timeout_ms_ + 999) / 1000);
    std::vector<std::pair<std::string, std::string>> params = {{"connect_timeout", std::to_string(connect_timeout_s)},
                                                               {"application_name", "retention-milter"},
                                                               {"client_encoding", "UTF8"}};
    for (auto& p : link_params(link)) params.push_back(std::move(p));
    params.emplace_back("dbname", conninfo);
    std::vector<const char*> keys;
    std::vector<const char*> values;
    for (const auto& [k, v] : params) {
        keys.push_back(k.c_str());
        values.push_back(v.c_str());
    }
    keys.push_back(nullptr);
    values.push_back(nullptr);
    conn_ = PQconnectdbParams(keys.data(), values.data(), 1);
    if (conn_ == nullptr) throw IndexError("cannot connect to the PostgreSQL index: out of memory", true);
    if (PQstatus(conn_) != CONNECTION_OK) {
        const std::string where = pg_describe(conninfo);
        const std::string msg = trim_newlines(PQerrorMessage(conn_));
        PQfinish(conn_);
        conn_ = nullptr;
        throw IndexError("cannot connect to the index " + where + ": " + msg, true);
    }
    name_ = describe(PQhost(conn_), PQport(conn_), PQdb(conn_));
    PQsetNoticeProcessor(conn_, [](void*, const char*) {}, nullptr);
}

PgConn::~PgConn() {
    if (conn_ != nullptr) PQfinish(conn_);
}

void PgConn::fail(std::string_view what, const pg_result* r) const {
    const bool gone = lost();
    const char* state = r != nullptr ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
    const bool wide = gone || state == nullptr || index_wide_state(state);
    std::string msg = "index " + name_ + ": " + std::string(what) + ": " + server_message(r, conn_);
    if (gone) msg += " (the connection to the server was lost)";
    throw IndexError(msg, wide);
}

namespace {

std::string seconds(int ms) {
    const int s = (ms + 999) / 1000;
    return std::to_string(s) + (s == 1 ? " second" : " seconds");
}

}  // namespace

void PgConn::give_up() const {
    if (PQstatus(conn_) == CONNECTION_OK) cancel_in_background(conn_);
    dropped_ = true;
    throw IndexError("index " + name_ + ": the server did not answer within " + seconds(answer_timeout_ms_) +
                         "; the connection was dropped and is made anew for the next write",
                     true);
}

// The deadline passed before a query could be sent. A transaction left open would
// refuse the next one and the rollback cannot be sent either: closing the socket makes
// the server roll it back now.
void PgConn::too_late() const {
    if (PQstatus(conn_) == CONNECTION_OK && PQtransactionStatus(conn_) != PQTRANS_IDLE) {
        ::shutdown(PQsocket(conn_), SHUT_RDWR);
        dropped_ = true;
    }
    throw IndexError("index " + name_ + ": the server did not answer within " + seconds(answer_timeout_ms_), true);
}

// Waits until libpq holds the next result, or the connection broke (then PQgetResult says
// why).
void PgConn::await_result(Clock::time_point deadline) const {
    const bool bounded = deadline != Clock::time_point::max();
    while (PQisBusy(conn_) != 0) {
        int wait_ms = -1;
        if (bounded) {
            const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
            if (left <= 0) give_up();
            wait_ms = static_cast<int>(left);
        }
        pollfd pfd{PQsocket(conn_), POLLIN, 0};
        const int rc = ::poll(&pfd, 1, wait_ms);
        if (rc < 0 && errno == EINTR) continue;
        if (rc == 0) give_up();
        if (rc < 0 || PQconsumeInput(conn_) == 0) return;
    }
}

PGresult* PgConn::run(const std::string& sql, const PgParams* params) const {
    if (dropped_) return nullptr;
    const Clock::time_point deadline = deadline_.value_or(answer_deadline().value_or(Clock::time_point::max()));
    if (Clock::now() >= deadline) too_late();
    int sent = 0;
    if (params == nullptr) {
        sent = PQsendQuery(conn_, sql.c_str());
    } else {
        const std::vector<const char*> values = params->pointers();
        sent = PQsendQueryParams(conn_, sql.c_str(), params->size(), params->types(), values.data(), params->lengths(),
                                 params->formats(), 0);
    }
    if (sent == 0) return nullptr;
    if (pg_commit_sent_hook != nullptr && sql == "COMMIT") pg_commit_sent_hook(conn_);
    PGresult* kept = nullptr;
    for (;;) {
        await_result(deadline);
        PGresult* r = PQgetResult(conn_);
        if (r == nullptr) break;
        const ExecStatusType st = PQresultStatus(r);
        const bool failed = st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK;
        const bool kept_failed = kept != nullptr && PQresultStatus(kept) != PGRES_COMMAND_OK &&
                                 PQresultStatus(kept) != PGRES_TUPLES_OK;
        if (kept_failed && !failed) {
            PQclear(r);
            continue;
        }
        PQclear(kept);
        kept = r;
    }
    return kept;
}

void PgConn::exec(std::string_view sql, std::string_view what) const {
    PGresult* r = run(std::string(sql), nullptr);
    PgResult owned(r);
    const ExecStatusType st = PQresultStatus(r);
    if (r == nullptr || (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)) fail(what, r);
}

PgResult PgConn::query(std::string_view sql, const PgParams& params, std::string_view what) const {
    PGresult* r = run(std::string(sql), &params);
    const ExecStatusType st = PQresultStatus(r);
    if (r == nullptr || (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)) {
        PgResult owned(r);
        fail(what, r);
    }
    return PgResult(r);
}

std::int64_t PgConn::scalar(std::string_view sql, const PgParams& params, std::string_view what) const {
    const PgResult r = query(sql, params, what);
    return r.rows() > 0 ? r.int64(0, 0) : 0;
}

namespace {

bool succeeded(const PGresult* r) {
    const ExecStatusType st = PQresultStatus(r);
    return r != nullptr && (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK);
}

}  // namespace

std::vector<PgResult> PgConn::pipeline(const std::vector<PgStatement>& statements) const {
    if (statements.empty()) return {};
    if (dropped_) fail(statements.front().what, nullptr);
    const Clock::time_point deadline = deadline_.value_or(answer_deadline().value_or(Clock::time_point::max()));
    if (Clock::now() >= deadline) too_late();
    if (PQenterPipelineMode(conn_) == 0) fail(statements.front().what, nullptr);
    for (const PgStatement& st : statements) {
        const std::vector<const char*> values = st.params.pointers();
        if (PQsendQueryParams(conn_, st.sql.c_str(), st.params.size(), st.params.types(), values.data(),
                              st.params.lengths(), st.params.formats(), 0) == 0) {
            drop();
            fail(st.what, nullptr);
        }
    }
    if (PQpipelineSync(conn_) == 0) {
        drop();
        fail(statements.front().what, nullptr);
    }
    std::vector<PgResult> out = pipeline_results(statements.size(), deadline);
    for (std::size_t i = 0; i < statements.size(); ++i) {
        const pg_result* r = out[i].get();
        if (!succeeded(r)) fail(statements[i].what, PQresultStatus(r) == PGRES_PIPELINE_ABORTED ? nullptr : r);
    }
    return out;
}

// Each statement's results end with a null from PQgetResult; the sync's is one result.
// A statement after a failed one comes back as PGRES_PIPELINE_ABORTED.
std::vector<PgResult> PgConn::pipeline_results(std::size_t n, Clock::time_point deadline) const {
    std::vector<PgResult> out;
    out.reserve(n);
    for (std::size_t i = 0; i < n; ++i) out.emplace_back(nullptr);
    std::size_t at = 0;
    bool synced = false;
    while (!synced && !lost() && at <= n) {
        await_result(deadline);
        PGresult* r = PQgetResult(conn_);
        if (r == nullptr) {
            ++at;
        } else if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            synced = true;
        } else if (at < n && (out[at].get() == nullptr || succeeded(out[at].get()))) {
            out[at] = PgResult(r);  // the last result, or the failure
        } else {
            PQclear(r);
        }
    }
    if (!synced || PQexitPipelineMode(conn_) == 0) drop();
    return out;
}

void PgConn::drop() const {
    if (PQstatus(conn_) != CONNECTION_OK) return;  // lost already: the reconnect starts afresh
    ::shutdown(PQsocket(conn_), SHUT_RDWR);
    dropped_ = true;
}

bool PgConn::in_transaction() const { return !dropped_ && PQtransactionStatus(conn_) != PQTRANS_IDLE; }

bool PgConn::lost() const { return dropped_ || PQstatus(conn_) != CONNECTION_OK; }

std::optional<PgConn::Clock::time_point> PgConn::answer_deadline() const {
    if (answer_timeout_ms_ <= 0) return std::nullopt;
    return Clock::now() + std::chrono::milliseconds(answer_timeout_ms_);
}

PgConn::OneDeadline::OneDeadline(const PgConn& conn, std::optional<Clock::time_point> until)
    : conn_(conn), before_(conn.deadline_) {
    if (until) conn_.deadline_ = until;
}

PgConn::OneDeadline::~OneDeadline() { conn_.deadline_ = before_; }

void PgConn::exec_quietly(const char* sql) const {
    if (lost()) return;
    try {
        exec(sql, "cannot end a transaction");
    } catch (const IndexError&) {
        // Only ends what the server ends by itself when the connection goes.
    }
}

void PgConn::keep_setting(std::string_view name, std::string_view value, std::string_view what) const {
    query("SELECT set_config($1, $2, false)", PgParams().text(name).text(value), what);
    settings_.emplace_back(name, value);
}

void PgConn::begin(std::string_view sql) const {
    try {
        query(sql, "cannot start a transaction");
    } catch (const IndexError&) {
        if (dropped_ || PQstatus(conn_) != CONNECTION_BAD || depth_ != 0 || keep_session_) throw;
        ensure_connected();
        query(sql, "cannot start a transaction");
    }
}

std::vector<PgResult> PgConn::begin_with(const std::vector<PgStatement>& first) const {
    std::vector<PgStatement> all;
    all.reserve(first.size() + 1);
    all.push_back({"BEGIN", {}, "cannot start a transaction"});
    all.insert(all.end(), first.begin(), first.end());
    std::vector<PgResult> out;
    try {
        out = pipeline(all);
    } catch (const IndexError&) {
        if (dropped_ || PQstatus(conn_) != CONNECTION_BAD || depth_ != 0 || keep_session_) throw;
        ensure_connected();
        out = pipeline(all);
    }
    out.erase(out.begin());
    return out;
}

void PgConn::ensure_connected() const {
    if (!lost()) return;
    if (!keep_session_ && depth_ == 0) {
        reset();
        // A new session starts without the settings of the old one.
        if (PQstatus(conn_) == CONNECTION_OK) {
            for (const auto& [name, value] : settings_)
                query("SELECT set_config($1, $2, false)", PgParams().text(name).text(value), "cannot set up the session");
        }
    }
    if (lost()) {
        throw IndexError("index " + name_ + ": the connection to the server is lost: " + trim_newlines(PQerrorMessage(conn_)),
                         true);
    }
}

void PgConn::reset() const {
    if (deadline_) {
        reset_within(*deadline_);
    } else {
        PQreset(conn_);
        dropped_ = false;
    }
}

void PgConn::reset_within(Clock::time_point deadline) const {
    if (Clock::now() >= deadline) too_late();
    dropped_ = false;
    if (PQresetStart(conn_) == 0) return;
    // As libpq asks: first wait until the socket can be written.
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    while (st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED) {
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (left <= 0) give_up();
        // The socket may change between calls, as libpq tries each address in turn.
        pollfd pfd{PQsocket(conn_), static_cast<short>(st == PGRES_POLLING_READING ? POLLIN : POLLOUT), 0};
        const int rc = ::poll(&pfd, 1, static_cast<int>(left));
        if (rc < 0 && errno == EINTR) continue;
        if (rc == 0) give_up();
        st = PQresetPoll(conn_);
    }
}

// --- transactions -------------------------------------------------------------------------

PgTransaction::PgTransaction(const PgConn& conn) : conn_(conn) {
    if (conn_.in_transaction())
        throw IndexError("index " + conn_.name() + ": cannot start a write transaction within a transaction");
    conn_.begin("BEGIN");
    conn_.enter();
}

PgTransaction::PgTransaction(const PgConn& conn, const std::vector<PgStatement>& first) : conn_(conn) {
    if (conn_.in_transaction())
        throw IndexError("index " + conn_.name() + ": cannot start a write transaction within a transaction");
    try {
        first_ = conn_.begin_with(first);
    } catch (...) {
        // BEGIN may have succeeded where a statement after it failed.
        if (conn_.in_transaction()) conn_.exec_quietly("ROLLBACK");
        throw;
    }
    conn_.enter();
}

PgTransaction::~PgTransaction() {
    conn_.leave();
    // A failed statement leaves the transaction aborted; ROLLBACK ends it. A lost
    // connection ended it already.
    if (!done_) conn_.exec_quietly("ROLLBACK");
}

void PgTransaction::commit() {
    // COMMIT of a transaction that failed half-way succeeds, as a ROLLBACK.
    if (PQtransactionStatus(conn_.get()) != PQTRANS_INTRANS) {
        conn_.query("ROLLBACK", "cannot roll back");
        done_ = true;
        throw IndexError("index " + conn_.name() + ": the transaction failed and was rolled back", true);
    }
    conn_.query("COMMIT", "cannot commit");
    done_ = true;
}

}  // namespace rm::dbdetail
