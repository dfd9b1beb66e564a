// What the tests ask the SQLite index beyond what the programs use: a row by id, whether
// a message is held, marking one digest destroyed, the raw database handle.
#pragma once

#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "db/sqlite.hpp"
#include "db/sqlite_index.hpp"

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

}  // namespace rm::test
