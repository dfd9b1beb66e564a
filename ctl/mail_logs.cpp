#include "ctl/mail_logs.hpp"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "core/strings.hpp"

namespace rm::ctl {

namespace fs = std::filesystem;

int LogRotation::kept_days() const {
    // The live file plus `rotate` old ones, each covering one period.
    const int by_count = (rotate + 1) * period_days;
    return maxage ? std::min(by_count, *maxage + period_days) : by_count;
}

namespace {

std::vector<std::string> read_lines(const std::string& path) {
    std::ifstream in(path);
    std::vector<std::string> lines;
    for (std::string l; std::getline(in, l);) lines.push_back(l);
    return lines;
}

std::optional<int> period_of(std::string_view word) {
    if (word == "hourly" || word == "daily") return 1;
    if (word == "weekly") return 7;
    if (word == "monthly") return 31;
    if (word == "yearly") return 366;
    return std::nullopt;
}

std::optional<int> to_int(std::string_view s) {
    int n = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
    return n;
}

// Applies one directive line to `r`; other directives are irrelevant here.
void apply_directive(const std::vector<std::string>& words, LogRotation& r) {
    if (words.empty()) return;
    if (auto p = period_of(words[0])) {
        r.period = words[0];
        r.period_days = *p;
    } else if (words[0] == "rotate" && words.size() > 1) {
        if (auto n = to_int(words[1])) r.rotate = std::max(0, *n);
    } else if (words[0] == "maxage" && words.size() > 1) {
        if (auto n = to_int(words[1])) r.maxage = *n;
    }
}

std::vector<std::string> words_of(const std::string& line) {
    std::istringstream in(line);
    std::vector<std::string> w;
    for (std::string x; in >> x;) {
        if (x[0] == '#') break;
        x.erase(std::remove(x.begin(), x.end(), '"'), x.end());
        w.push_back(x);
    }
    return w;
}

// How well a path names the mail log: 2 for mail.log or maillog (Debian, Red Hat), 1
// for the other mail.* files rsyslog writes, 0 for anything else.
int mail_log_rank(const std::string& path) {
    const std::string base = path.substr(path.find_last_of('/') + 1);
    if (base == "mail.log" || base == "maillog") return 2;
    return base.rfind("mail.", 0) == 0 ? 1 : 0;
}

// The stanza's best name for the mail log, if it names one.
std::optional<std::string> mail_log_in(const std::vector<std::string>& paths) {
    std::optional<std::string> best;
    for (const auto& p : paths) {
        if (mail_log_rank(p) > (best ? mail_log_rank(*best) : 0)) best = p;
    }
    return best;
}

struct Parsed {
    LogRotation defaults;             // directives outside any stanza
    std::optional<LogRotation> mail;  // the first stanza naming the mail log
};

// Walks one file: top-level directives change the defaults; a "paths { ... }" stanza
// starts from the defaults. Script blocks (postrotate ... endscript) are skipped.
void parse_file(const std::string& file, Parsed& p) {
    std::vector<std::string> pending_paths;
    std::optional<LogRotation> stanza;
    bool in_script = false;
    for (const auto& line : read_lines(file)) {
        auto w = words_of(line);
        if (w.empty()) continue;
        if (in_script) {
            in_script = w[0] != "endscript";
            continue;
        }
        if (w[0] == "postrotate" || w[0] == "prerotate" || w[0] == "firstaction" || w[0] == "lastaction" ||
            w[0] == "preremove") {
            in_script = true;
            continue;
        }
        if (!stanza) {
            const auto brace = std::find(w.begin(), w.end(), "{");
            if (brace == w.end() && w[0][0] == '/') {
                pending_paths.insert(pending_paths.end(), w.begin(), w.end());
                continue;
            }
            if (brace != w.end()) {
                pending_paths.insert(pending_paths.end(), w.begin(), brace);
                stanza = p.defaults;
                stanza->file = file;
                continue;
            }
            apply_directive(w, p.defaults);
            continue;
        }
        if (w[0] == "}") {
            const auto log = mail_log_in(pending_paths);
            if (!p.mail && log) {
                p.mail = *stanza;
                p.mail->log = *log;
            }
            stanza.reset();
            pending_paths.clear();
            continue;
        }
        apply_directive(w, *stanza);
    }
}

std::vector<std::string> files_in(const std::string& dir, std::string_view suffix) {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
        const std::string name = e.path().filename().string();
        // Package managers leave backups beside the real files; logrotate skips them too.
        if (name.find(".dpkg-") != std::string::npos || name.back() == '~') continue;
        if (!suffix.empty() && (name.size() < suffix.size() || name.substr(name.size() - suffix.size()) != suffix))
            continue;
        if (e.is_regular_file(ec)) out.push_back(e.path().string());
    }
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace

std::optional<LogRotation> find_mail_log_rotation(const std::string& logrotate_conf, const std::string& logrotate_dir) {
    Parsed p;
    parse_file(logrotate_conf, p);
    for (const auto& f : files_in(logrotate_dir, "")) {
        if (p.mail) break;
        parse_file(f, p);
    }
    return p.mail;
}

// --- journald -------------------------------------------------------------------------

namespace {

void read_journal_file(const std::string& path, JournalSettings& s) {
    bool in_journal = false;
    for (const auto& raw : read_lines(path)) {
        const std::string_view line = trim(raw);
        if (line.empty() || line[0] == '#' || line[0] == ';') continue;
        if (line[0] == '[') {
            in_journal = line == "[Journal]";
            continue;
        }
        const auto eq = line.find('=');
        if (!in_journal || eq == std::string_view::npos) continue;
        const std::string_view key = trim(line.substr(0, eq)), value = trim(line.substr(eq + 1));
        if (key == "Storage") s.storage = to_lower(value);
        if (key == "MaxRetentionSec") s.max_retention_sec = parse_timespan_seconds(value);
    }
}

std::optional<long long> unit_seconds(std::string_view u) {
    static const std::vector<std::pair<std::vector<std::string_view>, long long>> kUnits = {
        {{"", "s", "sec", "second", "seconds"}, 1},
        {{"m", "min", "minute", "minutes"}, 60},
        {{"h", "hr", "hour", "hours"}, 3600},
        {{"d", "day", "days"}, 86400},
        {{"w", "week", "weeks"}, 604800},
        {{"M", "month", "months"}, 2629800},  // systemd: 30.44 days
        {{"y", "year", "years"}, 31557600},   // systemd: 365.25 days
    };
    for (const auto& [names, secs] : kUnits) {
        if (std::find(names.begin(), names.end(), u) != names.end()) return secs;
    }
    return std::nullopt;
}

}  // namespace

std::optional<long long> parse_timespan_seconds(std::string_view text) {
    text = trim(text);
    if (text.empty()) return std::nullopt;
    long long total = 0;
    size_t i = 0;
    while (i < text.size()) {
        while (i < text.size() && text[i] == ' ') ++i;
        const size_t num_start = i;
        while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
        if (i == num_start) return std::nullopt;
        long long n = 0;
        std::from_chars(text.data() + num_start, text.data() + i, n);
        while (i < text.size() && text[i] == ' ') ++i;
        const size_t unit_start = i;
        while (i < text.size() && ((text[i] >= 'a' && text[i] <= 'z') || (text[i] >= 'A' && text[i] <= 'Z'))) ++i;
        const auto secs = unit_seconds(text.substr(unit_start, i - unit_start));
        if (!secs) return std::nullopt;
        total += n * *secs;
    }
    return total;
}

JournalSettings read_journal_settings(const std::string& journald_conf, const std::string& journald_dir) {
    JournalSettings s;
    read_journal_file(journald_conf, s);
    for (const auto& f : files_in(journald_dir, ".conf")) read_journal_file(f, s);
    return s;
}

}  // namespace rm::ctl
