#include "sweeper/plan.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <glob.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <spdlog/spdlog.h>
#include <system_error>
#include <unordered_set>

#include "core/headers.hpp"
#include "core/maildir.hpp"
#include "core/plan.hpp"
#include "core/strings.hpp"
#include "sweeper/sweep.hpp"

namespace rm::sweep {

std::string marker_name(const std::string& name) {
    std::string m = std::string(kMarkerPrefix) + name;
    // NAME_MAX is 255 bytes; the marker only has to be ours and unique within the folder.
    if (m.size() > 255) m.resize(255);
    return m;
}

std::string OwnFiles::tmp_key(const DigestKey& key, std::string_view name) {
    return to_hex(key.file_hash(name).substr(0, 8));
}

void OwnFiles::merge(const std::optional<std::string>& record) {
    if (!record || record->empty()) return;
    const auto j = nlohmann::json::parse(*record, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("own") || !j["own"].is_object()) return;
    const auto& own = j["own"];
    for (const auto& i : own.value("inodes", nlohmann::json::array())) {
        if (i.is_array() && i.size() == 2 && i[0].is_number_unsigned() && i[1].is_number_unsigned())
            inodes.insert({i[0].get<dev_t>(), i[1].get<ino_t>()});
    }
    for (const auto& t : own.value("tmp", nlohmann::json::array()))
        if (t.is_string()) tmp_names.insert(t.get<std::string>());
}

std::string OwnFiles::to_json() const {
    nlohmann::json j = {{"inodes", nlohmann::json::array()}, {"tmp", tmp_names}};
    for (const auto& [dev, ino] : inodes) j["inodes"].push_back({dev, ino});
    return j.dump();
}

std::string FileRef::dir() const {
    if (folder.empty()) return sub;
    if (sub.empty()) return folder;
    return folder + "/" + sub;
}

void FileRef::take(const struct stat& st) {
    dev = st.st_dev;
    ino = st.st_ino;
    nlink = st.st_nlink;
    size = st.st_size;
    mtime = st.st_mtim;
}

bool FileRef::same_file(const struct stat& st) const {
    return S_ISREG(st.st_mode) && st.st_dev == dev && st.st_ino == ino && st.st_size == size &&
           st.st_mtim.tv_sec == mtime.tv_sec && st.st_mtim.tv_nsec == mtime.tv_nsec;
}

std::string sent_folder_of(int rootfd, const SweepMailbox& entry) {
    for (const auto& name : entry.sent_folders) {
        const std::string dir = folder_dir_for(name);
        struct stat st {};
        if (!dir.empty() && ::fstatat(rootfd, dir.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
            return dir;
    }
    const std::string first = entry.sent_folders.empty() ? "" : folder_dir_for(entry.sent_folders.front());
    return first.empty() ? ".Sent" : first;
}

Index::FileKeys match_keys(const std::vector<HeaderField>& fields, const DigestKey& key) {
    Index::FileKeys keys;
    for (const std::string_view value : field_values(fields, kHdrRecord)) {
        if (auto token = record_token_of(up_to_nul(value))) {
            keys.record = key.record_digest(*token);
            break;
        }
    }
    const std::string id = indexed_message_id(field_values(fields, "Message-ID"));
    if (!id.empty()) keys.digest = key.digest(id);
    return keys;
}

namespace {

using std::chrono::system_clock;

enum class Scope { Shared, PersonalSent, PersonalDeleted };

// The rows a copy without a record token of ours can be a copy of, among those that share
// its Message-ID. In a staff member's own folders: only mail the helpline sent (outbound or
// internal), which no outsider can make, so an outsider who reuses the Message-ID of a
// staff member's private mail cannot make that mail ours. Elsewhere: not inbound mail that
// was stamped (every copy of it delivered carries its token), unless nothing else is left
// (a copy that lost its header); so a sender reusing a reply's Message-ID cannot postpone
// the reply.
std::vector<MessageRow> rows_of_unstamped_copy(std::vector<MessageRow> rows, Scope scope) {
    const auto drop = [&](auto pred) {
        std::vector<MessageRow> kept;
        for (auto& r : rows)
            if (!pred(r)) kept.push_back(std::move(r));
        return kept;
    };
    if (scope != Scope::Shared)
        return drop([](const MessageRow& r) { return r.direction != "outbound" && r.direction != "internal"; });
    auto unstamped = drop([](const MessageRow& r) { return r.direction == "inbound" && !r.record.empty(); });
    return unstamped.empty() ? rows : unstamped;
}

bool has_glob(std::string_view p) { return p.find_first_of("*?[") != std::string_view::npos; }

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

// glob(3) reports a folder it cannot read through its error callback only, then goes on
// and may return "no match": the callback keeps the errors for expand_mailboxes. A missing
// folder is no error: a staff domain with nobody in it yet.
thread_local std::vector<int>* glob_errors = nullptr;

int note_glob_error(const char*, int err) {
    if (glob_errors && err != ENOENT) glob_errors->push_back(err);
    return 0;
}

// The folder a glob's matches live in: its components before the first with a wildcard.
std::string glob_parent(const std::string& pattern) {
    std::vector<std::string> fixed;
    for (const auto& c : split(pattern, '/')) {
        if (has_glob(c)) break;
        fixed.push_back(c);
    }
    const std::string p = join(fixed, "/");
    return p.empty() ? std::string("/") : p;
}

// {name} in `user`: the path component that the pattern's first wildcard matched.
std::string glob_name(const std::string& pattern, const std::string& match) {
    const auto pc = split(pattern, '/');
    const auto mc = split(match, '/');
    for (size_t i = 0; i < pc.size() && i < mc.size(); ++i) {
        if (has_glob(pc[i])) return mc[i];
    }
    return mc.empty() ? match : mc.back();
}

std::string replace_all(std::string s, std::string_view what, std::string_view with) {
    for (size_t pos = 0; (pos = s.find(what, pos)) != std::string::npos; pos += with.size())
        s.replace(pos, what.size(), with);
    return s;
}

// The date a time stamp in seconds falls on, or nothing for an absurd one (a Maildir
// name can start with any digits).
std::optional<Date> date_of_seconds(std::int64_t t) {
    if (t < 0 || t > 253402300799) return std::nullopt;  // 9999-12-31
    return utc_date(system_clock::time_point(std::chrono::seconds(t)));
}

// What the index rows of one message say, merged.
struct RowFacts {
    std::vector<std::string> tags;  // every line, in config order
    const MessageRow* latest = nullptr;  // the row with the latest retention date
    bool due = true;  // every row's date is on or before today
};

// What the scan cache knows a file by (see ScanCache): its inode number, big-endian so
// that a folder's files (neighbours on ext4) sort together, then 8 bytes of its whole
// identity hashed with the key.
std::string file_key(const DigestKey& key, const struct stat& st) {
    const std::array<std::int64_t, 7> parts = {
        static_cast<std::int64_t>(st.st_dev),  static_cast<std::int64_t>(st.st_ino),
        static_cast<std::int64_t>(st.st_size), st.st_mtim.tv_sec,
        st.st_mtim.tv_nsec,                     st.st_ctim.tv_sec,
        st.st_ctim.tv_nsec};
    std::string out(8, '\0');
    auto ino = static_cast<std::uint64_t>(st.st_ino);
    for (int i = 7; i >= 0; --i, ino >>= 8) out[static_cast<size_t>(i)] = static_cast<char>(ino & 0xff);
    out += key.file_hash(std::string_view(reinterpret_cast<const char*>(parts.data()), sizeof parts)).substr(0, 8);
    return out;
}

}  // namespace

std::string files_seen_key(const DigestKey& key, const FileRef& f) {
    const std::array<std::int64_t, 5> parts = {static_cast<std::int64_t>(f.dev), static_cast<std::int64_t>(f.ino),
                                               static_cast<std::int64_t>(f.size), f.mtime.tv_sec, f.mtime.tv_nsec};
    std::string identity("files_seen", 10);
    identity.push_back('\0');
    identity.append(reinterpret_cast<const char*>(parts.data()), sizeof parts);
    std::string out(8, '\0');
    auto ino = static_cast<std::uint64_t>(f.ino);
    for (int i = 7; i >= 0; --i, ino >>= 8) out[static_cast<size_t>(i)] = static_cast<char>(ino & 0xff);
    return out + key.file_hash(identity).substr(0, 8);
}

namespace {

// The file's birth time, where the file system records one.
std::optional<std::int64_t> birth_time(int fd) {
    struct statx sx {};
    if (::statx(fd, "", AT_EMPTY_PATH | AT_STATX_SYNC_AS_STAT, STATX_BTIME, &sx) != 0) return std::nullopt;
    if (!(sx.stx_mask & STATX_BTIME)) return std::nullopt;
    return sx.stx_btime.tv_sec;
}

class Planner {
public:
    Planner(const Config& c, const Index& index, const DigestKey& key, Date today, Summary& s, ScanCache cache)
        : c_(c), index_(index), key_(key), today_(today), s_(s), cache_(cache),
          settled_before_ns_(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                 (system_clock::now() - cache.settle).time_since_epoch())
                                 .count()),
          writable_(cache.learn_into) {}

    Plan run() {
        // A killed run's record, and what finished runs could not remove.
        own_.merge(index_.get_meta(kMetaInProgress));
        own_.merge(index_.get_meta(kMetaLeftovers));
        if (const auto since = index_.get_meta(kMetaFilesSeenSince)) files_seen_since_ = parse_date(*since);
        load_expired();
        load_holds();
        expand_mailboxes();
        // Shared mailboxes first: moves from personal Sent folders need to know that
        // their destination could be read.
        for (size_t r = 0; r < plan_.roots.size(); ++r)
            if (plan_.roots[r].kind == MailboxKind::Shared) scan_root(r);
        for (size_t r = 0; r < plan_.roots.size(); ++r)
            if (plan_.roots[r].kind == MailboxKind::Personal) scan_root(r);
        for (const auto& f : c_.sweep.files) scan_files_entry(f);
        warn_about_open_files();
        find_unseen();
        reads_.reset();
        learn_and_forget();
        note_files_seen();
        warn_about_orphans();
        return std::move(plan_);
    }

private:
    const Config& c_;
    const Index& index_;
    const DigestKey& key_;
    Date today_;
    Summary& s_;
    Plan plan_;
    struct Expired {
        Digest digest;
        bool seen = false;
    };
    std::unordered_map<std::int64_t, Expired> expired_;  // present rows past their date, by id
    std::unordered_set<Digest> held_;           // digests on hold when the scan began
    std::set<std::pair<dev_t, ino_t>> scanned_roots_;
    std::map<std::string, std::optional<std::pair<size_t, std::string>>> destinations_;
    long orphans_kept_ = 0;
    std::optional<Index::ReadScope> reads_;
    size_t lookups_ = 0;
    ScanCache cache_;
    std::int64_t settled_before_ns_;  // files whose ctime is earlier may be remembered
    std::vector<Index::KnownFile> learnt_;  // read since the last renewal of reads_
    OwnFiles own_;  // files earlier runs named with kMarkerPrefix
    Index* writable_;  // the index when this run may write it (not a dry run)
    std::vector<std::string> files_seen_;  // keys of the [[sweep.files]] files seen
    std::optional<Date> files_seen_since_;
    std::map<size_t, long> read_in_root_;  // message files whose header was read, by root
    std::map<size_t, long> foreign_in_root_;  // of those, compressed or encrypted ones
    std::map<size_t, std::string> foreign_format_;

    // Lookups share a read transaction, renewed every few thousand so that the milter's
    // WAL can still be checkpointed during a long scan. The plan needs no single snapshot:
    // phase 2 acts only on files that are still what the scan read, and claims each batch
    // of messages in the transaction that checks their holds. What the scan learnt for the scan cache is
    // written between two read transactions, never inside one.
    const Index& lookups() {
        if (lookups_++ % 4096 == 0) {
            reads_.reset();
            learn();
            reads_.emplace(index_);
        }
        return index_;
    }

    // --- the scan cache -------------------------------------------------------------

    void learn() {
        if (cache_.learn_into && !learnt_.empty()) {
            try {
                cache_.learn_into->remember_files(learnt_, today_);
            } catch (const IndexError& e) {
                // Only a cost: the next run reads these files again.
                s_.warn(std::string("the scan cache could not be written, so the next run reads every file again: ") +
                        e.what());
                cache_.learn_into = nullptr;
            }
        }
        learnt_.clear();
    }

    void learn_and_forget() {
        learn();
        if (!cache_.learn_into) return;
        try {
            cache_.learn_into->forget_files_before(
                Date(std::chrono::sys_days(today_) - kScanCacheDays));
        } catch (const IndexError& e) {
            s_.warn(std::string("old entries of the scan cache could not be removed: ") + e.what());
        }
    }

    // A file an earlier run read, unchanged since: classified by the digest read then.
    bool classify_known(FileRef& f, int dfd, const MaildirName& mn, Scope scope) {
        struct stat st {};
        if (::fstatat(dfd, f.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) return false;
        const auto keys = lookups().known_file(file_key(key_, st));
        if (!keys) return false;
        ++s_.messages_scanned;
        ++s_.messages_known;
        ++read_in_root_[f.root];
        f.take(st);
        classify(f, *keys, mn, st, scope);
        return true;
    }

    // --- where to look -------------------------------------------------------------

    // Read once rather than asked per message: there are few, and phase 2 looks again
    // for holds placed since, just before it destroys.
    void load_holds() {
        for (auto& d : index_.held_digests()) held_.insert(std::move(d));
    }

    void load_expired() {
        for (const auto& row : index_.expired(today_)) expired_.emplace(row.id, Expired{row.digest, false});
    }

    void expand_mailboxes() {
        for (size_t e = 0; e < c_.sweep.mailboxes.size(); ++e) {
            const SweepMailbox& box = c_.sweep.mailboxes[e];
            if (!has_glob(box.path)) {
                add_root(e, box.path, "");
                continue;
            }
            glob_t g{};
            std::vector<int> errors;
            glob_errors = &errors;
            const int rc = ::glob(box.path.c_str(), GLOB_NOSORT | GLOB_ONLYDIR, note_glob_error, &g);
            glob_errors = nullptr;
            std::vector<std::string> matches;
            if (rc == 0) {
                for (size_t i = 0; i < g.gl_pathc; ++i) matches.emplace_back(g.gl_pathv[i]);
            }
            // A glob that matches nothing is normal (no staff yet); one whose folders
            // cannot all be read is not, even when it matched some; nor is one whose
            // folder is missing (a store not mounted): then rows wait, never written off.
            struct stat pst {};
            if (::stat(glob_parent(box.path).c_str(), &pst) != 0 && errno == ENOENT)
                skip_mailbox(Skip::MailboxMissing, static_cast<int>(e), box.line, box.path);
            else if (!errors.empty() || (rc != 0 && rc != GLOB_NOMATCH))
                skip_mailbox(Skip::MailboxUnreadable, static_cast<int>(e), box.line, box.path);
            ::globfree(&g);
            std::sort(matches.begin(), matches.end());
            for (const auto& m : matches) add_root(e, m, glob_name(box.path, m));
        }
    }

    void add_root(size_t e, const std::string& path, const std::string& name) {
        const SweepMailbox& box = c_.sweep.mailboxes[e];
        Root root;
        root.path = path;
        root.kind = box.kind;
        root.line = box.line;
        root.user = replace_all(box.user, "{name}", name);
        root.entry = static_cast<int>(e);
        root.is_files = false;
        plan_.roots.push_back(std::move(root));
    }

    std::string mailbox_label(const Root& root) const {
        const SweepMailbox& box = c_.sweep.mailboxes.at(static_cast<size_t>(root.entry));
        // Never the match of a personal glob: it names a staff member.
        std::string label = c_.source + ": [[sweep.mailbox]] number " + std::to_string(root.entry + 1) + " (path = \"" +
                            box.path + "\")";
        if (root.path != box.path && box.kind == MailboxKind::Shared) label += ", its match " + root.path + ",";
        return label;
    }

    // A location of a [[sweep.mailbox]] entry that could not be read: named in the
    // summary by the entry, never by the path (a glob's match names a staff member).
    void skip_mailbox(Skip why, int entry, const std::string& line, const std::string& path) {
        s_.skip(why, line, path);
        plan_.scope_incomplete = true;
        plan_.rows_frozen = true;
        const SweepMailbox& box = c_.sweep.mailboxes.at(static_cast<size_t>(entry));
        const bool names_someone = box.kind == MailboxKind::Personal && !has_glob(box.path);
        s_.mailbox_not_read(entry + 1, names_someone ? std::string() : box.path);
    }

    void skip_mailbox(Skip why, size_t r, const std::string& path) {
        skip_mailbox(why, plan_.roots[r].entry, line_of(r), path);
    }

    void skip_file(Skip why, const Root& root, const std::string& path) {
        s_.skip(why, root.kind == MailboxKind::Shared ? root.line : std::string(), path);
        // A file we could not read may be a copy of an expired message: its rows must not
        // be marked "found nowhere" in this run.
        plan_.scope_incomplete = true;
    }

    // One compressed or encrypted file among plain ones (a user's upload, a restore gone
    // wrong) is a skip for that file. A mailbox whose every file read is one, at least two
    // of them, is a store in a format retention-sweep cannot read: a config error, found
    // here in phase 1 so that nothing is changed (see check_store_format).
    void foreign_file(size_t r, const std::string& format, const std::string& path) {
        ++foreign_in_root_[r];
        foreign_format_[r] = format;
        skip_file(Skip::ForeignFile, plan_.roots[r], path);
    }

    void check_store_format(size_t r) {
        const long foreign = foreign_in_root_[r];
        if (foreign < 2 || foreign != read_in_root_[r]) return;
        throw StoreError(mailbox_label(plan_.roots[r]) + " holds " + foreign_format_[r] +
                         " files only (Dovecot's zlib or mail_crypt plugin?): retention-sweep cannot read "
                         "their headers, so it reads plain Maildir++ only");
    }

    static std::optional<Scope> scope_of(const Root& root, const SweepMailbox& box, const MaildirFolder& f) {
        if (root.kind == MailboxKind::Shared) return Scope::Shared;
        // Nested folders count too: Outlook moves a deleted folder under "Deleted Items",
        // and staff file old replies in folders below "Sent".
        for (const auto& name : box.sent_folders)
            if (folder_is_or_below(f.dir, folder_dir_for(name))) return Scope::PersonalSent;
        for (const auto& name : box.deleted_folders)
            if (folder_is_or_below(f.dir, folder_dir_for(name))) return Scope::PersonalDeleted;
        return std::nullopt;
    }

    void scan_root(size_t r) {
        Root& root = plan_.roots[r];
        const SweepMailbox& box = c_.sweep.mailboxes.at(static_cast<size_t>(root.entry));
        const UniqueFd fd = open_dir_at(AT_FDCWD, root.path);
        if (!fd) {
            skip_mailbox(open_failure(root.path, errno), r, root.path);
            return;
        }
        struct stat st {};
        if (::fstat(fd.get(), &st) != 0) return skip_mailbox(Skip::MailboxUnreadable, r, root.path);
        root.dev = st.st_dev;
        root.ino = st.st_ino;
        if (!scanned_roots_.insert({st.st_dev, st.st_ino}).second) {
            root.usable = true;  // the same directory as an earlier entry: scanned once
            return;
        }
        int err = 0;
        const MaildirLayout lay = inspect_maildir(fd.get(), &err);
        if (err) {
            skip_mailbox(Skip::MailboxUnreadable, r, root.path);
            return;
        }
        if (!lay.not_maildirpp.empty())
            throw StoreError(mailbox_label(root) + " is " + lay.not_maildirpp +
                             ": retention-sweep reads Maildir++ only (Dovecot: mail_location = maildir:...)");
        for (const auto& dir : lay.unreadable) {
            if (scope_of(root, box, {dir, dir.substr(1)})) skip_mailbox(Skip::FolderUnreadable, r, root.path + "/" + dir);
        }
        if (lay.folders.empty() && lay.unreadable.empty()) {
            // A staff member's empty folder is a mailbox nothing was delivered to yet. A
            // shared mailbox is where helpline mail has been arriving: empty, it is more
            // likely a mount point whose store is not mounted, so its rows wait and no
            // copy is moved onto the file system beneath.
            if (lay.entries > 0) skip_mailbox(Skip::NotAMaildir, r, root.path);
            else if (root.kind == MailboxKind::Shared) skip_mailbox(Skip::MailboxEmpty, r, root.path);
            root.usable = lay.entries == 0 && root.kind == MailboxKind::Personal;
            return;
        }
        root.usable = true;
        for (const auto& link : lay.linked_folders) {
            if (scope_of(root, box, {link, link.substr(1)})) skip_mailbox(Skip::FolderIsLink, r, root.path + "/" + link);
        }
        for (const auto& dir : lay.lazy_expunge) {
            ++s_.residues.lazy_expunge_folders;
            s_.listed("residue", root.path + "/" + dir, "lazy_expunge folder");
        }
        for (const auto& folder : lay.folders) {
            if (auto scope = scope_of(root, box, folder)) scan_folder(r, fd.get(), folder.dir, *scope);
        }
        check_store_format(r);
    }

    static Skip open_failure(const std::string& path, int err) {
        if (err == ENOENT) return Skip::MailboxMissing;
        if (err == ELOOP) return Skip::MailboxIsLink;
        if (err == ENOTDIR) {
            struct stat st {};
            if (::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) return Skip::MailboxIsLink;
            return Skip::NotAMaildir;
        }
        return Skip::MailboxUnreadable;
    }

    // --- one folder ---------------------------------------------------------------------

    void scan_folder(size_t r, int rootfd, const std::string& folder, Scope scope) {
        const UniqueFd ffd = open_dir_at(rootfd, folder.empty() ? "." : folder);
        if (!ffd) {
            skip_mailbox(Skip::FolderUnreadable, r, path_of(r, folder));
            return;
        }
        // cur/ before new/: a message moved from new/ to cur/ while we read cur/ is then
        // still found in new/ or, failing that, looked up by its unique name.
        scan_sub(r, ffd.get(), folder, "cur", scope);
        scan_sub(r, ffd.get(), folder, "new", scope);
        if (scope == Scope::Shared) scan_tmp_for_our_leftovers(r, ffd.get(), folder);
    }

    void scan_sub(size_t r, int ffd, const std::string& folder, const std::string& sub, Scope scope) {
        const UniqueFd sfd = open_dir_at(ffd, sub);
        if (!sfd) {
            if (errno != ENOENT) skip_mailbox(Skip::FolderUnreadable, r, path_of(r, folder + "/" + sub));
            return;
        }
        std::unordered_set<std::string> relocated;
        const int err = for_each_entry(sfd.get(), [&](const std::string& name, unsigned char type) {
            scan_entry(r, ffd, sfd.get(), folder, sub, name, type, scope, relocated);
        });
        if (err) skip_mailbox(Skip::FolderUnreadable, r, path_of(r, folder + "/" + sub));
    }

    // Only our own leftovers are ever touched in tmp/: a copy a killed run was writing.
    void scan_tmp_for_our_leftovers(size_t r, int ffd, const std::string& folder) {
        const UniqueFd tfd = open_dir_at(ffd, "tmp");
        if (!tfd) return;
        for_each_entry(tfd.get(), [&](const std::string& name) {
            if (starts_with(name, kMarkerPrefix)) plan_residue(r, tfd.get(), folder, "tmp", name);
        });
    }

    std::string line_of(size_t r) const {
        return plan_.roots[r].kind == MailboxKind::Shared ? plan_.roots[r].line : std::string();
    }

    std::string path_of(size_t r, const std::string& rel) const {
        const std::string& root = plan_.roots[r].path;
        if (rel.empty()) return root;
        return root + "/" + (rel.front() == '/' ? rel.substr(1) : rel);
    }

    std::string path_of(const FileRef& f) const { return path_of(f.root, f.dir() + "/" + f.name); }

    void scan_entry(size_t r, int ffd, int sfd, const std::string& folder, const std::string& sub,
                    const std::string& name, unsigned char type, Scope scope,
                    std::unordered_set<std::string>& relocated) {
        const Root& root = plan_.roots[r];
        if (starts_with(name, kMarkerPrefix)) {
            plan_residue(r, sfd, folder, sub, name);
            return;
        }
        if (name.front() == '.') return;  // not a message: Maildir readers skip dot files too
        const auto mn = parse_maildir_name(name);
        const std::string path = path_of(r, folder + "/" + sub + "/" + name);
        if (!mn) {
            skip_file(Skip::NotMaildirName, root, path);
            return;
        }
        if (relocated.count(mn->unique)) return;  // already read under its new name

        FileRef f{r, folder, sub, name};
        // A regular file by the directory's word is opened at once (read_message opens with
        // O_NOFOLLOW and checks the type again); anything else is looked at first, and a
        // name gone meanwhile is looked for under its new name below.
        if (type == DT_REG && cache_.look_up && classify_known(f, sfd, *mn, scope)) return;
        if (type == DT_REG && read_message(f, sfd, *mn, scope) != Read::Gone) return;
        UniqueFd moved_dir;
        int dfd = sfd;
        struct stat st {};
        if (::fstatat(sfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno != ENOENT) {
                skip_file(Skip::Unreadable, root, path);
                return;
            }
            const auto found = find_maildir_unique(ffd, mn->unique);
            if (!found) {
                ++s_.vanished;  // expunged meanwhile: nothing to do
                return;
            }
            relocated.insert(mn->unique);
            moved_dir = open_dir_at(ffd, found->sub);
            dfd = moved_dir.get();
            f.sub = found->sub;
            f.name = found->name;
            if (!moved_dir || ::fstatat(dfd, f.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
                ++s_.vanished;
                return;
            }
        }
        if (S_ISLNK(st.st_mode)) return skip_file(Skip::Symlink, root, path);
        if (!S_ISREG(st.st_mode)) return skip_file(Skip::NotRegular, root, path);
        if (read_message(f, dfd, *mn, scope) == Read::Gone) ++s_.vanished;
    }

    enum class Read { Done, Gone };

    // Gone: no file by that name any more (expunged or renamed since the directory was read).
    Read read_message(FileRef f, int dfd, const MaildirName& mn, Scope scope) {
        const Root& root = plan_.roots[f.root];
        const std::string path = path_of(f);
        struct stat st {};
        const UniqueFd fd = open_file_at(dfd, f.name, &st);
        if (!fd) {
            if (errno == ENOENT) return Read::Gone;
            skip_file(errno == ELOOP ? Skip::Symlink : errno == EINVAL ? Skip::NotRegular : Skip::Unreadable, root, path);
            return Read::Done;
        }
        HeaderFields h;
        try {
            h = read_header_fields(fd.get(), kMatchFields);
        } catch (const std::system_error&) {
            skip_file(Skip::Unreadable, root, path);
            return Read::Done;
        }
        ++s_.messages_scanned;
        ++read_in_root_[f.root];
        // In a staff member's own folders, a file without a header block has neither a
        // Message-ID nor a record token: it cannot be a copy of helpline mail, so it is
        // their own and no concern of this run (in a shared mailbox it is reported).
        if (scope != Scope::Shared &&
            (h.status == HeaderBlock::Status::Empty || h.status == HeaderBlock::Status::NoHeaders))
            return Read::Done;
        switch (h.status) {
            case HeaderBlock::Status::Foreign: foreign_file(f.root, h.foreign, path); return Read::Done;
            case HeaderBlock::Status::Empty: skip_file(Skip::Empty, root, path); return Read::Done;
            case HeaderBlock::Status::NoHeaders: skip_file(Skip::NoHeaderBlock, root, path); return Read::Done;
            case HeaderBlock::Status::TooLarge: skip_file(Skip::HeaderTooLarge, root, path); return Read::Done;
            case HeaderBlock::Status::Ok: break;
        }
        f.take(st);
        const Index::FileKeys keys = match_keys(h.fields, key_);
        classify(f, keys, mn, st, scope);
        if ((!keys.digest.empty() || !keys.record.empty()) && cache_.learn_into &&
            std::int64_t{st.st_ctim.tv_sec} * 1'000'000'000 + st.st_ctim.tv_nsec < settled_before_ns_)
            learnt_.push_back({file_key(key_, st), keys});
        return Read::Done;
    }

    // --- what to do with one message ------------------------------------------------------

    RowFacts facts_of(const std::vector<MessageRow>& rows) const {
        RowFacts facts;
        std::vector<std::string> seen;
        for (const auto& row : rows) {
            if (row.retain_until > today_) facts.due = false;
            if (!facts.latest || row.retain_until > facts.latest->retain_until) facts.latest = &row;
            for (const auto& t : split(row.lines, ',')) {
                const std::string tag(trim(t));
                if (!tag.empty() && std::find(seen.begin(), seen.end(), tag) == seen.end()) seen.push_back(tag);
            }
        }
        for (const auto& line : c_.lines) {
            if (std::find(seen.begin(), seen.end(), line.tag) != seen.end()) facts.tags.push_back(line.tag);
        }
        // Tags of lines since removed from the config still name the message's lines.
        for (const auto& tag : seen) {
            if (std::find(facts.tags.begin(), facts.tags.end(), tag) == facts.tags.end()) facts.tags.push_back(tag);
        }
        return facts;
    }

    // A copy the milter stamped is its record's alone; any other copy is matched by its
    // Message-ID digest (see rows_of_unstamped_copy).
    std::vector<MessageRow> rows_matching(const Index::FileKeys& keys, Scope scope) {
        if (!keys.record.empty()) {
            auto rows = lookups().rows_for_record(keys.record);
            if (!rows.empty()) return rows;
        }
        if (keys.digest.empty()) return {};
        return rows_of_unstamped_copy(lookups().rows_for(keys.digest), scope);
    }

    void classify(const FileRef& f, const Index::FileKeys& keys, const MaildirName& mn, const struct stat& st,
                  Scope scope) {
        const Root& root = plan_.roots[f.root];
        const std::vector<MessageRow> rows = rows_matching(keys, scope);
        if (rows.empty()) {
            // In a personal mailbox, a message the index does not know is the staff
            // member's own mail: never touched.
            if (scope == Scope::Shared) plan_orphan(f, mn, st);
            return;
        }
        std::vector<std::int64_t> present;
        for (const auto& row : rows) {
            if (auto it = expired_.find(row.id); it != expired_.end()) it->second.seen = true;
            if (row.state == RowState::Present) present.push_back(row.id);
        }
        // Holds are placed by Message-ID digest: the rows' own (a stamped copy's record
        // may belong to a message whose copies carry several ids).
        const Digest& digest = rows.front().digest.empty() ? keys.digest : rows.front().digest;
        const RowFacts facts = facts_of(rows);
        const bool held = held_.count(digest) > 0;
        const std::string line =
            scope == Scope::Shared ? root.line : (facts.tags.empty() ? std::string("unknown") : facts.tags.front());
        LineCounts& counts = s_.lines[line];
        if (facts.due && !held) {
            plan_.destroys.push_back({f, DestroyKind::Message, digest, std::move(present), line});
            ++counts.destroyed;
            s_.listed("destroy", path_of(f));
        } else if (scope == Scope::PersonalSent) {
            plan_move(f, keys.digest, facts, line);
        } else if (held) {
            ++counts.held;
        } else {
            ++counts.kept;
        }
    }

    void plan_orphan(const FileRef& f, const MaildirName& mn, const struct stat& st) {
        const Root& root = plan_.roots[f.root];
        LineCounts& counts = s_.lines[root.line];
        if (c_.sweep.orphans == Orphans::Expire) {
            // By the Maildir delivery time (the name's leading seconds), else the file's
            // mtime: never by a date written in the message, which anyone could forge.
            auto delivered = mn.delivered ? date_of_seconds(*mn.delivered) : std::nullopt;
            if (!delivered) delivered = date_of_seconds(st.st_mtime);
            const Line* line = c_.find_line(root.line);
            if (delivered && line && add_period(*delivered, c_.policy_of(*line).retain) <= today_) {
                plan_.destroys.push_back({f, DestroyKind::Orphan, {}, {}, root.line});
                ++counts.orphans_destroyed;
                s_.listed("destroy", path_of(f), "orphan");
                return;
            }
        }
        ++counts.orphans;
        ++orphans_kept_;
        if (c_.sweep.orphans == Orphans::Report) s_.listed("orphan", path_of(f));
    }

    void plan_move(const FileRef& f, const Digest& digest, const RowFacts& facts, const std::string& line) {
        const auto dest = destination_for(facts.tags);
        if (!dest) {
            s_.skip(Skip::NoDestination, line, path_of(f));
            ++s_.lines[line].kept;
            return;
        }
        MoveItem m;
        m.source = f;
        m.digest = digest;
        m.line = line;
        m.headers = {join(facts.tags, ","), facts.latest->direction, format_date(facts.latest->retain_until),
                     facts.latest->policy};
        m.dest_root = dest->first;
        m.dest_folder = dest->second;
        s_.listed("move", path_of(f), "to " + path_of(dest->first, dest->second));
        plan_.moves.push_back(std::move(m));
        ++s_.lines[line].moved;
    }

    // The Sent folder of the first shared [[sweep.mailbox]] of the message's first line
    // that has one. A glob entry uses its first match.
    std::optional<std::pair<size_t, std::string>> destination_for(const std::vector<std::string>& tags) {
        for (const auto& tag : tags) {
            auto cached = destinations_.find(tag);
            if (cached == destinations_.end()) cached = destinations_.emplace(tag, find_destination(tag)).first;
            if (cached->second) return cached->second;
        }
        return std::nullopt;
    }

    std::optional<std::pair<size_t, std::string>> find_destination(const std::string& tag) const {
        for (size_t e = 0; e < c_.sweep.mailboxes.size(); ++e) {
            const SweepMailbox& box = c_.sweep.mailboxes[e];
            if (box.kind != MailboxKind::Shared || box.line != tag) continue;
            for (size_t r = 0; r < plan_.roots.size(); ++r) {
                const Root& root = plan_.roots[r];
                if (root.entry != static_cast<int>(e)) continue;
                if (!root.usable) return std::nullopt;
                const UniqueFd fd = open_dir_at(AT_FDCWD, root.path);
                if (!fd) return std::nullopt;
                return std::make_pair(r, sent_folder_of(fd.get(), box));
            }
            return std::nullopt;  // the line's first shared entry matched nothing
        }
        return std::nullopt;
    }

    void plan_residue(size_t r, int dfd, const std::string& folder, const std::string& sub, const std::string& name) {
        struct stat st {};
        if (!open_file_at(dfd, name, &st)) return;  // not a regular file: never one of ours
        FileRef f{r, folder, sub, name};
        f.take(st);
        const bool ours = own_.inodes.count({st.st_dev, st.st_ino}) > 0 ||
                          (sub == "tmp" && own_.tmp_names.count(OwnFiles::tmp_key(key_, name)) > 0);
        if (!ours) return s_.skip(Skip::NotOurLeftover, line_of(r), path_of(f));
        s_.listed("residue", path_of(f), "finishing an interrupted destruction");
        plan_.destroys.push_back({std::move(f), DestroyKind::Residue, {}, {}, {}});
        ++s_.residues.interrupted_finished;
    }

    // --- [[sweep.files]] ----------------------------------------------------------------

    void scan_files_entry(const SweepFiles& entry) {
        Root root;
        root.path = entry.path;
        root.is_files = true;
        root.line.clear();
        plan_.roots.push_back(root);
        const size_t r = plan_.roots.size() - 1;
        s_.files[entry.policy];
        const UniqueFd fd = open_dir_at(AT_FDCWD, entry.path);
        struct stat st {};
        if (!fd || ::fstat(fd.get(), &st) != 0) {
            s_.skip(Skip::FilesFolderMissing, {}, entry.path);
            return;
        }
        plan_.roots[r].dev = st.st_dev;
        plan_.roots[r].ino = st.st_ino;
        plan_.roots[r].usable = true;
        walk_files(r, fd.get(), "", entry.policy, 0);
    }

    void walk_files(size_t r, int dirfd, const std::string& rel, const std::string& policy, int depth) {
        struct stat dst {};
        // The policy asks for folders only helpline staff can open: others must have no access.
        if (::fstat(dirfd, &dst) == 0 && (dst.st_mode & S_IRWXO)) {
            ++s_.others_access_folders;
            s_.listed("warning", path_of(r, rel), "folder open to others (mode " + mode_text(dst.st_mode) + ")");
        }
        const int err = for_each_entry(dirfd, [&](const std::string& name) {
            files_entry(r, dirfd, rel, name, policy, depth);
        });
        if (err) s_.skip(Skip::FilesFolderMissing, {}, path_of(r, rel));
    }

    void files_entry(size_t r, int dirfd, const std::string& rel, const std::string& name, const std::string& policy,
                     int depth) {
        const std::string child = rel.empty() ? name : rel + "/" + name;
        struct stat st {};
        if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return;  // gone meanwhile
        if (S_ISDIR(st.st_mode)) {
            if (depth >= 64) return s_.skip(Skip::TooDeep, {}, path_of(r, child));
            const UniqueFd sub = open_dir_at(dirfd, name);
            if (!sub) return s_.skip(Skip::FilesFolderMissing, {}, path_of(r, child));
            walk_files(r, sub.get(), child, policy, depth + 1);
            return;
        }
        if (S_ISLNK(st.st_mode)) return s_.skip(Skip::Symlink, {}, path_of(r, child));
        if (!S_ISREG(st.st_mode)) return s_.skip(Skip::NotRegular, {}, path_of(r, child));
        if (starts_with(name, kMarkerPrefix)) return plan_residue(r, dirfd, rel, "", name);
        // Identity and times as fstat on the open file gives them, as phase 2 checks them.
        const UniqueFd fd = open_file_at(dirfd, name, &st);
        if (!fd) {
            if (errno != ENOENT) s_.skip(Skip::Unreadable, {}, path_of(r, child));
            return;
        }
        if (st.st_mode & S_IRWXO) {
            ++s_.others_access_files;
            s_.listed("warning", path_of(r, child), "file open to others (mode " + mode_text(st.st_mode) + ")");
        }
        FileRef f{r, rel, "", name};
        f.take(st);
        const auto arrived = arrival_of(f, fd.get());
        const Period& period = c_.policies.at(policy).retain;
        if (arrived && add_period(*arrived, period) <= today_) {
            s_.listed("destroy", path_of(r, child));
            plan_.destroys.push_back({std::move(f), DestroyKind::File, {}, {}, policy});
            ++s_.files[policy].destroyed;
        } else {
            ++s_.files[policy].kept;
        }
    }

    // When a letter file came into the folder: the latest of its modification time, its
    // birth time and the day a sweep first saw it. A copy made with its old mtime kept
    // (cp -p, rsync -t, a file share) is then kept its full period from its arrival.
    std::optional<Date> arrival_of(const FileRef& f, int fd) {
        auto arrived = date_of_seconds(f.mtime.tv_sec);
        if (!arrived) return std::nullopt;
        if (const auto born = birth_time(fd)) {
            if (const auto d = date_of_seconds(*born)) arrived = std::max(*arrived, *d);
        }
        const std::string key = files_seen_key(key_, f);
        files_seen_.push_back(key);
        const Date first = lookups().file_first_seen(key).value_or(today_);
        // Files first seen by the first sweep that counted were there before it did.
        if (files_seen_since_ && first > *files_seen_since_) arrived = std::max(*arrived, first);
        return arrived;
    }

    void note_files_seen() {
        if (!writable_ || files_seen_.empty()) return;
        try {
            if (!files_seen_since_) writable_->set_meta(kMetaFilesSeenSince, format_date(today_));
            writable_->note_files_seen(files_seen_, today_);
            writable_->forget_files_seen_before(Date(std::chrono::sys_days(today_) - kFilesSeenDays));
        } catch (const IndexError& e) {
            // The next run sees these files as new arrivals: kept longer, never shorter.
            s_.warn(std::string("could not note the [[sweep.files]] files seen: ") + e.what());
        }
    }

    static std::string mode_text(mode_t mode) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
        return buf;
    }

    // --- rows past their date that no store holds --------------------------------------

    // A message that moved between folders while the scan ran (a staff member filing it)
    // can be missed by both listings: then "seen nowhere" is not proof, and those rows
    // wait for the next run, as they do when a location could not be read.
    void find_unseen() {
        const bool proof = !plan_.scope_incomplete && s_.vanished == 0;
        for (const auto& [id, row] : expired_) {
            if (row.seen || held_.count(row.digest)) continue;
            if (!proof) {
                ++s_.rows_unseen_deferred;
            } else {
                plan_.unseen.push_back({id, row.digest});
                ++s_.rows_marked_unseen;
            }
        }
    }

    void warn_about_open_files() {
        if (s_.others_access_folders == 0 && s_.others_access_files == 0) return;
        s_.warn(std::to_string(s_.others_access_folders) + " [[sweep.files]] folder(s) and " +
                std::to_string(s_.others_access_files) +
                " file(s) there are open to others than their owner and group; the policy keeps letter copies "
                "for helpline staff only (chmod -R o-rwx; --list names them)");
    }

    void warn_about_orphans() {
        if (c_.sweep.orphans != Orphans::Report || orphans_kept_ == 0) return;
        s_.warn(std::to_string(orphans_kept_) +
                " message(s) in shared mailboxes have no index row (mail from before installation, or saved "
                "straight into the mailbox) and are kept; set orphans = \"expire\" to expire them by delivery "
                "time, or \"keep\" to stop this warning");
    }
};

}  // namespace

Plan make_plan(const Config& config, const Index& index, const DigestKey& key, Date today, Summary& summary,
               ScanCache cache) {
    return Planner(config, index, key, today, summary, cache).run();
}

}  // namespace rm::sweep
