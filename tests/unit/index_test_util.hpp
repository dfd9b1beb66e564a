// What the tests ask the SQLite index beyond what the programs use: a row by id, whether
// a message is held, marking one digest destroyed, the raw database handle.
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

#include "db/sqlite.hpp"
#include "db/sqlite_index.hpp"
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

    bool is_held(const Digest& digest) const { return active_hold(digest).has_value(); }

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
