// The sweeper's part of `check`: mail stores, letter-response folders, metrics file and
// the command run after each mailbox.
#include <glob.h>

#include <algorithm>
#include <map>
#include <memory>
#include <set>

#include "ctl/check.hpp"
#include "core/strings.hpp"
#include "ctl/fs_facts.hpp"
#include "sweeper/dovecot/doveadm.hpp"
#include "sweeper/dovecot/dovecot_store.hpp"
#include "sweeper/dovecot/kept_elsewhere.hpp"

namespace rm::ctl {

namespace {

bool is_dir(const std::string& p) {
    const auto st = stat_of(p);
    return st && S_ISDIR(st->st_mode);
}

// The sweeper handles Maildir++ only and stops on anything else, so say so now.
void check_maildir(const std::string& path, Findings& f) {
    if (!is_dir(path)) return fail(f, "[[sweep.mailbox]] " + path + " is not a folder");
    if (is_dir(path + "/cur") && is_dir(path + "/new")) return;
    const bool dbox = is_dir(path + "/mailboxes") || is_dir(path + "/storage") || is_dir(path + "/dbox-Mails");
    fail(f, "[[sweep.mailbox]] " + path + (dbox ? " is a Dovecot dbox store" : " is not a Maildir (no cur/ and new/)") +
                ": a path is read directly as Maildir++ only, and the sweeper stops on it; name the Dovecot user "
                "instead (store = \"dovecot\", user = ...) to sweep it through doveadm");
}

std::vector<std::string> glob_matches(const std::string& pattern) {
    glob_t g{};
    std::vector<std::string> out;
    if (::glob(pattern.c_str(), GLOB_ONLYDIR, nullptr, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc; ++i) out.emplace_back(g.gl_pathv[i]);
    }
    ::globfree(&g);
    return out;
}

void check_maildir_mailbox(const SweepMailbox& m, Findings& f) {
    const std::string kind = m.kind == MailboxKind::Shared ? "shared" : "personal";
    if (has_glob(m.path)) {
        const auto matches = glob_matches(m.path);
        if (matches.empty())
            return warn(f, "[[sweep.mailbox]] " + m.path + " matches no folder yet: check the pattern (it fills as "
                           "mailboxes receive their first message)");
        for (const auto& p : matches) check_maildir(p, f);
        return ok(f, "[[sweep.mailbox]] " + m.path + " (" + kind + "): " + std::to_string(matches.size()) +
                         " mailboxes, read directly as Maildir++ (store = \"maildir\", the default)");
    }
    if (!stat_of(m.path))
        return warn(f, "[[sweep.mailbox]] " + m.path + " does not exist yet: check the path (the mail server "
                       "creates it with the first message delivered there)");
    check_maildir(m.path, f);
    ok(f, "[[sweep.mailbox]] " + m.path + " (" + kind + (m.line.empty() ? "" : ", line " + m.line) +
              "), read directly as Maildir++ (store = \"maildir\", the default)");
}

// --- Dovecot mailboxes ------------------------------------------------------------------

namespace dc = rm::sweep::dovecot;

std::string entry_name(size_t number, const SweepMailbox& m) {
    // A personal entry's single user names a staff member: it is shown by number only.
    const bool shown = m.kind == MailboxKind::Shared || m.user.find_first_of("*?") != std::string::npos;
    return "[[sweep.mailbox]] number " + std::to_string(number) + (shown ? " (user = \"" + m.user + "\")" : "");
}

std::string path_taken(const SweepDovecot& e) {
    if (!e.url.empty()) return "through doveadm's HTTP API at " + e.url + " ([[sweep.dovecot]] " + e.name + ")";
    return "through the local " + e.doveadm + " ([[sweep.dovecot]] " + e.name + ")";
}

// The folders of `names` (written with '/') that the user has, by Dovecot's names.
std::vector<std::string> missing_folders(const std::vector<std::string>& names, const std::vector<dc::MailboxStatus>& have,
                                         char sep) {
    std::vector<std::string> missing;
    for (const auto& n : names) {
        const auto candidates = dc::dovecot_names(n, sep);
        const bool found = std::any_of(have.begin(), have.end(), [&](const dc::MailboxStatus& m) {
            return std::find(candidates.begin(), candidates.end(), m.name) != candidates.end();
        });
        if (!found) missing.push_back(n);
    }
    return missing;
}

// The name Dovecot gives the folder `folder` (written with '/') of a user, if it has it.
std::optional<std::string> dovecot_name_of(const std::string& folder, const std::vector<dc::MailboxStatus>& have, char sep) {
    for (const auto& candidate : dc::dovecot_names(folder, sep))
        for (const auto& m : have)
            if (m.name == candidate) return candidate;
    return std::nullopt;
}

// Hold folders the shared login can write are how staff hold: said, not a fault. A hold
// folder's record names the folder, so a login shared by many cannot pretend otherwise.
void check_hold_folder_acls(const std::string& name, const SweepMailbox& m, dc::Doveadm& d,
                            const std::vector<dc::MailboxStatus>& have, char sep, Findings& f) {
    std::vector<std::string> writable;
    for (const auto& [folder, reason] : m.hold_folders) {
        const auto listed = dovecot_name_of(folder, have, sep);
        if (!listed) continue;
        try {
            if (dc::shared_login_can_insert(d.acl_rights(m.user, *listed))) writable.push_back(folder);
        } catch (const dc::DoveadmError&) {
            return ok(f, name + ": Dovecot's ACLs are not in use (no acl plugin): every login that opens the shared "
                                "mailbox can move mail into its hold folders");
        }
    }
    if (!writable.empty())
        ok(f, name + ": the shared login " + m.user + " can write the hold folder(s) " + join(writable, ", ") +
                  ": anyone who opens the shared mailbox can place those holds (each recorded as the folder's, "
                  "naming no person)");
}

// A release folder ends holds: only the team leaders in release_logins may put mail into
// it, as Dovecot's ACLs say. The sweep asks the same each run and releases nothing otherwise.
void check_release_folder(const std::string& name, const SweepMailbox& m, dc::Doveadm& d,
                          const std::vector<dc::MailboxStatus>& have, char sep, Findings& f) {
    if (m.release_folder.empty()) return;
    const std::string what = name + ": release folder " + m.release_folder;
    const auto listed = dovecot_name_of(m.release_folder, have, sep);
    if (!listed)
        return fail(f, what + " does not exist, and the sweep never makes it: make it and its ACL (doveadm mailbox "
                              "create -u " + m.user + " '" + m.release_folder + "', then doveadm acl set, as the README "
                              "says); until then nothing is released from it");
    try {
        const auto entries = d.acl(m.user, *listed);
        const auto owner = d.acl_rights(m.user, *listed);
        const auto why = dc::release_folder_unguarded(entries, owner, m.release_logins, true);
        if (!why.empty())
            return fail(f, what + " can be written by others than release_logins, so the sweep releases nothing "
                                  "from it: " + join(why, "; "));
        if (const auto lacking = dc::sweeper_rights_lacking(owner); !lacking.empty())
            return fail(f, what + ": the sweep works as the shared login, which lacks " + join(lacking, ", ") +
                                  " there, so messages in it could not be destroyed on their date: write the owner "
                                  "line as doveadm acl set -u " + m.user + " '" + m.release_folder +
                                  "' owner lookup read write-seen write-deleted expunge");
        if (const auto idle = dc::release_logins_without_insert(entries, m.release_logins); !idle.empty())
            warn(f, what + ": " + join(idle, ", ") + " in release_logins cannot put mail into it (no user= line "
                                                     "with insert in its ACL)");
        ok(f, what + ": only " + join(m.release_logins, ", ") +
                  " can put mail into it (Dovecot's ACL); a message moved there has its folder hold lifted at the "
                  "next sweep (an admin hold stays)");
    } catch (const dc::DoveadmError& err) {
        fail(f, what + ": its ACL could not be read (" + std::string(err.what()) +
                    "): is Dovecot's acl plugin in mail_plugins? Nothing is released from it until it can");
    }
}

// doveadm answers, the users exist (a mask lists someone), and the folders named exist.
void check_dovecot_mailbox(size_t number, const SweepMailbox& m, const SweepDovecot& e, dc::Doveadm& d, Findings& f) {
    const std::string name = entry_name(number, m);
    std::vector<std::string> users;
    try {
        if (m.user.find_first_of("*?") != std::string::npos) {
            users = d.users(m.user);
            if (users.empty())
                return fail(f, name + ": the mask lists no Dovecot user (can the userdb iterate? a static or LDAP "
                                      "userdb without iterate settings lists nobody): the sweep skips it");
        } else {
            if (!d.user_exists(m.user)) return fail(f, name + ": Dovecot has no such user");
            users = {m.user};
        }
        long folders_missing = 0;
        for (const auto& u : users) {
            const auto have = d.mailboxes(u);
            char sep = d.separator(u);
            if (sep == 0) sep = '/';
            const auto sent = missing_folders(m.sent_folders, have, sep);
            const auto deleted = missing_folders(m.deleted_folders, have, sep);
            if (m.kind == MailboxKind::Shared) {
                check_hold_folder_acls(name, m, d, have, sep, f);
                check_release_folder(name, m, d, have, sep, f);
            }
            // The shared mailbox's Sent folder is made on the first move; staff may lack some.
            if (m.kind == MailboxKind::Personal && sent.size() + deleted.size() == m.sent_folders.size() + m.deleted_folders.size())
                ++folders_missing;
        }
        if (folders_missing)
            warn(f, name + ": " + std::to_string(folders_missing) + " of " + std::to_string(users.size()) +
                        " users have none of the folders in sent_folders and deleted_folders: check their names "
                        "(IMAP names, '/' between levels)");
    } catch (const dc::DoveadmError& err) {
        return fail(f, name + ": doveadm " + path_taken(e) + " failed: " + err.what());
    }
    ok(f, name + " (" + (m.kind == MailboxKind::Shared ? "shared, line " + m.line : std::string("personal")) + "): " +
              std::to_string(users.size()) + " user(s), swept " + path_taken(e) +
              " (store = \"dovecot\": every mailbox format Dovecot reads)");
}

// What no sweep can overwrite: told before the first night, so the admin can put it on
// encrypted storage.
void check_kept_elsewhere(const SweepDovecot& e, dc::Doveadm& d, Findings& f) {
    const std::string name = "[[sweep.dovecot]] " + e.name;
    try {
        const dc::KeptElsewhere k = dc::kept_elsewhere(d);
        if (k.remote) return;
        if (!k.fts.empty())
            warn(f, name + ": Dovecot keeps a full-text search index (fts = " + k.fts +
                        "): it may keep words of destroyed messages until rebuilt; keep it on encrypted storage");
        if (k.attachments)
            warn(f, name + ": Dovecot keeps attachments in mail_attachment_dir: they are deleted, not overwritten; "
                           "keep it on encrypted storage");
    } catch (const dc::DoveadmError& err) {
        warn(f, name + ": doveadm config failed (" + std::string(err.what()) +
                    "): whether a full-text search index or mail_attachment_dir keeps copies is not known");
    }
}

void check_dovecot_mailboxes(const Config& c, Findings& f) {
    std::map<std::string, std::unique_ptr<dc::Doveadm>> clients;
    std::set<std::string> checked_endpoints;
    for (size_t i = 0; i < c.sweep.mailboxes.size(); ++i) {
        const SweepMailbox& m = c.sweep.mailboxes[i];
        if (m.store != StoreKind::Dovecot) continue;
        const auto e = std::find_if(c.sweep.dovecots.begin(), c.sweep.dovecots.end(),
                                    [&](const SweepDovecot& d) { return d.name == m.dovecot; });
        if (e == c.sweep.dovecots.end()) continue;  // the config reader refuses this
        auto& client = clients[e->name];
        try {
            if (!client) client = dc::make_doveadm(*e);
        } catch (const std::exception& err) {
            fail(f, "[[sweep.dovecot]] " + e->name + ": " + err.what());
            continue;
        }
        if (checked_endpoints.insert(e->name).second) check_kept_elsewhere(*e, *client, f);
        check_dovecot_mailbox(i + 1, m, *e, *client, f);
    }
}

// The policy promises letter responses "accessible only by Helplines staff".
void check_files(const SweepFiles& files, Findings& f) {
    const auto st = stat_of(files.path);
    if (!st)
        return warn(f, "[[sweep.files]] " + files.path + " does not exist: create it for staff only (install -d -m "
                       "2770 -g STAFF-GROUP " + files.path + "), or fix the path");
    if (!S_ISDIR(st->st_mode)) return fail(f, "[[sweep.files]] " + files.path + " is not a folder");
    if (st->st_mode & S_IRWXO)
        return fail(f, "[[sweep.files]] " + files.path + " can be opened by every user (mode " +
                           mode_text(st->st_mode) + "): only helpline staff may read responses to letters; run "
                           "chmod o-rwx " + files.path);
    ok(f, "[[sweep.files]] " + files.path + ": policy " + files.policy + ", group " + group_name(st->st_gid) +
              ", mode " + mode_text(st->st_mode));
}

void check_extras(const SweepSection& s, Findings& f) {
    if (!s.metrics_file.empty() && !is_dir(parent_dir(s.metrics_file)))
        warn(f, "sweep.metrics_file: the folder " + parent_dir(s.metrics_file) +
                    " does not exist: install prometheus-node-exporter (its textfile folder), or remove metrics_file");
    if (!s.after_mailbox.empty() && !executable_found(s.after_mailbox.front()))
        warn(f, "sweep.after_mailbox: the program " + s.after_mailbox.front() +
                    " is not found: install it (doveadm is in dovecot-core), or remove after_mailbox");
}

// Which folders staff of each line can hold a message in from their mail client.
void check_hold_folders(const Config& c, Findings& f) {
    for (size_t i = 0; i < c.sweep.mailboxes.size(); ++i) {
        const SweepMailbox& m = c.sweep.mailboxes[i];
        if (m.kind != MailboxKind::Shared) continue;
        const std::string name = "[[sweep.mailbox]] number " + std::to_string(i + 1) + " (shared, line " + m.line + ")";
        if (m.hold_folders.empty()) {
            ok(f, name + ": no hold folders (hold_folders = { \"Hold/Safeguarding\" = \"safeguarding\" } lets staff "
                         "hold a message from their mail client)");
            continue;
        }
        std::vector<std::string> folders;
        for (const auto& [folder, reason] : m.hold_folders) folders.push_back(folder + " (reason " + reason + ")");
        ok(f, name + ": hold folders " + join(folders, ", ") +
                  "; a message moved into one is held, every copy, from the next sweep on (made by the sweep if "
                  "missing)");
    }
}

}  // namespace

void check_sweep(const Config& c, Findings& f) {
    if (c.sweep.mailboxes.empty())
        warn(f, "there is no [[sweep.mailbox]]: the sweeper will destroy no mail. Add the helplines' mailboxes");
    for (const auto& m : c.sweep.mailboxes)
        if (m.store == StoreKind::Maildir) check_maildir_mailbox(m, f);
    check_dovecot_mailboxes(c, f);
    check_hold_folders(c, f);
    for (const auto& files : c.sweep.files) check_files(files, f);
    check_extras(c.sweep, f);
}

}  // namespace rm::ctl
