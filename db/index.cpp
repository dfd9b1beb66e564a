// Opening the index: the backend behind Index, and the key checked against it.
#include "db/index.hpp"

#include <sys/stat.h>

#include <cerrno>

#include "core/fs.hpp"

#include "db/pg_index.hpp"
#include "db/sqlite_index.hpp"

namespace rm {

namespace {

bool key_file_exists(const std::string& path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0) return true;
    if (errno == ENOENT) return false;
    throw IndexError("cannot check whether " + path + " exists: " + errno_text(errno));
}

// With another key no copy would match its rows, and no lookup would find one.
CheckedIndex checked(DigestKey key, std::unique_ptr<Index> index, const IndexSection& c) {
    if (index->key_matches(key) == false)
        throw KeyMismatch("the key " + c.key_file + " is not the key the index " + index->path() + " was made with");
    return CheckedIndex{std::move(key), std::move(index)};
}

}  // namespace

std::unique_ptr<Index> Index::open(const std::string& path, const Options& opts) {
    return std::make_unique<SqliteIndex>(path, opts);
}

std::unique_ptr<Index> Index::open(const IndexSection& c, const Options& opts) {
    switch (c.backend) {
        case IndexBackend::Postgresql:
            return std::make_unique<PgIndex>(c.conninfo, opts);
        case IndexBackend::Sqlite:
            break;
    }
    return std::make_unique<SqliteIndex>(c.path, opts);
}

void require_index(const IndexSection& c) {
    if (c.backend != IndexBackend::Sqlite) return;  // the server says when it holds none
    struct stat st {};
    if (::stat(c.path.c_str(), &st) != 0)
        throw IndexError("there is no index at " + c.path +
                         " yet: the milter creates it when it first starts (is retention-milter running? "
                         "retentionctl check says what is missing)");
}

CheckedIndex open_index_checked(const IndexSection& c, const Index::Options& opts, bool may_create_key) {
    Index::Options o = opts;
    if (o.host_id.empty()) o.host_id = c.host_id;
    if (c.backend == IndexBackend::Sqlite) {
        DigestKey key = DigestKey::load_or_create(c.key_file, c.path, may_create_key);
        return checked(std::move(key), Index::open(c, o), c);
    }
    // A database has no file beside the key: ask it whether it was made with a key already,
    // so that a host that lost its key file is not given a new one.
    std::unique_ptr<Index> index = Index::open(c, o);
    if (!key_file_exists(c.key_file)) {
        if (index->get_meta(kKeyFingerprintMeta)) {
            throw IndexError("the index " + index->path() + " exists but this host's key file " + c.key_file +
                             " is missing; copy the key from another host of this index or restore it from backup "
                             "\xe2\x80\x94 a new key would orphan every row");
        }
        if (!may_create_key) {
            throw IndexError("there is no key file " + c.key_file + "; the key is made when retention-milter first "
                             "starts with the index " + index->path() + " (or copy it from another host of this index)");
        }
    }
    DigestKey key = DigestKey::load_or_create(c.key_file, c.path, may_create_key);
    return checked(std::move(key), std::move(index), c);
}

}  // namespace rm
