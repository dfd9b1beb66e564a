#include "ctl/check.hpp"

#include <algorithm>
#include <array>
#include <utility>
#include <vector>

#include "ctl/fs_facts.hpp"
#include "ctl/words.hpp"
#include "db/index.hpp"
#include "db/sqlite_index.hpp"

namespace rm::ctl {

std::string format_finding(const Finding& f) {
    switch (f.level) {
        case Finding::Level::Error: return "error: " + f.text;
        case Finding::Level::Warning: return "warning: " + f.text;
        case Finding::Level::Ok: break;
    }
    return "ok: " + f.text;
}

bool has_errors(const Findings& f) {
    return std::any_of(f.begin(), f.end(), [](const Finding& x) { return x.level == Finding::Level::Error; });
}

CheckResult run_check(const std::string& config_path, const LogConfigPaths& logs) {
    CheckResult r;
    Config c;
    try {
        c = load_config(config_path);
    } catch (const ConfigError& e) {
        fail(r.findings, std::string(e.what()));
        r.exit_code = kExitConfig;
        return r;
    }
    ok(r.findings, "config " + config_path + " is valid: " + std::to_string(c.lines.size()) + " lines, " +
                       std::to_string(c.policies.size()) + " policies");
    check_lines(c, r.findings);
    check_index(c, r.findings);
    check_milter(c, r.findings);
    check_sweep(c, r.findings);
    check_mail_logs(c, logs, r.findings);
    r.exit_code = has_errors(r.findings) ? kExitConfig : kExitOk;
    return r;
}

// --- lines and policies ---------------------------------------------------------------

namespace {

bool has_shared_mailbox(const Config& c, const std::string& tag) {
    return std::any_of(c.sweep.mailboxes.begin(), c.sweep.mailboxes.end(), [&](const SweepMailbox& m) {
        return m.kind == MailboxKind::Shared && m.line == tag;
    });
}

bool policy_used(const Config& c, const std::string& name) {
    const bool by_line = std::any_of(c.lines.begin(), c.lines.end(), [&](const Line& l) { return l.policy == name; });
    const bool by_files = std::any_of(c.sweep.files.begin(), c.sweep.files.end(),
                                      [&](const SweepFiles& f) { return f.policy == name; });
    return by_line || by_files;
}

}  // namespace

void check_lines(const Config& c, Findings& f) {
    for (const auto& l : c.lines) {
        ok(f, "line " + l.tag + " (" + l.name + "): policy " + l.policy + ", kept " +
                  period_in_words(c.policy_of(l).retain));
        if (!has_shared_mailbox(c, l.tag))
            warn(f, "line " + l.tag + " has no [[sweep.mailbox]] with kind = \"shared\" and line = \"" + l.tag +
                        "\": its mail is never swept, and staff copies found in personal Sent folders have no "
                        "mailbox to be moved to. Add one for the line's shared mailbox");
        if (l.review_mailbox && l.review_sample > 0)
            ok(f, "line " + l.tag + " sends review copies: make sure the review mailbox is also a [[sweep.mailbox]] "
                                    "with kind = \"shared\", so its copies are destroyed on the same day");
    }
    for (const auto& [name, p] : c.policies) {
        if (!policy_used(c, name))
            warn(f, "[policy." + name + "] is not used by any [[line]] or [[sweep.files]]: remove it, or name it "
                                        "where it should apply");
    }
}

// --- the index, its folder and the key ------------------------------------------------

namespace {

// The modes the shared-group scheme needs: nothing for others, read-write for the group.
void check_index_file(const std::string& path, gid_t folder_gid, Findings& f) {
    const auto st = stat_of(path);
    if (!st) return;
    if (st->st_mode & S_IRWXO)
        fail(f, path + " can be read by every user (mode " + mode_text(st->st_mode) + "): run chmod o-rwx " + path);
    if (st->st_gid != folder_gid)
        warn(f, path + " belongs to group " + group_name(st->st_gid) + ", not the folder's group " +
                    group_name(folder_gid) + ": the other programs may not be able to use it; run chgrp " +
                    group_name(folder_gid) + " " + path);
    if ((st->st_mode & 0060) != 0060)
        warn(f, path + " is not readable and writable by its group (mode " + mode_text(st->st_mode) +
                    "): run chmod g+rw " + path);
}

void check_index_folder(const Config& c, const std::string& dir, const struct stat& st, Findings& f) {
    if (st.st_mode & S_IRWXO)
        fail(f, "index.path: the folder " + dir + " is open to every user (mode " + mode_text(st.st_mode) +
                    "): run chmod o-rwx " + dir);
    if (!(st.st_mode & S_ISGID))
        warn(f, "index.path: the folder " + dir + " is not setgid: run chmod g+s " + dir +
                    ", so that files any of the three programs creates (the WAL, the journal) keep its group");
    if ((st.st_mode & 0070) != 0070)
        warn(f, "index.path: the folder " + dir + " is not writable by its group " + group_name(st.st_gid) +
                    " (mode " + mode_text(st.st_mode) + "): run chmod g+rwx " + dir);
    if (!c.milter.user.empty() && user_exists(c.milter.user) && !user_in_group(c.milter.user, st.st_gid))
        warn(f, "index.path: the milter's user " + c.milter.user + " is not in the folder's group " +
                    group_name(st.st_gid) + ": run adduser " + c.milter.user + " " + group_name(st.st_gid));
    if (!(st.st_mode & S_IRWXO))
        ok(f, "index folder " + dir + ": group " + group_name(st.st_gid) + ", mode " + mode_text(st.st_mode));
}

// Who makes the key and records it: the milter with its own SQLite file, the admin's
// upgrade-index with an index several hosts share.
bool admin_makes_index(const Config& c) { return c.index.backend != IndexBackend::Sqlite; }

// A wrong key (restored from the wrong backup) finds no row and says nothing; the index
// records which key it was made with, so ask it.
void check_key_matches(const Config& c, const DigestKey& key, Findings& f) {
    try {
        auto index = Index::open(c.index, {.create = false, .read_only = true, .busy_timeout_ms = 2000});
        const auto matches = index->key_matches(key);
        if (!matches)
            ok(f, std::string("the index records no key yet (") +
                      (admin_makes_index(c) ? "retentionctl upgrade-index records it"
                                            : "retention-milter records it at its next start") +
                      "), so whether " +
                      c.index.key_file + " is its key cannot be confirmed");
        else if (*matches)
            ok(f, "the key " + c.index.key_file + " is the key this index was made with");
        else
            fail(f, "index.key_file: " + c.index.key_file + " is not the key this index was made with: no message "
                    "would be found (and the sweeper would destroy nothing). " +
                        (admin_makes_index(c) ? "Copy the key file from the first host of this index (every host of "
                                                "an index uses the same key), or restore it from the backup made with "
                                                "the index"
                                              : "Restore the right key from the backup made with this index"));
    } catch (const IndexError&) {
        // check_index_opens() reports why the index does not open.
    }
}

void check_key(const Config& c, bool index_exists, Findings& f) {
    const std::string& key = c.index.key_file;
    const auto st = stat_of(key);
    if (!st) {
        if (index_exists)
            fail(f, "index.key_file: " + key + " is missing but the index exists: restore the key from your "
                    "backup. A new key would orphan every row, so no program will make one now");
        else
            ok(f, "no key yet at " + key +
                      (admin_makes_index(c) ? ": retentionctl upgrade-index makes it together with the index (on "
                                              "the other hosts, copy it from the first)"
                                            : ": the milter makes it together with the index at its first start"));
        return;
    }
    if (!S_ISREG(st->st_mode)) return fail(f, "index.key_file: " + key + " is not a regular file");
    if (st->st_mode & S_IRWXO)
        fail(f, "index.key_file: " + key + " can be read by every user (mode " + mode_text(st->st_mode) +
                    "): run chmod 0640 " + key + ". Anyone with the key can test whether a Message-ID is in the index");
    if (!index_exists) {
        warn(f, "index.key_file: " + key + " exists but the index does not: " +
                    (admin_makes_index(c) ? "retentionctl upgrade-index" : "the milter") +
                    " will use this key for the new index. If this key belonged to an index that is lost, that is "
                    "fine; otherwise restore the index");
        return;
    }
    try {
        const DigestKey k = DigestKey::load_or_create(key, c.index.path, false);
        ok(f, "key " + key + ": mode " + mode_text(st->st_mode) + ", group " + group_name(st->st_gid));
        check_key_matches(c, k, f);
    } catch (const IndexError& e) {
        fail(f, std::string("index.key_file: ") + e.what());
    }
}

void check_index_opens(const Config& c, Findings& f) {
    try {
        auto index = Index::open(c.index, {.create = false, .read_only = true, .busy_timeout_ms = 2000});
        ok(f, "index " + index->path() + " opens read-only (schema version " +
                  std::to_string(index->schema_version()) + ")");
    } catch (const IndexError& e) {
        fail(f, std::string("index.path: ") + e.what());
    }
}

// A database server: no folder or file modes of ours to look at; whether it answers, with
// our schema, and whether the key is the one its rows were made with.
void check_index_server(const Config& c, Findings& f) {
    bool opens = false;
    try {
        auto index = Index::open(c.index, {.create = false, .read_only = true, .busy_timeout_ms = 2000});
        ok(f, "index " + index->path() + " answers (schema version " + std::to_string(index->schema_version()) + ")");
        opens = true;
    } catch (const IndexError& e) {
        fail(f, std::string("index.conninfo: ") + e.what());
    }
    check_key(c, opens, f);
    if (opens) check_pg_server(c, f);
}

}  // namespace

void check_index(const Config& c, Findings& f) {
    if (c.index.backend != IndexBackend::Sqlite) return check_index_server(c, f);
    const std::string dir = parent_dir(c.index.path);
    const auto dst = stat_of(dir);
    if (!dst) {
        fail(f, "index.path: the folder " + dir + " does not exist: create it with scripts/create-user.sh, or "
                "install -d -m 2770 -o retention -g retention " + dir);
    } else if (!S_ISDIR(dst->st_mode)) {
        fail(f, "index.path: " + dir + " is not a folder");
    } else {
        check_index_folder(c, dir, *dst, f);
    }
    const bool exists = stat_of(c.index.path).has_value();
    if (exists && dst) {
        for (const auto& file : SqliteIndex::files_at(c.index.path)) check_index_file(file, dst->st_gid, f);
        check_index_file(c.index.pending_journal, dst->st_gid, f);
        check_index_opens(c, f);
    } else if (!exists) {
        ok(f, "no index yet at " + c.index.path + ": the milter creates it when it first starts");
    }
    check_key(c, exists, f);
}

// --- the milter -----------------------------------------------------------------------

namespace {

constexpr std::string_view kRuntimeDir = "/run/retention-milter";   // systemd's RuntimeDirectory
constexpr std::string_view kPostfixSpool = "/var/spool/postfix";  // Debian's chroot for smtpd
// The MTAs' users on Debian. They face the internet: they get the milter's socket, never
// the index or the key.
constexpr std::array<std::string_view, 2> kMtaUsers = {"postfix", "smmsp"};

std::string install_socket_folder(const Config& c, const std::string& dir) {
    return "install -d -m 0750 -o " + (c.milter.user.empty() ? std::string("retention") : c.milter.user) + " -g " +
           (c.milter.socket_group.empty() ? std::string("postfix") : c.milter.socket_group) + " " + dir;
}

bool inside(const std::string& path, const std::string& dir) {
    return path == dir || path.rfind(dir + "/", 0) == 0;
}

// The socket's folder belongs to the milter's user (so the milter can remove its socket
// when it stops) and lets the MTA's group in.
void check_socket_folder(const Config& c, const std::string& dir, const struct stat& st, Findings& f) {
    const auto uid = c.milter.user.empty() ? std::nullopt : user_uid(c.milter.user);
    if (uid && st.st_uid != *uid)
        warn(f, "milter.socket: the folder " + dir + " does not belong to the milter's user " + c.milter.user +
                    ", so the milter cannot remove its socket when it stops: run chown " + c.milter.user + " " + dir);
    const auto gid = c.milter.socket_group.empty() ? std::nullopt : group_gid(c.milter.socket_group);
    if (gid && st.st_gid != *gid && !(st.st_mode & S_IXOTH))
        warn(f, "milter.socket: the MTA's group " + c.milter.socket_group + " cannot enter the folder " + dir +
                    " (group " + group_name(st.st_gid) + ", mode " + mode_text(st.st_mode) + "): run chgrp " +
                    c.milter.socket_group + " " + dir);
}

void check_unix_socket(const Config& c, Findings& f) {
    const std::string& path = c.milter.socket.path;
    const std::string dir = parent_dir(path);
    if (dir == kRuntimeDir) {
        ok(f, "milter.socket: " + path + " (its folder is made by systemd at each start)");
    } else if (const auto st = stat_of(dir); !st || !S_ISDIR(st->st_mode)) {
        fail(f, "milter.socket: the folder " + dir + " does not exist, so the milter cannot create its socket: "
                "run " + install_socket_folder(c, dir));
    } else {
        ok(f, "milter.socket: " + path + " (folder " + dir + ", group " + group_name(st->st_gid) + ")");
        check_socket_folder(c, dir, *st, f);
    }
    if (inside(dir, parent_dir(c.index.path)))
        warn(f, "milter.socket: " + path + " is in the index's folder, so the MTA must be let into the folder "
                "that holds the index. Give the socket a folder of its own, e.g. " +
                install_socket_folder(c, std::string(kPostfixSpool) + "/retention-milter") +
                " with socket = \"unix:" + std::string(kPostfixSpool) +
                "/retention-milter/milter.sock\" and socket_group = \"postfix\"");
    if (path.rfind(std::string(kPostfixSpool) + "/", 0) == 0)
        ok(f, "Postfix's chrooted smtpd sees this socket as unix:" + path.substr(kPostfixSpool.size()) +
                  ": write that in main.cf (smtpd_milters)");
    if (c.milter.socket_group.empty() && (c.milter.socket_mode & 0006) == 0)
        warn(f, "milter.socket_group is not set and the socket is closed to others: the MTA's user can connect "
                "only if it is the milter's own user or group. Set socket_group = \"postfix\" (or \"smmsp\" for Sendmail)");
}

void check_user_and_group(const Config& c, Findings& f) {
    if (c.milter.user.empty())
        warn(f, "milter.user is not set: the milter refuses to start as root without it. Set user = \"retention\"");
    else if (!user_exists(c.milter.user))
        fail(f, "milter.user: there is no Unix user " + c.milter.user + ": create it with scripts/create-user.sh "
                "(adduser --system --group " + c.milter.user + "), or name an existing user");
    else
        ok(f, "milter.user: " + c.milter.user + " exists");
    if (!c.milter.socket_group.empty() && !group_exists(c.milter.socket_group))
        fail(f, "milter.socket_group: there is no group " + c.milter.socket_group +
                    ": name the MTA's group (postfix, or smmsp for Sendmail), or create it");
}

// An MTA user in the group that owns the index or the key can read both (the key lets
// anyone test whether a Message-ID passed). Older installs put postfix there to reach
// the socket; the socket's own folder makes that unneeded.
void check_mta_users(const Config& c, Findings& f) {
    std::vector<std::pair<std::string, gid_t>> owned;
    if (const auto st = stat_of(parent_dir(c.index.path))) owned.emplace_back("index folder", st->st_gid);
    if (const auto st = stat_of(c.index.key_file)) owned.emplace_back("key", st->st_gid);
    for (const std::string_view mta : kMtaUsers) {
        const std::string user(mta);
        if (user == c.milter.user || !user_exists(user)) continue;
        for (const auto& [what, gid] : owned) {
            if (gid == 0 || !user_in_group(user, gid)) continue;
            warn(f, "the MTA's user " + user + " is in the group " + group_name(gid) + " of the " + what +
                        ", so it can read the index and the key. The MTA needs only the milter's socket, in a "
                        "folder of its own with socket_group = \"" + user + "\": run deluser " + user + " " +
                        group_name(gid) + " (create-user.sh does it), then restart the MTA");
            break;
        }
    }
}

void check_log_sink(const Config& c, Findings& f) {
    if (c.log.sink.rfind("file:", 0) != 0) return;
    const std::string dir = parent_dir(c.log.sink.substr(5));
    if (const auto st = stat_of(dir); !st || !S_ISDIR(st->st_mode))
        fail(f, "log.sink: the folder " + dir + " does not exist: create it, or use sink = \"syslog\"");
}

}  // namespace

void check_milter(const Config& c, Findings& f) {
    const auto& s = c.milter.socket;
    if (s.kind == SocketSpec::Kind::Unix)
        check_unix_socket(c, f);
    else
        ok(f, "milter.socket: " + s.text + " (TCP; when the MTA runs on this host a unix socket is faster)");
    check_user_and_group(c, f);
    check_mta_users(c, f);
    check_log_sink(c, f);
}

}  // namespace rm::ctl
