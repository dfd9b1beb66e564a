// `retentionctl check`: the config, then the environment it describes, as findings an
// admin can act on, one line each: "ok: ...", "warning: ...", "error: ...".
//
// Exit status: 0 when there is no error (warnings allowed); 2 when the config cannot be
// loaded or anything it names is wrong or missing (a user, a group, a folder, a mode),
// since each of those is fixed by editing the config or the system it describes;
// 1 only when the check itself could not run.
#pragma once

#include <string>
#include <vector>

#include "core/config.hpp"
#include "db/pg_server.hpp"

namespace rm::ctl {

struct Finding {
    enum class Level { Ok, Warning, Error };
    Level level = Level::Ok;
    std::string text;
};

using Findings = std::vector<Finding>;

inline void ok(Findings& f, std::string text) { f.push_back({Finding::Level::Ok, std::move(text)}); }
inline void warn(Findings& f, std::string text) { f.push_back({Finding::Level::Warning, std::move(text)}); }
inline void fail(Findings& f, std::string text) { f.push_back({Finding::Level::Error, std::move(text)}); }

std::string format_finding(const Finding& f);  // "warning: ..."
bool has_errors(const Findings& f);

// Where the mail log's lifetime is configured; tests point these at scratch files.
struct LogConfigPaths {
    std::string logrotate_conf = "/etc/logrotate.conf";
    std::string logrotate_dir = "/etc/logrotate.d";
    std::string journald_conf = "/etc/systemd/journald.conf";
    std::string journald_dir = "/etc/systemd/journald.conf.d";
    std::string journal_dir = "/var/log/journal";  // present: the journal is kept on disk
};

struct CheckResult {
    Findings findings;
    int exit_code = 0;
};

// Loads the config (a ConfigError becomes one error finding and exit 2), then checks
// the environment.
CheckResult run_check(const std::string& config_path, const LogConfigPaths& logs = {});

// The parts of the environment check, each usable on its own.
void check_lines(const Config& c, Findings& f);
void check_index(const Config& c, Findings& f);
// A PostgreSQL index's server: what it archives, replicates and logs, how the programs log in.
void check_pg_server(const Config& c, Findings& f);
void check_pg_facts(const PgServerFacts& s, Findings& f);  // what the server said
void check_milter(const Config& c, Findings& f);
void check_sweep(const Config& c, Findings& f);
void check_mail_logs(const Config& c, const LogConfigPaths& paths, Findings& f);

}  // namespace rm::ctl
