// retentionctl: the admin tool of retention-milter. Checks the config and the
// environment, shows what the index knows of a message, places and lifts holds,
// reports, and writes the public retention statement. The logic lives in rm_ctl;
// this file wires it to the command line and maps failures to exit codes.
#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>

#include "core/cli.hpp"
#include "core/config.hpp"
#include "ctl/check.hpp"
#include "ctl/error.hpp"
#include "ctl/help.hpp"
#include "ctl/holds.hpp"
#include "ctl/message_id.hpp"
#include "ctl/report.hpp"
#include "ctl/show.hpp"
#include "ctl/statement.hpp"
#include "ctl/words.hpp"
#include "db/index.hpp"
#include "db/journal.hpp"
#include "db/migrate.hpp"

namespace {

using namespace rm;
using namespace rm::ctl;
using Clock = std::chrono::system_clock;

struct Options {
    std::string config = RM_DEFAULT_CONFIG;
    std::string message_id;
    std::string reason;
    std::string ref;
    std::string hold_kind;  // release --kind
    std::string format = "markdown";
    std::string to;
    bool json = false;
};

void require_index(const Config& c) {
    try {
        rm::require_index(c.index);
    } catch (const IndexError& e) {
        throw CtlError(kExitRuntime, e.what());
    }
}

Index::Options index_options(bool write) { return {.create = false, .read_only = !write, .busy_timeout_ms = 5000}; }

std::unique_ptr<Index> open_existing_index(const Config& c, bool write) {
    require_index(c);
    return Index::open(c.index, index_options(write));
}

// The key is never made here: a new key beside an existing index would orphan it. A
// key the index says is not its own would make every message look unknown: refuse it.
CheckedIndex open_with_key(const Config& c, bool write) {
    require_index(c);
    try {
        return open_index_checked(c.index, index_options(write), false);
    } catch (const KeyMismatch&) {
        throw CtlError(kExitRuntime, "the key file " + c.index.key_file +
                                         " is not the key this index was made with, so no message could be found: " +
                                         key_mismatch_remedy(c.index));
    }
}

int cmd_check(const Options& o) {
    const auto r = run_check(o.config);
    for (const auto& f : r.findings) std::cout << format_finding(f) << "\n";
    std::cout << (r.exit_code == kExitOk ? "check passed" : "check failed: fix the errors above") << "\n";
    return r.exit_code;
}

int cmd_show(const Options& o) {
    const Config c = load_config(o.config);
    const PastedId id = parse_pasted_message_id(o.message_id);
    const CheckedIndex opened = open_with_key(c, false);
    const MessageView view = lookup_message(*opened.index, opened.key.digest(id.key));
    const Date today = utc_date(Clock::now());
    if (view.rows.empty()) {
        if (o.json) std::cout << nlohmann::json{{"found", false}, {"error", not_found_message(id.well_formed)}}.dump(2) << "\n";
        throw CtlError(kExitRuntime, not_found_message(id.well_formed));
    }
    if (o.json)
        std::cout << show_json(c, view, today).dump(2) << "\n";
    else
        std::cout << render_show_text(c, view, today);
    return kExitOk;
}

// The day from which the message may go again once the hold is lifted.
Date latest_retention_date(const std::vector<MessageRow>& rows) {
    Date latest = rows.front().retain_until;
    for (const auto& r : rows) latest = std::max(latest, r.retain_until);
    return latest;
}

int cmd_hold(const Options& o) {
    const Config c = load_config(o.config);
    validate_reason(c, o.reason);
    validate_ref(o.ref);
    const PastedId id = parse_pasted_message_id(o.message_id);
    const CheckedIndex opened = open_with_key(c, true);
    Index& index = *opened.index;
    const Digest digest = opened.key.digest(id.key);
    const std::string user = invoking_user();
    // A message recorded only in the pending journal (on_index_error = "accept") can be
    // held too: its row is taken in first. If that fails, the hold is still tried.
    try {
        PendingJournal(c.index).import_into(index);
    } catch (const IndexError& e) {
        std::cerr << "retentionctl: note: the pending journal could not be imported: " << e.what() << "\n";
    }
    place_hold(index, digest, {o.reason, o.ref, user, Clock::now()}, id.well_formed);
    const auto rows = index.rows_for(digest);
    std::cout << "held: every copy of this message (" << rows.size() << (rows.size() == 1 ? " record" : " records")
              << ") is kept until the hold is released; reason " << o.reason
              << (o.ref.empty() ? "" : ", reference " + o.ref) << ", recorded as placed by " << user << "\n";
    return kExitOk;
}

int cmd_release(const Options& o) {
    const Config c = load_config(o.config);
    const PastedId id = parse_pasted_message_id(o.message_id);
    const CheckedIndex opened = open_with_key(c, true);
    Index& index = *opened.index;
    const Digest digest = opened.key.digest(id.key);
    const std::string user = invoking_user();
    const Hold lifted =
        release_hold(index, digest, user, Clock::now(), id.well_formed, parse_hold_kind(o.hold_kind)).front();
    const bool still_held = !index.active_holds(digest).empty();
    const Date when = latest_retention_date(index.rows_for(digest));
    const bool due = when <= utc_date(Clock::now());
    std::cout << "released: the " << lifted.reason << " " << hold_kind_name(lifted.kind) << " hold"
              << (lifted.ref.empty() ? "" : " " + lifted.ref) << " is lifted (recorded as released by " << user
              << "); ";
    if (still_held)
        std::cout << "another hold is still in force, so the message is kept\n";
    else
        std::cout << "the message will be destroyed "
                  << (due ? std::string("at the next sweep") : "on or after " + format_date(when)) << "\n";
    if (lifted.kind == HoldKind::Folder)
        std::cout << "note: a message still in a hold folder is held again by the next sweep; move it out first\n";
    return kExitOk;
}

int cmd_report(const Options& o) {
    const Config c = load_config(o.config);
    auto index = open_existing_index(c, false);
    const ReportData d = build_report(*index, Clock::now());
    if (o.json)
        std::cout << report_json(d).dump(2) << "\n";
    else
        std::cout << render_report_text(c, d);
    return kExitOk;
}

int cmd_statement(const Options& o) {
    const Config c = load_config(o.config);
    const auto format = parse_statement_format(o.format);
    if (!format) throw CtlError(kExitConfig, "--format must be markdown, html or text");
    std::cout << render_statement(c, *format);
    return kExitOk;
}

int cmd_import_pending(const Options& o) {
    const Config c = load_config(o.config);
    auto index = open_existing_index(c, true);
    PendingJournal journal(c.index);
    const int n = journal.import_into(*index);
    if (n == 0)
        std::cout << "nothing to import: the pending journal " << journal.path() << " is empty or absent\n";
    else
        std::cout << "imported " << n << (n == 1 ? " row" : " rows") << " from " << journal.path() << "\n";
    return kExitOk;
}

std::string key_note(const Config& c, IndexUpgrade::Key k) {
    switch (k) {
        case IndexUpgrade::Key::Made:
            return "made the key " + c.index.key_file + " with it: back it up with the index (and when other "
                   "hosts share this index, copy it to each of them, mode 0640)";
        case IndexUpgrade::Key::Recorded:
            return "recorded the key " + c.index.key_file + " as this index's key";
        case IndexUpgrade::Key::Checked:
            break;
    }
    return "the key " + c.index.key_file + " is this index's key";
}

int cmd_upgrade_index(const Options& o) {
    const Config c = load_config(o.config);
    IndexUpgrade u;
    try {
        u = upgrade_index(c.index);
    } catch (const KeyMismatch& e) {
        throw CtlError(kExitRuntime, std::string(e.what()) + ": nothing was recorded; use the key file of this "
                                     "index (from its first host, or from the backup made with the index)");
    }
    if (u.from == 0)
        std::cout << "created the index " << u.index << " (schema version " << u.to << ")\n";
    else if (u.from < u.to)
        std::cout << "migrated the index " << u.index << " from schema version " << u.from << " to " << u.to << "\n";
    else
        std::cout << "the index " << u.index << " is already current (schema version " << u.to << ")\n";
    std::cout << key_note(c, u.key) << "\n";
    if (u.left_to_admin.empty()) return kExitOk;
    for (const auto& note : u.left_to_admin) std::cerr << "retentionctl: " << note << "\n";
    return kExitRuntime;
}

int cmd_migrate_index(const Options& o) {
    if (o.to != "postgresql") throw CtlError(kExitConfig, "--to must be postgresql");
    const Config c = load_config(o.config);
    if (c.index.conninfo.empty())
        throw CtlError(kExitConfig, "[index] conninfo is not set: name the PostgreSQL database to copy the index into");
    const IndexMigration m = migrate_index_to_postgresql(c.index);
    std::cout << "copied the index " << m.source << " into " << m.target << " and compared the copy:\n";
    for (const auto& [table, n] : m.counts) std::cout << "  " << table << ": " << n << (n == 1 ? " row" : " rows") << "\n";
    std::cout << "  receipt chain ends in " << (m.last_chain.empty() ? "(no receipts yet)" : m.last_chain) << "\n"
              << "the sweeper's scan cache was not copied: the first sweep on PostgreSQL reads every message once\n"
              << (c.index.backend == IndexBackend::Sqlite ? "now set [index] backend = \"postgresql\", then " : "")
              << "start retention-milter; " << m.source << " is left as it was\n";
    if (m.left_to_admin.empty()) return kExitOk;
    for (const auto& note : m.left_to_admin) std::cerr << "retentionctl: " << note << "\n";
    return kExitRuntime;
}

// Every failure becomes one line on stderr and its exit code.
int guarded(int (*command)(const Options&), const Options& o) {
    try {
        return command(o);
    } catch (const ConfigError& e) {
        std::cerr << "retentionctl: " << e.what() << "\n";
        return kExitConfig;
    } catch (const CtlError& e) {
        std::cerr << "retentionctl: " << e.what() << "\n";
        return e.code();
    } catch (const std::exception& e) {
        std::cerr << "retentionctl: " << e.what() << "\n";
        return kExitRuntime;
    }
}

CLI::App* add_message_id(CLI::App* sub, Options& o) {
    sub->add_option("MESSAGE-ID", o.message_id,
                    "the message's Message-ID as copied from a mail client, with or without <angle brackets>")
        ->required();
    return sub;
}

}  // namespace

int main(int argc, char** argv) {
    // Files this program creates in the shared state folder (a WAL, a new journal) must
    // stay readable by the group and by nobody else, whatever umask the admin has.
    ::umask(0007);
    CLI::App app{help::kOverview};
    app.footer(help::kFooter);
    app.require_subcommand(1);
    app.set_version_flag("-V,--version", RM_VERSION);
    Options o;
    app.add_option("-c,--config", o.config, "config file")->capture_default_str();

    // Short descriptions for the overview; each subcommand's --help adds its manual.
    auto* check = app.add_subcommand("check", "validate the config and the system it describes");
    check->footer(help::kCheck);
    auto* show = add_message_id(app.add_subcommand("show", "what the index knows of a message"), o);
    show->add_flag("--json", o.json, "print JSON");
    show->footer(help::kShow);
    auto* hold = add_message_id(app.add_subcommand("hold", "keep a message past its date (safeguarding, legal...)"), o);
    hold->add_option("--reason", o.reason, "one of [holds] reasons (default: safeguarding, legal, police-request, consent)")
        ->required();
    hold->add_option("--ref", o.ref, "case reference: 1 to 32 letters, digits and hyphens; never a name");
    hold->footer(help::kHold);
    auto* release = add_message_id(app.add_subcommand("release", "lift a message's hold"), o);
    release->add_option("--kind", o.hold_kind, "admin or folder: which hold to lift when a message has both");
    release->footer(help::kRelease);
    auto* report = app.add_subcommand("report", "counts, expiries, holds and the sweeper's health");
    report->add_flag("--json", o.json, "print JSON");
    report->footer(help::kReport);
    auto* statement = app.add_subcommand("statement", "the public retention statement, from this config");
    statement->add_option("--format", o.format, "markdown, html or text")->capture_default_str();
    statement->footer(help::kStatement);
    auto* import = app.add_subcommand("import-pending", "import the milter's pending journal into the index");
    import->footer(help::kImportPending);
    auto* upgrade = app.add_subcommand("upgrade-index", "make the index, or bring its schema up to date (admin)");
    upgrade->footer(help::kUpgradeIndex);
    auto* migrate = app.add_subcommand("migrate-index", "copy the SQLite index into an empty PostgreSQL index (admin)");
    migrate->add_option("--to", o.to, "the backend to copy into: postgresql")->required();
    migrate->footer(help::kMigrateIndex);

    if (const auto rc = parse_command_line(app, argc, argv)) return *rc;
    if (*check) return guarded(cmd_check, o);
    if (*show) return guarded(cmd_show, o);
    if (*hold) return guarded(cmd_hold, o);
    if (*release) return guarded(cmd_release, o);
    if (*report) return guarded(cmd_report, o);
    if (*statement) return guarded(cmd_statement, o);
    if (*upgrade) return guarded(cmd_upgrade_index, o);
    if (*migrate) return guarded(cmd_migrate_index, o);
    return guarded(cmd_import_pending, o);
}
