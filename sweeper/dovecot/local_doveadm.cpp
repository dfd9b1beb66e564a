#include "sweeper/dovecot/local_doveadm.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <set>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <strings.h>
#include <filesystem>
#include <fstream>
#include <random>
#include <system_error>

namespace rm::sweep::dovecot {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

// Closes a descriptor when it goes out of scope.
struct Fd {
    int fd = -1;
    ~Fd() { reset(); }
    void reset() {
        if (fd >= 0) ::close(fd);
        fd = -1;
    }
};

struct SpawnSetup {
    posix_spawn_file_actions_t actions{};
    posix_spawnattr_t attr{};
    SpawnSetup() {
        posix_spawn_file_actions_init(&actions);
        posix_spawnattr_init(&attr);
    }
    ~SpawnSetup() {
        posix_spawn_file_actions_destroy(&actions);
        posix_spawnattr_destroy(&attr);
    }
};

// The child: stdin /dev/null, stdout and stderr the pipes, nothing else of ours open, our
// signal mask and ignored signals (SIGPIPE...) reset, and a process group of its own so
// that a time limit kills whatever it started too.
void prepare_child(SpawnSetup& s, int out_w, int err_w) {
    posix_spawn_file_actions_addopen(&s.actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&s.actions, out_w, 1);
    posix_spawn_file_actions_adddup2(&s.actions, err_w, 2);
    posix_spawn_file_actions_addclosefrom_np(&s.actions, 3);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&s.attr, &none);
    posix_spawnattr_setsigdefault(&s.attr, &all);
    posix_spawnattr_setpgroup(&s.attr, 0);
    posix_spawnattr_setflags(&s.attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
}

// Reads both pipes to their end, or until the deadline. False when the deadline came.
bool read_all(int out_fd, int err_fd, std::string& out, std::string& err, Clock::time_point deadline) {
    std::array<pollfd, 2> p{{{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}}};
    std::array<std::string*, 2> sink{&out, &err};
    std::array<char, 65536> buf{};
    while (p[0].fd >= 0 || p[1].fd >= 0) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (left <= 0) return false;
        int n = ::poll(p.data(), p.size(), static_cast<int>(std::min<long long>(left, 1000)));
        if (n < 0 && errno != EINTR) return false;
        for (size_t i = 0; i < p.size(); ++i) {
            if (p[i].fd < 0 || p[i].revents == 0) continue;
            ssize_t got = ::read(p[i].fd, buf.data(), buf.size());
            if (got > 0) {
                sink[i]->append(buf.data(), static_cast<size_t>(got));
            } else if (got == 0 || errno != EINTR) {
                p[i].fd = -1;
            }
        }
    }
    return true;
}

int wait_child(pid_t pid) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// "doveadm(alice@x)<pid><session>: Error" becomes "doveadm<pid><session>: Error".
std::string without_doveadm_context(std::string text) {
    for (size_t at = text.find("doveadm("); at != std::string::npos; at = text.find("doveadm(", at + 7)) {
        const size_t close = text.find(')', at + 8);
        if (close == std::string::npos) break;
        text.erase(at + 7, close + 1 - (at + 7));
    }
    return text;
}

// Every word with an '@' inside it (between white space and punctuation) becomes "<user>".
std::string with_addresses_hidden(const std::string& text) {
    const auto delimiter = [](char c) {
        return std::isspace(static_cast<unsigned char>(c)) || std::strchr(":(),<>[]\"'", c) != nullptr;
    };
    std::string out;
    size_t i = 0;
    while (i < text.size()) {
        if (delimiter(text[i])) {
            out += text[i++];
            continue;
        }
        size_t end = i;
        while (end < text.size() && !delimiter(text[end])) ++end;
        const std::string word = text.substr(i, end - i);
        const size_t at = word.find('@');
        out += (at != std::string::npos && at > 0 && at + 1 < word.size()) ? "<user>" : word;
        i = end;
    }
    return out;
}

// doveadm's error lines name the user ("doveadm(alice@...): Error: ...") and may hold
// paths with the user's name: the text kept for the summary and the log names neither.
std::string scrubbed(const std::string& err, const std::string& user) {
    std::string text = err.substr(0, 600);
    text = without_doveadm_context(text);
    text = with_addresses_hidden(text);
    std::string local = user.substr(0, user.find('@'));
    if (local.size() >= 2 && local.find_first_of("*?") == std::string::npos) {
        for (size_t at = text.find(local); at != std::string::npos; at = text.find(local, at)) {
            text.replace(at, local.size(), "<user>");
        }
    }
    std::replace(text.begin(), text.end(), '\n', ' ');
    while (!text.empty() && (text.back() == ' ' || text.back() == '\r')) text.pop_back();
    return text;
}

std::string json_text(const nlohmann::json& v) {
    if (v.is_string()) return v.get<std::string>();
    if (v.is_null()) return "";
    return v.dump();
}

// A user name where doveadm reads a positional argument: one starting with '-' would be
// read as an option.
const std::string& positional(const std::string& user) {
    if (!user.empty() && user[0] == '-') throw DoveadmError(DoveadmError::Kind::Failed, "a user name beginning with '-' is not passed to doveadm");
    return user;
}

bool has_wildcard(const std::string& s) { return s.find_first_of("*?") != std::string::npos; }

// doveadm logs "doveadm(USER): Error: ..." on stderr for what it could not do, and for some
// of it still exits 0 (a user's mailbox list it cannot read: it then lists nothing).
bool reported_error(const ProgramRun& r) {
    return r.err.find("): Error: ") != std::string::npos || r.err.rfind("Error: ", 0) == 0;
}

}  // namespace

ProgramRun run_program(const std::vector<std::string>& argv, int timeout_seconds) {
    int out_p[2], err_p[2];
    if (::pipe2(out_p, O_CLOEXEC) != 0) throw DoveadmError(DoveadmError::Kind::Unreachable, "no pipe");
    Fd out_r{out_p[0]}, out_w{out_p[1]};
    if (::pipe2(err_p, O_CLOEXEC) != 0) throw DoveadmError(DoveadmError::Kind::Unreachable, "no pipe");
    Fd err_r{err_p[0]}, err_w{err_p[1]};

    SpawnSetup setup;
    prepare_child(setup, out_w.fd, err_w.fd);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    char path_env[] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
    char* env[] = {path_env, nullptr};
    pid_t pid = 0;
    if (int e = ::posix_spawn(&pid, args[0], &setup.actions, &setup.attr, args.data(), env); e != 0) {
        throw DoveadmError(DoveadmError::Kind::Unreachable, argv[0] + " could not be run: " + std::strerror(e));
    }
    out_w.reset();
    err_w.reset();

    ProgramRun r;
    auto deadline = Clock::now() + std::chrono::seconds(std::max(timeout_seconds, 1));
    if (!read_all(out_r.fd, err_r.fd, r.out, r.err, deadline)) {
        ::kill(-pid, SIGKILL);
        ::kill(pid, SIGKILL);
        r.timed_out = true;
    }
    r.exit_code = wait_child(pid);
    if (r.timed_out) r.exit_code = -1;
    return r;
}

char separator_from_listing(const std::vector<std::string>& all, const std::vector<std::string>& top) {
    for (const auto& name : all) {
        if (std::find(top.begin(), top.end(), name) != top.end()) continue;
        for (const auto& parent : top) {
            if (name.size() > parent.size() + 1 && name.compare(0, parent.size(), parent) == 0) {
                return name[parent.size()];
            }
        }
    }
    return 0;
}

bool nothing_nested(const std::vector<std::string>& all) {
    return std::all_of(all.begin(), all.end(), [](const std::string& name) {
        // Bytes of UTF-8 letters are >= 0x80; no namespace parts levels with those.
        return std::all_of(name.begin(), name.end(), [](char c) {
            const auto u = static_cast<unsigned char>(c);
            return u >= 0x80 || std::isalnum(u) || c == ' ' || c == '-' || c == '_';
        });
    });
}

DoveadmError doveadm_error(int exit_code, const std::string& what) {
    using K = DoveadmError::Kind;
    switch (exit_code) {
    case 67: return {K::NoSuchUser, what + " (no such user)"};
    case 68: return {K::NoSuchMailbox, what + " (no such mailbox)"};
    case 75: return {K::TempFail, what + " (temporary failure: try again later)"};
    case 77: return {K::Refused, what + " (permission denied)"};
    default: return {K::Failed, what + " (exit code " + std::to_string(exit_code) + ")"};
    }
}

LocalDoveadm::LocalDoveadm(SweepDovecot endpoint) : endpoint_(std::move(endpoint)) {}

std::vector<AclEntry> LocalDoveadm::acl(const std::string& user, const std::string& mailbox) {
    std::vector<AclEntry> out;
    for (const auto& row : run_json("acl get", {"acl", "get", "-u", user, positional(mailbox)})) out.push_back(acl_entry_of(row));
    return out;
}

std::vector<std::string> LocalDoveadm::acl_rights(const std::string& user, const std::string& mailbox) {
    const auto rows = run_json("acl rights", {"acl", "rights", "-u", user, positional(mailbox)});
    if (rows.size() != 1) throw DoveadmError(DoveadmError::Kind::BadAnswer, describe() + ": acl rights gave no rights");
    return acl_rights_of(rows.front().count("rights") ? rows.front().at("rights") : "");
}

std::string LocalDoveadm::describe() const { return "dovecot endpoint \"" + endpoint_.name + "\" (" + endpoint_.doveadm + ")"; }

ProgramRun LocalDoveadm::run(const std::string& format, const std::vector<std::string>& args) const {
    std::vector<std::string> argv{endpoint_.doveadm};
    if (!endpoint_.config_file.empty()) argv.insert(argv.end(), {"-c", endpoint_.config_file});
    if (!format.empty()) argv.insert(argv.end(), {"-f", format});
    argv.insert(argv.end(), args.begin(), args.end());
    return run_program(argv, endpoint_.timeout_seconds);
}

void LocalDoveadm::fail(const std::string& what, const ProgramRun& r, const std::string& user) const {
    std::string text = describe() + ": doveadm " + what;
    if (r.timed_out) {
        throw DoveadmError(DoveadmError::Kind::TempFail,
                           text + " took longer than " + std::to_string(endpoint_.timeout_seconds) + " s and was stopped");
    }
    const std::string detail = scrubbed(r.err, user);
    // Dovecot not running: doveadm cannot reach its auth socket (and fails with 75, or
    // aborts while listing users).
    if (detail.find("connect(") != std::string::npos &&
        (detail.find("Connection refused") != std::string::npos || detail.find("No such file") != std::string::npos)) {
        throw DoveadmError(DoveadmError::Kind::Unreachable, text + ": Dovecot does not answer: " + detail);
    }
    throw doveadm_error(r.exit_code, text + (detail.empty() ? "" : ": " + detail));
}

std::vector<Fields> LocalDoveadm::run_json(const std::string& what, const std::vector<std::string>& args) const {
    ProgramRun r = run("json", args);
    if (r.exit_code != 0) {
        auto u = std::find(args.begin(), args.end(), "-u");
        fail(what, r, u != args.end() && u + 1 != args.end() ? *(u + 1) : "");
    }
    return parse_json(what, r);
}

std::vector<Fields> LocalDoveadm::parse_json(const std::string& what, const ProgramRun& r) const {
    nlohmann::json answer;
    try {
        answer = nlohmann::json::parse(r.out);
    } catch (const nlohmann::json::exception&) {
        throw DoveadmError(DoveadmError::Kind::BadAnswer, describe() + ": doveadm " + what + " gave an answer that is not whole JSON");
    }
    if (!answer.is_array()) throw DoveadmError(DoveadmError::Kind::BadAnswer, describe() + ": doveadm " + what + " gave no list");
    std::vector<Fields> rows;
    rows.reserve(answer.size());
    for (const auto& item : answer) {
        if (!item.is_object()) throw DoveadmError(DoveadmError::Kind::BadAnswer, describe() + ": doveadm " + what + " gave a row that is not an object");
        Fields f;
        for (const auto& [k, v] : item.items()) f.emplace(k, json_text(v));
        rows.push_back(std::move(f));
    }
    return rows;
}

std::vector<std::string> LocalDoveadm::users(const std::string& mask) {
    if (!has_wildcard(mask)) return user_exists(mask) ? std::vector<std::string>{mask} : std::vector<std::string>{};
    // "user MASK" lists through the userdb's iteration; its output is plain lines (its
    // JSON formatter does not cover the listing). A userdb that cannot iterate fails (75).
    ProgramRun r = run("", {"user", positional(mask)});
    if (r.exit_code != 0) fail("user (listing a mask)", r, mask);
    std::vector<std::string> names;
    size_t start = 0;
    while (start < r.out.size()) {
        size_t end = r.out.find('\n', start);
        if (end == std::string::npos) throw DoveadmError(DoveadmError::Kind::BadAnswer, describe() + ": doveadm user listing cut off");
        if (end > start) names.push_back(r.out.substr(start, end - start));
        start = end + 1;
    }
    return names;
}

bool LocalDoveadm::user_exists(const std::string& user) {
    ProgramRun r = run("json", {"user", "-u", positional(user)});
    if (r.exit_code == 67) return false;
    if (r.exit_code != 0) fail("user (a lookup)", r, user);
    return true;
}

std::vector<MailboxStatus> LocalDoveadm::mailboxes(const std::string& user) {
    std::vector<MailboxStatus> out;
    for (auto& row : run_json("mailbox status", {"mailbox", "status", "-u", user, "guid uidvalidity messages", "*"})) {
        MailboxStatus m;
        m.name = row["mailbox"];
        m.guid = row["guid"];
        m.uidvalidity = row["uidvalidity"];
        try {
            m.messages = std::stol(row["messages"]);
        } catch (const std::exception&) {
            throw DoveadmError(DoveadmError::Kind::BadAnswer, describe() + ": doveadm mailbox status gave no message count");
        }
        out.push_back(std::move(m));
    }
    listed_user_ = user;
    listed_names_.clear();
    for (const auto& m : out) listed_names_.push_back(m.name);
    return out;
}

std::vector<std::string> LocalDoveadm::mailbox_names(const std::string& user, const std::string& pattern) const {
    std::vector<std::string> names;
    for (auto& row : run_json("mailbox list", {"mailbox", "list", "-u", user, pattern})) names.push_back(row["mailbox"]);
    return names;
}

char LocalDoveadm::separator(const std::string& user) {
    // doveadm 2.3 has no command that prints a namespace's separator: it is told from the
    // mailbox names. With no mailbox below another, no name needs it: '/' then.
    // The names "mailbox status" just gave for this user stand for the "*" listing: one
    // doveadm run less per user. A \NoSelect parent is missing there, but its children,
    // which tell the separator, are not.
    std::vector<std::string> all;
    if (listed_user_ == user) all.swap(listed_names_);
    else all = mailbox_names(user, "*");
    listed_user_.clear();
    if (nothing_nested(all)) return '/';
    char sep = separator_from_listing(all, mailbox_names(user, "%"));
    return sep != 0 ? sep : '/';
}

namespace {

// "fetch [-u USER] 'F1 F2 ...' QUERY...": the fields are one argument.
std::vector<std::string> fetch_args(const std::string* user, const std::vector<std::string>& fields,
                                    const std::vector<std::string>& query) {
    std::string joined;
    for (const auto& f : fields) joined += (joined.empty() ? "" : " ") + f;
    std::vector<std::string> args{"fetch"};
    if (user != nullptr) args.insert(args.end(), {"-u", *user});
    args.push_back(joined);
    args.insert(args.end(), query.begin(), query.end());
    return args;
}

}  // namespace

std::vector<Fields> LocalDoveadm::fetch(const std::string& user, const std::vector<std::string>& fields,
                                        const std::vector<std::string>& query) {
    return run_json("fetch", fetch_args(&user, fields, query));
}

std::vector<Fields> LocalDoveadm::fetch_left(const std::string& user, const std::vector<std::string>& fields,
                                             const std::vector<std::string>& query) {
    ProgramRun r = run("json", fetch_args(&user, fields, query));
    if (r.exit_code == 0 && reported_error(r)) r.exit_code = 75;  // try again later
    if (r.exit_code != 0) fail("fetch", r, user);
    return parse_json("fetch", r);
}

void LocalDoveadm::expunge(const std::string& user, const std::vector<std::string>& query) {
    std::vector<std::string> args{"expunge", "-u", user};
    args.insert(args.end(), query.begin(), query.end());
    run_json("expunge", args);
}

std::optional<std::vector<Fields>> LocalDoveadm::fetch_for_users(const std::vector<std::string>& users,
                                                                const std::vector<std::string>& fields,
                                                                const std::vector<std::string>& query) {
    return run_for_users(users, 1, fetch_args(nullptr, fields, query));
}

bool LocalDoveadm::expunge_for_users(const std::vector<std::string>& users, const std::vector<std::string>& query) {
    std::vector<std::string> args{"expunge"};
    args.insert(args.end(), query.begin(), query.end());
    return run_for_users(users, 1, args).has_value();
}

std::optional<std::map<std::string, std::string>> LocalDoveadm::mailbox_paths(const std::vector<std::string>& users,
                                                                             const std::string& mailbox) {
    const auto rows = run_for_users(users, 2, {"mailbox", "path", mailbox});
    if (!rows) return std::nullopt;
    std::map<std::string, std::string> paths;
    for (const auto& row : *rows) {
        const auto user = row.find("username"), path = row.find("path");
        if (user != row.end() && path != row.end() && !path->second.empty()) paths[user->second] = path->second;
    }
    return paths;
}

bool LocalDoveadm::purge_cache_for_users(const std::vector<std::string>& users, const std::vector<std::string>& mailboxes) {
    std::vector<std::string> args{"mailbox", "cache", "purge"};
    args.insert(args.end(), mailboxes.begin(), mailboxes.end());
    return run_for_users(users, 3, args).has_value();
}

// "user -u NAME..." exits 67 when any of the names has no userdb entry. A name with '*'
// or '?' would be read as a mask, one starting with '-' as an option.
bool LocalDoveadm::all_exist(const std::vector<std::string>& users) {
    std::vector<std::string> args{"user", "-u"};
    for (const auto& user : users) {
        if (user.empty() || user[0] == '-' || has_wildcard(user)) return false;
        args.push_back(user);
    }
    try {
        return !users.empty() && run("json", args).exit_code == 0;
    } catch (const DoveadmError&) {
        return false;
    }
}

void LocalDoveadm::create_mailbox(const std::string& user, const std::string& name) {
    ProgramRun r = run("json", {"mailbox", "create", "-u", user, name});
    if (r.exit_code == 0) return;
    // An existing mailbox fails the create (65): it is what we wanted.
    if (r.exit_code == 65 && run("json", {"mailbox", "status", "-u", user, "guid", name}).exit_code == 0) return;
    fail("mailbox create", r, user);
}

void LocalDoveadm::purge(const std::string& user) { run_json("purge", {"purge", "-u", user}); }

void LocalDoveadm::purge_cache(const std::string& user, const std::vector<std::string>& mailboxes) {
    std::vector<std::string> args{"mailbox", "cache", "purge", "-u", user};
    args.insert(args.end(), mailboxes.begin(), mailboxes.end());
    run_json("mailbox cache purge", args);
}

void LocalDoveadm::force_resync(const std::string& user, const std::string& mailbox_mask) {
    run_json("force-resync", {"force-resync", "-u", user, mailbox_mask});
}

std::optional<std::string> LocalDoveadm::mailbox_path(const std::string& user, const std::string& mailbox) {
    auto rows = run_json("mailbox path", {"mailbox", "path", "-u", user, mailbox});
    if (rows.size() != 1 || rows[0]["path"].empty()) {
        throw DoveadmError(DoveadmError::Kind::BadAnswer, describe() + ": doveadm mailbox path gave no path");
    }
    return rows[0]["path"];
}

// The pager formatter writes "FIELD:\n" and then the value's bytes as they are, to the end
// of the output when one message matched.
std::optional<std::string> LocalDoveadm::fetch_raw(const std::string& user, const std::string& field,
                                                   const std::vector<std::string>& query) {
    std::vector<std::string> args{"fetch", "-u", user, field};
    args.insert(args.end(), query.begin(), query.end());
    ProgramRun r = run("pager", args);
    if (r.exit_code != 0) fail("fetch", r, user);
    if (r.out.empty()) return std::nullopt;
    const std::string lead = field + ":\n";
    if (r.out.compare(0, lead.size(), lead) != 0)
        throw DoveadmError(DoveadmError::Kind::BadAnswer, describe() + ": doveadm fetch gave an answer not in the pager's form");
    return r.out.substr(lead.size());
}

std::optional<std::string> LocalDoveadm::setting(const std::string& key, const std::string& protocol) {
    std::vector<std::string> args{"config"};
    if (!protocol.empty()) args.insert(args.end(), {"-f", "protocol=" + protocol});
    args.insert(args.end(), {"-h", key});
    ProgramRun r = run("", args);
    if (r.exit_code != 0) fail("config", r, "");
    while (!r.out.empty() && (r.out.back() == '\n' || r.out.back() == ' ')) r.out.pop_back();
    const auto first = r.out.find_first_not_of(' ');
    return first == std::string::npos ? std::string() : r.out.substr(first);
}

// ---------------------------------------------------------------------------------------
// save: a staging Maildir imported into the mailbox, so that Dovecot itself stores the
// message (its indexes stay right, in every format) with its flags and received date.

namespace {

const std::string kStagingPrefix = "retention-sweep-staging-";
const std::string kUsersPrefix = "retention-sweep-users-";

// Folders of ours (named PREFIX then a pid) that a killed run left in /tmp (a message's
// staging copy, a file of user names): those of a process that no longer runs are removed
// before a new one is made.
void remove_stale(const fs::path& tmp, const std::string& prefix) {
    std::error_code ec;
    for (fs::directory_iterator it(tmp, ec), end; !ec && it != end; it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (name.rfind(prefix, 0) != 0 || !it->is_directory(ec) || it->is_symlink(ec)) continue;
        const long pid = std::strtol(name.c_str() + prefix.size(), nullptr, 10);
        if (pid <= 0 || (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH)) {
            std::error_code ignored;
            fs::remove_all(it->path(), ignored);
        }
    }
}

// A file of user names, one a line, for doveadm's -F (the command run for each user in
// one doveadm run), in a fresh folder of /tmp only we can read. Removed at the end; one a
// killed run left is removed by the next.
class UserFile {
public:
    explicit UserFile(const std::vector<std::string>& users) {
        try {
            const fs::path tmp = fs::temp_directory_path();
            remove_stale(tmp, kUsersPrefix);
            std::string tmpl = (tmp / (kUsersPrefix + std::to_string(::getpid()) + "-XXXXXX")).string();
            if (::mkdtemp(tmpl.data()) == nullptr) return;
            dir_ = tmpl;
            std::ofstream out(dir_ / "users", std::ios::trunc);
            for (const auto& user : users) out << user << '\n';
            out.close();
            made_ = static_cast<bool>(out);
        } catch (const std::exception&) {
            made_ = false;  // no temporary folder: the caller asks one user at a time
        }
    }
    ~UserFile() {
        std::error_code ec;
        if (!dir_.empty()) fs::remove_all(dir_, ec);
    }
    UserFile(const UserFile&) = delete;
    UserFile& operator=(const UserFile&) = delete;

    bool made() const { return made_; }
    std::string path() const { return (dir_ / "users").string(); }

private:
    fs::path dir_;
    bool made_ = false;
};

// A Maildir of one mailbox (`leaf`) in LAYOUT=fs, in a fresh folder of /tmp owned by the
// mailbox's owner (doveadm reads it as that user). Removed with its contents at the end.
class Staging {
public:
    Staging(uid_t uid, gid_t gid) : uid_(uid), gid_(gid) {
        const fs::path tmp = fs::temp_directory_path();
        remove_stale(tmp, kStagingPrefix);
        std::string tmpl = (tmp / (kStagingPrefix + std::to_string(::getpid()) + "-XXXXXX")).string();
        if (::mkdtemp(tmpl.data()) == nullptr) throw DoveadmError(DoveadmError::Kind::Failed, std::string("no staging folder: ") + std::strerror(errno));
        root_ = tmpl;
        own(root_);
    }
    ~Staging() {
        std::error_code ec;
        fs::remove_all(root_, ec);
    }
    Staging(const Staging&) = delete;
    Staging& operator=(const Staging&) = delete;

    const fs::path& root() const { return root_; }

    // Writes the mailbox `leaf`'s one message: cur/NAME:2,LETTERS, keywords in
    // dovecot-keywords, mtime the received date (Maildir's received date).
    void write(const std::string& leaf, const std::string& message, const std::string& flags,
               std::optional<std::chrono::system_clock::time_point> received) {
        fs::path box = leaf.empty() ? root_ : root_ / leaf;
        for (const char* sub : {"cur", "new", "tmp"}) {
            fs::create_directories(box / sub);
            own(box / sub);
        }
        own(box);
        std::string letters = flag_letters(flags, box);
        fs::path file = box / "cur" / (unique_name() + ":2," + letters);
        std::ofstream out(file, std::ios::binary | std::ios::trunc);
        out << message;
        out.close();
        if (!out) throw DoveadmError(DoveadmError::Kind::Failed, "the staging copy could not be written");
        own(file);
        if (received) {
            auto secs = std::chrono::duration_cast<std::chrono::seconds>(received->time_since_epoch()).count();
            timeval tv[2] = {{static_cast<time_t>(secs), 0}, {static_cast<time_t>(secs), 0}};
            ::utimes(file.c_str(), tv);
        }
    }

private:
    void own(const fs::path& p) const {
        if (::geteuid() == 0 && ::chown(p.c_str(), uid_, gid_) != 0) {
            throw DoveadmError(DoveadmError::Kind::Failed, std::string("the staging copy could not be handed to the mailbox's owner: ") + std::strerror(errno));
        }
    }

    static std::string unique_name() {
        std::random_device rd;
        auto now = std::chrono::system_clock::now().time_since_epoch();
        char buf[96];
        std::snprintf(buf, sizeof buf, "%lld.P%dR%08x%08x.retention-sweep",
                      static_cast<long long>(std::chrono::duration_cast<std::chrono::seconds>(now).count()),
                      static_cast<int>(::getpid()), rd(), rd());
        return buf;
    }

    // IMAP flags as Maildir's info letters (in ASCII order); keywords get letters a..z
    // from a dovecot-keywords file in the mailbox.
    std::string flag_letters(const std::string& flags, const fs::path& box) const {
        static const std::pair<const char*, char> system[] = {
            {"\\draft", 'D'}, {"\\flagged", 'F'}, {"\\answered", 'R'}, {"\\seen", 'S'}, {"\\deleted", 'T'}};
        std::string letters, keywords;
        int next_keyword = 0;
        size_t start = 0;
        while (start < flags.size()) {
            size_t end = flags.find(' ', start);
            if (end == std::string::npos) end = flags.size();
            std::string flag = flags.substr(start, end - start);
            start = end + 1;
            if (flag.empty()) continue;
            std::string lower = flag;
            std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
            if (lower[0] == '\\') {
                for (const auto& [name, letter] : system) {
                    if (lower == name) letters += letter;
                }
            } else if (next_keyword < 26) {
                keywords += std::to_string(next_keyword) + " " + flag + "\n";
                letters += static_cast<char>('a' + next_keyword++);
            }
        }
        if (!keywords.empty()) {
            std::ofstream(box / "dovecot-keywords", std::ios::trunc) << keywords;
            own(box / "dovecot-keywords");
        }
        std::sort(letters.begin(), letters.end());
        return letters;
    }

    fs::path root_;
    uid_t uid_;
    gid_t gid_;
};

}  // namespace

bool LocalDoveadm::save(const std::string& user, const std::string& mailbox, const std::string& message,
                        const std::string& flags, std::optional<std::chrono::system_clock::time_point> received) {
    uid_t uid = 0;
    gid_t gid = 0;
    for (auto& row : run_json("user", {"user", positional(user)})) {
        try {
            if (row["field"] == "uid") uid = static_cast<uid_t>(std::stoul(row["value"]));
            if (row["field"] == "gid") gid = static_cast<gid_t>(std::stoul(row["value"]));
        } catch (const std::exception&) {
            throw DoveadmError(DoveadmError::Kind::BadAnswer, describe() + ": doveadm user gave no number for uid or gid");
        }
    }
    if (::geteuid() == 0 && (uid == 0 || gid == 0)) {
        throw DoveadmError(DoveadmError::Kind::Failed, describe() + ": the userdb gives the user no uid/gid of its own: nothing is saved as root");
    }
    // import names the destination "PARENT<sep>LEAF" after the source mailbox LEAF; a
    // top-level mailbox is imported with no parent under its own name.
    std::string parent, leaf = mailbox;
    if (mailbox.find_first_of("./") != std::string::npos) {
        const char sep = separator(user);
        if (size_t at = mailbox.rfind(sep); at != std::string::npos) {
            parent = mailbox.substr(0, at);
            leaf = mailbox.substr(at + 1);
        }
    }
    // LAYOUT=fs puts the source's INBOX at the staging folder's root.
    const bool inbox = parent.empty() && strcasecmp(leaf.c_str(), "INBOX") == 0;
    Staging staging(uid, gid);
    staging.write(inbox ? "" : leaf, message, flags, received);
    run_json("import", {"import", "-u", user, "maildir:" + staging.root().string() + ":LAYOUT=fs:INDEX=MEMORY", parent,
                        "mailbox", inbox ? "INBOX" : leaf, "all"});
    return true;
}

std::optional<std::vector<Fields>> LocalDoveadm::run_for_users(const std::vector<std::string>& users, size_t words,
                                                              std::vector<std::string> args) const {
    const bool one_a_line = std::none_of(users.begin(), users.end(), [](const std::string& u) {
        return u.empty() || u.find_first_of("\r\n") != std::string::npos;
    });
    if (users.empty() || !one_a_line || words > args.size()) return std::nullopt;
    const UserFile file(users);
    if (!file.made()) return std::nullopt;
    args.insert(args.begin() + static_cast<std::ptrdiff_t>(words), {"-F", file.path()});
    try {
        const ProgramRun r = run("json", args);
        if (r.exit_code != 0 || reported_error(r)) return std::nullopt;
        return parse_json(args.front(), r);
    } catch (const DoveadmError&) {
        return std::nullopt;  // not started (no descriptors left, say), or no whole answer
    }
}

std::map<std::string, std::string> LocalDoveadm::purge_each(const std::vector<std::string>& users) {
    const std::set<std::string> unique(users.begin(), users.end());
    const std::vector<std::string> each(unique.begin(), unique.end());
    // A user whose look-up failed ends the run: then each is purged by itself.
    if (each.size() >= 2 && run_for_users(each, 1, {"purge"})) return {};
    return Doveadm::purge_each(each);
}

}  // namespace rm::sweep::dovecot
