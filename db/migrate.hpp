// Moving an index from one host's SQLite file to a PostgreSQL database several hosts
// share: every row the index holds, copied as stored (ids too: holds and receipts are
// tied to rows by digest, and each receipt's chain to the one before it by id order),
// then compared with the original before the copy commits.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/config.hpp"

namespace rm {

// A table of the index as copied: its columns, and what each holds.
struct CopiedTable {
    enum class Kind { Integer, Text, Bytes };
    struct Column {
        std::string_view name;
        Kind kind;
    };
    std::string_view name;
    std::vector<Column> columns;
    bool numbered = false;  // its `id` is numbered by the index: the copy keeps the numbers
};

// "a, b, c": the table's columns, for a SELECT or an INSERT.
std::string column_list(const CopiedTable& table);

// One value as stored: NULL, or its text (an integer in decimal, bytes as they are).
using StoredValue = std::optional<std::string>;
using StoredRow = std::vector<StoredValue>;

// The tables that belong to the index: messages, holds, receipts, meta (the key's
// fingerprint, the sweeper's state) and files_seen (when each [[sweep.files]] file
// arrived). Not the scan cache: it only saves reading files again.
const std::vector<CopiedTable>& copied_tables();

struct IndexMigration {
    std::string source, target;                                // the two indexes, for messages
    std::vector<std::pair<std::string, std::int64_t>> counts;  // rows copied, per table
    std::string last_chain;                                    // the last receipt's chain, both sides
    std::vector<std::string> left_to_admin;                    // as IndexUpgrade's
};

// retentionctl migrate-index --to postgresql: copies the SQLite index at [index] path into
// the PostgreSQL database of [index] conninfo (making its schema when it has none), in one
// transaction, refusing a database that already holds an index with rows. Throws
// IndexError; then nothing was written.
IndexMigration migrate_index_to_postgresql(const IndexSection& c);

}  // namespace rm
