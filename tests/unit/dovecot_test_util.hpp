// A private Dovecot for one test: `dovecot -c` with everything (base_dir, state, log,
// mail) in its own temp folder, users in a passwd-file userdb as the `nobody` user, in
// the mailbox format the test picks. Stopped, and its folder removed, in the destructor.
// Needs root (Dovecot's master) and the dovecot binaries; available() says whether both
// are there, so tests can GTEST_SKIP otherwise.
#pragma once

#include <netinet/in.h>
#include <pwd.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "temp_dir.hpp"

namespace rm::test {

enum class MailFormat { Maildir, Mbox, Sdbox, Mdbox };

inline const char* format_name(MailFormat f) {
    switch (f) {
    case MailFormat::Maildir: return "maildir";
    case MailFormat::Mbox: return "mbox";
    case MailFormat::Sdbox: return "sdbox";
    case MailFormat::Mdbox: return "mdbox";
    }
    return "?";
}

// A TCP port on 127.0.0.1 nobody listens on right now.
inline int free_loopback_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
        throw std::runtime_error("no free port");
    }
    ::close(fd);
    return ntohs(a.sin_port);
}

struct DovecotOptions {
    MailFormat format = MailFormat::Maildir;
    std::vector<std::string> users{"alice@a.example", "bob@a.example", "carol@b.example"};
    char separator = '/';
    // A static userdb: lookups work, iteration ("every user of a mask") does not.
    bool static_userdb = false;
    // doveadm's HTTP API on 127.0.0.1 (port chosen here) with this key; empty: none.
    std::string api_key;
    std::string allowed_commands;  // doveadm_allowed_commands; empty: all
    std::string ssl_cert, ssl_key;  // files: the API's listener speaks TLS
    std::string extra_config;       // appended to dovecot.conf
};

class PrivateDovecot {
public:
    static bool available() {
        return ::geteuid() == 0 && ::access("/usr/sbin/dovecot", X_OK) == 0 &&
               ::access("/usr/bin/doveadm", X_OK) == 0;
    }

    explicit PrivateDovecot(DovecotOptions options = {}) : opt_(std::move(options)), dir_("rm-dovecot") {
        // Dovecot's processes run as nobody and dovecot: they must reach into the folder.
        ::chmod(dir_.path().c_str(), 0755);
        const passwd* pw = ::getpwnam("nobody");
        if (pw == nullptr) throw std::runtime_error("no user nobody");
        uid_ = pw->pw_uid;
        gid_ = pw->pw_gid;
        if (!opt_.api_key.empty()) http_port_ = free_loopback_port();
        write_config();
        start();
    }
    ~PrivateDovecot() { stop(); }
    PrivateDovecot(const PrivateDovecot&) = delete;
    PrivateDovecot& operator=(const PrivateDovecot&) = delete;

    std::string config() const { return dir_ / "dovecot.conf"; }
    const std::filesystem::path& dir() const { return dir_.path(); }
    std::string home(const std::string& user) const { return (dir_.path() / "home" / user).string(); }
    int http_port() const { return http_port_; }
    uid_t uid() const { return uid_; }
    gid_t gid() const { return gid_; }
    const DovecotOptions& options() const { return opt_; }

    // Runs Dovecot's master in the foreground as our child (the daemonizing start rewrites
    // master.pid after forking: a stop could read the wrong pid), output to a file.
    void start() {
        if (master_ > 0) return;
        const std::string out = dir_ / "start.out";
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        posix_spawn_file_actions_adddup2(&fa, 1, 2);
        std::string conf = config();
        char* argv[] = {const_cast<char*>("/usr/sbin/dovecot"), const_cast<char*>("-F"), const_cast<char*>("-c"),
                        conf.data(), nullptr};
        char* envp[] = {const_cast<char*>("PATH=/usr/sbin:/usr/bin:/sbin:/bin"), nullptr};
        // A process group of its own: stop() ends its children with it, at once.
        posix_spawnattr_t attr;
        posix_spawnattr_init(&attr);
        posix_spawnattr_setpgroup(&attr, 0);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
        int e = ::posix_spawn(&master_, argv[0], &fa, &attr, argv, envp);
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&attr);
        if (e != 0) throw std::runtime_error("dovecot could not be run");
        for (int i = 0; i < 400 && !answers(dir_.path() / "run" / "auth-userdb"); ++i) {
            int status = 0;
            if (::waitpid(master_, &status, WNOHANG) == master_) {
                master_ = 0;
                throw std::runtime_error("dovecot did not start: " + log());
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(25));
        }
        if (http_port_ != 0) wait_for_port();
    }

    void stop() {
        if (master_ <= 0) return;
        ::kill(-master_, SIGKILL);  // a test instance: nothing to save, and SIGTERM takes seconds
        int status = 0;
        ::waitpid(master_, &status, 0);
        master_ = 0;
    }

    // doveadm against this instance; returns its exit code.
    int doveadm(const std::string& args) const {
        return run("/usr/bin/doveadm -c " + config() + " " + args + " >/dev/null 2>&1");
    }

    // Puts `bytes` as one message into `mailbox` of `user` (doveadm save: no flags kept).
    void deliver(const std::string& user, const std::string& bytes, const std::string& mailbox = "INBOX") const {
        const std::string file = dir_ / "deliver.eml";
        std::ofstream(file, std::ios::binary | std::ios::trunc) << bytes;
        if (doveadm("save -u '" + user + "' -m '" + mailbox + "' <" + file) != 0) {
            throw std::runtime_error("doveadm save failed: " + log());
        }
    }

    std::string log() const {
        std::ifstream in(dir_ / "dovecot.log");
        std::ostringstream s;
        s << in.rdbuf();
        return s.str();
    }

private:
    static int run(const std::string& command) {
        int status = std::system(command.c_str());
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }

    static bool answers(const std::filesystem::path& socket_path) {
        int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
        sockaddr_un a{};
        a.sun_family = AF_UNIX;
        std::snprintf(a.sun_path, sizeof a.sun_path, "%s", socket_path.c_str());
        bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
        ::close(fd);
        return ok;
    }

    void wait_for_port() const {
        for (int i = 0; i < 400; ++i) {
            int fd = ::socket(AF_INET, SOCK_STREAM, 0);
            sockaddr_in a{};
            a.sin_family = AF_INET;
            a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            a.sin_port = htons(static_cast<uint16_t>(http_port_));
            bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
            ::close(fd);
            if (ok) return;
            std::this_thread::sleep_for(std::chrono::milliseconds(25));
        }
    }

    std::string mail_location() const {
        switch (opt_.format) {
        case MailFormat::Maildir: return "maildir:~/Maildir";
        case MailFormat::Mbox: return "mbox:~/mail:INBOX=~/mail/inbox";
        case MailFormat::Sdbox: return "sdbox:~/sdbox";
        case MailFormat::Mdbox: return "mdbox:~/mdbox";
        }
        return "";
    }

    void write_users() const {
        std::ofstream users(dir_ / "users");
        for (const auto& u : opt_.users) {
            users << u << ":{PLAIN}test:" << uid_ << ':' << gid_ << "::" << home(u) << "::\n";
        }
        users.close();
        ::chmod((dir_ / "users").c_str(), 0644);
        std::filesystem::create_directories(dir_.path() / "home");
        for (const auto& u : opt_.users) {
            std::filesystem::create_directories(home(u));
            if (::chown(home(u).c_str(), uid_, gid_) != 0) throw std::runtime_error("cannot chown " + home(u));
        }
    }

    std::string userdb() const {
        if (opt_.static_userdb) {
            return "userdb {\n  driver = static\n  args = uid=" + std::to_string(uid_) + " gid=" + std::to_string(gid_) +
                   " home=" + (dir_.path() / "home").string() + "/%u allow_all_users=yes\n}\n";
        }
        return "userdb {\n  driver = passwd-file\n  args = " + (dir_ / "users") + "\n}\n";
    }

    std::string http_listener() const {
        if (http_port_ == 0) return "";
        std::string s = "doveadm_api_key = " + opt_.api_key + "\n";
        if (!opt_.allowed_commands.empty()) s += "doveadm_allowed_commands = " + opt_.allowed_commands + "\n";
        s += "service doveadm {\n  inet_listener http {\n    port = " + std::to_string(http_port_) +
             "\n    address = 127.0.0.1\n";
        if (!opt_.ssl_cert.empty()) s += "    ssl = yes\n";
        s += "  }\n}\n";
        return s;
    }

    void write_config() const {
        std::filesystem::create_directories(dir_.path() / "run");
        std::filesystem::create_directories(dir_.path() / "state");
        write_users();
        std::ofstream c(config());
        c << "# A private Dovecot for one unit test; nothing from /etc/dovecot.\n"
          << "instance_name = rmtest-" << dir_.path().filename().string() << "\n"
          << "base_dir = " << (dir_ / "run") << "\nstate_dir = " << (dir_ / "state") << "\n"
          << "log_path = " << (dir_ / "dovecot.log") << "\n"
          << "protocols =\nlisten = 127.0.0.1\nfirst_valid_uid = 1\n"
          << "mail_location = " << mail_location() << "\n";
        if (opt_.ssl_cert.empty()) {
            c << "ssl = no\n";
        } else {
            c << "ssl = yes\nssl_cert = <" << opt_.ssl_cert << "\nssl_key = <" << opt_.ssl_key << "\n";
        }
        c << "passdb {\n  driver = passwd-file\n  args = " << (dir_ / "users") << "\n}\n"
          << userdb() << "namespace inbox {\n  inbox = yes\n  separator = " << opt_.separator << "\n}\n"
          << http_listener() << opt_.extra_config;
    }

    DovecotOptions opt_;
    TempDir dir_;
    uid_t uid_ = 0;
    gid_t gid_ = 0;
    int http_port_ = 0;
    pid_t master_ = 0;
};

}  // namespace rm::test
