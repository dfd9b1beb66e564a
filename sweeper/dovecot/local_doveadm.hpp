// The Doveadm interface over the local doveadm program: one run of `doveadm -f json ...`
// per call, with an environment of its own (PATH alone: nothing of the sweeper's, such as
// LD_PRELOAD, reaches a program that runs as root), stdin from /dev/null, and a time limit
// after which it is killed. Iterating users needs root; so does save() (its staging copy is
// handed to the mailbox's owner, so that no file is left root-owned).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "sweeper/dovecot/doveadm.hpp"

namespace rm::sweep::dovecot {

// What one run of a program gave.
struct ProgramRun {
    int exit_code = -1;  // -1: killed (time limit) or died of a signal
    bool timed_out = false;
    std::string out;
    std::string err;
};

// Runs argv[0] (a path) with `argv`, the environment PATH=/usr/sbin:/usr/bin:/sbin:/bin only,
// stdin /dev/null and no descriptor of ours but its stdout and stderr, which are read whole.
// After `timeout_seconds` its process group is killed. Throws DoveadmError(Unreachable)
// when the program cannot be started.
ProgramRun run_program(const std::vector<std::string>& argv, int timeout_seconds);

// The hierarchy separator of a namespace, told from its mailbox names: `all` as listed with
// the pattern "*", `top` with "%" ('%' does not match the separator). 0 when no name
// has a level below another.
char separator_from_listing(const std::vector<std::string>& all, const std::vector<std::string>& top);
// Whether no name of `all` holds a character a namespace could part its levels with (only
// letters, digits, spaces, '-' and '_'): then nothing is nested, every name is a top
// level one, and separator_from_listing could tell nothing. The top-level listing is
// then not asked for: one doveadm run less per user.
bool nothing_nested(const std::vector<std::string>& all);

// The DoveadmError for doveadm's exit code (sysexits: 67 no such user, 68 not found, 75
// temporary failure, 77 no permission...), with `what` as its text.
DoveadmError doveadm_error(int exit_code, const std::string& what);

class LocalDoveadm : public Doveadm {
public:
    explicit LocalDoveadm(SweepDovecot endpoint);

    std::vector<std::string> users(const std::string& mask) override;
    bool user_exists(const std::string& user) override;
    std::vector<MailboxStatus> mailboxes(const std::string& user) override;
    char separator(const std::string& user) override;
    std::vector<Fields> fetch(const std::string& user, const std::vector<std::string>& fields,
                              const std::vector<std::string>& query) override;
    std::vector<Fields> fetch_left(const std::string& user, const std::vector<std::string>& fields,
                                   const std::vector<std::string>& query) override;
    void expunge(const std::string& user, const std::vector<std::string>& query) override;
    std::optional<std::vector<Fields>> fetch_for_users(const std::vector<std::string>& users,
                                                       const std::vector<std::string>& fields,
                                                       const std::vector<std::string>& query) override;
    bool expunge_for_users(const std::vector<std::string>& users, const std::vector<std::string>& query) override;
    std::optional<std::map<std::string, std::string>> mailbox_paths(const std::vector<std::string>& users,
                                                                    const std::string& mailbox) override;
    bool purge_cache_for_users(const std::vector<std::string>& users, const std::vector<std::string>& mailboxes) override;
    bool all_exist(const std::vector<std::string>& users) override;
    void create_mailbox(const std::string& user, const std::string& name) override;
    bool save(const std::string& user, const std::string& mailbox, const std::string& message,
              const std::string& flags, std::optional<std::chrono::system_clock::time_point> received) override;
    void purge(const std::string& user) override;
    std::map<std::string, std::string> purge_each(const std::vector<std::string>& users) override;
    void purge_cache(const std::string& user, const std::vector<std::string>& mailboxes) override;
    void force_resync(const std::string& user, const std::string& mailbox_mask) override;
    std::optional<std::string> mailbox_path(const std::string& user, const std::string& mailbox) override;
    std::optional<std::string> fetch_raw(const std::string& user, const std::string& field,
                                         const std::vector<std::string>& query) override;
    std::optional<std::string> setting(const std::string& key, const std::string& protocol) override;
    std::vector<AclEntry> acl(const std::string& user, const std::string& mailbox) override;
    std::vector<std::string> acl_rights(const std::string& user, const std::string& mailbox) override;
    std::string describe() const override;

private:
    // doveadm [-c CONFIG] -f FORMAT ARGS...
    ProgramRun run(const std::string& format, const std::vector<std::string>& args) const;
    // The run's JSON answer (an array of objects of strings); throws on a failure code
    // or an answer that is not whole.
    std::vector<Fields> run_json(const std::string& what, const std::vector<std::string>& args) const;
    std::vector<Fields> parse_json(const std::string& what, const ProgramRun& r) const;
    // `args` run once for each of `users` ("-F FILE" inserted after the command's `words`
    // first arguments); nothing when they cannot be written one a line or the run failed.
    // A failed run's text could name any of them, so it is not kept.
    std::optional<std::vector<Fields>> run_for_users(const std::vector<std::string>& users, size_t words,
                                                     std::vector<std::string> args) const;
    // Throws the DoveadmError for a failed run; its text names the endpoint, never `user`.
    [[noreturn]] void fail(const std::string& what, const ProgramRun& r, const std::string& user) const;
    std::vector<std::string> mailbox_names(const std::string& user, const std::string& pattern) const;

    SweepDovecot endpoint_;
    // The user mailboxes() listed last and the names it gave, for separator().
    std::string listed_user_;
    std::vector<std::string> listed_names_;
};

}  // namespace rm::sweep::dovecot
