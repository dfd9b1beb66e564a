#include "sweeper/metrics.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iomanip>
#include <sstream>
#include <stdexcept>

#include <spdlog/spdlog.h>

#include "sweeper/sweep.hpp"

namespace rm::sweep {

namespace {

void metric(std::ostringstream& o, const std::string& name, const std::string& labels, double value) {
    o << name;
    if (!labels.empty()) o << "{" << labels << "}";
    o << " " << std::setprecision(15) << value << "\n";
}

void header(std::ostringstream& o, const std::string& name, const std::string& help) {
    o << "# HELP " << name << " " << help << "\n# TYPE " << name << " gauge\n";
}

std::string label(const std::string& k, const std::string& v) {
    std::string escaped;
    for (const char c : v) {
        if (c == '\\' || c == '"') escaped += '\\';
        if (c == '\n') {
            escaped += "\\n";
            continue;
        }
        escaped += c;
    }
    return k + "=\"" + escaped + "\"";
}

double seconds(std::chrono::system_clock::time_point t) {
    return static_cast<double>(epoch_seconds(t));
}

std::string metrics_text(const Summary& s, std::chrono::system_clock::time_point run_at,
                         std::optional<std::chrono::system_clock::time_point> last_success, long overdue) {
    std::ostringstream o;
    header(o, "retention_sweep_last_run_messages", "Messages per line and action in the last sweep.");
    for (const auto& [tag, c] : s.lines) {
        const std::pair<const char*, long> actions[] = {{"destroyed", c.destroyed}, {"moved", c.moved},
                                                        {"kept", c.kept},           {"held", c.held},
                                                        {"orphans", c.orphans},     {"orphans_destroyed", c.orphans_destroyed},
                                                        {"skipped", c.skipped}};
        for (const auto& [action, n] : actions)
            metric(o, "retention_sweep_last_run_messages", label("line", tag) + "," + label("action", action),
                   static_cast<double>(n));
    }
    header(o, "retention_sweep_last_run_files", "[[sweep.files]] files per policy and action in the last sweep.");
    for (const auto& [policy, c] : s.files) {
        metric(o, "retention_sweep_last_run_files", label("policy", policy) + ",action=\"destroyed\"",
               static_cast<double>(c.destroyed));
        metric(o, "retention_sweep_last_run_files", label("policy", policy) + ",action=\"kept\"",
               static_cast<double>(c.kept));
    }
    header(o, "retention_sweep_last_run_skips", "Things the last sweep skipped, by reason.");
    for (const auto& [why, n] : s.skips)
        metric(o, "retention_sweep_last_run_skips", label("reason", skip_key(why)), static_cast<double>(n));
    header(o, "retention_sweep_residues", "Residues the last sweep saw (Dovecot caches, lazy_expunge folders).");
    metric(o, "retention_sweep_residues", "kind=\"index_cache_folders\"", static_cast<double>(s.residues.index_cache_folders));
    metric(o, "retention_sweep_residues", "kind=\"lazy_expunge_folders\"", static_cast<double>(s.residues.lazy_expunge_folders));
    metric(o, "retention_sweep_residues", "kind=\"rewritten_mboxes\"", static_cast<double>(s.residues.rewritten_mboxes));
    metric(o, "retention_sweep_residues", "kind=\"purged_mdbox_users\"", static_cast<double>(s.residues.purged_mdbox_users));
    metric(o, "retention_sweep_residues", "kind=\"unpurged_mdbox_users\"", static_cast<double>(s.residues.unpurged_mdbox_users));
    metric(o, "retention_sweep_residues", "kind=\"not_overwritten_remote\"", static_cast<double>(s.residues.not_overwritten_remote));
    metric(o, "retention_sweep_residues", "kind=\"fts_index_users\"", static_cast<double>(s.residues.fts_index_users));
    metric(o, "retention_sweep_residues", "kind=\"attachment_dir_users\"", static_cast<double>(s.residues.attachment_dir_users));
    header(o, "retention_sweep_hold_folders",
           "What the last sweep found in hold folders: holds placed, messages already held, messages without an "
           "index row left alone, folders made, folder holds whose message left every hold folder, folders unread; "
           "release folders: folder holds released, messages that stay held, release folders not used.");
    const HoldFolderCounts& h = s.hold_folders;
    const std::pair<const char*, long> holds[] = {{"placed", h.placed},
                                                  {"already_held", h.already},
                                                  {"not_helpline", h.not_helpline},
                                                  {"folders_made", h.made},
                                                  {"no_longer_in_folder", h.no_longer},
                                                  {"unreadable", static_cast<long>(h.unreadable.size())},
                                                  {"released", h.released},
                                                  {"release_kept_by_admin_hold", h.release_admin_kept},
                                                  {"release_still_in_hold_folder", h.release_in_hold_folder},
                                                  {"release_folders_not_used", static_cast<long>(h.release_refused.size())}};
    for (const auto& [kind, n] : holds) metric(o, "retention_sweep_hold_folders", label("kind", kind), static_cast<double>(n));
    header(o, "retention_sweep_others_access", "[[sweep.files]] folders and files readable by others.");
    metric(o, "retention_sweep_others_access", "kind=\"folders\"", static_cast<double>(s.others_access_folders));
    metric(o, "retention_sweep_others_access", "kind=\"files\"", static_cast<double>(s.others_access_files));
    header(o, "retention_sweep_overdue_rows", "Index rows past their date and not destroyed after the last sweep (held ones included).");
    metric(o, "retention_sweep_overdue_rows", "", static_cast<double>(overdue));
    header(o, "retention_sweep_last_run_timestamp_seconds", "When the last sweep ran.");
    metric(o, "retention_sweep_last_run_timestamp_seconds", "", seconds(run_at));
    header(o, "retention_sweep_last_success_timestamp_seconds", "When a sweep last ended with exit code 0 or 4.");
    metric(o, "retention_sweep_last_success_timestamp_seconds", "", last_success ? seconds(*last_success) : 0);
    header(o, "retention_sweep_last_exit_code", "Exit code of the last sweep (0 ok, 3 safety stop, 4 skipped something).");
    metric(o, "retention_sweep_last_exit_code", "", s.exit_code);
    header(o, "retention_sweep_last_run_duration_seconds", "How long the last sweep took.");
    metric(o, "retention_sweep_last_run_duration_seconds", "", s.duration_seconds);
    return o.str();
}

}  // namespace

void write_metrics(const std::string& path, const Summary& s, std::chrono::system_clock::time_point run_at,
                   std::optional<std::chrono::system_clock::time_point> last_success, long overdue_rows) {
    const std::string text = metrics_text(s, run_at, last_success, overdue_rows);
    // node_exporter reads only *.prom files, so the temporary name is never half-read.
    const std::string tmp = path + ".tmp." + std::to_string(::getpid());
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) throw std::runtime_error("cannot write the metrics file " + tmp + ": " + std::strerror(errno));
    size_t done = 0;
    bool ok = true;
    while (done < text.size()) {
        const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            ok = false;
            break;
        }
        done += static_cast<size_t>(n);
    }
    const int err = errno;
    ok = ok && ::fsync(fd) == 0;
    ::close(fd);
    if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
        const int e = ok ? errno : err;
        ::unlink(tmp.c_str());
        throw std::runtime_error("cannot write the metrics file " + path + ": " + std::strerror(e));
    }
}

void write_metrics_file(const Config& config, const Index& index, Summary& summary, Date today,
                        std::chrono::system_clock::time_point now,
                        std::chrono::steady_clock::time_point started) {
    if (config.sweep.metrics_file.empty()) return;
    try {
        std::optional<std::chrono::system_clock::time_point> last_success;
        summary.duration_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        if (auto t = meta_seconds(index, kMetaLastSuccess)) last_success = std::chrono::system_clock::time_point(std::chrono::seconds(*t));
        const long overdue = static_cast<long>(index.expired(today).size());
        write_metrics(config.sweep.metrics_file, summary, now, last_success, overdue);
    } catch (const std::exception& e) {
        spdlog::error("{}", e.what());
        summary.warn(std::string("metrics not written: ") + e.what());
    }
}

}  // namespace rm::sweep
