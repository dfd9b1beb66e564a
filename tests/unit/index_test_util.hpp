// What the tests ask the index beyond what the programs use: a row by id, whether a
// message is held, marking one digest destroyed, the raw database handle; and the suites
// that run on both backends (SQLite and PostgreSQL).
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "db/pg_index.hpp"
#include "db/sqlite.hpp"
#include "db/sqlite_index.hpp"
#include "pg_test_util.hpp"
#include "temp_dir.hpp"

namespace rm::test {

class TestIndex : public SqliteIndex {
public:
    using SqliteIndex::SqliteIndex;
    using SqliteIndex::mark_destroyed;

    static std::unique_ptr<TestIndex> open(const std::string& path, const Options& opts) {
        return std::make_unique<TestIndex>(path, opts);
    }

    using SqliteIndex::row;

    bool is_held(const Digest& digest) const { return !active_holds(digest).empty(); }

    // Marks every present row of the digest destroyed, with the time and the number of
    // copies destroyed. Returns how many rows changed.
    int mark_destroyed(const Digest& digest, std::chrono::system_clock::time_point when, int copies) {
        if (digest.empty()) return 0;
        dbdetail::Stmt s(handle(), path(),
                         "UPDATE messages SET state = 'destroyed', destroyed_at = ?1, copies = ?2 "
                         "WHERE digest = ?3 AND state = 'present'");
        s.bind(1, dbdetail::to_unix(when)).bind(2, copies).bind_blob(3, digest);
        s.run();
        return sqlite3_changes(handle());
    }

};

// The tests' PostgreSQL index: PgIndex with its row(id) made public.
class TestPgIndex : public PgIndex {
public:
    using PgIndex::PgIndex;
    using PgIndex::row;
};

enum class Backend { Sqlite, Postgresql };

inline std::string backend_name(const ::testing::TestParamInfo<Backend>& info) {
    return info.param == Backend::Sqlite ? "sqlite" : "postgresql";
}

// The backends a suite runs on.
inline auto all_backends() { return ::testing::Values(Backend::Sqlite, Backend::Postgresql); }

// Either backend's index, with what the tests ask beyond Index: a row by id, whether a
// message is held, marking one digest destroyed, a count by SQL (SQL both backends read
// alike). Everything else goes to the backend's own object.
class BackendIndex final : public Index {
public:
    static std::unique_ptr<BackendIndex> sqlite(const std::string& path, const Options& opts) {
        auto own = TestIndex::open(path, opts);
        auto* sqlite = own.get();
        return std::unique_ptr<BackendIndex>(new BackendIndex(std::move(own), sqlite, nullptr));
    }
    static std::unique_ptr<BackendIndex> postgresql(const std::string& conninfo, const Options& opts) {
        auto own = std::make_unique<TestPgIndex>(conninfo, opts);
        auto* pg = own.get();
        return std::unique_ptr<BackendIndex>(new BackendIndex(std::move(own), nullptr, pg));
    }

    std::optional<MessageRow> row(std::int64_t id) const {
        if (pg_ != nullptr) return pg_->row(id);
        return sqlite_->row(id);
    }
    bool is_held(const Digest& digest) const { return !active_holds(digest).empty(); }

    // Marks every present row of the digest destroyed, with the time and the number of
    // copies destroyed. Returns how many rows changed.
    using Index::mark_destroyed;
    int mark_destroyed(const Digest& digest, std::chrono::system_clock::time_point when, int copies) {
        if (digest.empty()) return 0;
        std::vector<DestroyedRow> batch;
        for (const MessageRow& r : rows_for(digest))
            if (r.state == RowState::Present) batch.push_back({r.id, copies});
        in_->mark_destroyed(batch, when);
        return static_cast<int>(batch.size());
    }

    // The number a query like "SELECT count(*) FROM messages WHERE ..." returns.
    std::int64_t count(const std::string& sql = "SELECT count(*) FROM messages") const {
        if (pg_ != nullptr) return pg_count(pg_->handle(), sql);
        sqlite3_stmt* s = nullptr;
        EXPECT_EQ(sqlite3_prepare_v2(sqlite_->handle(), sql.c_str(), -1, &s, nullptr), SQLITE_OK)
            << sql << ": " << sqlite3_errmsg(sqlite_->handle());
        std::int64_t n = -1;
        if (sqlite3_step(s) == SQLITE_ROW) n = sqlite3_column_int64(s, 0);
        sqlite3_finalize(s);
        return n;
    }

    // The first column of every row of a query, as text.
    std::vector<std::string> strings(const std::string& sql) const {
        std::vector<std::string> out;
        if (pg_ != nullptr) {
            std::unique_ptr<PGresult, decltype(&PQclear)> r(PQexec(pg_->handle(), sql.c_str()), &PQclear);
            EXPECT_EQ(PQresultStatus(r.get()), PGRES_TUPLES_OK) << sql << ": " << PQerrorMessage(pg_->handle());
            for (int i = 0; i < PQntuples(r.get()); ++i) out.emplace_back(PQgetvalue(r.get(), i, 0));
            return out;
        }
        sqlite3_stmt* s = nullptr;
        EXPECT_EQ(sqlite3_prepare_v2(sqlite_->handle(), sql.c_str(), -1, &s, nullptr), SQLITE_OK)
            << sql << ": " << sqlite3_errmsg(sqlite_->handle());
        while (sqlite3_step(s) == SQLITE_ROW) out.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(s, 0)));
        sqlite3_finalize(s);
        return out;
    }

    bool is_sqlite() const { return sqlite_ != nullptr; }

    int schema_version() const override { return in_->schema_version(); }
    const std::string& path() const override { return in_->path(); }
    std::vector<std::int64_t> insert(const std::vector<MessageRow>& rows) override { return in_->insert(rows); }
    int insert_journalled(const std::vector<JournalledRow>& rows) override { return in_->insert_journalled(rows); }
    std::vector<MessageRow> rows_for(const Digest& digest) const override { return in_->rows_for(digest); }
    std::vector<MessageRow> rows_for_record(const Digest& record) const override { return in_->rows_for_record(record); }
    std::vector<MessageRow> expired(Date today) const override { return in_->expired(today); }
    std::int64_t hold(const Digest& digest, const std::string& reason, const std::string& ref, const std::string& user,
                      std::chrono::system_clock::time_point now) override {
        return in_->hold(digest, reason, ref, user, now);
    }
    FolderHold hold_from_folder(const Digest& digest, const std::string& reason, const std::string& placed_by,
                                std::chrono::system_clock::time_point now) override {
        return in_->hold_from_folder(digest, reason, placed_by, now);
    }
    int release(const Digest& digest, const std::string& user, std::chrono::system_clock::time_point now,
                std::optional<HoldKind> kind = std::nullopt) override {
        return in_->release(digest, user, now, kind);
    }
    std::vector<Hold> active_holds(const Digest& digest) const override { return in_->active_holds(digest); }
    std::vector<Hold> holds_for(const Digest& digest) const override { return in_->holds_for(digest); }
    std::vector<Digest> held_digests() const override { return in_->held_digests(); }
    std::vector<Digest> folder_held_digests() const override { return in_->folder_held_digests(); }
    std::vector<HeldMessage> holds_in_force() const override { return in_->holds_in_force(); }
    SweepLockAttempt try_lock_sweep() override { return in_->try_lock_sweep(); }
    std::vector<Digest> mark_destroyed(const std::vector<DestroyedRow>& batch, std::chrono::system_clock::time_point when,
                                       Unless unless = Unless::Nothing) override {
        return in_->mark_destroyed(batch, when, unless);
    }
    std::vector<bool> claim(const std::vector<Claim>& claims, std::chrono::system_clock::time_point when) override {
        return in_->claim(claims, when);
    }
    int release_claims() override { return in_->release_claims(); }
    std::optional<FileKeys> known_file(const std::string& file_key) const override { return in_->known_file(file_key); }
    void remember_files(const std::vector<KnownFile>& files, Date today) override { in_->remember_files(files, today); }
    int forget_files_before(Date cutoff) override { return in_->forget_files_before(cutoff); }
    std::optional<Date> file_first_seen(const std::string& file_key) const override {
        return in_->file_first_seen(file_key);
    }
    void note_files_seen(const std::vector<std::string>& file_keys, Date today) override {
        in_->note_files_seen(file_keys, today);
    }
    void forget_files_seen(const std::vector<std::string>& file_keys) override { in_->forget_files_seen(file_keys); }
    int forget_files_seen_before(Date cutoff) override { return in_->forget_files_seen_before(cutoff); }
    int erase_old_digests(std::chrono::system_clock::time_point cutoff) override {
        return in_->erase_old_digests(cutoff);
    }
    Receipt add_receipt(Receipt r, const std::vector<Digest>& destroyed) override {
        return in_->add_receipt(std::move(r), destroyed);
    }
    std::optional<Receipt> last_receipt() const override { return in_->last_receipt(); }
    std::optional<Receipt> last_successful_receipt() const override { return in_->last_successful_receipt(); }
    std::vector<Receipt> recent_receipts(int n) const override { return in_->recent_receipts(n); }
    ReportCounts report(Date today) const override { return in_->report(today); }
    std::optional<std::string> get_meta(const std::string& key) const override { return in_->get_meta(key); }
    void set_meta(const std::string& key, const std::string& value) override { in_->set_meta(key, value); }
    std::optional<bool> key_matches(const DigestKey& key) const override { return in_->key_matches(key); }
    void remember_key(const DigestKey& key) override { in_->remember_key(key); }
    std::unique_ptr<Snapshot> begin_reads() const override { return in_->begin_reads(); }

private:
    BackendIndex(std::unique_ptr<Index> in, TestIndex* sqlite, TestPgIndex* pg) : in_(std::move(in)), sqlite_(sqlite), pg_(pg) {}

    std::unique_ptr<Index> in_;
    TestIndex* sqlite_ = nullptr;
    TestPgIndex* pg_ = nullptr;
};

// A suite run on each backend: a fresh SQLite file in a fresh folder, or a fresh
// PostgreSQL database on the tests' server. The folder is there for either (the pending
// journal's files).
class BackendTest : public ::testing::TestWithParam<Backend> {
protected:
    void SetUp() override {
        dir_ = tmp_.path().string();
        path_ = dir_ + "/index.sqlite3";
        if (GetParam() == Backend::Postgresql) db_ = std::make_unique<PgDatabase>();
    }

    bool sqlite() const { return GetParam() == Backend::Sqlite; }

    // The index (made with `create`); `host_id` as for Index::Options.
    std::unique_ptr<BackendIndex> open(bool create = true, int busy_ms = 5000, bool read_only = false,
                                       const std::string& host_id = {}) const {
        const Index::Options opts{
            .create = create, .upgrade = create, .read_only = read_only, .busy_timeout_ms = busy_ms, .host_id = host_id};
        if (db_) return BackendIndex::postgresql(db_->conninfo(), opts);
        return BackendIndex::sqlite(path_, opts);
    }

    TempDir tmp_{"rm-index"};
    std::string dir_;
    std::string path_;  // the SQLite file (on either backend: the pending journal's files go beside it)
    std::unique_ptr<PgDatabase> db_;
};

// A fresh folder for an index ("index.sqlite3" in it), removed after the test.
class IndexDirTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = tmp_.path().string();
        path_ = dir_ + "/index.sqlite3";
    }

    std::unique_ptr<TestIndex> open(bool create = true, int busy_ms = 5000, bool read_only = false) {
        return TestIndex::open(path_, {.create = create, .read_only = read_only, .busy_timeout_ms = busy_ms});
    }

    TempDir tmp_{"rm-index"};
    std::string dir_;
    std::string path_;
};

// The whole file, or "" when it does not exist.
inline std::string slurp(const std::string& p) {
    std::string out;
    const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return out;
    char buf[65536];
    ssize_t n = 0;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
    ::close(fd);
    return out;
}

inline mode_t mode_of(const std::string& p) {
    struct stat st {};
    EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
    return st.st_mode & 07777;
}

}  // namespace rm::test
