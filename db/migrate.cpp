// Moving an index to PostgreSQL: what is copied, and the checks before it commits.
#include "db/migrate.hpp"

#include <algorithm>

#include "db/pg_index.hpp"
#include "db/pg_roles.hpp"
#include "db/sqlite_index.hpp"

namespace rm {

namespace {

using K = CopiedTable::Kind;

std::vector<CopiedTable> make_tables() {
    return {
        {"messages",
         {{"id", K::Integer},
          {"digest", K::Bytes},
          {"queue_id", K::Text},
          {"lines", K::Text},
          {"direction", K::Text},
          {"policy", K::Text},
          {"passed_on", K::Text},
          {"retain_until", K::Text},
          {"state", K::Text},
          {"destroyed_at", K::Integer},
          {"copies", K::Integer},
          {"erased_at", K::Integer},
          {"journal_token", K::Text},
          {"record", K::Bytes},
          {"claimed_at", K::Integer}},
         true},
        {"holds",
         {{"id", K::Integer},
          {"digest", K::Bytes},
          {"reason", K::Text},
          {"ref", K::Text},
          {"placed_at", K::Integer},
          {"placed_by", K::Text},
          {"released_at", K::Integer},
          {"released_by", K::Text},
          {"kind", K::Text}},
         true},
        {"receipts",
         {{"id", K::Integer},
          {"run_at", K::Integer},
          {"counts_json", K::Text},
          {"destroyed", K::Integer},
          {"chain", K::Text},
          {"exit_code", K::Integer}},
         true},
        {"meta", {{"key", K::Text}, {"value", K::Text}}, false},
        {"files_seen",
         {{"host", K::Bytes}, {"file_key", K::Bytes}, {"first_seen", K::Text}, {"last_seen", K::Text}},
         false},
    };
}

// The last receipt's chain: each receipt's chain covers the one before it, so equal rows in
// the same id order end in the same hash.
std::string last_chain(const std::vector<StoredRow>& receipts) {
    if (receipts.empty()) return {};
    return receipts.back()[4].value_or("");
}

void refuse_unless_empty(const PgIndex& target, const std::vector<StoredRow>& source_meta) {
    for (const CopiedTable& t : copied_tables()) {
        for (const StoredRow& row : target.stored_rows(t)) {
            // An index made by upgrade-index with this key holds nothing but its fingerprint.
            if (t.name == "meta" && std::find(source_meta.begin(), source_meta.end(), row) != source_meta.end()) continue;
            throw IndexError("the database " + target.path() + " already holds an index (its table " +
                             std::string(t.name) + " has rows): migrate-index copies into an empty index only");
        }
    }
}

}  // namespace

std::string column_list(const CopiedTable& t) {
    std::string cols;
    for (const auto& c : t.columns) cols += (cols.empty() ? "" : ", ") + std::string(c.name);
    return cols;
}

const std::vector<CopiedTable>& copied_tables() {
    static const std::vector<CopiedTable> tables = make_tables();
    return tables;
}

IndexMigration migrate_index_to_postgresql(const IndexSection& c) {
    SqliteIndex source(c.path, {.read_only = true, .busy_timeout_ms = 30000, .host_id = c.host_id});
    std::vector<std::vector<StoredRow>> rows;
    {
        const Index::ReadScope snapshot(source);
        for (const CopiedTable& t : copied_tables()) rows.push_back(source.stored_rows(t));
    }
    PgIndex target(c.conninfo, {.create = true, .upgrade = true, .busy_timeout_ms = 30000, .host_id = c.host_id});
    IndexMigration m{source.path(), target.path(), {}, {}, {}};
    const auto& tables = copied_tables();
    target.in_exclusive_transaction([&] {
        refuse_unless_empty(target, rows[3]);
        for (std::size_t i = 0; i < tables.size(); ++i) target.insert_stored(tables[i], rows[i]);
        for (std::size_t i = 0; i < tables.size(); ++i) {
            if (target.stored_rows(tables[i]) != rows[i]) {
                throw IndexError("the copy of the table " + std::string(tables[i].name) + " in " + target.path() +
                                 " differs from the original: nothing was copied");
            }
            m.counts.emplace_back(tables[i].name, static_cast<std::int64_t>(rows[i].size()));
        }
        const auto copied = target.last_receipt();
        if ((copied ? copied->chain_hex : std::string()) != last_chain(rows[2]))
            throw IndexError("the receipt chain copied to " + target.path() + " does not end where the original does");
    });
    m.last_chain = last_chain(rows[2]);
    m.left_to_admin = grant_program_roles(c.conninfo);
    return m;
}

}  // namespace rm
