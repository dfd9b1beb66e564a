// The one TOML config that all three programs read, as typed structures.
#pragma once

#include <sys/types.h>

#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "core/net.hpp"
#include "core/period.hpp"

namespace rm {

// Exit codes shared by the three programs (see the README).
enum ExitCode : int {
    kExitOk = 0,
    kExitRuntime = 1,
    kExitConfig = 2,
    kExitSafetyStop = 3,
    kExitSkipped = 4,
};

// A config mistake: names the file, the line (0 when unknown), the key and what is wrong.
class ConfigError : public std::runtime_error {
public:
    ConfigError(std::string file, int line, std::string key, std::string problem);
    const std::string& file() const { return file_; }
    int line() const { return line_; }
    const std::string& key() const { return key_; }
    const std::string& problem() const { return problem_; }

private:
    std::string file_;
    int line_;
    std::string key_;
    std::string problem_;
};

enum class OnIndexError { Tempfail, Accept };
enum class SecureDelete { Overwrite, Unlink };
enum class Orphans { Keep, Report, Expire };
enum class MailboxKind { Shared, Personal };
// How the sweeper reaches a mailbox: its Maildir++ directory itself, or through Dovecot's
// admin interface (doveadm, locally or over its HTTP API), which reads every format.
enum class StoreKind { Maildir, Dovecot };

struct PolicyDef {
    std::string name;  // the key under [policy.NAME]
    Period retain;
};

struct Line {
    std::string tag;
    std::string name;
    std::vector<std::string> addresses;  // normalised "local@domain"
    std::vector<std::string> domains;    // normalised; a leading "." means subdomains too
    std::string policy;
    std::optional<std::string> review_mailbox;
    double review_sample = 0.0;
};

struct MilterSection {
    SocketSpec socket;
    mode_t socket_mode = 0660;
    std::string socket_group;
    std::string user;
    std::string pid_file;
    std::vector<Cidr> internal_hosts;
    std::vector<std::string> originating_daemons;
    OnIndexError on_index_error = OnIndexError::Tempfail;
    bool stamp_outbound = false;
};

// Where the index is kept: one SQLite file on this host, or a PostgreSQL database that
// several hosts share.
enum class IndexBackend { Sqlite, Postgresql };

struct IndexSection {
    IndexBackend backend = IndexBackend::Sqlite;
    // The PostgreSQL database (a libpq URI or key=value string), with backend "postgresql".
    std::string conninfo;
    // The SQLite file (with backend "postgresql", only the default pending journal's name).
    std::string path = "/var/lib/retention-milter/index.sqlite3";
    std::string key_file = "/etc/retention-milter/index.key";
    Period digest_grace{Period::Unit::Days, 31};
    // Where the milter keeps rows it could not write (on_index_error = "accept"); the
    // journal's lock and its rejected lines sit beside it. Default: "<path>.pending".
    std::string pending_journal = "/var/lib/retention-milter/index.sqlite3.pending";
    // Names this host in the index's per-host tables (the sweeper's scan cache); empty:
    // the host's name. Set it when two hosts share a name.
    std::string host_id;
    // PostgreSQL: the seconds the milter waits for the server to connect or to commit a
    // message's row before it answers as on_index_error says; keep it below half the MTA's
    // milter timeout (a row may wait for the batch before it).
    int answer_timeout_s = 4;
    // PostgreSQL: libpq's parameters of the same names, in libpq's units (seconds, probes,
    // milliseconds); the conninfo wins where it sets one.
    int keepalives_idle = 30;
    int keepalives_interval = 10;
    int keepalives_count = 3;
    int tcp_user_timeout = 30000;
};

struct LogSection {
    std::string sink = "syslog";  // "syslog", "stderr" or "file:/path"
    std::string level = "info";
};

struct SweepMailbox {
    StoreKind store = StoreKind::Maildir;
    std::string path;  // Maildir: the mailbox's directory; may be a glob
    // Dovecot: the name of its [[sweep.dovecot]] endpoint (empty: the only one). Its users
    // are named by `user`: one user for a shared mailbox, a mask ("*@respect.example") for
    // personal ones, listed through Dovecot's user iteration.
    std::string dovecot;
    MailboxKind kind = MailboxKind::Shared;
    std::string line;  // shared mailboxes: the line's tag
    std::string user;  // "{name}@example.org": the mail user for after_mailbox
    std::vector<std::string> sent_folders{"Sent", "Sent Items"};
    std::vector<std::string> deleted_folders{"Trash", "Deleted Items"};
    // Shared mailboxes: folders that mean "hold" (IMAP names, "/" between levels) and the
    // reason each gives, one of [holds] reasons. Staff hold a message from their mail
    // client by moving it into one.
    std::map<std::string, std::string> hold_folders;
    // Shared Dovecot mailboxes: a folder whose messages have their folder holds lifted,
    // used only while Dovecot's ACLs let none but `release_logins` (team leaders' own
    // logins) put mail into it. Empty: none.
    std::string release_folder;
    std::vector<std::string> release_logins;
};

// One way to reach Dovecot's admin interface: the local doveadm program (run with a
// minimal environment of its own), or its HTTP API when `url` is set.
struct SweepDovecot {
    std::string name = "default";
    std::string doveadm = "/usr/bin/doveadm";
    std::string config_file;   // passed to doveadm as -c; empty: doveadm's own default
    std::string url;           // "http(s)://host:port/doveadm/v1": the HTTP API
    std::string api_key_file;  // the API key (doveadm_api_key), read when the sweep starts
    std::string ca_file;       // CA for an https url; empty: the system's CAs
    int timeout_seconds = 300;  // one doveadm call (a folder's fetch, an expunge batch)
};

struct SweepFiles {
    std::string path;
    std::string policy = "letter-response";
};

struct SweepSection {
    long max_destroy_per_run = 10000;
    Period max_clock_jump{Period::Unit::Days, 31};
    std::string metrics_file;
    std::vector<std::string> after_mailbox;
    SecureDelete secure_delete = SecureDelete::Overwrite;
    Orphans orphans = Orphans::Report;
    std::vector<SweepMailbox> mailboxes;
    std::vector<SweepDovecot> dovecots;
    std::vector<SweepFiles> files;
};

struct HoldsSection {
    std::vector<std::string> reasons{"safeguarding", "legal", "police-request", "consent"};
};

struct Config {
    std::string source;  // the file it was read from
    MilterSection milter;
    IndexSection index;
    LogSection log;
    std::map<std::string, PolicyDef> policies;
    std::vector<Line> lines;
    SweepSection sweep;
    HoldsSection holds;

    const Line* find_line(std::string_view tag) const;
    const PolicyDef& policy_of(const Line& line) const;
};

// Why `name` cannot be one of a personal mailbox's sent_folders or deleted_folders (it
// would name a directory outside the mailbox, such as "."), or nothing when it can.
std::optional<std::string> folder_name_problem(std::string_view name);

// Why `name` cannot be a hold folder (empty, a level "." or "..", a leading or trailing
// "/", INBOX itself), or nothing when it can.
std::optional<std::string> hold_folder_name_problem(std::string_view name);

// Reads and validates a config file. Throws ConfigError on any mistake.
Config load_config(const std::string& path);
// The same from text already in memory; `path` is used in messages only.
Config parse_config(std::string_view text, const std::string& path);

}  // namespace rm
