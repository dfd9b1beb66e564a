// Opening the index: the backend behind Index, and the key checked against it.
#include "db/index.hpp"

#include "db/sqlite_index.hpp"

namespace rm {

std::unique_ptr<Index> Index::open(const std::string& path, const Options& opts) {
    return std::make_unique<SqliteIndex>(path, opts);
}

CheckedIndex open_index_checked(const IndexSection& c, const Index::Options& opts, bool may_create_key) {
    DigestKey key = DigestKey::load_or_create(c.key_file, c.path, may_create_key);
    Index::Options o = opts;
    if (o.host_id.empty()) o.host_id = c.host_id;
    std::unique_ptr<Index> index = Index::open(c.path, o);
    // With another key no copy would match its rows, and no lookup would find one.
    if (index->key_matches(key) == false)
        throw KeyMismatch("the key " + c.key_file + " is not the key the index " + c.path + " was made with");
    return CheckedIndex{std::move(key), std::move(index)};
}

}  // namespace rm
