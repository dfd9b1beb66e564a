#include "core/config.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <toml++/toml.h>

#include "core/address.hpp"
#include "core/maildir.hpp"
#include "core/strings.hpp"

namespace rm {

ConfigError::ConfigError(std::string file, int line, std::string key, std::string problem)
    : std::runtime_error(file + (line > 0 ? ":" + std::to_string(line) : std::string()) +
                         (key.empty() ? std::string() : ": " + key) + ": " + problem),
      file_(std::move(file)),
      line_(line),
      key_(std::move(key)),
      problem_(std::move(problem)) {}

const Line* Config::find_line(std::string_view tag) const {
    for (const auto& l : lines) {
        if (l.tag == tag) return &l;
    }
    return nullptr;
}

const PolicyDef& Config::policy_of(const Line& line) const { return policies.at(line.policy); }

std::optional<std::string> folder_name_problem(std::string_view name) {
    // Maildir++ puts a folder in the directory "." + its name: "." would be ".." (the
    // folder above the mailbox) and "INBOX/." the same. Such a name leaves the mailbox.
    const std::string dir = folder_dir_for(name);
    if (dir == "." || dir == "..")
        return "'" + std::string(name) + "' is not a folder name: it would name a directory outside the mailbox";
    return std::nullopt;
}

std::optional<std::string> hold_folder_name_problem(std::string_view name) {
    const std::string n(name);
    if (trim(name).empty()) return std::string("a hold folder needs a name");
    if (name.front() == '/' || name.back() == '/' || name.find("//") != std::string_view::npos)
        return "'" + n + "' is not an IMAP folder name: write its levels with a single '/' between them, such as "
               "\"Hold/Safeguarding\"";
    for (const auto& level : split(name, '/'))
        if (trim(level) == "." || trim(level) == "..")
            return "'" + n + "' is not a folder name: a level may not be '.' or '..'";
    if (folder_dir_for(name).empty()) return "'" + n + "' is the mailbox's inbox: a hold folder must be a folder of its own";
    if (auto why = folder_name_problem(name)) return why;
    return std::nullopt;
}

namespace {

// Long values are typos or attacks; no legitimate key needs more.
constexpr size_t kMaxString = 4096;
constexpr std::uintmax_t kMaxConfigBytes = 1 << 20;

// Reads one table, reporting every mistake with the file, line and dotted key.
class TableReader {
public:
    TableReader(const std::string& file, const toml::table& table, std::string prefix)
        : file_(file), table_(table), prefix_(std::move(prefix)) {}

    // Every key present must be one of `known`; anything else is a typo to report.
    void only(std::initializer_list<std::string_view> known) const {
        for (const auto& [k, node] : table_) {
            if (std::find(known.begin(), known.end(), k.str()) != known.end()) continue;
            std::string list;
            for (auto kk : known) list += (list.empty() ? "" : ", ") + std::string(kk);
            fail(node, key(k.str()), "unknown key (known keys here: " + list + ")");
        }
    }

    bool has(std::string_view k) const { return table_.contains(k); }
    const toml::node* node(std::string_view k) const { return table_.get(k); }

    std::optional<std::string> string(std::string_view k, bool allow_empty = false) const {
        const toml::node* n = table_.get(k);
        if (!n) return std::nullopt;
        const auto v = n->value<std::string>();
        if (!n->is_string() || !v) fail(*n, key(k), "must be a string in quotes");
        if (!allow_empty && trim(*v).empty()) fail(*n, key(k), "must not be empty");
        if (v->size() > kMaxString) fail(*n, key(k), "is longer than " + std::to_string(kMaxString) + " bytes");
        if (!is_clean_utf8(*v)) fail(*n, key(k), "contains control characters");
        return v;
    }

    std::string required_string(std::string_view k) const {
        auto v = string(k);
        if (!v) fail_here(key(k), "is required");
        return *v;
    }

    std::optional<bool> boolean(std::string_view k) const {
        const toml::node* n = table_.get(k);
        if (!n) return std::nullopt;
        if (!n->is_boolean()) fail(*n, key(k), "must be true or false (without quotes)");
        return n->value<bool>();
    }

    std::optional<std::int64_t> integer(std::string_view k, std::int64_t lo, std::int64_t hi) const {
        const toml::node* n = table_.get(k);
        if (!n) return std::nullopt;
        if (!n->is_integer()) fail(*n, key(k), "must be a whole number (without quotes)");
        const auto v = *n->value<std::int64_t>();
        if (v < lo || v > hi)
            fail(*n, key(k), "must be between " + std::to_string(lo) + " and " + std::to_string(hi));
        return v;
    }

    std::optional<double> fraction(std::string_view k) const {
        const toml::node* n = table_.get(k);
        if (!n) return std::nullopt;
        if (!n->is_number()) fail(*n, key(k), "must be a number from 0 to 1, such as 0.05");
        const double v = *n->value<double>();
        if (!(v >= 0.0 && v <= 1.0)) fail(*n, key(k), "must be a number from 0 to 1, such as 0.05");
        return v;
    }

    std::optional<std::vector<std::string>> strings(std::string_view k, bool allow_empty_list = true) const {
        const toml::node* n = table_.get(k);
        if (!n) return std::nullopt;
        const toml::array* arr = n->as_array();
        if (!arr) fail(*n, key(k), "must be a list of strings, such as [\"a\", \"b\"]");
        if (!allow_empty_list && arr->empty()) fail(*n, key(k), "must not be an empty list");
        if (arr->size() > 10000) fail(*n, key(k), "has too many entries");
        std::vector<std::string> out;
        for (const toml::node& e : *arr) {
            const auto v = e.value<std::string>();
            if (!e.is_string() || !v) fail(e, key(k), "must be a list of strings, such as [\"a\", \"b\"]");
            if (trim(*v).empty()) fail(e, key(k), "contains an empty string");
            if (v->size() > kMaxString) fail(e, key(k), "contains a string longer than " + std::to_string(kMaxString) + " bytes");
            if (!is_clean_utf8(*v)) fail(e, key(k), "contains control characters");
            out.push_back(*v);
        }
        return out;
    }

    std::optional<Period> period(std::string_view k) const {
        const auto v = string(k);
        if (!v) return std::nullopt;
        const auto p = parse_period(*v);
        if (!p)
            fail(*table_.get(k), key(k),
                 "'" + *v + "' is not a period: write a positive whole number and a unit, "
                 "such as \"6 months\", \"2 months\" or \"180 days\"");
        return p;
    }

    [[noreturn]] void fail(const toml::node& n, const std::string& k, const std::string& problem) const {
        throw ConfigError(file_, static_cast<int>(n.source().begin.line), k, problem);
    }
    [[noreturn]] void fail_key(std::string_view k, const std::string& problem) const {
        const toml::node* n = table_.get(k);
        if (n) fail(*n, key(k), problem);
        fail_here(key(k), problem);
    }
    [[noreturn]] void fail_here(const std::string& k, const std::string& problem) const {
        throw ConfigError(file_, static_cast<int>(table_.source().begin.line), k, problem);
    }

    std::string key(std::string_view k) const { return prefix_.empty() ? std::string(k) : prefix_ + "." + std::string(k); }
    const std::string& file() const { return file_; }

private:
    const std::string& file_;
    const toml::table& table_;
    std::string prefix_;
};

const toml::table& sub_table(const std::string& file, const toml::table& root, std::string_view name) {
    static const toml::table empty;
    const toml::node* n = root.get(name);
    if (!n) return empty;
    if (!n->is_table())
        throw ConfigError(file, static_cast<int>(n->source().begin.line), std::string(name),
                          "must be a table: write [" + std::string(name) + "] on a line of its own");
    return *n->as_table();
}

void read_milter(const TableReader& t, MilterSection& m) {
    t.only({"socket", "socket_mode", "socket_group", "user", "pid_file", "internal_hosts",
            "originating_daemons", "on_index_error", "stamp_outbound"});
    if (auto s = t.string("socket")) {
        std::string why;
        auto spec = parse_socket_spec(*s, &why);
        if (!spec) t.fail_key("socket", "'" + *s + "': " + why);
        m.socket = *spec;
    }
    if (auto s = t.string("socket_mode")) {
        const bool octal = s->size() >= 3 && s->size() <= 4 &&
                           std::all_of(s->begin(), s->end(), [](char c) { return c >= '0' && c <= '7'; });
        if (!octal) t.fail_key("socket_mode", "must be an octal mode in quotes, such as \"0660\"");
        m.socket_mode = static_cast<mode_t>(std::stoul(*s, nullptr, 8));
        if (m.socket_mode & 07000) t.fail_key("socket_mode", "must not set setuid, setgid or sticky bits");
    }
    if (auto s = t.string("socket_group")) m.socket_group = *s;
    if (auto s = t.string("user")) m.user = *s;
    if (auto s = t.string("pid_file")) {
        if (s->front() != '/') t.fail_key("pid_file", "must be an absolute path");
        m.pid_file = *s;
    }
    if (auto hosts = t.strings("internal_hosts")) {
        for (const auto& h : *hosts) {
            auto c = parse_cidr(h);
            if (!c) t.fail_key("internal_hosts", "'" + h + "' is not an address block such as \"127.0.0.1/32\" or \"::1/128\"");
            m.internal_hosts.push_back(*c);
        }
    }
    if (auto d = t.strings("originating_daemons")) m.originating_daemons = *d;
    if (auto s = t.string("on_index_error")) {
        if (*s == "tempfail") m.on_index_error = OnIndexError::Tempfail;
        else if (*s == "accept") m.on_index_error = OnIndexError::Accept;
        else t.fail_key("on_index_error", "must be \"tempfail\" or \"accept\", not '" + *s + "'");
    }
    if (auto b = t.boolean("stamp_outbound")) m.stamp_outbound = *b;
}

// Past a few minutes the MTA has long given up on the milter's answer, and a dead server
// would hold the connection that long.
void read_index_link(const TableReader& t, IndexSection& ix) {
    if (auto n = t.integer("answer_timeout", 1, 120)) ix.answer_timeout_s = static_cast<int>(*n);
    if (auto n = t.integer("keepalives_idle", 1, 7200)) ix.keepalives_idle = static_cast<int>(*n);
    if (auto n = t.integer("keepalives_interval", 1, 600)) ix.keepalives_interval = static_cast<int>(*n);
    if (auto n = t.integer("keepalives_count", 1, 100)) ix.keepalives_count = static_cast<int>(*n);
    if (auto n = t.integer("tcp_user_timeout", 0, 600000)) ix.tcp_user_timeout = static_cast<int>(*n);
}

void read_index(const TableReader& t, IndexSection& ix) {
    t.only({"backend", "conninfo", "path", "key_file", "digest_grace", "pending_journal", "host_id", "answer_timeout",
            "keepalives_idle", "keepalives_interval", "keepalives_count", "tcp_user_timeout"});
    if (auto s = t.string("backend")) {
        if (*s == "sqlite") ix.backend = IndexBackend::Sqlite;
        else if (*s == "postgresql") ix.backend = IndexBackend::Postgresql;
        else t.fail_key("backend", "must be \"sqlite\" or \"postgresql\", not '" + *s + "'");
    }
    // Never quote the value: it may carry the database password. With "sqlite" it names
    // the database `retentionctl migrate-index` copies the index into.
    if (auto s = t.string("conninfo")) {
        if (s->empty()) t.fail_key("conninfo", "must not be empty");
        ix.conninfo = *s;
    }
    if (ix.backend == IndexBackend::Postgresql && ix.conninfo.empty())
        t.fail_key("conninfo", "is required with backend = \"postgresql\" (a libpq URI or key=value string)");
    if (auto s = t.string("path")) ix.path = *s;
    if (auto s = t.string("key_file")) ix.key_file = *s;
    if (ix.path.front() != '/') t.fail_key("path", "must be an absolute path");
    if (ix.key_file.front() != '/') t.fail_key("key_file", "must be an absolute path");
    if (auto p = t.period("digest_grace")) ix.digest_grace = *p;
    ix.pending_journal = ix.path + ".pending";
    if (auto s = t.string("pending_journal")) ix.pending_journal = *s;
    if (ix.pending_journal.empty() || ix.pending_journal.front() != '/')
        t.fail_key("pending_journal", "must be an absolute path");
    if (auto s = t.string("host_id")) ix.host_id = *s;
    read_index_link(t, ix);
}

void read_log(const TableReader& t, LogSection& l) {
    t.only({"sink", "level"});
    if (auto s = t.string("sink")) {
        const bool file = s->rfind("file:/", 0) == 0;
        if (*s != "syslog" && *s != "stderr" && !file)
            t.fail_key("sink", "must be \"syslog\", \"stderr\" or \"file:/absolute/path\", not '" + *s + "'");
        l.sink = *s;
    }
    if (auto s = t.string("level")) {
        static const std::set<std::string> levels{"trace", "debug", "info", "warning", "warn", "error", "critical", "off"};
        if (!levels.count(*s)) t.fail_key("level", "must be one of trace, debug, info, warning, error, critical, off");
        l.level = *s;
    }
}

void read_policies(const std::string& file, const toml::table& root, Config& c) {
    const toml::table& policies = sub_table(file, root, "policy");
    for (const auto& [name, node] : policies) {
        const std::string key = "policy." + std::string(name.str());
        if (!node.is_table())
            throw ConfigError(file, static_cast<int>(node.source().begin.line), key,
                              "must be a table: write [" + key + "] and retain = \"6 months\" under it");
        TableReader t(file, *node.as_table(), key);
        t.only({"retain"});
        auto p = t.period("retain");
        if (!p) t.fail_here(key + ".retain", "is required, such as retain = \"6 months\"");
        c.policies[std::string(name.str())] = PolicyDef{std::string(name.str()), *p};
    }
}

bool valid_tag(std::string_view tag) {
    if (tag.empty() || tag.size() > 64) return false;
    return std::all_of(tag.begin(), tag.end(), [](char ch) {
        return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.';
    });
}

void read_lines(const std::string& file, const toml::table& root, Config& c) {
    const toml::node* n = root.get("line");
    if (!n) throw ConfigError(file, 0, "line", "no [[line]] is defined: the milter would have nothing to record");
    const toml::array* arr = n->as_array();
    if (!arr || !arr->is_array_of_tables())
        throw ConfigError(file, static_cast<int>(n->source().begin.line), "line",
                          "must be written as [[line]] tables, one per line of service");
    std::map<std::string, std::string> address_owner, domain_owner;
    for (const toml::node& ln : *arr) {
        const TableReader t(file, *ln.as_table(), "line");
        t.only({"tag", "name", "addresses", "domains", "policy", "review_mailbox", "review_sample"});
        Line l;
        l.tag = t.required_string("tag");
        if (!valid_tag(l.tag))
            t.fail_key("tag", "'" + l.tag + "' must be lower-case letters, digits, '-', '_' or '.' (it goes in a mail header)");
        if (c.find_line(l.tag)) t.fail_key("tag", "'" + l.tag + "' is used by two [[line]] entries");
        l.name = t.string("name").value_or(l.tag);
        for (const auto& a : t.strings("addresses").value_or(std::vector<std::string>{})) {
            auto addr = parse_address(a);
            if (!addr) t.fail_key("addresses", "'" + a + "' is not a mail address");
            const std::string norm = addr->text();
            if (address_owner.count(norm))
                t.fail_key("addresses", "'" + a + "' is already claimed by line '" + address_owner[norm] + "'");
            address_owner[norm] = l.tag;
            l.addresses.push_back(norm);
        }
        for (const auto& d : t.strings("domains").value_or(std::vector<std::string>{})) {
            auto dom = normalise_domain_entry(d);
            if (!dom) t.fail_key("domains", "'" + d + "' is not a domain name");
            if (domain_owner.count(*dom))
                t.fail_key("domains", "'" + d + "' is already claimed by line '" + domain_owner[*dom] + "'");
            domain_owner[*dom] = l.tag;
            l.domains.push_back(*dom);
        }
        if (l.addresses.empty() && l.domains.empty())
            t.fail_here("line." + l.tag, "has neither addresses nor domains, so no mail could belong to it");
        auto policy = t.string("policy");
        if (!policy) t.fail_here("line." + l.tag + ".policy", "is required: name a [policy.NAME] table, such as \"email\"");
        if (!c.policies.count(*policy))
            t.fail_key("policy", "names policy '" + *policy + "', but there is no [policy." + *policy + "] table");
        l.policy = *policy;
        if (auto r = t.string("review_mailbox")) {
            auto addr = parse_address(*r);
            if (!addr) t.fail_key("review_mailbox", "'" + *r + "' is not a mail address");
            l.review_mailbox = *r;
        }
        l.review_sample = t.fraction("review_sample").value_or(0.0);
        if (l.review_sample > 0 && !l.review_mailbox)
            t.fail_key("review_sample", "is set but review_mailbox is not: name the mailbox that receives the sample");
        c.lines.push_back(std::move(l));
    }
}

// A folder of a Dovecot mailbox, as an IMAP name with "/" between levels.
std::optional<std::string> imap_folder_problem(std::string_view name) {
    if (name.front() == '/' || name.back() == '/' || name.find("//") != std::string_view::npos)
        return "'" + std::string(name) + "' is not an IMAP folder name: write its levels with a single '/' "
               "between them, such as \"Sent/2024\"";
    return std::nullopt;
}

void read_mailbox_kind(const TableReader& m, const Config& c, SweepMailbox& box) {
    const std::string kind = m.required_string("kind");
    if (kind == "shared") box.kind = MailboxKind::Shared;
    else if (kind == "personal") box.kind = MailboxKind::Personal;
    else m.fail_key("kind", "must be \"shared\" or \"personal\", not '" + kind + "'");
    if (auto l = m.string("line")) {
        if (box.kind == MailboxKind::Personal)
            m.fail_key("line", "a personal mailbox belongs to no line; remove this key");
        if (!c.find_line(*l)) m.fail_key("line", "names line '" + *l + "', but no [[line]] has that tag");
        box.line = *l;
    } else if (box.kind == MailboxKind::Shared) {
        m.fail_here("sweep.mailbox.line", "is required for a shared mailbox: name the line's tag");
    }
}

// A Dovecot mailbox is named by its user (a mask for personal ones) at one endpoint.
void read_dovecot_mailbox(const TableReader& m, const Config& c, SweepMailbox& box) {
    if (m.has("path"))
        m.fail_key("path", "is for store = \"maildir\"; a Dovecot mailbox is named by user (remove path)");
    const auto user = m.string("user");
    if (!user)
        m.fail_here("sweep.mailbox.user",
                    box.kind == MailboxKind::Shared
                        ? "is required for store = \"dovecot\": the Dovecot user of the shared mailbox"
                        : "is required for store = \"dovecot\": a user mask such as \"*@respect.example\"");
    box.user = *user;
    if (box.kind == MailboxKind::Shared && (user->find('*') != std::string::npos || user->find('?') != std::string::npos))
        m.fail_key("user", "a shared mailbox is one Dovecot user: '" + *user + "' is a mask");
    if (user->find_first_of(" \t") != std::string::npos) m.fail_key("user", "must not contain spaces");
    if (auto d = m.string("dovecot")) box.dovecot = *d;
    if (c.sweep.dovecots.empty())
        m.fail_key("store", "is \"dovecot\" but there is no [[sweep.dovecot]] table: add one naming doveadm");
    if (box.dovecot.empty()) {
        if (c.sweep.dovecots.size() > 1)
            m.fail_here("sweep.mailbox.dovecot",
                        "is required when there are several [[sweep.dovecot]] tables: name one of them");
        box.dovecot = c.sweep.dovecots.front().name;
    } else if (std::none_of(c.sweep.dovecots.begin(), c.sweep.dovecots.end(),
                            [&](const SweepDovecot& d) { return d.name == box.dovecot; })) {
        m.fail_key("dovecot", "names '" + box.dovecot + "', but no [[sweep.dovecot]] has that name");
    }
}

void read_mailbox_folders(const TableReader& m, SweepMailbox& box) {
    for (const std::string_view k : {"sent_folders", "deleted_folders"}) {
        const auto f = m.strings(k);
        if (!f) continue;
        for (const auto& name : *f) {
            const auto why = box.store == StoreKind::Dovecot ? imap_folder_problem(name) : folder_name_problem(name);
            if (why) m.fail_key(k, *why);
        }
        (k == "sent_folders" ? box.sent_folders : box.deleted_folders) = *f;
    }
}

// Two folder names that are one folder, or one inside the other, as the sweep tells
// folders apart (Maildir++: "Sent/2024" and "INBOX.Sent.2024" are the same).
bool folders_overlap(std::string_view a, std::string_view b) {
    const std::string da = folder_dir_for(a), db = folder_dir_for(b);
    return folder_is_or_below(da, db) || folder_is_or_below(db, da);
}

// hold_folders = { "Hold/Safeguarding" = "safeguarding" }: read after [holds], whose
// reasons it names.
void read_hold_folders(const TableReader& m, const Config& c, SweepMailbox& box) {
    const toml::node* n = m.node("hold_folders");
    if (!n) return;
    const std::string k = m.key("hold_folders");
    const toml::table* t = n->as_table();
    if (!t) m.fail(*n, k, "must be a table of folder names and reasons, such as { \"Hold/Safeguarding\" = \"safeguarding\" }");
    if (box.kind == MailboxKind::Personal)
        m.fail(*n, k, "hold folders belong to a shared mailbox (staff hold a message by moving it into a hold folder "
                      "of the line's mailbox); remove hold_folders from this personal entry");
    const std::string entry = "the shared mailbox of line '" + box.line + "'";
    for (const auto& [key, value] : *t) {
        const std::string name(key.str());
        const auto reason = value.value<std::string>();
        if (!value.is_string() || !reason)
            m.fail(value, k, "hold folder '" + name + "' of " + entry + ": the reason must be a string in quotes");
        if (auto why = hold_folder_name_problem(name)) m.fail(value, k, "in " + entry + ": " + *why);
        if (!is_clean_utf8(name) || name.size() > kMaxString)
            m.fail(value, k, "hold folder of " + entry + ": the name contains control characters or is too long");
        if (std::find(c.holds.reasons.begin(), c.holds.reasons.end(), *reason) == c.holds.reasons.end())
            m.fail(value, k, "hold folder '" + name + "' of " + entry + " gives the reason '" + *reason +
                                 "', which is not one of [holds] reasons (" + join(c.holds.reasons, ", ") + ")");
        for (const auto* list : {&box.sent_folders, &box.deleted_folders})
            for (const auto& other : *list)
                if (folders_overlap(name, other))
                    m.fail(value, k, "hold folder '" + name + "' of " + entry + " is the folder '" + other + "' of " +
                                         (list == &box.sent_folders ? "sent_folders" : "deleted_folders") +
                                         " (or inside it, or holds it): give the hold folder a name of its own");
        box.hold_folders[name] = *reason;
    }
}

// release_folder = "Hold/Release", release_logins = ["lead@respect.example"]: read after
// the hold folders, which it must stay clear of.
void read_release_folder(const TableReader& m, SweepMailbox& box) {
    const auto folder = m.string("release_folder");
    const auto logins = m.strings("release_logins");
    if (!folder && !logins) return;
    if (!folder)
        m.fail_key("release_logins", "names who may release, but there is no release_folder: add one, or remove "
                                     "release_logins");
    if (box.kind == MailboxKind::Personal)
        m.fail_key("release_folder", "a release folder belongs to a shared mailbox, like its hold folders; remove it "
                                     "from this personal entry");
    if (box.store != StoreKind::Dovecot)
        m.fail_key("release_folder", "needs store = \"dovecot\": only Dovecot's ACLs can say who may put mail into "
                                     "the folder, and the sweeper asks them before it releases anything");
    if (auto why = hold_folder_name_problem(*folder)) m.fail_key("release_folder", *why);
    if (!is_clean_utf8(*folder)) m.fail_key("release_folder", "contains control characters");
    if (!logins || logins->empty())
        m.fail_key("release_folder", "needs release_logins: the Dovecot logins of the team leaders who may release "
                                     "(their own logins, never the shared mailbox's)");
    for (const auto& [hold, reason] : box.hold_folders)
        if (folders_overlap(*folder, hold))
            m.fail_key("release_folder", "'" + *folder + "' is the hold folder '" + hold +
                                             "' (or inside it, or holds it): a release folder must be a folder of its own");
    for (const auto* list : {&box.sent_folders, &box.deleted_folders})
        for (const auto& other : *list)
            if (folders_overlap(*folder, other))
                m.fail_key("release_folder", "'" + *folder + "' is the folder '" + other + "' of " +
                                                 (list == &box.sent_folders ? "sent_folders" : "deleted_folders") +
                                                 " (or inside it, or holds it): give the release folder a name of its own");
    for (const auto& login : *logins) {
        if (login.empty() || login.find_first_of(" \t*?") != std::string::npos || !is_clean_utf8(login))
            m.fail_key("release_logins", "'" + login + "' is not a Dovecot login (one login each, no masks)");
        if (to_lower(login) == to_lower(box.user))
            m.fail_key("release_logins", "'" + login + "' is the shared mailbox's own login: everyone who opens the "
                                         "shared mailbox could release; name the team leaders' own logins");
    }
    box.release_folder = *folder;
    box.release_logins = *logins;
}

SweepMailbox read_sweep_mailbox(const TableReader& m, const Config& c) {
    m.only({"store", "path", "dovecot", "kind", "line", "user", "sent_folders", "deleted_folders", "hold_folders",
            "release_folder", "release_logins"});
    SweepMailbox box;
    if (auto s = m.string("store")) {
        if (*s == "dovecot") box.store = StoreKind::Dovecot;
        else if (*s != "maildir") m.fail_key("store", "must be \"maildir\" or \"dovecot\", not '" + *s + "'");
    }
    read_mailbox_kind(m, c, box);
    if (box.store == StoreKind::Dovecot) {
        read_dovecot_mailbox(m, c, box);
    } else {
        if (m.has("dovecot")) m.fail_key("dovecot", "is for store = \"dovecot\"; this mailbox is a Maildir path");
        box.path = m.required_string("path");
        if (box.path.front() != '/') m.fail_key("path", "must be an absolute path");
        if (auto u = m.string("user")) box.user = *u;
    }
    read_mailbox_folders(m, box);
    read_hold_folders(m, c, box);
    read_release_folder(m, box);
    return box;
}

SweepDovecot read_sweep_dovecot(const TableReader& d, const Config& c) {
    d.only({"name", "doveadm", "config_file", "url", "api_key_file", "ca_file", "timeout_seconds"});
    SweepDovecot e;
    if (auto n = d.string("name")) {
        if (!valid_tag(*n)) d.fail_key("name", "'" + *n + "' must be a short word of lower-case letters, digits and '-'");
        e.name = *n;
    }
    for (const auto& other : c.sweep.dovecots)
        if (other.name == e.name) d.fail_key("name", "'" + e.name + "' names another [[sweep.dovecot]] too; give each its own name");
    const auto absolute = [&](std::string_view k, std::string& out) {
        if (auto v = d.string(k)) {
            if (v->front() != '/') d.fail_key(k, "must be an absolute path");
            out = *v;
        }
    };
    absolute("doveadm", e.doveadm);
    absolute("config_file", e.config_file);
    absolute("api_key_file", e.api_key_file);
    absolute("ca_file", e.ca_file);
    if (auto u = d.string("url")) {
        if (u->rfind("http://", 0) != 0 && u->rfind("https://", 0) != 0)
            d.fail_key("url", "must start with http:// or https:// (doveadm's HTTP API), not '" + *u + "'");
        e.url = *u;
    }
    if (!e.url.empty() && e.api_key_file.empty())
        d.fail_here("sweep.dovecot.api_key_file", "is required with url: the file holding doveadm_api_key");
    if (e.url.empty() && !e.api_key_file.empty())
        d.fail_key("api_key_file", "is for doveadm's HTTP API: set url too, or remove it");
    if (!e.ca_file.empty() && e.url.rfind("https://", 0) != 0)
        d.fail_key("ca_file", "is for an https url only");
    if (auto t = d.integer("timeout_seconds", 1, 86400)) e.timeout_seconds = static_cast<int>(*t);
    return e;
}

SweepFiles read_sweep_files(const TableReader& f, const Config& c) {
    f.only({"path", "policy"});
    SweepFiles files;
    files.path = f.required_string("path");
    if (files.path.front() != '/') f.fail_key("path", "must be an absolute path");
    if (auto p = f.string("policy")) files.policy = *p;
    if (!c.policies.count(files.policy))
        f.fail_key("policy", "names policy '" + files.policy + "', but there is no [policy." + files.policy + "] table");
    return files;
}

// Calls `read` with each table of the [[sweep.KEY]] array, if there is one.
template <typename Read>
void for_each_sweep_table(const std::string& file, const TableReader& t, const toml::table& sweep,
                          const std::string& key, Read read) {
    const toml::node* node = sweep.get(key);
    if (!node) return;
    const std::string name = "sweep." + key;
    const toml::array* arr = node->as_array();
    if (!arr || !arr->is_array_of_tables()) t.fail(*node, name, "must be written as [[" + name + "]] tables");
    for (const toml::node& n : *arr) read(TableReader(file, *n.as_table(), name));
}

void read_sweep(const std::string& file, const toml::table& root, Config& c) {
    const toml::table& sweep = sub_table(file, root, "sweep");
    const TableReader t(file, sweep, "sweep");
    t.only({"max_destroy_per_run", "max_clock_jump", "metrics_file", "after_mailbox", "secure_delete",
            "orphans", "mailbox", "dovecot", "files"});
    SweepSection& s = c.sweep;
    if (auto v = t.integer("max_destroy_per_run", 1, 100000000)) s.max_destroy_per_run = static_cast<long>(*v);
    if (auto p = t.period("max_clock_jump")) s.max_clock_jump = *p;
    if (auto v = t.string("metrics_file")) {
        if (v->front() != '/') t.fail_key("metrics_file", "must be an absolute path");
        s.metrics_file = *v;
    }
    if (auto v = t.strings("after_mailbox")) s.after_mailbox = *v;
    // Endpoints first: mailboxes name them.
    for_each_sweep_table(file, t, sweep, "dovecot",
                         [&](const TableReader& d) { s.dovecots.push_back(read_sweep_dovecot(d, c)); });
    for_each_sweep_table(file, t, sweep, "mailbox",
                         [&](const TableReader& m) { s.mailboxes.push_back(read_sweep_mailbox(m, c)); });
    for_each_sweep_table(file, t, sweep, "files",
                         [&](const TableReader& f) { s.files.push_back(read_sweep_files(f, c)); });
}

// secure_delete and orphans are sweeper settings. The product's published example
// config shows them after [holds], so they are accepted there too; setting both places is an error.
void read_sweep_choices(const TableReader& t, SweepSection& s, bool& seen_delete, bool& seen_orphans) {
    if (auto v = t.string("secure_delete")) {
        if (seen_delete) t.fail_key("secure_delete", "is set both under [sweep] and under [holds]; keep one");
        seen_delete = true;
        if (*v == "overwrite") s.secure_delete = SecureDelete::Overwrite;
        else if (*v == "unlink") s.secure_delete = SecureDelete::Unlink;
        else t.fail_key("secure_delete", "must be \"overwrite\" or \"unlink\", not '" + *v + "'");
    }
    if (auto v = t.string("orphans")) {
        if (seen_orphans) t.fail_key("orphans", "is set both under [sweep] and under [holds]; keep one");
        seen_orphans = true;
        if (*v == "keep") s.orphans = Orphans::Keep;
        else if (*v == "report") s.orphans = Orphans::Report;
        else if (*v == "expire") s.orphans = Orphans::Expire;
        else t.fail_key("orphans", "must be \"keep\", \"report\" or \"expire\", not '" + *v + "'");
    }
}

void read_holds(const TableReader& t, HoldsSection& h) {
    t.only({"reasons", "secure_delete", "orphans"});
    if (auto r = t.strings("reasons", false)) {
        for (const auto& reason : *r) {
            if (!valid_tag(reason))
                t.fail_key("reasons", "'" + reason + "' must be a short word of lower-case letters, digits and '-'");
        }
        h.reasons = *r;
    }
}

}  // namespace

Config parse_config(std::string_view text, const std::string& path) {
    if (text.find('\0') != std::string_view::npos)
        throw ConfigError(path, 0, "", "contains NUL bytes: this is not a text file");
    toml::table root;
    try {
        root = toml::parse(text, path);
    } catch (const toml::parse_error& e) {
        throw ConfigError(path, static_cast<int>(e.source().begin.line), "",
                          "is not valid TOML: " + std::string(e.description()));
    }
    Config c;
    c.source = path;
    c.milter.socket = *parse_socket_spec("unix:/run/retention-milter/milter.sock");
    c.milter.internal_hosts = {*parse_cidr("127.0.0.1/32"), *parse_cidr("::1/128")};

    const TableReader top(path, root, "");
    top.only({"milter", "index", "log", "policy", "line", "sweep", "holds"});
    read_milter(TableReader(path, sub_table(path, root, "milter"), "milter"), c.milter);
    read_index(TableReader(path, sub_table(path, root, "index"), "index"), c.index);
    read_log(TableReader(path, sub_table(path, root, "log"), "log"), c.log);
    read_policies(path, root, c);
    read_lines(path, root, c);
    // [holds] first: hold_folders in [[sweep.mailbox]] name its reasons.
    const TableReader holds(path, sub_table(path, root, "holds"), "holds");
    read_holds(holds, c.holds);
    read_sweep(path, root, c);
    bool seen_delete = false, seen_orphans = false;
    read_sweep_choices(TableReader(path, sub_table(path, root, "sweep"), "sweep"), c.sweep, seen_delete, seen_orphans);
    read_sweep_choices(holds, c.sweep, seen_delete, seen_orphans);
    return c;
}

Config load_config(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
        throw ConfigError(path, 0, "", std::string("cannot read the config: ") + std::strerror(errno));
    if (S_ISDIR(st.st_mode)) throw ConfigError(path, 0, "", "is a directory, not a config file");
    if (!S_ISREG(st.st_mode)) throw ConfigError(path, 0, "", "is not a regular file");
    if (static_cast<std::uintmax_t>(st.st_size) > kMaxConfigBytes)
        throw ConfigError(path, 0, "", "is larger than 1 MiB: this is not a config file");
    std::ifstream in(path, std::ios::binary);
    if (!in) throw ConfigError(path, 0, "", std::string("cannot open the config: ") + std::strerror(errno));
    std::ostringstream ss;
    ss << in.rdbuf();
    return parse_config(ss.str(), path);
}

}  // namespace rm
