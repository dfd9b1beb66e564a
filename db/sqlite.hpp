// A thin RAII layer over SQLite: statements, transactions, errors that say which index.
// Private to db/: only the SQLite index and the db unit tests include it.
#pragma once

#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "db/index.hpp"

namespace rm::dbdetail {

// SQLITE_TRANSIENT is an old-style cast macro; this is the same value, spelt so that
// -Wold-style-cast stays quiet. SQLite copies the bound bytes at once.
inline const auto kTransient = reinterpret_cast<sqlite3_destructor_type>(-1);

// An IndexError raised by SQLite itself, with its primary result code, so that the
// batch writer can tell a bad row from an index that nobody can write just now.
class SqliteError : public IndexError {
public:
    SqliteError(const std::string& msg, int code) : IndexError(msg, is_index_wide(code)), code_(code) {}
    int code() const { return code_; }
    // True for failures that any row would meet: locked, full, I/O, read-only, corrupt.
    static bool is_index_wide(int code);

private:
    int code_;
};

// Throws SqliteError "index PATH: WHAT: sqlite's message". Never pass anything that
// identifies a message.
[[noreturn]] void throw_sqlite(sqlite3* db, const std::string& path, std::string_view what);

// One prepared statement, finalised on scope exit; or one borrowed from the Index's cache
// of hot statements, reset (not finalised) on scope exit. An Index is used by one thread
// at a time, and no cached statement is used twice at once.
class Stmt {
public:
    Stmt(sqlite3* db, const std::string& path, std::string_view sql);
    Stmt(sqlite3* db, const std::string& path, sqlite3_stmt* borrowed) : db_(db), path_(path), stmt_(borrowed), owned_(false) {}
    ~Stmt() {
        if (owned_) sqlite3_finalize(stmt_);
        else reset();
    }
    Stmt(const Stmt&) = delete;
    Stmt& operator=(const Stmt&) = delete;

    Stmt& bind(int i, std::int64_t v);
    Stmt& bind_text(int i, std::string_view v);
    Stmt& bind_opt_text(int i, std::string_view v);      // empty text is stored as NULL
    Stmt& bind_blob(int i, std::string_view v);          // empty blob is stored as NULL
    Stmt& bind_null(int i);
    // Steps once: true while there is a row to read, false when done. Throws on error.
    bool step();
    // Runs to completion (for statements that return nothing of interest).
    void run();
    void reset();

    bool is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
    std::int64_t int64(int col) const { return sqlite3_column_int64(stmt_, col); }
    std::string text(int col) const;
    std::string blob(int col) const;

private:
    sqlite3* db_;
    const std::string& path_;
    sqlite3_stmt* stmt_ = nullptr;
    bool owned_ = true;
};

// Runs SQL without results (several statements allowed). Throws IndexError.
void exec(sqlite3* db, const std::string& path, std::string_view sql);

// BEGIN IMMEDIATE on construction (takes the write lock at once, so a busy index fails
// here, within the busy timeout, rather than half-way through); ROLLBACK unless committed.
class Transaction {
public:
    Transaction(sqlite3* db, const std::string& path);
    ~Transaction();
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    void commit();

private:
    sqlite3* db_;
    const std::string& path_;
    bool done_ = false;
};

// Times are stored as Unix seconds (UTC); sub-second precision is dropped.
std::int64_t to_unix(std::chrono::system_clock::time_point t);
std::chrono::system_clock::time_point from_unix(std::int64_t s);

}  // namespace rm::dbdetail
