// retention-sweep: one run of the sweeper. Destroys expired helpline mail and letter
// copies, moves personal Sent copies into the line's shared mailbox, then exits.
// Runs as the mail store's user (nightly, from the systemd timer or cron).
#include <CLI/CLI.hpp>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "core/cli.hpp"
#include "core/config.hpp"
#include "core/log.hpp"
#include "sweeper/sweep.hpp"

namespace {

struct Options {
    std::string config = RM_DEFAULT_CONFIG;
    bool dry_run = false;
    bool force = false;
    bool list = false;
    bool read_all = false;
    unsigned wait_for_lock = 0;
    bool json = false;
    std::string now;
};

int usage_error(const std::string& message) {
    std::fprintf(stderr, "retention-sweep: %s\n", message.c_str());
    return rm::kExitConfig;
}

void print_failure(const Options& o, int code, const std::string& message) {
    std::fprintf(stderr, "retention-sweep: %s\n", message.c_str());
    if (o.json) std::cout << nlohmann::json{{"exit_code", code}, {"error", message}}.dump(2) << "\n";
}

int run(const Options& o) {
    rm::sweep::SweepOptions so;
    so.dry_run = o.dry_run;
    so.force = o.force;
    so.list = o.list;
    so.read_all = o.read_all;
    so.lock_wait = std::chrono::seconds(o.wait_for_lock);
    if (!o.now.empty()) {
        if (!o.dry_run)
            return usage_error("--now is a what-if and is accepted only with --dry-run (to destroy as of another "
                               "date, set the process clock, e.g. with faketime)");
        so.now_date = rm::parse_date(o.now);
        if (!so.now_date) return usage_error("--now '" + o.now + "' is not a date of the form YYYY-MM-DD");
    }
    rm::setup_bootstrap_logging("retention-sweep");
    rm::Config config;
    try {
        config = rm::load_config(o.config);
        rm::setup_logging(config.log, "retention-sweep", o.config);
    } catch (const rm::ConfigError& e) {
        print_failure(o, rm::kExitConfig, e.what());
        return rm::kExitConfig;
    }
    std::string error;
    const rm::sweep::Summary s = rm::sweep::run_sweep(config, so, std::chrono::system_clock::now(), error);
    if (s.exit_code == rm::kExitRuntime || s.exit_code == rm::kExitConfig) {
        // A store that is not Maildir++ is named on stderr only: its path may name a
        // staff member's mailbox, and the log names no one.
        if (s.exit_code == rm::kExitConfig) spdlog::error("stopped: a configured mail store is not Maildir++ (see stderr)");
        else spdlog::error("{}", error);
        print_failure(o, s.exit_code, error);
        return s.exit_code;
    }
    if (s.stop) std::fprintf(stderr, "retention-sweep: stopped: %s\n", s.stop->c_str());
    if (o.json) std::cout << rm::sweep::to_json(s);
    else rm::sweep::print_text(std::cout, s);
    std::cout.flush();
    return s.exit_code;
}

// Overwriting in place holds each expired file of a destroy batch open from before its
// expunge until after it (thousands, with many users), and the usual soft limit of 1024
// descriptors would make the opens fail and leave those files not overwritten.
void raise_open_files_limit() {
    rlimit lim{};
    if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return;
    const rlim_t want = std::min<rlim_t>(lim.rlim_max, 65536);
    if (lim.rlim_cur >= want) return;
    lim.rlim_cur = want;
    ::setrlimit(RLIMIT_NOFILE, &lim);
}

}  // namespace

int main(int argc, char** argv) {
    raise_open_files_limit();
    CLI::App app{"retention-sweep: destroys expired helpline mail and letter copies, and moves personal Sent "
                 "copies into the helpline's shared mailbox (one run, then exits)"};
    Options o;
    app.add_option("-c,--config", o.config, "config file")->capture_default_str();
    app.add_flag("--dry-run", o.dry_run, "say what would be destroyed and moved; change nothing");
    app.add_option("--now", o.now, "with --dry-run: pretend today is this date (YYYY-MM-DD)");
    app.add_flag("--force", o.force, "go on past a clock or max_destroy_per_run safety stop");
    app.add_flag("--list", o.list, "list the paths of the files acted on, skipped or left as residues");
    app.add_flag("--read-all", o.read_all,
                 "read every message's header, even of files an earlier run read and that have not changed since");
    app.add_flag("--json", o.json, "print the summary as JSON");
    app.add_option("--wait-for-lock", o.wait_for_lock,
                   "when another sweep holds the index's lock, wait up to this many seconds for it (a standby "
                   "sweeper on another host) instead of stopping at once")
        ->check(CLI::Range(0u, 86400u));
    app.set_version_flag("-V,--version", RM_VERSION);
    if (const auto rc = rm::parse_command_line(app, argc, argv)) return *rc;
    return run(o);
}
