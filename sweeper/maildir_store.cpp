#include "sweeper/maildir_store.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <glob.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <system_error>
#include <unordered_set>

#include "core/strings.hpp"
#include "sweeper/matching.hpp"
#include "sweeper/own_files.hpp"
#include "sweeper/scan_cache.hpp"

namespace rm::sweep {

namespace {


// glob(3) reports a folder it cannot read through its error callback only, then goes on
// and may return "no match": the callback keeps the errors for expand_glob. A missing
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

Skip open_failure(const std::string& path, int err) {
    if (err == ENOENT) return Skip::MailboxMissing;
    if (err == ELOOP) return Skip::MailboxIsLink;
    if (err == ENOTDIR) {
        struct stat st {};
        if (::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) return Skip::MailboxIsLink;
        return Skip::NotAMaildir;
    }
    return Skip::MailboxUnreadable;
}

// Folders staff make below a hold folder ("Hold/Safeguarding/Case 12") hold as it does.
bool is_hold_folder(const SweepMailbox& box, const std::string& dir) {
    for (const auto& [name, reason] : box.hold_folders)
        if (folder_is_or_below(dir, folder_dir_for(name))) return true;
    return false;
}

// Hold folders are not among the roles: scan_holds lists them before everything else.
std::optional<FolderRole> role_of(const Root& root, const SweepMailbox& box, const MaildirFolder& f) {
    if (root.kind == MailboxKind::Shared) {
        if (is_hold_folder(box, f.dir)) return std::nullopt;
        return FolderRole::Shared;
    }
    // Nested folders count too: Outlook moves a deleted folder under "Deleted Items",
    // and staff file old replies in folders below "Sent".
    for (const auto& name : box.sent_folders)
        if (folder_is_or_below(f.dir, folder_dir_for(name))) return FolderRole::Sent;
    for (const auto& name : box.deleted_folders)
        if (folder_is_or_below(f.dir, folder_dir_for(name))) return FolderRole::Deleted;
    return std::nullopt;
}

// A [[sweep.mailbox]] entry as the summary names it: by its path pattern, never by a path
// that names a staff member (a personal entry without a glob).
std::string shown_entry(const SweepMailbox& box) {
    return box.kind == MailboxKind::Personal && !has_glob(box.path) ? std::string() : box.path;
}

std::string mailbox_label(const Config& config, const Root& root) {
    const SweepMailbox& box = config.sweep.mailboxes.at(static_cast<size_t>(root.entry));
    // Never the match of a personal glob: it names a staff member.
    std::string label = config.source + ": [[sweep.mailbox]] number " + std::to_string(root.entry + 1) +
                        " (path = \"" + box.path + "\")";
    if (root.path != box.path && box.kind == MailboxKind::Shared) label += ", its match " + root.path + ",";
    return label;
}

// How many messages a read may collect before the scan looks their rows up.
constexpr size_t kBatchMessages = 256;

}  // namespace

// One root being scanned. Everything the walk reports goes through here, and the batch of
// messages is handed on first, so that --list names things in the order they were met.
struct MaildirStore::Walk {
    Plan& plan;
    size_t r;
    ScanSink& sink;
    const SweepMailbox& box;
    std::vector<StoredMessage> batch;
    long read = 0;     // message files whose header was read or known
    long foreign = 0;  // of those, compressed or encrypted ones
    std::string foreign_format;
    std::string hold;  // the hold folder being listed (its config name), else empty

    Root& root() { return plan.roots[r]; }
    std::string path(const std::string& rel) const { return path_of(plan, r, rel); }
    void flush() {
        if (batch.empty()) return;
        for (auto& m : batch) m.hold_folder = hold;
        sink.messages(batch);
        batch.clear();
    }
    void location_unread(Skip why, const std::string& path) {
        flush();
        if (!hold.empty()) return sink.hold_folder_unread(why, r, hold, path);
        sink.location_unread(why, plan.roots[r].entry, line_of(plan.roots[r]), path, shown_entry(box));
    }
    void message_unread(Skip why, const std::string& path) {
        flush();
        if (!hold.empty()) return sink.hold_folder_unread(why, r, hold, path);
        sink.message_unread(why, plan.roots[r], path);
    }
    // One compressed or encrypted file among plain ones (a user's upload, a restore gone
    // wrong) is a skip for that file. A mailbox whose every file read is one, at least two
    // of them, is a store in a format retention-sweep cannot read: a config error, found
    // in phase 1 so that nothing is changed.
    void foreign_file(const std::string& format, const std::string& path) {
        ++foreign;
        foreign_format = format;
        message_unread(Skip::ForeignFile, path);
    }
    void check_format(const Config& config) {
        if (foreign < 2 || foreign != read) return;
        throw StoreError(mailbox_label(config, root()) + " holds " + foreign_format +
                         " files only (Dovecot's zlib or mail_crypt plugin?): retention-sweep cannot read "
                         "their headers, so it reads plain Maildir++ only");
    }
};

// The cur/ or new/ directory being listed, and the messages found there under a new name
// (moved from new/ to cur/ or given new flags while the scan ran).
struct MaildirStore::Subdir {
    int folder_fd;
    int fd;
    const std::string& folder;
    const std::string& sub;
    FolderRole role;
    std::unordered_set<std::string> relocated;
};

MaildirStore::MaildirStore(const Config& config, const DigestKey& key, std::chrono::seconds settle)
    : config_(config), key_(key), settle_(settle) {}

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

// --- the mailboxes --------------------------------------------------------------------

void MaildirStore::add_roots(Plan& plan, ScanSink& sink) {
    settled_before_ns_ = std::chrono::duration_cast<std::chrono::nanoseconds>(
                             (std::chrono::system_clock::now() - settle_).time_since_epoch())
                             .count();
    for (size_t e = 0; e < config_.sweep.mailboxes.size(); ++e) {
        const SweepMailbox& box = config_.sweep.mailboxes[e];
        if (box.store != StoreKind::Maildir) continue;  // reached through Dovecot
        if (has_glob(box.path)) expand_glob(plan, e, sink);
        else add_root(plan, e, box.path, "");
    }
}

void MaildirStore::expand_glob(Plan& plan, size_t e, ScanSink& sink) {
    const SweepMailbox& box = config_.sweep.mailboxes[e];
    glob_t g{};
    std::vector<int> errors;
    glob_errors = &errors;
    const int rc = ::glob(box.path.c_str(), GLOB_NOSORT | GLOB_ONLYDIR, note_glob_error, &g);
    glob_errors = nullptr;
    std::vector<std::string> matches;
    if (rc == 0) {
        for (size_t i = 0; i < g.gl_pathc; ++i) matches.emplace_back(g.gl_pathv[i]);
    }
    // A glob that matches nothing is normal (no staff yet); one whose folders cannot all
    // be read is not, even when it matched some; nor is one whose folder is missing (a
    // store not mounted): then rows wait, never written off.
    struct stat pst {};
    const int entry = static_cast<int>(e);
    if (::stat(glob_parent(box.path).c_str(), &pst) != 0 && errno == ENOENT)
        sink.location_unread(Skip::MailboxMissing, entry, box.line, box.path, shown_entry(box));
    else if (!errors.empty() || (rc != 0 && rc != GLOB_NOMATCH))
        sink.location_unread(Skip::MailboxUnreadable, entry, box.line, box.path, shown_entry(box));
    ::globfree(&g);
    std::sort(matches.begin(), matches.end());
    for (const auto& m : matches) add_root(plan, e, m, glob_name(box.path, m));
}

void MaildirStore::add_root(Plan& plan, size_t e, const std::string& path, const std::string& name) {
    const SweepMailbox& box = config_.sweep.mailboxes[e];
    Root root;
    root.path = path;
    root.kind = box.kind;
    root.line = box.line;
    root.user = replace_all(box.user, "{name}", name);
    root.entry = static_cast<int>(e);
    root.is_files = false;
    plan.roots.push_back(std::move(root));
}

std::string MaildirStore::sent_folder(const Plan& plan, size_t r) {
    const Root& root = plan.roots[r];
    const UniqueFd fd = open_dir_at(AT_FDCWD, root.path);
    if (!fd) return {};
    return sent_folder_of(fd.get(), config_.sweep.mailboxes.at(static_cast<size_t>(root.entry)));
}

// --- one mailbox ----------------------------------------------------------------------

void MaildirStore::scan(Plan& plan, size_t r, ScanSink& sink) {
    Walk w{plan, r, sink, config_.sweep.mailboxes.at(static_cast<size_t>(plan.roots[r].entry)), {}, 0, 0, {}, {}};
    const std::string path = w.root().path;
    const UniqueFd fd = open_dir_at(AT_FDCWD, path);
    if (!fd) return w.location_unread(open_failure(path, errno), path);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return w.location_unread(Skip::MailboxUnreadable, path);
    w.root().dev = st.st_dev;
    w.root().ino = st.st_ino;
    if (!scanned_roots_.insert({st.st_dev, st.st_ino}).second) {
        w.root().usable = true;  // the same directory as an earlier entry: scanned once
        return;
    }
    walk_root(w, fd.get());
    w.flush();
    w.check_format(config_);
}

void MaildirStore::scan_holds(Plan& plan, size_t r, ScanSink& sink) {
    const SweepMailbox& box = config_.sweep.mailboxes.at(static_cast<size_t>(plan.roots[r].entry));
    if (box.hold_folders.empty() || plan.roots[r].kind != MailboxKind::Shared) return;
    const std::string path = plan.roots[r].path;
    const UniqueFd fd = open_dir_at(AT_FDCWD, path);
    const int open_err = errno;
    int err = 0;
    const MaildirLayout lay = fd ? inspect_maildir(fd.get(), &err) : MaildirLayout{};
    for (const auto& [name, reason] : box.hold_folders) {
        Walk w{plan, r, sink, box, {}, 0, 0, {}, name};
        if (!fd) {
            w.location_unread(open_failure(path, open_err), path);
            continue;
        }
        // A shared mailbox without its INBOX (a mount point whose store is not mounted)
        // cannot show what staff put in its hold folders: never read that as "none".
        if (err != 0 || !lay.root_has_maildir) {
            w.location_unread(err != 0 ? Skip::MailboxUnreadable : Skip::MailboxEmpty, path);
            continue;
        }
        const std::string dir = folder_dir_for(name);
        scan_hold_folder(w, fd.get(), dir);
        scan_below_hold_folder(w, fd.get(), lay, dir);
        w.flush();
    }
}

void MaildirStore::scan_below_hold_folder(Walk& w, int rootfd, const MaildirLayout& lay, const std::string& dir) {
    const auto below = [&](const std::string& d) { return d != dir && folder_is_or_below(d, dir); };
    for (const auto& d : lay.unreadable)
        if (below(d)) w.location_unread(Skip::FolderUnreadable, w.path(d));
    for (const auto& d : lay.linked_folders)
        if (below(d)) w.location_unread(Skip::FolderIsLink, w.path(d));
    for (const auto& folder : lay.folders)
        if (below(folder.dir)) scan_folder(w, rootfd, folder.dir, FolderRole::Hold);
}

void MaildirStore::scan_hold_folder(Walk& w, int rootfd, const std::string& dir) {
    struct stat st {};
    if (::fstatat(rootfd, dir.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) return w.sink.hold_folder_missing(w.r, dir, w.hold);
        return w.location_unread(Skip::FolderUnreadable, w.path(dir));
    }
    if (S_ISLNK(st.st_mode)) return w.location_unread(Skip::FolderIsLink, w.path(dir));
    if (!S_ISDIR(st.st_mode)) return w.location_unread(Skip::NotAMaildir, w.path(dir));
    scan_folder(w, rootfd, dir, FolderRole::Hold);
}

void MaildirStore::walk_root(Walk& w, int rootfd) {
    Root& root = w.root();
    int err = 0;
    const MaildirLayout lay = inspect_maildir(rootfd, &err);
    if (err) return w.location_unread(Skip::MailboxUnreadable, root.path);
    if (!lay.not_maildirpp.empty())
        throw StoreError(mailbox_label(config_, root) + " is " + lay.not_maildirpp +
                         ": retention-sweep reads Maildir++ only (Dovecot: mail_location = maildir:...)");
    for (const auto& dir : lay.unreadable) {
        if (role_of(root, w.box, {dir, dir.substr(1)})) w.location_unread(Skip::FolderUnreadable, root.path + "/" + dir);
    }
    if (lay.folders.empty() && lay.unreadable.empty()) {
        // A staff member's empty folder is a mailbox nothing was delivered to yet. A
        // shared mailbox is where helpline mail has been arriving: empty, it is more
        // likely a mount point whose store is not mounted, so its rows wait and no
        // copy is moved onto the file system beneath.
        if (lay.entries > 0) w.location_unread(Skip::NotAMaildir, root.path);
        else if (root.kind == MailboxKind::Shared) w.location_unread(Skip::MailboxEmpty, root.path);
        root.usable = lay.entries == 0 && root.kind == MailboxKind::Personal;
        return;
    }
    root.usable = true;
    for (const auto& link : lay.linked_folders) {
        if (role_of(root, w.box, {link, link.substr(1)})) w.location_unread(Skip::FolderIsLink, root.path + "/" + link);
    }
    for (const auto& dir : lay.lazy_expunge) w.sink.expunged_copies_folder(root.path + "/" + dir);
    for (const auto& folder : lay.folders) {
        if (auto role = role_of(root, w.box, folder)) scan_folder(w, rootfd, folder.dir, *role);
    }
}

// --- one folder -----------------------------------------------------------------------

void MaildirStore::scan_folder(Walk& w, int rootfd, const std::string& folder, FolderRole role) {
    const UniqueFd ffd = open_dir_at(rootfd, folder.empty() ? "." : folder);
    if (!ffd) return w.location_unread(Skip::FolderUnreadable, w.path(folder));
    // cur/ before new/: a message moved from new/ to cur/ while we read cur/ is then
    // still found in new/ or, failing that, looked up by its unique name.
    scan_sub(w, ffd.get(), folder, "cur", role);
    scan_sub(w, ffd.get(), folder, "new", role);
    if (role == FolderRole::Shared) scan_tmp_for_our_leftovers(w, ffd.get(), folder);
}

void MaildirStore::scan_sub(Walk& w, int ffd, const std::string& folder, const std::string& sub, FolderRole role) {
    const UniqueFd sfd = open_dir_at(ffd, sub);
    if (!sfd) {
        if (errno != ENOENT) w.location_unread(Skip::FolderUnreadable, w.path(folder + "/" + sub));
        return;
    }
    Subdir at{ffd, sfd.get(), folder, sub, role, {}};
    // Entries are taken kBatchMessages at a time, so that the scan cache is asked about
    // them together (see prefetch_known).
    std::vector<std::pair<std::string, unsigned char>> entries;
    const auto scan_entries = [&] {
        prefetch_known(w, at, entries);
        for (const auto& [name, type] : entries) {
            scan_entry(w, at, name, type);
            if (w.batch.size() >= kBatchMessages) w.flush();
        }
        entries.clear();
    };
    const int err = for_each_entry(sfd.get(), [&](const std::string& name, unsigned char type) {
        entries.emplace_back(name, type);
        if (entries.size() >= kBatchMessages) scan_entries();
    });
    scan_entries();
    w.flush();
    if (err) w.location_unread(Skip::FolderUnreadable, w.path(folder + "/" + sub));
}

// Only our own leftovers are ever touched in tmp/: a copy a killed run was writing.
void MaildirStore::scan_tmp_for_our_leftovers(Walk& w, int ffd, const std::string& folder) {
    const UniqueFd tfd = open_dir_at(ffd, "tmp");
    if (!tfd) return;
    for_each_entry(tfd.get(), [&](const std::string& name) {
        if (has_marker_prefix(name)) leftover(w, tfd.get(), folder, "tmp", name);
    });
}

void MaildirStore::leftover(Walk& w, int dfd, const std::string& folder, const std::string& sub,
                            const std::string& name) {
    struct stat st {};
    if (!open_file_at(dfd, name, &st)) return;  // not a regular file: never one of ours
    w.flush();
    w.sink.leftover(w.r, folder, sub, name, st);
}

// --- one message ----------------------------------------------------------------------

void MaildirStore::scan_entry(Walk& w, Subdir& at, const std::string& name, unsigned char type) {
    if (has_marker_prefix(name)) return leftover(w, at.fd, at.folder, at.sub, name);
    if (name.front() == '.') return;  // not a message: Maildir readers skip dot files too
    const auto mn = parse_maildir_name(name);
    const std::string path = w.path(at.folder + "/" + at.sub + "/" + name);
    if (!mn) return w.message_unread(Skip::NotMaildirName, path);
    if (at.relocated.count(mn->unique)) return;  // already read under its new name

    FileRef f{w.r, at.folder, at.sub, name};
    // A regular file by the directory's word is opened at once (read_message opens with
    // O_NOFOLLOW and checks the type again); anything else is looked at first, and a
    // name gone meanwhile is looked for under its new name below.
    if (type == DT_REG && read_known(w, f, at.fd, *mn, at.role)) return;
    if (type == DT_REG && read_message(w, f, at.fd, *mn, at.role) != Read::Gone) return;
    UniqueFd moved_dir;
    int dfd = at.fd;
    struct stat st {};
    if (::fstatat(at.fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno != ENOENT) return w.message_unread(Skip::Unreadable, path);
        const auto found = find_maildir_unique(at.folder_fd, mn->unique);
        if (!found) return w.sink.vanished();  // expunged meanwhile: nothing to do
        at.relocated.insert(mn->unique);
        moved_dir = open_dir_at(at.folder_fd, found->sub);
        dfd = moved_dir.get();
        f.sub = found->sub;
        f.name = found->name;
        if (!moved_dir || ::fstatat(dfd, f.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return w.sink.vanished();
    }
    if (S_ISLNK(st.st_mode)) return w.message_unread(Skip::Symlink, path);
    if (!S_ISREG(st.st_mode)) return w.message_unread(Skip::NotRegular, path);
    if (read_message(w, f, dfd, *mn, at.role) == Read::Gone) w.sink.vanished();
}

// The scan cache's keys of the regular files among `entries`, asked for in one look-up
// before read_known() asks for each.
void MaildirStore::prefetch_known(Walk& w, const Subdir& at, const std::vector<std::pair<std::string, unsigned char>>& entries) {
    std::vector<std::string> identities;
    for (const auto& [name, type] : entries) {
        struct stat st {};
        if (type != DT_REG || has_marker_prefix(name) || name.front() == '.') continue;
        if (::fstatat(at.fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
            identities.push_back(scan_cache_key(key_, st));
    }
    w.sink.prefetch_known(identities);  // even none: what an earlier batch found is dropped
}

// A file an earlier run read, unchanged since: its keys come from the scan cache.
bool MaildirStore::read_known(Walk& w, FileRef& f, int dfd, const MaildirName& mn, FolderRole role) {
    struct stat st {};
    if (::fstatat(dfd, f.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) return false;
    const auto keys = w.sink.known(scan_cache_key(key_, st));
    if (!keys) return false;
    ++w.read;
    f.take(st);
    add_message(w, f, mn, st, role, *keys);
    return true;
}

// Gone: no file by that name any more (expunged or renamed since the directory was read).
MaildirStore::Read MaildirStore::read_message(Walk& w, FileRef f, int dfd, const MaildirName& mn, FolderRole role) {
    const std::string path = path_of(w.plan, f);
    struct stat st {};
    const UniqueFd fd = open_file_at(dfd, f.name, &st);
    if (!fd) {
        if (errno == ENOENT) return Read::Gone;
        w.message_unread(errno == ELOOP ? Skip::Symlink : errno == EINVAL ? Skip::NotRegular : Skip::Unreadable, path);
        return Read::Done;
    }
    CopyHeader h;
    try {
        h = read_copy_header(fd.get(), key_);
    } catch (const std::system_error&) {
        w.message_unread(Skip::Unreadable, path);
        return Read::Done;
    }
    w.sink.message_read();
    ++w.read;
    // In a staff member's own folders, a file without a header block has neither a
    // Message-ID nor a record token: it cannot be a copy of helpline mail, so it is
    // their own and no concern of this run (in a shared mailbox it is reported).
    const bool no_header = h.status == HeaderBlock::Status::Empty || h.status == HeaderBlock::Status::NoHeaders;
    if (role != FolderRole::Shared && no_header) return Read::Done;
    switch (h.status) {
        case HeaderBlock::Status::Foreign: w.foreign_file(h.foreign, path); return Read::Done;
        case HeaderBlock::Status::Empty: w.message_unread(Skip::Empty, path); return Read::Done;
        case HeaderBlock::Status::NoHeaders: w.message_unread(Skip::NoHeaderBlock, path); return Read::Done;
        case HeaderBlock::Status::TooLarge: w.message_unread(Skip::HeaderTooLarge, path); return Read::Done;
        case HeaderBlock::Status::Ok: break;
    }
    f.take(st);
    add_message(w, f, mn, st, role, h.keys);
    const bool settled = std::int64_t{st.st_ctim.tv_sec} * 1'000'000'000 + st.st_ctim.tv_nsec < settled_before_ns_;
    if ((!h.keys.digest.empty() || !h.keys.record.empty()) && settled) w.sink.learn(scan_cache_key(key_, st), h.keys);
    return Read::Done;
}

void MaildirStore::add_message(Walk& w, const FileRef& f, const MaildirName& mn, const struct stat& st,
                               FolderRole role, const Index::FileKeys& keys) {
    StoredMessage m;
    m.where = f;
    m.role = role;
    // By the Maildir delivery time (the name's leading seconds), else the file's mtime.
    m.delivered = mn.delivered ? date_of_seconds(*mn.delivered) : std::nullopt;
    if (!m.delivered) m.delivered = date_of_seconds(st.st_mtime);
    m.keys = keys;
    w.batch.push_back(std::move(m));
}

// --- phase 2 --------------------------------------------------------------------------

Dirs& MaildirStore::dirs(const Plan& plan) {
    if (acting_on_ != &plan) {
        acting_on_ = &plan;
        dirs_ = std::make_unique<Dirs>(plan);
        destinations_ = std::make_unique<Destinations>();
    }
    return *dirs_;
}

// Folders are synced once for many files (see DirSyncs), and at the latest after this
// many folders or files, so that a batch never keeps too many directories open.
namespace {
constexpr size_t kSyncFiles = 2048;
constexpr size_t kSyncFolders = 64;
}  // namespace

std::vector<DestroyOutcome> MaildirStore::destroy(const Plan& plan, const std::vector<std::vector<FileRef>>& batch) {
    Dirs& d = dirs(plan);
    std::vector<DestroyOutcome> out;
    out.reserve(batch.size());
    DirSyncs unsynced;
    size_t files = 0;
    for (const auto& names : batch) {
        out.push_back(destroy_file(d, names, config_.sweep.secure_delete, &unsynced));
        files += names.size();
        if (files >= kSyncFiles || unsynced.size() >= kSyncFolders) {
            unsynced.sync_all();
            files = 0;
        }
    }
    unsynced.sync_all();
    return out;
}

std::vector<MoveOutcome> MaildirStore::move(const Plan& plan, const std::vector<MoveItem>& batch) {
    Dirs& d = dirs(plan);
    std::vector<MoveOutcome> out;
    out.reserve(batch.size());
    for (const MoveItem& m : batch) out.push_back(move_copy(d, *destinations_, m, key_, config_.sweep.secure_delete));
    return out;
}

int MaildirStore::ensure_folder(const Plan& plan, size_t r, const std::string& folder, bool& created) {
    const auto root = dirs(plan).open(r, "");
    if (!root) return errno;
    return ensure_maildir_folder(root->get(), folder, created);
}

void MaildirStore::report_residues(const Plan& plan, const std::set<std::pair<size_t, std::string>>& changed,
                                   Summary& summary) {
    for (const auto& [root, folder] : changed) {
        if (plan.roots[root].is_files) continue;
        const auto fd = dirs(plan).open(root, folder);
        struct stat st {};
        if (fd && ::fstatat(fd->get(), "dovecot.index.cache", &st, AT_SYMLINK_NOFOLLOW) == 0) {
            ++summary.residues.index_cache_folders;
            summary.listed("residue", plan.roots[root].path + (folder.empty() ? "" : "/" + folder),
                           "dovecot.index.cache may hold header copies of destroyed messages");
        }
    }
}

void MaildirStore::end_phase2() {
    destinations_.reset();
    dirs_.reset();
    acting_on_ = nullptr;
}

}  // namespace rm::sweep
