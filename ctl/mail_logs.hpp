// How long the mail server's own logs are kept. They name senders and recipients
// beside our queue ids, so keeping them longer than a message defeats its destruction.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace rm::ctl {

// What logrotate does with the mail log, from the stanza that names it.
struct LogRotation {
    std::string file;     // the config file that says so
    std::string log;      // the log it names, e.g. /var/log/mail.log
    int rotate = 0;       // old copies kept
    int period_days = 7;  // daily 1, weekly 7, monthly 31, yearly 366
    std::string period = "weekly";
    std::optional<int> maxage;
    int kept_days() const;  // the oldest line's age just before it is removed
};

// Reads logrotate.conf (its global defaults and stanzas) and every file in the
// logrotate.d folder; gives the rule for the first log named like the mail log.
std::optional<LogRotation> find_mail_log_rotation(const std::string& logrotate_conf, const std::string& logrotate_dir);

// journald's settings, later files overriding earlier ones (journald.conf, then the
// drop-in folder in name order).
struct JournalSettings {
    std::string storage = "auto";
    std::optional<long long> max_retention_sec;  // unset or 0: no time limit
};
JournalSettings read_journal_settings(const std::string& journald_conf, const std::string& journald_dir);

// systemd time spans: "180day", "6month", "1y 2w", "3600" (seconds). Nothing on error.
std::optional<long long> parse_timespan_seconds(std::string_view text);

}  // namespace rm::ctl
