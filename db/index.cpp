// Opening the index: the backend behind Index, and the key checked against it.
#include "db/index.hpp"

#include <sys/stat.h>

#include <cerrno>

#include "core/fs.hpp"

#include "db/pg_index.hpp"
#include "db/pg_roles.hpp"
#include "db/sqlite_index.hpp"

namespace rm {

namespace {

bool key_file_exists(const std::string& path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0) return true;
    if (errno == ENOENT) return false;
    throw IndexError("cannot check whether " + path + " exists: " + errno_text(errno));
}

std::string mismatch(const IndexSection& c, const Index& index) {
    return "the key " + c.key_file + " is not the key the index " + index.path() + " was made with";
}

// With another key no copy would match its rows, and no lookup would find one.
CheckedIndex checked(DigestKey key, std::unique_ptr<Index> index, const IndexSection& c) {
    if (index->key_matches(key) == false) throw KeyMismatch(mismatch(c, *index));
    return CheckedIndex{std::move(key), std::move(index)};
}

}  // namespace

Index::RowsByKey Index::rows_for_each(const std::vector<Digest>& digests) const {
    RowsByKey out;
    for (const Digest& d : digests) {
        if (out.contains(d)) continue;
        if (auto rows = rows_for(d); !rows.empty()) out.emplace(d, std::move(rows));
    }
    return out;
}

Index::RowsByKey Index::rows_for_each_record(const std::vector<Digest>& records) const {
    RowsByKey out;
    for (const Digest& r : records) {
        if (out.contains(r)) continue;
        if (auto rows = rows_for_record(r); !rows.empty()) out.emplace(r, std::move(rows));
    }
    return out;
}

Index::KnownFiles Index::known_files(const std::vector<std::string>& file_keys) const {
    KnownFiles out;
    for (const std::string& k : file_keys) {
        if (out.contains(k)) continue;
        if (auto keys = known_file(k)) out.emplace(k, std::move(*keys));
    }
    return out;
}

std::unique_ptr<Index> Index::open(const std::string& path, const Options& opts) {
    return std::make_unique<SqliteIndex>(path, opts);
}

std::unique_ptr<Index> Index::open(const IndexSection& c, const Options& opts) {
    switch (c.backend) {
        case IndexBackend::Postgresql: {
            Index::Options o = opts;
            if (o.keepalives_idle_s == 0) o.keepalives_idle_s = c.keepalives_idle;
            if (o.keepalives_interval_s == 0) o.keepalives_interval_s = c.keepalives_interval;
            if (o.keepalives_count == 0) o.keepalives_count = c.keepalives_count;
            if (o.tcp_user_timeout_ms == 0) o.tcp_user_timeout_ms = c.tcp_user_timeout;
            return std::make_unique<PgIndex>(c.conninfo, o);
        }
        case IndexBackend::Sqlite:
            break;
    }
    return std::make_unique<SqliteIndex>(c.path, opts);
}

std::string key_mismatch_remedy(const IndexSection& c) {
    if (c.backend == IndexBackend::Postgresql)
        return "copy the key file from the first host of this index (every host of an index uses the same key), "
               "or restore it from the backup made with the index";
    return "restore the right key from the backup made with the index";
}

void require_index(const IndexSection& c) {
    if (c.backend != IndexBackend::Sqlite) return;  // the server says when it holds none
    struct stat st {};
    if (::stat(c.path.c_str(), &st) != 0)
        throw IndexError("there is no index at " + c.path +
                         " yet: the milter creates it when it first starts (is retention-milter running? "
                         "retentionctl check says what is missing)");
}

namespace {

std::string missing_key_file(const IndexSection& c, const Index& index) {
    if (index.get_meta(kKeyFingerprintMeta)) {
        return "the index " + index.path() + " exists but this host's key file " + c.key_file +
               " is missing; copy the key from another host of this index or restore it from backup "
               "\xe2\x80\x94 a new key would orphan every row";
    }
    return "there is no key file " + c.key_file + " for the index " + index.path() +
           "; copy the key from the first host of this index, or, for a new empty database, run "
           "`retentionctl upgrade-index` as the admin (it makes the key)";
}

}  // namespace

CheckedIndex open_index_checked(const IndexSection& c, const Index::Options& opts, bool may_create_key) {
    Index::Options o = opts;
    if (o.host_id.empty()) o.host_id = c.host_id;
    if (c.backend == IndexBackend::Sqlite) {
        DigestKey key = DigestKey::load_or_create(c.key_file, c.path, may_create_key);
        return checked(std::move(key), Index::open(c, o), c);
    }
    // A database has no file beside the key, and several hosts share it: its key is made
    // once, by the admin's upgrade-index, and copied to each host.
    std::unique_ptr<Index> index = Index::open(c, o);
    if (!key_file_exists(c.key_file)) throw IndexError(missing_key_file(c, *index));
    DigestKey key = DigestKey::load_or_create(c.key_file, c.path, false);
    return checked(std::move(key), std::move(index), c);
}

namespace {

bool holds_nothing(const Index& index) {
    return index.report(utc_date(std::chrono::system_clock::now())).buckets.empty() && !index.last_receipt();
}

// A shared index's key: the key file when there is one, else a new key, but only for an
// index that holds nothing yet (made now, or made by an upgrade that stopped before the key).
IndexUpgrade::Key shared_index_key(const IndexSection& c, Index& index, bool made) {
    if (key_file_exists(c.key_file)) {
        DigestKey key = DigestKey::load_or_create(c.key_file, c.path, false);
        if (const auto matches = index.key_matches(key)) {
            if (!*matches) throw KeyMismatch(mismatch(c, index));
            return IndexUpgrade::Key::Checked;
        }
        index.remember_key(key);
        return IndexUpgrade::Key::Recorded;
    }
    if (index.get_meta(kKeyFingerprintMeta)) throw IndexError(missing_key_file(c, index));
    if (!made && !holds_nothing(index)) {
        throw IndexError("the index " + index.path() + " holds messages but records no key, and there is no key file " +
                         c.key_file + ": copy the key from a host that uses this index \xe2\x80\x94 a new key would "
                         "orphan every row");
    }
    index.remember_key(DigestKey::create(c.key_file));
    return IndexUpgrade::Key::Made;
}

}  // namespace

IndexUpgrade upgrade_index(const IndexSection& c) {
    const Index::Options o{.create = true, .upgrade = true, .busy_timeout_ms = 30000, .host_id = c.host_id};
    IndexUpgrade u;
    std::unique_ptr<Index> index;
    if (c.backend == IndexBackend::Sqlite) {
        const bool had_key = key_file_exists(c.key_file);
        CheckedIndex opened = open_index_checked(c, o, true);
        const bool recorded = opened.index->key_matches(opened.key).has_value();
        opened.index->remember_key(opened.key);
        index = std::move(opened.index);
        u.key = !had_key ? IndexUpgrade::Key::Made : recorded ? IndexUpgrade::Key::Checked : IndexUpgrade::Key::Recorded;
    } else {
        index = Index::open(c, o);
        u.key = shared_index_key(c, *index, index->found_version() == 0);
        u.left_to_admin = grant_program_roles(c.conninfo);
    }
    u.index = index->path();
    u.from = index->found_version();
    u.to = index->schema_version();
    return u;
}

std::string folder_hold_label(const std::string& folder, const std::string& line) {
    return "folder " + folder + " of the " + line + " mailbox";
}

std::string_view hold_kind_name(HoldKind kind) { return kind == HoldKind::Folder ? "folder" : "admin"; }

}  // namespace rm
