#include "sweeper/dovecot/dovecot_store.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <fstream>
#include <sstream>
#include <spdlog/spdlog.h>

#include "core/fs.hpp"
#include "core/headers.hpp"
#include "core/maildir.hpp"
#include "core/message_id_key.hpp"
#include "core/strings.hpp"
#include "sweeper/matching.hpp"
#include "sweeper/move.hpp"

namespace rm::sweep::dovecot {

namespace {

// How many messages the scan hands on at once, and how many headers one fetch of a single
// folder asks for (when a fetch across folders failed).
constexpr size_t kHeaderBatch = 256;
// How many headers one fetch across a user's folders asks for: a doveadm run costs about as
// much as reading a few hundred headers (at 100 000 messages, 1024 a run made 95 runs and
// more doveadm time than the headers themselves), and 4096 are about 10 MB of JSON.
constexpr size_t kHeaderFetch = 4096;

// The header of ours that a moved copy carries: the source's message GUID (random, it
// names nobody), so that a run killed between saving the copy and expunging the source
// finds the copy and does not save a second one.
constexpr std::string_view kHdrMovedFrom = "X-Retention-Moved-From";

Skip skip_of(const DoveadmError& e) {
    switch (e.kind()) {
        case DoveadmError::Kind::Unreachable: return Skip::DovecotUnreachable;
        case DoveadmError::Kind::Refused: return Skip::DovecotRefused;
        case DoveadmError::Kind::NoSuchUser: return Skip::MailboxMissing;
        case DoveadmError::Kind::NoSuchMailbox: return Skip::FolderUnreadable;
        case DoveadmError::Kind::TempFail: return Skip::MailboxUnreadable;
        case DoveadmError::Kind::BadAnswer:
        case DoveadmError::Kind::Failed: return Skip::DovecotBadAnswer;
    }
    return Skip::DovecotBadAnswer;
}

bool is_mask(const std::string& user) { return user.find_first_of("*?") != std::string::npos; }

std::optional<unsigned long> number(const Fields& f, const std::string& field) {
    const auto it = f.find(field);
    if (it == f.end()) return std::nullopt;
    unsigned long v = 0;
    const auto [end, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), v);
    if (ec != std::errc{} || end != it->second.data() + it->second.size()) return std::nullopt;
    return v;
}

std::string field(const Fields& f, const std::string& name) {
    const auto it = f.find(name);
    return it == f.end() ? std::string() : it->second;
}

bool is_dir(const std::string& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// Opens a message file for overwriting: a regular file with no other link (a Maildir
// copy hard-linked into another folder is that folder's message too).
UniqueFd open_for_overwrite(int dirfd, const std::string& name, struct stat& st) {
    UniqueFd fd(::openat(dirfd, name.c_str(), O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    if (!fd || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1) return UniqueFd();
    return fd;
}

// The Maildir file whose base name (Dovecot's GUID for a Maildir message) is `guid`, opened
// for overwriting.
UniqueFd open_maildir_message(const std::string& path, const std::string& guid) {
    for (const char* sub : {"cur", "new"}) {
        const UniqueFd dir = open_dir_at(AT_FDCWD, path + "/" + sub);
        if (!dir) continue;
        std::string found;
        for_each_entry(dir.get(), [&](const std::string& name) {
            if (name.compare(0, guid.size(), guid) == 0 &&
                (name.size() == guid.size() || name[guid.size()] == ':' || name[guid.size()] == ','))
                found = name;
        });
        struct stat st {};
        if (!found.empty()) return open_for_overwrite(dir.get(), found, st);
    }
    return UniqueFd();
}

// Overwrites what `fd` holds, unlinked by the expunge meanwhile, and syncs it.
bool overwrite_open_file(int fd) {
    struct stat st {};
    return ::fstat(fd, &st) == 0 && overwrite_with_zeros(fd, st.st_size) == 0;
}

// The mailbox GUID a Maildir folder's dovecot-uidlist names in its first line
// ("3 V<uidvalidity> N<next uid> G<guid>"); empty when there is none.
std::string maildir_guid(const std::string& path) {
    std::ifstream in(path + "/dovecot-uidlist");
    std::string line;
    if (!in || !std::getline(in, line)) return {};
    const size_t at = line.find(" G");
    if (at == std::string::npos) return {};
    return line.substr(at + 2, line.find(' ', at + 2) - (at + 2));
}

}  // namespace

MailFormat format_of_mailbox_path(const std::string& path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) return MailFormat::Unknown;
    // mbox: doveadm names the folder's index directory, kept below ".imap" beside the files.
    if (S_ISREG(st.st_mode) || path.find("/.imap/") != std::string::npos) return MailFormat::Mbox;
    if (!S_ISDIR(st.st_mode)) return MailFormat::Unknown;
    if (is_dir(path + "/cur") || is_dir(path + "/new")) return MailFormat::Maildir;
    const std::string mails = is_dir(path + "/dbox-Mails") ? path + "/dbox-Mails" : path;
    if (mails == path && path.find("dbox-Mails") == std::string::npos) return MailFormat::Unknown;
    // mdbox keeps the messages of all folders in a "storage" folder beside "mailboxes".
    std::string up = path;
    for (int i = 0; i < 6 && up != "/"; ++i) {
        up = parent_dir(up);
        if (is_dir(up + "/storage") && is_dir(up + "/mailboxes")) return MailFormat::Mdbox;
    }
    return MailFormat::Sdbox;
}

std::vector<std::string> dovecot_names(const std::string& folder, char separator) {
    std::string name = folder;
    std::replace(name.begin(), name.end(), '/', separator);
    std::vector<std::string> out{name};
    const std::string prefixed = std::string("INBOX") + separator + name;
    if (to_lower(folder) != "inbox") out.push_back(prefixed);
    return out;
}

// A hold folder as Dovecot may name it: with the user's separator, and with '.' (made
// where a Maildir++ namespace refused '/' before any nested folder told its separator).
// Reading a folder of staff's as a hold folder keeps mail; missing one would destroy it.
std::vector<std::string> hold_names(const std::string& folder, char separator) {
    std::vector<std::string> names = dovecot_names(folder, separator);
    if (separator != '.')
        for (auto& n : dovecot_names(folder, '.')) names.push_back(std::move(n));
    return names;
}

std::vector<std::string> paths_beside(const std::string& path, const std::string& known, const std::string& name,
                                      char separator) {
    const auto with = [&](std::string n, char c) {
        std::replace(n.begin(), n.end(), separator, c);
        return n;
    };
    const auto ends_with = [&](const std::string& tail) {
        return path.size() > tail.size() && path.compare(path.size() - tail.size(), tail.size(), tail) == 0;
    };
    std::string root;
    if (to_lower(known) == "inbox") root = path;
    else if (ends_with("/." + with(known, '.'))) root = path.substr(0, path.size() - known.size() - 2);
    else if (ends_with("/" + with(known, '/'))) root = path.substr(0, path.size() - known.size() - 1);
    else return {};
    if (to_lower(name) == "inbox") return {root};
    return {root + "/." + with(name, '.'), root + "/" + with(name, '/')};
}

std::string uid_set(std::vector<unsigned long> uids) {
    std::sort(uids.begin(), uids.end());
    uids.erase(std::unique(uids.begin(), uids.end()), uids.end());
    std::string out;
    for (size_t i = 0; i < uids.size();) {
        size_t j = i;
        while (j + 1 < uids.size() && uids[j + 1] == uids[j] + 1) ++j;
        if (!out.empty()) out += ',';
        out += std::to_string(uids[i]);
        if (j > i) out += ':' + std::to_string(uids[j]);
        i = j + 1;
    }
    return out;
}

std::vector<std::string> any_of(const std::vector<std::vector<std::string>>& queries) {
    if (queries.size() == 1) return queries.front();
    std::vector<std::string> out;
    for (const auto& q : queries) {
        if (!out.empty()) out.push_back("OR");
        out.push_back("(");
        out.insert(out.end(), q.begin(), q.end());
        out.push_back(")");
    }
    return out;
}

DovecotStore::DovecotStore(const Config& config, const SweepDovecot& endpoint, Doveadm& doveadm, const DigestKey& key)
    : config_(config), endpoint_(endpoint), doveadm_(doveadm), key_(key) {}

bool DovecotStore::serves(size_t e) const {
    const SweepMailbox& box = config_.sweep.mailboxes.at(e);
    return box.store == StoreKind::Dovecot && box.dovecot == endpoint_.name;
}

const SweepMailbox& DovecotStore::entry_of(const Root& root) const {
    return config_.sweep.mailboxes.at(static_cast<size_t>(root.entry));
}

// --- the mailboxes --------------------------------------------------------------------

namespace {

// A Dovecot entry as the summary names it: by its user (the shared mailbox's, or a mask),
// never by a personal entry's single user.
// How the summary names a Dovecot entry: by its mask or its line, never by an address
// (a shared mailbox's user is the helpline's own address, but a personal one's is a
// staff member's).
std::string shown_entry(const SweepMailbox& box) {
    if (box.kind == MailboxKind::Personal)
        return is_mask(box.user) ? "store = \"dovecot\", user = \"" + box.user + "\"" : std::string();
    return "store = \"dovecot\", line = \"" + box.line + "\"";
}

}  // namespace

void DovecotStore::add_roots(Plan& plan, ScanSink& sink) {
    for (size_t e = 0; e < config_.sweep.mailboxes.size(); ++e) {
        if (!serves(e)) continue;
        const SweepMailbox& box = config_.sweep.mailboxes[e];
        if (box.kind == MailboxKind::Personal && is_mask(box.user)) expand_mask(plan, e, sink);
        else add_user_root(plan, e, box.user);
    }
}

// A mask that lists nobody is never "no staff": a userdb that cannot iterate (LDAP without
// iterate_attrs, a static userdb) lists nobody too, and their Sent copies would be missed.
void DovecotStore::expand_mask(Plan& plan, size_t e, ScanSink& sink) {
    const SweepMailbox& box = config_.sweep.mailboxes[e];
    const std::string where = "dovecot:" + endpoint_.name + "/" + box.user;
    std::vector<std::string> users;
    try {
        users = doveadm_.users(box.user);
    } catch (const DoveadmError& err) {
        spdlog::warn("[[sweep.mailbox]] number {}: cannot list the users of its mask through {}: {}", e + 1,
                     doveadm_.describe(), err.what());
        return sink.location_unread(skip_of(err), static_cast<int>(e), box.line, where, shown_entry(box));
    }
    if (users.empty()) return sink.location_unread(Skip::NoUsers, static_cast<int>(e), box.line, where, shown_entry(box));
    std::sort(users.begin(), users.end());
    for (const auto& u : users) add_user_root(plan, e, u);
}

void DovecotStore::add_user_root(Plan& plan, size_t e, const std::string& user) {
    const SweepMailbox& box = config_.sweep.mailboxes[e];
    Root root;
    root.path = "dovecot:" + endpoint_.name + "/" + user;
    root.kind = box.kind;
    root.line = box.line;
    root.user = user;
    root.entry = static_cast<int>(e);
    roots_[plan.roots.size()].user = user;
    plan.roots.push_back(std::move(root));
}

// The Dovecot name of the configured folder `folder` in this user's folders, if it exists.
std::optional<std::string> DovecotStore::existing_name(const RootState& rs, const std::string& folder) const {
    for (const auto& n : dovecot_names(folder, rs.separator))
        if (rs.mailboxes.count(n)) return n;
    return std::nullopt;
}

// Hold folders are not among the roles: scan_holds lists them before everything else.
std::optional<FolderRole> DovecotStore::role_of(const Root& root, const RootState& rs, const std::string& name) const {
    const SweepMailbox& box = entry_of(root);
    if (root.kind == MailboxKind::Shared) {
        for (const auto& [folder, reason] : box.hold_folders)
            for (const auto& n : hold_names(folder, rs.separator))
                if (name == n || name.rfind(n + rs.separator, 0) == 0) return std::nullopt;
        return FolderRole::Shared;
    }
    const auto is_or_below = [&](const std::vector<std::string>& folders) {
        for (const auto& folder : folders)
            for (const auto& n : dovecot_names(folder, rs.separator))
                if (name == n || name.rfind(n + rs.separator, 0) == 0) return true;
        return false;
    };
    // Staff file old replies in folders below Sent; Outlook moves deleted folders below
    // Deleted Items.
    if (is_or_below(box.sent_folders)) return FolderRole::Sent;
    if (is_or_below(box.deleted_folders)) return FolderRole::Deleted;
    // A lazy_expunge folder holds copies of what the user expunged: helpline copies
    // there go on their date like those in the deleted items.
    if (looks_like_lazy_expunge(name)) return FolderRole::Deleted;
    return std::nullopt;
}

std::string DovecotStore::sent_folder(const Plan& plan, size_t r) {
    const auto it = roots_.find(r);
    if (it == roots_.end() || !plan.roots[r].usable) return {};
    const RootState& rs = it->second;
    const SweepMailbox& box = entry_of(plan.roots[r]);
    for (const auto& folder : box.sent_folders)
        if (auto n = existing_name(rs, folder)) return *n;
    return new_folder_name(rs, box.sent_folders.empty() ? std::string("Sent") : box.sent_folders.front());
}

// The Dovecot name a folder to be made gets.
std::string DovecotStore::new_folder_name(const RootState& rs, const std::string& folder) const {
    const auto names = dovecot_names(folder, rs.separator);
    // Where every folder sits below INBOX (Courier's layout), a new one does too.
    const std::string inbox_prefix = std::string("INBOX") + rs.separator;
    const bool below_inbox = rs.mailboxes.size() > 1 &&
                             std::all_of(rs.mailboxes.begin(), rs.mailboxes.end(), [&](const auto& m) {
                                 return m.first == "INBOX" || m.first.rfind(inbox_prefix, 0) == 0;
                             });
    return below_inbox && names.size() > 1 ? names[1] : names[0];
}

// --- one mailbox ----------------------------------------------------------------------

struct DovecotStore::Walk {
    Plan& plan;
    size_t r;
    ScanSink& sink;
    RootState& rs;
    std::vector<StoredMessage> batch;

    std::string hold;     // the hold folder being listed (its config name), else empty
    std::string release;  // the release folder being listed (its config name), else empty

    Root& root() { return plan.roots[r]; }
    std::string path(const std::string& folder) const { return path_of(plan, r, folder); }
    void flush() {
        if (batch.empty()) return;
        for (auto& m : batch) m.hold_folder = release.empty() ? hold : release;
        sink.messages(batch);
        batch.clear();
    }
    void location_unread(Skip why, const std::string& where, const std::string& shown) {
        flush();
        if (!hold.empty()) return sink.hold_folder_unread(why, r, hold, where);
        if (!release.empty()) return release_unread(why);
        sink.location_unread(why, root().entry, line_of(root()), where, shown);
    }
    void message_unread(Skip why, const std::string& where) {
        flush();
        if (!hold.empty()) return sink.hold_folder_unread(why, r, hold, where);
        if (!release.empty()) return release_unread(why);
        sink.message_unread(why, root(), where);
    }
    // Releasing is never urgent: nothing is released from a folder not read completely.
    void release_unread(Skip why) {
        sink.release_folder_refused(r, release, std::string("it could not be read completely: ") + skip_text(why));
    }
};

// A hold folder that Dovecot cannot list stops all destruction (see ScanSink).
void DovecotStore::scan_holds(Plan& plan, size_t r, ScanSink& sink) {
    const SweepMailbox& box = entry_of(plan.roots[r]);
    if (box.kind != MailboxKind::Shared || (box.hold_folders.empty() && box.release_folder.empty())) return;
    RootState& rs = roots_[r];
    Walk w{plan, r, sink, rs, {}, {}, {}};
    try {
        const auto list = doveadm_.mailboxes(rs.user);
        if (const char sep = doveadm_.separator(rs.user); sep != 0) rs.separator = sep;
        for (const auto& m : list) rs.mailboxes[m.name].status = m;
    } catch (const DoveadmError& e) {
        spdlog::warn("[[sweep.mailbox]] number {}: cannot list the hold folders through {}: {}", w.root().entry + 1,
                     doveadm_.describe(), e.what());
        for (const auto& [name, reason] : box.hold_folders) sink.hold_folder_unread(skip_of(e), r, name, w.root().path);
        if (!box.release_folder.empty())
            sink.release_folder_refused(r, box.release_folder, std::string("its mailbox could not be listed: ") +
                                                                   skip_text(skip_of(e)));
        return;
    }
    scan_hold_folders(w, box);
    scan_release_folder(w, box);
}

void DovecotStore::scan_hold_folders(Walk& w, const SweepMailbox& box) {
    RootState& rs = w.rs;
    for (const auto& [name, reason] : box.hold_folders) {
        w.hold = name;
        std::set<std::string> found;
        for (const auto& n : hold_names(name, rs.separator))
            for (const auto& [listed, m] : rs.mailboxes)
                if (listed == n || listed.rfind(n + rs.separator, 0) == 0) found.insert(listed);
        if (found.empty()) {
            w.sink.hold_folder_missing(w.r, new_folder_name(rs, name), name);
            continue;
        }
        // Staff file held mail in folders of their own below the hold folder too.
        for (const auto& f : found) {
            Mailbox& m = rs.mailboxes.at(f);
            m.role = FolderRole::Hold;
            scan_mailbox(w, f, m);
        }
        w.flush();
    }
    w.hold.clear();
}

// The release folder lifts folder holds only while Dovecot's ACLs let no one but the
// team leaders put mail into it: a stray move by a shared login must never release.
// The sweeper never makes it: made with Dovecot's default ACL, everyone could.
void DovecotStore::scan_release_folder(Walk& w, const SweepMailbox& box) {
    if (box.release_folder.empty()) return;
    std::string listed;
    for (const auto& n : hold_names(box.release_folder, w.rs.separator))
        if (w.rs.mailboxes.count(n)) listed = n;
    if (listed.empty())
        return w.sink.release_folder_refused(w.r, box.release_folder,
                                             "it does not exist (the sweeper never makes it: make it and its ACL with "
                                             "doveadm, as the README says)");
    if (auto why = release_unguarded(w.rs.user, listed, box))
        return w.sink.release_folder_refused(w.r, box.release_folder, *why);
    // A copy: the folder is also listed by scan() as any folder of the shared mailbox,
    // so that its messages go on their date.
    Mailbox m = w.rs.mailboxes.at(listed);
    m.role = FolderRole::Release;
    w.release = box.release_folder;
    scan_mailbox(w, listed, m);
    w.flush();
    w.release.clear();
}

std::optional<std::string> DovecotStore::release_unguarded(const std::string& user, const std::string& folder,
                                                           const SweepMailbox& box) {
    try {
        const auto owner = doveadm_.acl_rights(user, folder);
        const auto why = release_folder_unguarded(doveadm_.acl(user, folder), owner, box.release_logins, false);
        if (!why.empty()) return "Dovecot's ACL lets others than release_logins put mail into it: " + join(why, "; ");
        // Released mail past its date is destroyed from there, as the shared login.
        if (const auto lacking = sweeper_rights_lacking(owner); !lacking.empty())
            return "the shared login lacks " + join(lacking, ", ") + " there, so released mail could not be destroyed";
        return std::nullopt;
    } catch (const DoveadmError& e) {
        spdlog::warn("cannot read the ACL of a release folder through {}: {}", doveadm_.describe(), e.what());
        return std::string("its ACL could not be read (is Dovecot's acl plugin in mail_plugins?): ") +
               skip_text(skip_of(e));
    }
}

void DovecotStore::scan(Plan& plan, size_t r, ScanSink& sink) {
    RootState& rs = roots_[r];
    Walk w{plan, r, sink, rs, {}, {}, {}};
    const SweepMailbox& box = entry_of(w.root());
    try {
        const auto list = doveadm_.mailboxes(rs.user);
        // A user without nested folders gives no separator: "/" then, as the config writes.
        if (const char sep = doveadm_.separator(rs.user); sep != 0) rs.separator = sep;
        for (const auto& m : list) rs.mailboxes[m.name].status = m;
    } catch (const DoveadmError& e) {
        spdlog::warn("[[sweep.mailbox]] number {}: cannot list a user's folders through {}: {}", w.root().entry + 1,
                     doveadm_.describe(), e.what());
        return w.location_unread(skip_of(e), w.root().path, shown_entry(box));
    }
    w.root().usable = true;
    std::vector<std::string> names;
    for (auto& [name, m] : rs.mailboxes) {
        const auto role = role_of(w.root(), rs, name);
        m.lazy_expunge = looks_like_lazy_expunge(name);
        if (m.lazy_expunge) sink.expunged_copies_folder(w.path(name));
        if (!role) continue;
        m.role = *role;
        names.push_back(name);
    }
    scan_folders(w, names);
}

std::string DovecotStore::identity(const std::string& user, const MailboxStatus& box, unsigned long uid) const {
    std::string id = "dovecot";
    for (const std::string* part : {&endpoint_.name, &user, &box.guid, &box.uidvalidity}) {
        id += '\0';
        id += *part;
    }
    id += '\0';
    id += std::to_string(uid);
    return key_.file_hash(id).substr(0, 16);  // the scan cache's key length
}

// Every folder of the user the sweep reads is listed in one doveadm run: a run costs a
// process and a look at the user's indexes whatever it lists.
void DovecotStore::scan_folders(Walk& w, const std::vector<std::string>& names) {
    if (names.empty()) return;
    std::map<std::string, std::string> name_of_guid;
    std::vector<std::vector<std::string>> parts;
    for (const auto& name : names) {
        const std::string& guid = w.rs.mailboxes.at(name).status.guid;
        name_of_guid[guid] = name;
        parts.push_back({"mailbox-guid", guid, "uid", "1:*"});
    }
    std::map<std::string, std::vector<Fields>> listed;
    try {
        for (auto& f : doveadm_.fetch(w.rs.user, {"mailbox-guid", "uid", "date.received.unixtime"}, any_of(parts))) {
            const auto it = name_of_guid.find(field(f, "mailbox-guid"));
            if (it == name_of_guid.end())
                throw DoveadmError(DoveadmError::Kind::BadAnswer, "doveadm fetch gave a message of no folder asked for");
            listed[it->second].push_back(std::move(f));
        }
    } catch (const DoveadmError& e) {
        // Each folder is listed by itself then, so that the one Dovecot cannot read is the
        // one reported.
        if (names.size() == 1) return unlisted(w, names.front(), e);
        for (const auto& name : names) scan_mailbox(w, name, w.rs.mailboxes.at(name));
        return;
    }
    const auto gone = vanished_folders(w, names, listed);
    if (!gone) return;
    std::map<std::string, Listing> listings;
    for (const auto& name : names) {
        // Deleted since "mailbox status": its messages may be elsewhere now.
        if (gone->count(name)) w.sink.vanished();
        else if (Listing l; take_listing(w, name, w.rs.mailboxes.at(name), listed[name], l)) listings[name] = std::move(l);
    }
    read_all_headers(w, listings);
}

// A folder that had messages and now lists none was emptied, or deleted since "mailbox
// status" (a search by a GUID no folder has finds nothing; a renamed folder keeps its
// GUID): the folders doveadm lists now tell which. Nothing when they cannot be asked (then
// no folder counts as read).
std::optional<std::set<std::string>> DovecotStore::vanished_folders(
    Walk& w, const std::vector<std::string>& names, const std::map<std::string, std::vector<Fields>>& listed) {
    std::set<std::string> gone;
    for (const auto& name : names)
        if (!listed.count(name) && w.rs.mailboxes.at(name).status.messages > 0) gone.insert(name);
    if (gone.empty()) return gone;
    try {
        for (const auto& m : doveadm_.mailboxes(w.rs.user))
            for (auto it = gone.begin(); it != gone.end();)
                it = m.guid == w.rs.mailboxes.at(*it).status.guid ? gone.erase(it) : std::next(it);
    } catch (const DoveadmError& e) {
        spdlog::warn("[[sweep.mailbox]] number {}: cannot list a user's folders through {}: {}", w.root().entry + 1,
                     doveadm_.describe(), e.what());
        for (const auto& name : names) w.location_unread(skip_of(e), w.path(name), shown_entry(entry_of(w.root())));
        return std::nullopt;
    }
    return gone;
}

void DovecotStore::unlisted(Walk& w, const std::string& name, const DoveadmError& e) {
    // A folder deleted or renamed since the listing: its messages may be elsewhere now.
    // A hold folder gone meanwhile is another matter: what it held may not be held yet.
    if (e.kind() == DoveadmError::Kind::NoSuchMailbox && w.hold.empty()) return w.sink.vanished();
    spdlog::warn("[[sweep.mailbox]] number {}: cannot list a folder through {}: {}", w.root().entry + 1,
                 doveadm_.describe(), e.what());
    w.location_unread(skip_of(e), w.path(name), shown_entry(entry_of(w.root())));
}

void DovecotStore::scan_mailbox(Walk& w, const std::string& name, const Mailbox& box) {
    std::vector<Fields> listed;
    try {
        listed = doveadm_.fetch(w.rs.user, {"uid", "date.received.unixtime"},
                                {"mailbox-guid", box.status.guid, "uid", "1:*"});
    } catch (const DoveadmError& e) {
        return unlisted(w, name, e);
    }
    if (Listing l; take_listing(w, name, box, listed, l)) read_folder_headers(w, name, box, l);
}

// The messages a folder lists: those the scan cache knows go on at once, the others are
// left in `listing` to have their headers read. False when the answer is not doveadm's.
bool DovecotStore::take_listing(Walk& w, const std::string& name, const Mailbox& box, const std::vector<Fields>& listed,
                                Listing& listing) {
    // The uids up to the first row without one (doveadm's answer is then not whole), and
    // their identities, made once: asked for together, then one by one.
    std::vector<unsigned long> uids;
    std::vector<std::string> identities;
    for (const Fields& f : listed) {
        const auto uid = number(f, "uid");
        if (!uid) break;
        uids.push_back(*uid);
        identities.push_back(identity(w.rs.user, box.status, *uid));
    }
    w.sink.prefetch_known(identities);
    for (size_t i = 0; i < listed.size(); ++i) {
        if (i == uids.size()) {
            w.location_unread(Skip::DovecotBadAnswer, w.path(name), shown_entry(entry_of(w.root())));
            return false;
        }
        const unsigned long uid = uids[i];
        const auto at = number(listed[i], "date.received.unixtime");
        listing.received[uid] = at ? date_of_seconds(static_cast<std::int64_t>(*at)) : std::nullopt;
        if (auto keys = w.sink.known(identities[i])) {
            StoredMessage m{FileRef{w.r, name, "", std::to_string(uid)}, box.role, listing.received[uid], *keys, {}};
            w.batch.push_back(std::move(m));
        } else {
            listing.unknown.push_back(uid);
        }
        if (w.batch.size() >= kHeaderBatch) w.flush();
    }
    w.flush();
    return true;
}

// The headers of one folder's messages, kHeaderBatch a fetch.
void DovecotStore::read_folder_headers(Walk& w, const std::string& name, const Mailbox& box, const Listing& listing) {
    const auto& unknown = listing.unknown;
    for (size_t i = 0; i < unknown.size(); i += kHeaderBatch) {
        const std::vector<unsigned long> part(unknown.begin() + static_cast<long>(i),
                                              unknown.begin() + static_cast<long>(std::min(unknown.size(), i + kHeaderBatch)));
        read_headers(w, name, box, part, listing.received);
        w.flush();
    }
}

// The headers of the messages the scan cache does not know, in all the user's folders,
// kHeaderFetch a doveadm run.
void DovecotStore::read_all_headers(Walk& w, const std::map<std::string, Listing>& listings) {
    std::map<std::string, Listing> part;
    size_t n = 0;
    for (const auto& [name, listing] : listings) {
        for (const auto uid : listing.unknown) {
            Listing& p = part[name];
            p.unknown.push_back(uid);
            p.received[uid] = listing.received.at(uid);
            if (++n < kHeaderFetch) continue;
            read_headers_across(w, part);
            part.clear();
            n = 0;
        }
    }
    if (n > 0) read_headers_across(w, part);
}

// One fetch of the headers of messages in several folders; when doveadm cannot answer it,
// each folder's are asked by themselves, so that what Dovecot cannot read is told apart.
void DovecotStore::read_headers_across(Walk& w, const std::map<std::string, Listing>& part) {
    std::vector<std::vector<std::string>> queries;
    std::map<std::string, std::string> name_of_guid;
    for (const auto& [name, listing] : part) {
        const std::string& guid = w.rs.mailboxes.at(name).status.guid;
        name_of_guid[guid] = name;
        queries.push_back({"mailbox-guid", guid, "uid", uid_set(listing.unknown)});
    }
    std::vector<Fields> got;
    try {
        got = doveadm_.fetch(w.rs.user, {"mailbox-guid", "uid", "hdr"}, any_of(queries));
    } catch (const DoveadmError&) {
        for (const auto& [name, listing] : part) read_folder_headers(w, name, w.rs.mailboxes.at(name), listing);
        return;
    }
    std::set<std::pair<std::string, unsigned long>> answered;
    for (const Fields& f : got) {
        const auto box = name_of_guid.find(field(f, "mailbox-guid"));
        const auto uid = number(f, "uid");
        if (box == name_of_guid.end() || !uid) continue;
        const Listing& listing = part.at(box->second);
        if (!listing.received.count(*uid) || !answered.insert({box->second, *uid}).second) continue;
        take_header(w, box->second, w.rs.mailboxes.at(box->second), *uid, field(f, "hdr"), listing.received.at(*uid));
    }
    w.flush();
    // Expunged between the listing and the header fetch.
    for (const auto& [name, listing] : part)
        for (const auto uid : listing.unknown)
            if (!answered.count({name, uid})) w.sink.vanished();
}

// Headers of a batch of messages; a batch doveadm cannot answer is asked again one
// message at a time, so that one message Dovecot cannot parse is a skip of its own.
void DovecotStore::read_headers(Walk& w, const std::string& name, const Mailbox& box,
                                const std::vector<unsigned long>& uids,
                                const std::map<unsigned long, std::optional<Date>>& received) {
    std::vector<Fields> got;
    try {
        got = doveadm_.fetch(w.rs.user, {"uid", "hdr"}, {"mailbox-guid", box.status.guid, "uid", uid_set(uids)});
    } catch (const DoveadmError& e) {
        if (e.kind() == DoveadmError::Kind::Unreachable || e.kind() == DoveadmError::Kind::Refused)
            return w.location_unread(skip_of(e), w.path(name), shown_entry(entry_of(w.root())));
        if (uids.size() > 1) {
            for (const auto uid : uids) read_headers(w, name, box, {uid}, received);
            return;
        }
        w.flush();
        return w.message_unread(Skip::Unreadable, w.path(name + "/" + std::to_string(uids.front())));
    }
    std::set<unsigned long> answered;
    for (const Fields& f : got) {
        const auto uid = number(f, "uid");
        if (!uid || !received.count(*uid) || !answered.insert(*uid).second) continue;
        take_header(w, name, box, *uid, field(f, "hdr"), received.at(*uid));
    }
    // Expunged between the listing and the header fetch.
    for (const auto uid : uids)
        if (!answered.count(uid)) w.sink.vanished();
}

// One message's header, read: its keys go on with the message, or the reason it cannot
// be matched.
void DovecotStore::take_header(Walk& w, const std::string& name, const Mailbox& box, unsigned long uid,
                               const std::string& hdr, const std::optional<Date>& received) {
    const std::string where = w.path(name + "/" + std::to_string(uid));
    const HeaderFields h = parse_header_fields(hdr, kMatchFields);
    w.sink.message_read();
    const bool no_header = h.status == HeaderBlock::Status::Empty || h.status == HeaderBlock::Status::NoHeaders;
    // In a staff member's own folders a message without a header is their own mail.
    if (box.role != FolderRole::Shared && no_header) return;
    if (h.status != HeaderBlock::Status::Ok) {
        w.message_unread(h.status == HeaderBlock::Status::TooLarge ? Skip::HeaderTooLarge
                         : no_header                                ? Skip::NoHeaderBlock
                                                                    : Skip::Unreadable,
                         where);
        return;
    }
    const HeaderFacts facts = header_facts(h.fields);
    Index::FileKeys keys = match_keys(facts, key_);
    if (!add_legacy_key(w.rs.user, box, uid, facts, keys)) {
        w.message_unread(Skip::Unreadable, where);
        return;
    }
    if (!keys.digest.empty() || !keys.record.empty()) w.sink.learn(identity(w.rs.user, box.status, uid), keys);
    w.batch.push_back({FileRef{w.r, name, "", std::to_string(uid)}, box.role, received, keys, {}});
    if (w.batch.size() >= kHeaderBatch) w.flush();
}

// A Message-ID with bytes that are not UTF-8 comes through JSON with them replaced, but
// rows an older milter wrote for it are keyed over the bytes themselves: such a header is
// fetched again byte for byte where the client can (the local program; over the API those
// rows match stamped copies only). False when that fetch fails: the copy is not read.
bool DovecotStore::add_legacy_key(const std::string& user, const Mailbox& box, unsigned long uid,
                                  const HeaderFacts& facts, Index::FileKeys& keys) {
    const bool replaced = std::any_of(facts.message_ids.begin(), facts.message_ids.end(), [](const std::string& v) {
        return v.find("\xEF\xBF\xBD") != std::string::npos;
    });
    if (!replaced || keys.digest.empty()) return true;
    try {
        const auto raw = doveadm_.fetch_raw(user, "hdr", {"mailbox-guid", box.status.guid, "uid", std::to_string(uid)});
        if (!raw) return true;
        const HeaderFields h = parse_header_fields(*raw, kMatchFields);
        const Index::FileKeys exact = match_keys(header_facts(h.fields), key_);
        if (exact.digest == keys.digest) keys.legacy = exact.legacy;
        return true;
    } catch (const DoveadmError& e) {
        spdlog::error("cannot fetch a header byte for byte through {}: {}", doveadm_.describe(), e.what());
        return false;
    }
}

// --- phase 2: destruction ---------------------------------------------------------------

// "mailbox path" is asked once per user where it can be: a folder's format is that of the
// others of its namespace, and a Maildir folder's path is found beside another's.
MailFormat DovecotStore::format(size_t r, const std::string& name) {
    RootState& rs = roots_[r];
    Mailbox& box = rs.mailboxes[name];
    if (box.format) return *box.format;
    if (const auto f = format_beside(rs, name)) return *(box.format = f);
    try {
        box.path = doveadm_.mailbox_path(rs.user, name);
    } catch (const DoveadmError& e) {
        spdlog::warn("cannot ask {} where a folder is stored: {}", doveadm_.describe(), e.what());
    }
    box.format = box.path ? format_of_mailbox_path(*box.path) : MailFormat::Unknown;
    if (box.path && !rs.path_asked) rs.path_asked = name;
    return *box.format;
}

// The format of folder `name` told from the folder whose path doveadm gave, without a
// doveadm run: a Maildir folder where its path, made from the other's, holds a
// dovecot-uidlist naming its GUID; an mbox or mdbox folder (never overwritten in place:
// no path needed), or an sdbox one when nothing is overwritten, where Dovecot has a single
// namespace (one format for every folder).
std::optional<MailFormat> DovecotStore::format_beside(RootState& rs, const std::string& name) {
    if (!rs.path_asked) return std::nullopt;
    const Mailbox& known = rs.mailboxes.at(*rs.path_asked);
    Mailbox& box = rs.mailboxes.at(name);
    switch (*known.format) {
        case MailFormat::Maildir:
            for (const auto& path : paths_beside(*known.path, *rs.path_asked, name, rs.separator)) {
                if (maildir_guid(path) != box.status.guid || box.status.guid.empty()) continue;
                box.path = path;
                return MailFormat::Maildir;
            }
            return std::nullopt;
        case MailFormat::Sdbox:
            if (config_.sweep.secure_delete == SecureDelete::Overwrite) return std::nullopt;
            [[fallthrough]];
        case MailFormat::Mbox:
        case MailFormat::Mdbox:
            if (single_namespace()) return known.format;
            return std::nullopt;
        case MailFormat::Unknown: return std::nullopt;
    }
    return std::nullopt;
}

// Asked once a run (doveconf); a userdb may add namespaces of its own, which this does not see.
bool DovecotStore::single_namespace() {
    if (single_namespace_) return *single_namespace_;
    size_t n = 0;
    try {
        const std::optional<std::string> blocks = doveadm_.setting("namespace", "");
        std::istringstream lines(blocks.value_or(""));
        for (std::string line; std::getline(lines, line);)
            if (line.rfind("namespace ", 0) == 0) ++n;
    } catch (const DoveadmError& e) {
        spdlog::warn("cannot ask {} for its namespaces: {}", doveadm_.describe(), e.what());
    }
    return *(single_namespace_ = n == 1);
}

// One user's part of a destroy batch: its messages in all its folders go in one search
// query ("( mailbox-guid G uid SET ) OR ..."), and what doveadm lists before and after the
// expunge is kept per folder.
struct DovecotStore::UserDestroy {
    size_t r = 0;
    const std::map<std::string, std::vector<size_t>>* by_mailbox = nullptr;
    std::vector<std::vector<std::string>> parts;
    std::vector<std::string> query;
    std::map<std::string, std::string> name_of_guid;
    std::map<std::string, std::vector<Fields>> present;
    std::set<std::pair<std::string, unsigned long>> before, left;
    std::set<std::string> guids;  // message GUIDs, for lazy_expunge's copies
    std::map<std::string, std::map<unsigned long, UniqueFd>> files;
    std::optional<DoveadmError> error;

    // (mailbox name, uid) of a row doveadm gives, for a mailbox of this batch.
    std::optional<std::pair<std::string, unsigned long>> where(const Fields& f) const {
        const auto box = name_of_guid.find(field(f, "mailbox-guid"));
        const auto uid = number(f, "uid");
        if (box == name_of_guid.end() || !uid) return std::nullopt;
        return std::make_pair(box->second, *uid);
    }
    void take_before(Fields f) {
        const auto at = where(f);
        if (!at) return;
        before.insert(*at);
        guids.insert(field(f, "guid"));
        present[at->first].push_back(std::move(f));
    }
    void take_left(const Fields& f) {
        if (const auto at = where(f)) left.insert(*at);
    }
};

namespace {

unsigned long uid_of(const FileRef& f) {
    unsigned long uid = 0;
    std::from_chars(f.name.data(), f.name.data() + f.name.size(), uid);
    return uid;
}

const std::vector<std::string> kBeforeFields{"mailbox-guid", "uid", "guid"};
const std::vector<std::string> kLeftFields{"mailbox-guid", "uid"};

}  // namespace

std::vector<DestroyOutcome> DovecotStore::destroy(const Plan& plan, const std::vector<std::vector<FileRef>>& batch) {
    (void)plan;
    std::vector<DestroyOutcome> out(batch.size());
    std::map<size_t, std::map<std::string, std::vector<size_t>>> by_user;
    for (size_t i = 0; i < batch.size(); ++i) {
        if (batch[i].empty()) continue;
        by_user[batch[i].front().root][batch[i].front().folder].push_back(i);
    }
    std::vector<UserDestroy> users;
    for (const auto& [r, by_mailbox] : by_user) users.push_back(user_part(r, by_mailbox, batch));
    ask_formats_together(users);
    if (!destroy_together(users)) {
        for (auto& u : users) destroy_alone(u);
    }
    std::set<size_t> to_purge;
    for (auto& u : users) {
        account_user(u, batch, out);
        if (roots_[u.r].purge) to_purge.insert(u.r);
    }
    std::vector<std::string> names;
    for (const size_t r : to_purge) names.push_back(roots_[r].user);
    const auto failed = names.empty() ? std::map<std::string, std::string>{} : doveadm_.purge_each(names);
    for (const size_t r : to_purge) {
        const auto it = failed.find(roots_[r].user);
        if (it == failed.end()) continue;
        // Over the API the format is not known: purge only matters for mdbox.
        roots_[r].purge_failed = true;
        spdlog::warn("purge of mdbox storage through {} failed: {}", doveadm_.describe(), it->second);
    }
    return out;
}

// The format of each user's storage, from the path of its INBOX, asked for every user of
// the batch whose format is not known yet in one doveadm run; the user's other folders
// are then found beside it (format_beside). A user left out of the answer is asked alone.
void DovecotStore::ask_formats_together(const std::vector<UserDestroy>& users) {
    std::map<std::string, std::vector<size_t>> roots_of;
    for (const auto& u : users) {
        const RootState& rs = roots_[u.r];
        const auto inbox = rs.mailboxes.find("INBOX");
        if (!rs.path_asked && inbox != rs.mailboxes.end() && !inbox->second.format) roots_of[rs.user].push_back(u.r);
    }
    if (roots_of.size() < 2) return;
    std::vector<std::string> names;
    for (const auto& [name, rs] : roots_of) names.push_back(name);
    const auto paths = doveadm_.mailbox_paths(names, "INBOX");
    if (!paths) return;
    for (const auto& [user, path] : *paths) {
        const auto it = roots_of.find(user);
        if (it == roots_of.end()) continue;
        // An INBOX never written to has no storage yet to tell the format by: then the
        // folders of the batch are asked about alone.
        const MailFormat fmt = format_of_mailbox_path(path);
        if (fmt == MailFormat::Unknown) continue;
        for (const size_t r : it->second) {
            Mailbox& inbox = roots_[r].mailboxes["INBOX"];
            inbox.path = path;
            inbox.format = fmt;
            roots_[r].path_asked = "INBOX";
        }
    }
}

DovecotStore::UserDestroy DovecotStore::user_part(size_t r, const std::map<std::string, std::vector<size_t>>& by_mailbox,
                                                      const std::vector<std::vector<FileRef>>& batch) {
    UserDestroy u;
    u.r = r;
    u.by_mailbox = &by_mailbox;
    for (const auto& [name, items] : by_mailbox) {
        std::vector<unsigned long> uids;
        for (const size_t i : items) uids.push_back(uid_of(batch[i].front()));
        const std::string& guid = roots_[r].mailboxes[name].status.guid;
        u.name_of_guid[guid] = name;
        u.parts.push_back({"mailbox-guid", guid, "uid", uid_set(uids)});
    }
    u.query = any_of(u.parts);
    return u;
}

// Between the look at what is there and the expunge: where mdbox storage will need a purge,
// and the files to overwrite once Dovecot has unlinked them.
void DovecotStore::prepare_expunge(UserDestroy& u) {
    RootState& rs = roots_[u.r];
    for (const auto& [name, items] : *u.by_mailbox) {
        const MailFormat fmt = format(u.r, name);
        if (fmt == MailFormat::Mdbox || fmt == MailFormat::Unknown) rs.purge = true;
        if (config_.sweep.secure_delete == SecureDelete::Overwrite && u.present.count(name))
            u.files[name] = open_in_place(u.r, name, u.present[name]);
    }
}

// The fetch of what is there, the expunge and the check of what is left: one doveadm run
// each for the user, however many folders the batch touches.
void DovecotStore::destroy_alone(UserDestroy& u) {
    const std::string& user = roots_[u.r].user;
    try {
        for (auto& f : doveadm_.fetch(user, kBeforeFields, u.query)) u.take_before(std::move(f));
        prepare_expunge(u);
        if (!u.before.empty()) doveadm_.expunge(user, u.query);
        expunge_lazy_copies(u.r, u.guids);
        check_left_alone(u);
    } catch (const DoveadmError& e) {
        u.error = e;
    }
}

void DovecotStore::check_left_alone(UserDestroy& u) {
    u.left.clear();
    if (!u.before.empty())
        for (const auto& f : doveadm_.fetch_left(roots_[u.r].user, kLeftFields, u.query)) u.take_left(f);
}

// Every user of the batch in one doveadm run a step, where the client can: the same
// steps as destroy_alone. Returns false, having changed nothing, when the users cannot go
// together: then each goes alone. One user whose run fails after that point is finished
// alone, where its failure is its own.
//
// The query joins every user's part: a mailbox GUID names one folder of one user, so each
// user's run matches its own messages only. A GUID that two of these users share (a
// mailbox copied with its GUID, as dsync does) keeps them apart.
bool DovecotStore::destroy_together(std::vector<UserDestroy>& users) {
    if (users.size() < 2) return false;
    std::map<std::string, UserDestroy*> by_name;
    std::set<std::string> guids;
    std::vector<std::vector<std::string>> parts;
    for (auto& u : users) {
        const RootState& rs = roots_[u.r];
        if (!by_name.emplace(rs.user, &u).second) return false;  // one user in two entries
        for (const auto& [name, m] : rs.mailboxes)
            if (!guids.insert(m.status.guid).second) return false;
        parts.insert(parts.end(), u.parts.begin(), u.parts.end());
    }
    const std::vector<std::string> query = any_of(parts);
    std::vector<std::string> names;
    for (const auto& [name, u] : by_name) names.push_back(name);
    auto before = fetch_for_users(by_name, names, kBeforeFields, query);
    if (!before) return false;
    for (auto& f : *before) by_name[field(f, "username")]->take_before(std::move(f));

    // A user that shows nothing here was passed over (it no longer exists, or could not be
    // read) or its messages are all gone: asked alone, the difference is told.
    std::vector<std::string> acting;
    for (auto& [name, u] : by_name) {
        if (u->before.empty()) {
            destroy_alone(*u);
            continue;
        }
        try {
            prepare_expunge(*u);
        } catch (const DoveadmError& e) {
            u->error = e;
        }
        if (!u->error) acting.push_back(name);
    }
    if (acting.empty()) return true;
    if (!doveadm_.expunge_for_users(acting, query)) {
        for (const auto& name : acting) {
            try {
                doveadm_.expunge(name, by_name[name]->query);
            } catch (const DoveadmError& e) {
                by_name[name]->error = e;
            }
        }
    }
    for (const auto& name : acting) {
        UserDestroy& u = *by_name[name];
        if (u.error) continue;
        try {
            expunge_lazy_copies(u.r, u.guids);
        } catch (const DoveadmError& e) {
            u.error = e;
        }
    }
    check_left_together(by_name, acting, query);
    return true;
}

// fetch_for_users, where every row names a user of the batch: an answer with a row under
// another name (a userdb that renames its users) is not used.
std::optional<std::vector<Fields>> DovecotStore::fetch_for_users(const std::map<std::string, UserDestroy*>& by_name,
                                                                 const std::vector<std::string>& names,
                                                                 const std::vector<std::string>& fields,
                                                                 const std::vector<std::string>& query) {
    auto rows = doveadm_.fetch_for_users(names, fields, query);
    if (rows)
        for (const auto& f : *rows)
            if (!by_name.count(field(f, "username"))) return std::nullopt;
    return rows;
}

// What Dovecot still lists, for every user that acted, in one run. doveadm skips a user
// that no longer exists without a word, which would make all its messages look destroyed:
// so the users are looked up after it, all at once, and where that cannot confirm them
// each one's check is asked alone (a user that does not exist is then an error).
void DovecotStore::check_left_together(const std::map<std::string, UserDestroy*>& by_name,
                                       const std::vector<std::string>& acting, const std::vector<std::string>& query) {
    std::vector<std::string> checking;
    for (const auto& name : acting)
        if (!by_name.at(name)->error) checking.push_back(name);
    if (checking.empty()) return;
    const auto left = fetch_for_users(by_name, checking, kLeftFields, query);
    if (left && doveadm_.all_exist(checking)) {
        for (const auto& f : *left) by_name.at(field(f, "username"))->take_left(f);
        return;
    }
    for (const auto& name : checking) {
        UserDestroy& u = *by_name.at(name);
        try {
            check_left_alone(u);
        } catch (const DoveadmError& e) {
            u.error = e;
        }
    }
}

void DovecotStore::account_user(UserDestroy& u, const std::vector<std::vector<FileRef>>& batch,
                                std::vector<DestroyOutcome>& out) {
    if (u.error) {
        spdlog::error("cannot expunge messages through {}: {}", doveadm_.describe(), u.error->what());
        // A folder gone since the scan took its messages with it, or moved them elsewhere:
        // the next run finds them there.
        const Skip why = u.error->kind() == DoveadmError::Kind::NoSuchMailbox ? Skip::Changed : skip_of(*u.error);
        for (const auto& [name, items] : *u.by_mailbox)
            for (const size_t i : items) out[i].skips.push_back(why);
        return;
    }
    for (const auto& [name, items] : *u.by_mailbox)
        account_destroyed(u.r, name, items, batch, u.before, u.left, u.files[name], out);
}

// Only what Dovecot no longer lists is overwritten: its file is unlinked now, and a run
// killed before this leaves no zeroed message Dovecot still reads.
void DovecotStore::account_destroyed(size_t r, const std::string& name, const std::vector<size_t>& items,
                                     const std::vector<std::vector<FileRef>>& batch,
                                     const std::set<std::pair<std::string, unsigned long>>& before,
                                     const std::set<std::pair<std::string, unsigned long>>& left,
                                     std::map<unsigned long, UniqueFd>& files, std::vector<DestroyOutcome>& out) {
    std::set<unsigned long> overwritten;
    for (auto& [uid, fd] : files)
        if (!left.count({name, uid}) && fd && overwrite_open_file(fd.get())) overwritten.insert(uid);
    for (const size_t i : items) {
        const unsigned long uid = uid_of(batch[i].front());
        DestroyOutcome& o = out[i];
        if (!before.count({name, uid})) {
            o.vanished = 1;
        } else if (left.count({name, uid})) {
            o.skips.push_back(Skip::CannotDestroy);
        } else {
            o.removed = 1;
            o.overwritten = overwritten.count(uid) > 0;
            o.folders.emplace_back(r, name);
        }
    }
}

// Maildir and sdbox files are opened where Dovecot keeps them, when doveadm runs on the
// store's host, to be overwritten once the expunge has unlinked them (overwriting first
// would leave a zeroed message that Dovecot still lists, and a corrupt dbox file, if the
// run were killed in between); the rest is reported as a residue (report_residues).
std::map<unsigned long, UniqueFd> DovecotStore::open_in_place(size_t r, const std::string& name,
                                                              const std::vector<Fields>& present) {
    std::map<unsigned long, UniqueFd> files;
    const MailFormat fmt = format(r, name);
    if (fmt != MailFormat::Maildir && fmt != MailFormat::Sdbox) return files;
    const std::optional<std::string>& path = roots_[r].mailboxes[name].path;  // asked by format()
    if (!path) return files;
    const UniqueFd dbox_dir =
        fmt == MailFormat::Sdbox
            ? open_dir_at(AT_FDCWD, is_dir(*path + "/dbox-Mails") ? *path + "/dbox-Mails" : *path)
            : UniqueFd();
    for (const auto& f : present) {
        const auto uid = number(f, "uid");
        if (!uid) continue;
        if (fmt == MailFormat::Maildir) {
            files[*uid] = open_maildir_message(*path, field(f, "guid"));
        } else if (dbox_dir) {
            struct stat st {};
            files[*uid] = open_for_overwrite(dbox_dir.get(), "u." + std::to_string(*uid), st);
        }
    }
    return files;
}

// lazy_expunge keeps a copy of each expunged message in the user's expunged folder: the
// copies of what was just destroyed are expunged there too (found by message GUID).
void DovecotStore::expunge_lazy_copies(size_t r, const std::set<std::string>& guids) {
    RootState& rs = roots_[r];
    for (const auto& [name, m] : rs.mailboxes) {
        if (!m.lazy_expunge) continue;
        std::vector<unsigned long> copies;
        for (const auto& f : doveadm_.fetch(rs.user, {"uid", "guid"}, {"mailbox-guid", m.status.guid, "all"}))
            if (guids.count(field(f, "guid")))
                if (auto uid = number(f, "uid")) copies.push_back(*uid);
        if (!copies.empty()) doveadm_.expunge(rs.user, {"mailbox-guid", m.status.guid, "uid", uid_set(copies)});
    }
}

// --- phase 2: moves -------------------------------------------------------------------

std::vector<MoveOutcome> DovecotStore::move(const Plan& plan, const std::vector<MoveItem>& batch) {
    std::vector<MoveOutcome> out;
    out.reserve(batch.size());
    for (const MoveItem& m : batch) out.push_back(move_one(plan, m));
    return out;
}

MoveOutcome DovecotStore::move_one(const Plan& plan, const MoveItem& item) {
    MoveOutcome out;
    const size_t src = item.source.root;
    if (!roots_.count(item.dest_root) || plan.roots[item.dest_root].is_files) {
        out.skip = Skip::MoveAcrossStores;
        return out;
    }
    RootState& from = roots_[src];
    RootState& to = roots_[item.dest_root];
    const Mailbox& box = from.mailboxes[item.source.folder];
    const std::vector<std::string> query{"mailbox-guid", box.status.guid, "uid", item.source.name};
    try {
        const auto got = doveadm_.fetch(from.user, {"guid", "flags", "date.received.unixtime", "text"}, query);
        if (got.empty()) {
            out.result = MoveOutcome::Result::Vanished;
            return out;
        }
        const Fields& f = got.front();
        const std::string guid = field(f, "guid");
        const std::optional<std::string> text = exact_text(from.user, query, field(f, "text"));
        if (!text) {
            out.skip = Skip::MoveWouldChangeBytes;
            return out;
        }
        bool created = false;
        if (ensure_folder(plan, item.dest_root, item.dest_folder, created) != 0) return out;
        out.created_folder = created;
        const auto already = doveadm_.fetch(to.user, {"uid"},
                                            {"mailbox", item.dest_folder, "header", std::string(kHdrMovedFrom), guid});
        if (already.empty()) {
            const HeaderBlock h = parse_header_block(*text, true);
            if (h.status != HeaderBlock::Status::Ok) return out;
            const std::string eol = h.crlf ? "\r\n" : "\n";
            const std::string copy = std::string(kHdrMovedFrom) + ": " + guid + eol +
                                     our_header_lines(item.headers, h.crlf) + without_our_headers(h.raw) +
                                     text->substr(h.raw.size());
            std::optional<std::chrono::system_clock::time_point> received;
            if (auto at = number(f, "date.received.unixtime"))
                received = std::chrono::system_clock::time_point(std::chrono::seconds(*at));
            if (!doveadm_.save(to.user, item.dest_folder, copy, field(f, "flags"), received))
                spdlog::warn("a moved Sent copy kept its flags but not its received date ({})", doveadm_.describe());
            out.result = MoveOutcome::Result::Moved;
        } else {
            out.result = MoveOutcome::Result::AlreadyThere;
        }
    } catch (const DoveadmError& e) {
        spdlog::error("cannot move a personal Sent copy through {}: {}", doveadm_.describe(), e.what());
        out.result = MoveOutcome::Result::Failed;
        out.skip = skip_of(e);
        return out;
    }
    std::vector<DestroyOutcome> gone = destroy(plan, std::vector<std::vector<FileRef>>{std::vector<FileRef>{item.source}});
    out.source = std::move(gone.front());
    return out;
}

// doveadm's JSON hands a message on with each byte that is not UTF-8 replaced: such a
// message is fetched again byte for byte where the client can (the local program), and
// taken only if it is the same message; else it stays where it is (and goes on its date).
std::optional<std::string> DovecotStore::exact_text(const std::string& user, const std::vector<std::string>& query,
                                                    const std::string& json_text) {
    if (json_text.find("\xEF\xBF\xBD") == std::string::npos) return json_text;
    std::optional<std::string> raw = doveadm_.fetch_raw(user, "text", query);
    if (!raw || dovecot_json_utf8(*raw) != json_text) return std::nullopt;
    return raw;
}

int DovecotStore::ensure_folder(const Plan& plan, size_t r, const std::string& folder, bool& created) {
    (void)plan;
    created = false;
    RootState& rs = roots_[r];
    if (rs.mailboxes.count(folder)) return 0;
    std::string made;
    try {
        made = create_mailbox(rs, folder);
        for (const auto& m : doveadm_.mailboxes(rs.user))
            if (m.name == made) rs.mailboxes[m.name].status = m;
    } catch (const DoveadmError& e) {
        spdlog::error("cannot make a folder of a shared mailbox through {}: {}", doveadm_.describe(), e.what());
        return EIO;
    }
    created = created_.insert({r, made}).second;
    return rs.mailboxes.count(made) ? 0 : EIO;
}

// A user whose folders are all at the top level does not show the separator, and '/' is
// then assumed; a Maildir++ namespace refuses a name with '/' in it ("Name must not have
// '/' characters"). Its separator is '.': the name is made with that, and the user's
// separator is known from then on. Returns the name made.
std::string DovecotStore::create_mailbox(RootState& rs, const std::string& folder) {
    try {
        doveadm_.create_mailbox(rs.user, folder);
        return folder;
    } catch (const DoveadmError& e) {
        const bool slash_refused = std::string_view(e.what()).find("must not have '/'") != std::string_view::npos;
        if (rs.separator != '/' || folder.find('/') == std::string::npos || !slash_refused) throw;
        std::string dotted = folder;
        std::replace(dotted.begin(), dotted.end(), '/', '.');
        try {
            doveadm_.create_mailbox(rs.user, dotted);
        } catch (const DoveadmError&) {
            // The first refusal is the one that explains.
        }
        bool made = false;
        for (const auto& m : doveadm_.mailboxes(rs.user)) made = made || m.name == dotted;
        if (!made) throw;
        rs.separator = '.';
        return dotted;
    }
}

void DovecotStore::report_residues(const Plan& plan, const std::set<std::pair<size_t, std::string>>& changed,
                                   Summary& summary) {
    purge_caches(changed, summary);
    std::set<size_t> mdbox_users, unpurged;
    for (const auto& [r, name] : changed) {
        if (!roots_.count(r)) continue;
        const std::string where = path_of(plan, r, name);
        switch (format(r, name)) {
            case MailFormat::Mbox:
                ++summary.residues.rewritten_mboxes;
                summary.listed("residue", where, "mbox rewritten: old bytes not overwritten in place");
                break;
            case MailFormat::Mdbox:
                if (roots_[r].purge_failed) {
                    if (unpurged.insert(r).second) ++summary.residues.unpurged_mdbox_users;
                    summary.listed("residue", where, "mdbox not purged: destroyed messages still in its storage files");
                    break;
                }
                if (mdbox_users.insert(r).second) ++summary.residues.purged_mdbox_users;
                summary.listed("residue", where, "mdbox purged: old bytes not overwritten in place");
                break;
            case MailFormat::Unknown:
                ++summary.residues.not_overwritten_remote;
                summary.listed("residue", where, "changed over doveadm's HTTP API: nothing overwritten in place");
                break;
            case MailFormat::Maildir:
            case MailFormat::Sdbox: break;
        }
    }
    report_kept_elsewhere(plan, changed, summary);
}

// Asked once a run, and only when something changed.
const DovecotStore::KeptElsewhereOrUnknown& DovecotStore::kept_elsewhere_once() {
    if (kept_elsewhere_) return *kept_elsewhere_;
    KeptElsewhereOrUnknown k;
    try {
        k.kept = kept_elsewhere(doveadm_);
    } catch (const DoveadmError& e) {
        spdlog::warn("cannot ask {} for its full-text search and attachment settings: {}", doveadm_.describe(), e.what());
        k.unknown = true;
    }
    return *(kept_elsewhere_ = k);
}

// Words in a full-text search index and attachments in mail_attachment_dir are kept
// outside the mailbox files: Dovecot drops them in its own time, and nothing overwrites them.
void DovecotStore::report_kept_elsewhere(const Plan& plan, const std::set<std::pair<size_t, std::string>>& changed,
                                         Summary& summary) {
    if (changed.empty()) return;
    const KeptElsewhereOrUnknown& asked = kept_elsewhere_once();
    const KeptElsewhere& k = asked.kept;
    if (k.remote) return;  // the not_overwritten_remote residue says it
    if (asked.unknown) {
        summary.warn("whether Dovecot keeps a full-text search index or a mail_attachment_dir could not be asked "
                     "(doveadm config): count them as residues of every mailbox changed");
        return;
    }
    std::set<size_t> fts_users, attachment_users;
    for (const auto& [r, name] : changed) {
        if (!roots_.count(r)) continue;
        const std::string where = path_of(plan, r, name);
        if (!k.fts.empty()) {
            if (fts_users.insert(r).second) ++summary.residues.fts_index_users;
            summary.listed("residue", where, "full-text search index (fts = " + k.fts + ") not rebuilt");
        }
        const MailFormat fmt = format(r, name);
        if (k.attachments && (fmt == MailFormat::Sdbox || fmt == MailFormat::Mdbox)) {
            if (attachment_users.insert(r).second) ++summary.residues.attachment_dir_users;
            summary.listed("residue", where, "attachments in mail_attachment_dir not overwritten");
        }
    }
}

// Dovecot's index cache keeps header fields of expunged messages until it is rewritten:
// not only in the folder the sweep expunged from, but in every folder staff moved the
// message out of before (a client's MOVE is a copy and an expunge). So every folder of a
// user the sweep changed is purged, lazy_expunge folders with them. Users with the same
// folders go together in one doveadm run; where that run fails, or its users cannot be
// confirmed to exist (doveadm passes over one that does not), each is purged alone.
void DovecotStore::purge_caches(const std::set<std::pair<size_t, std::string>>& changed, Summary& summary) {
    std::map<std::string, std::set<std::string>> folders_of;  // by user
    for (const auto& [r, name] : changed) {
        if (!roots_.count(r)) continue;
        auto& names = folders_of[roots_[r].user];
        names.insert(name);  // a folder this run made is not among those the scan listed
        for (const auto& [folder, m] : roots_[r].mailboxes) names.insert(folder);
    }
    std::map<std::set<std::string>, std::vector<std::string>> users_of;  // by folders
    for (const auto& [user, names] : folders_of) users_of[names].push_back(user);
    for (const auto& [names, users] : users_of) {
        const std::vector<std::string> folders(names.begin(), names.end());
        if (users.size() >= 2 && doveadm_.purge_cache_for_users(users, folders) && doveadm_.all_exist(users)) continue;
        for (const auto& user : users) {
            try {
                doveadm_.purge_cache(user, folders);
            } catch (const DoveadmError& e) {
                spdlog::warn("cannot purge Dovecot's index cache through {}: {}", doveadm_.describe(), e.what());
                summary.warn("Dovecot's index cache of a changed mailbox could not be purged: it may still hold header "
                             "fields of destroyed messages (run doveadm mailbox cache purge)");
            }
        }
    }
}

void DovecotStore::end_phase2() {}

}  // namespace rm::sweep::dovecot
