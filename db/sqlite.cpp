#include "db/sqlite.hpp"

namespace rm::dbdetail {

bool SqliteError::is_index_wide(int code) {
    switch (code & 0xff) {
        case SQLITE_BUSY: case SQLITE_LOCKED: case SQLITE_FULL: case SQLITE_IOERR: case SQLITE_READONLY:
        case SQLITE_CORRUPT: case SQLITE_NOTADB: case SQLITE_CANTOPEN: case SQLITE_NOMEM: case SQLITE_PERM:
        case SQLITE_NOLFS: case SQLITE_PROTOCOL:
            return true;
        default:
            return false;
    }
}

void throw_sqlite(sqlite3* db, const std::string& path, std::string_view what) {
    std::string msg = "index " + path + ": " + std::string(what);
    const int code = db != nullptr ? sqlite3_extended_errcode(db) : SQLITE_NOMEM;
    if (db != nullptr) msg += ": " + std::string(sqlite3_errmsg(db));
    if ((code & 0xff) == SQLITE_BUSY) msg += " (still locked by another program after the busy timeout)";
    throw SqliteError(msg, code);
}

Stmt::Stmt(sqlite3* db, const std::string& path, std::string_view sql) : db_(db), path_(path) {
    if (sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &stmt_, nullptr) != SQLITE_OK) {
        throw_sqlite(db, path, "cannot prepare a query");
    }
}

Stmt& Stmt::bind(int i, std::int64_t v) {
    if (sqlite3_bind_int64(stmt_, i, v) != SQLITE_OK) throw_sqlite(db_, path_, "cannot bind a value");
    return *this;
}

Stmt& Stmt::bind_text(int i, std::string_view v) {
    // A null data pointer would bind NULL; an empty string_view must stay ''.
    if (sqlite3_bind_text(stmt_, i, v.data() != nullptr ? v.data() : "", static_cast<int>(v.size()), kTransient) != SQLITE_OK) {
        throw_sqlite(db_, path_, "cannot bind a value");
    }
    return *this;
}

Stmt& Stmt::bind_blob(int i, std::string_view v) {
    if (v.empty()) return bind_null(i);
    if (sqlite3_bind_blob(stmt_, i, v.data(), static_cast<int>(v.size()), kTransient) != SQLITE_OK) {
        throw_sqlite(db_, path_, "cannot bind a value");
    }
    return *this;
}

Stmt& Stmt::bind_opt_text(int i, std::string_view v) { return v.empty() ? bind_null(i) : bind_text(i, v); }

Stmt& Stmt::bind_null(int i) {
    if (sqlite3_bind_null(stmt_, i) != SQLITE_OK) throw_sqlite(db_, path_, "cannot bind a value");
    return *this;
}

bool Stmt::step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw_sqlite(db_, path_, "query failed");
}

void Stmt::run() {
    while (step()) {
    }
}

void Stmt::reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
}

std::string Stmt::text(int col) const {
    const auto* p = sqlite3_column_text(stmt_, col);
    if (p == nullptr) return {};
    return std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col)));
}

std::string Stmt::blob(int col) const {
    const void* p = sqlite3_column_blob(stmt_, col);
    if (p == nullptr) return {};
    return std::string(static_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col)));
}

void exec(sqlite3* db, const std::string& path, std::string_view sql) {
    const std::string s(sql);
    if (sqlite3_exec(db, s.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) throw_sqlite(db, path, "statement failed");
}

Transaction::Transaction(sqlite3* db, const std::string& path) : db_(db), path_(path) {
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK) {
        throw_sqlite(db, path, "cannot start a write transaction");
    }
}

Transaction::~Transaction() {
    // A failed statement may already have rolled back; ROLLBACK then just errs, harmlessly.
    if (!done_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

void Transaction::commit() {
    if (sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) throw_sqlite(db_, path_, "cannot commit");
    done_ = true;
}

std::int64_t to_unix(std::chrono::system_clock::time_point t) {
    return std::chrono::floor<std::chrono::seconds>(t).time_since_epoch().count();
}

std::chrono::system_clock::time_point from_unix(std::int64_t s) {
    return std::chrono::system_clock::time_point{std::chrono::seconds{s}};
}

}  // namespace rm::dbdetail
