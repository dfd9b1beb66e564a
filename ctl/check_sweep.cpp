// The sweeper's part of `check`: mail stores, letter-response folders, metrics file and
// the command run after each mailbox.
#include <glob.h>

#include "ctl/check.hpp"
#include "ctl/fs_facts.hpp"

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
                ": the sweeper handles Maildir++ only (Dovecot mail_location = maildir:...), and stops on it");
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

void check_mailbox(const SweepMailbox& m, Findings& f) {
    const std::string kind = m.kind == MailboxKind::Shared ? "shared" : "personal";
    if (has_glob(m.path)) {
        const auto matches = glob_matches(m.path);
        if (matches.empty())
            return warn(f, "[[sweep.mailbox]] " + m.path + " matches no folder yet: check the pattern (it fills as "
                           "mailboxes receive their first message)");
        for (const auto& p : matches) check_maildir(p, f);
        return ok(f, "[[sweep.mailbox]] " + m.path + " (" + kind + "): " + std::to_string(matches.size()) +
                         " mailboxes");
    }
    if (!stat_of(m.path))
        return warn(f, "[[sweep.mailbox]] " + m.path + " does not exist yet: check the path (the mail server "
                       "creates it with the first message delivered there)");
    check_maildir(m.path, f);
    ok(f, "[[sweep.mailbox]] " + m.path + " (" + kind + (m.line.empty() ? "" : ", line " + m.line) + ")");
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

}  // namespace

void check_sweep(const Config& c, Findings& f) {
    if (c.sweep.mailboxes.empty())
        warn(f, "there is no [[sweep.mailbox]]: the sweeper will destroy no mail. Add the helplines' mailboxes");
    for (const auto& m : c.sweep.mailboxes) check_mailbox(m, f);
    for (const auto& files : c.sweep.files) check_files(files, f);
    check_extras(c.sweep, f);
}

}  // namespace rm::ctl
