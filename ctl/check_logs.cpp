// The log part of `check`: the mail server's logs (logrotate's mail.log, the journal)
// must not outlive the mail they describe.
#include <algorithm>

#include "ctl/check.hpp"
#include "ctl/fs_facts.hpp"
#include "ctl/mail_logs.hpp"
#include "ctl/words.hpp"

namespace rm::ctl {

namespace {

struct Shortest {
    Period period;
    int days = 0;
};

// The mail log describes helpline mail, so the lines' policies are what it must not
// outlive (letter responses never pass the mail server).
Shortest shortest_line_policy(const Config& c) {
    Shortest s{c.policy_of(c.lines.front()).retain, 0};
    s.days = shortest_days(s.period);
    for (const auto& l : c.lines) {
        const Period& p = c.policy_of(l).retain;
        if (shortest_days(p) < s.days) s = {p, shortest_days(p)};
    }
    return s;
}

std::string policy_words(const Shortest& s) {
    return "the shortest policy (" + period_in_words(s.period) + ", at least " + std::to_string(s.days) + " days)";
}

void check_logrotate(const Shortest& s, const LogConfigPaths& paths, Findings& f) {
    const auto r = find_mail_log_rotation(paths.logrotate_conf, paths.logrotate_dir);
    if (!r) {
        ok(f, "no logrotate rule names a mail log (" + paths.logrotate_conf + ", " + paths.logrotate_dir +
                  "/); if the mail server logs elsewhere, keep those logs no longer than " + policy_words(s));
        return;
    }
    const std::string how = "rotate " + std::to_string(r->rotate) + ", " + r->period +
                            (r->maxage ? ", maxage " + std::to_string(*r->maxage) : "");
    if (r->kept_days() <= s.days)
        return ok(f, "the mail log " + r->log + " is kept about " + std::to_string(r->kept_days()) + " days (" + how +
                         " in " + r->file + "), within " + policy_words(s));
    const int max_rotate = std::max(0, s.days / r->period_days - 1);
    warn(f, "the mail log " + r->log + " is kept about " + std::to_string(r->kept_days()) + " days (" + how + " in " +
                r->file + "), longer than " + policy_words(s) + ". It names senders and recipients beside the "
                "queue ids, so it outlives the mail it describes: in " + r->file + " set rotate " +
                std::to_string(max_rotate) + " (or maxage " + std::to_string(s.days - r->period_days) +
                ") for the mail log");
}

void check_journal(const Shortest& s, const LogConfigPaths& paths, Findings& f) {
    const auto j = read_journal_settings(paths.journald_conf, paths.journald_dir);
    const bool on_disk = j.storage == "persistent" || (j.storage == "auto" && stat_of(paths.journal_dir));
    if (!on_disk) return ok(f, "the systemd journal is not kept on disk (Storage=" + j.storage + ")");
    const std::string fix = "set MaxRetentionSec=" + std::to_string(s.days) + "day in the [Journal] section of " +
                            paths.journald_dir + "/retention.conf, then run systemctl restart systemd-journald";
    if (!j.max_retention_sec || *j.max_retention_sec == 0)
        return warn(f, "the systemd journal is kept on disk with no time limit, and it holds the mail server's log "
                       "lines (addresses and client IPs beside the queue ids): " + fix);
    const long long days = *j.max_retention_sec / 86400;
    if (days > s.days)
        return warn(f, "the systemd journal keeps logs " + std::to_string(days) + " days (MaxRetentionSec), longer "
                       "than " + policy_words(s) + ": " + fix);
    ok(f, "the systemd journal keeps logs at most " + std::to_string(days) + " days, within " + policy_words(s));
}

}  // namespace

void check_mail_logs(const Config& c, const LogConfigPaths& paths, Findings& f) {
    if (c.lines.empty()) return;
    const Shortest s = shortest_line_policy(c);
    check_logrotate(s, paths, f);
    check_journal(s, paths, f);
}

}  // namespace rm::ctl
