#include "milter/daemon.hpp"

#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <spdlog/spdlog.h>
#include <stdexcept>
#include <string>
#include <thread>

#include "milter/runtime.hpp"

namespace rm {

namespace {

std::runtime_error sys_error(const std::string& what) { return std::runtime_error(what + ": " + std::strerror(errno)); }

}  // namespace

void remove_stale_socket(const SocketSpec& spec) {
    if (spec.kind != SocketSpec::Kind::Unix) return;
    struct stat st {};
    if (::lstat(spec.path.c_str(), &st) != 0) return;
    if (!S_ISSOCK(st.st_mode)) throw std::runtime_error(spec.path + " exists and is not a socket; not removing it");
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw sys_error("socket");
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, spec.path.c_str(), sizeof addr.sun_path - 1);
    const int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    const int err = errno;
    ::close(fd);
    if (rc == 0) throw std::runtime_error("another milter is answering on " + spec.path + "; not starting a second one");
    if (err != ECONNREFUSED) {
        errno = err;
        throw sys_error("cannot check the old socket " + spec.path);
    }
    if (::unlink(spec.path.c_str()) != 0) throw sys_error("cannot remove the stale socket " + spec.path);
    spdlog::info("removed a stale socket left by a previous run: {}", spec.path);
}

void remove_own_socket(const SocketSpec& spec) {
    if (spec.kind != SocketSpec::Kind::Unix) return;
    struct stat st {};
    if (::lstat(spec.path.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode)) return;
    // Not an error: systemd's RuntimeDirectory (root's) goes away with its socket anyway,
    // and the next start clears a stale one; retentionctl check names a folder not ours.
    if (::unlink(spec.path.c_str()) != 0 && errno != ENOENT)
        spdlog::info("left the socket {} in place at exit: {}", spec.path, std::strerror(errno));
}

void finish_socket(const MilterSection& m) {
    if (m.socket.kind == SocketSpec::Kind::Unix) {
        gid_t gid = static_cast<gid_t>(-1);
        if (!m.socket_group.empty()) {
            const group* g = ::getgrnam(m.socket_group.c_str());
            if (!g) throw std::runtime_error("milter.socket_group: no group named '" + m.socket_group + "'");
            gid = g->gr_gid;
        }
        if (gid != static_cast<gid_t>(-1) && ::chown(m.socket.path.c_str(), static_cast<uid_t>(-1), gid) != 0)
            throw sys_error("cannot give " + m.socket.path + " to group " + m.socket_group);
        if (::chmod(m.socket.path.c_str(), m.socket_mode) != 0) throw sys_error("cannot chmod " + m.socket.path);
        return;
    }
    // libmilter keeps its listening socket to itself; find it among our descriptors.
    for (int fd = 3; fd < 1024; ++fd) {
        int listening = 0;
        socklen_t len = sizeof listening;
        if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening) continue;
        int domain = 0;
        len = sizeof domain;
        if (::getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0) continue;
        if (domain != AF_INET && domain != AF_INET6) continue;
        const int one = 1;
        if (::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
            spdlog::warn("cannot set TCP_NODELAY on the milter socket: {}", std::strerror(errno));
    }
}

void daemonise() {
    const pid_t pid = ::fork();
    if (pid < 0) throw sys_error("fork");
    if (pid > 0) ::_exit(0);
    if (::setsid() < 0) throw sys_error("setsid");
    const int fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    if (fd >= 0) {
        ::dup2(fd, 0);
        ::dup2(fd, 1);
        ::dup2(fd, 2);
        if (fd > 2) ::close(fd);
    }
    if (::chdir("/") != 0) throw sys_error("chdir /");
}

void write_pid_file(const std::string& path) {
    if (path.empty()) return;
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) throw sys_error("cannot write the pid file " + path);
    const std::string text = std::to_string(::getpid()) + "\n";
    const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    ::close(fd);
    if (!ok) throw sys_error("cannot write the pid file " + path);
}

void remove_pid_file(const std::string& path) {
    if (!path.empty()) ::unlink(path.c_str());
}

void drop_privileges(const std::string& user) {
    if (::geteuid() != 0) {
        if (!user.empty()) {
            const passwd* pw = ::getpwnam(user.c_str());
            if (!pw || pw->pw_uid != ::geteuid())
                spdlog::info("not started as root: running as uid {} rather than '{}'", ::geteuid(), user);
        }
        return;
    }
    if (user.empty())
        throw std::runtime_error("refusing to run as root: set [milter] user to an unprivileged account");
    const passwd* pw = ::getpwnam(user.c_str());
    if (!pw) throw std::runtime_error("milter.user: no user named '" + user + "'");
    if (pw->pw_uid == 0) throw std::runtime_error("milter.user: '" + user + "' is root; name an unprivileged user");
    if (::initgroups(pw->pw_name, pw->pw_gid) != 0) throw sys_error("initgroups");
    if (::setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) != 0) throw sys_error("setresgid");
    if (::setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) != 0) throw sys_error("setresuid");
    if (::setuid(0) == 0) throw std::runtime_error("could regain root after dropping privileges");
    spdlog::info("running as user {} (uid {}, gid {})", user, pw->pw_uid, pw->pw_gid);
}

void block_signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    ::signal(SIGPIPE, SIG_IGN);
}

void start_reload_thread(const std::string& config_path) {
    std::thread([config_path] {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGUSR1);
        for (;;) {
            int sig = 0;
            if (sigwait(&set, &sig) != 0) continue;
            if (sig == SIGUSR1) runtime().reload(config_path);
        }
    }).detach();
}

}  // namespace rm
