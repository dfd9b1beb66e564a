// A private PostgreSQL server for the unit tests, and a fresh database in it per test.
//
// The server is Debian's (initdb, pg_ctl, postgres from the postgresql package), in a folder
// of its own, listening on a Unix socket in that folder and on 127.0.0.1 at a free port
// (password only there: the tests connect through the socket). initdb refuses root, so
// under root the server runs as the `postgres` system user, which owns the folder.
//
// How long it lives: ctest runs each test case in a process of its own, and initdb takes
// a second or two, so a cluster per process would add that to every PostgreSQL test.
// Under ctest (RM_PG_CLUSTER names a folder, set by tests/CMakeLists.txt) the processes
// share one cluster in that folder: the first test to need it makes and starts it while
// holding a lock on the folder (flock: `ctest -j` runs several at once), the others find
// it answering and use it, and the `pg_cluster_stop` cleanup test stops it and removes the
// folder after the last of them. A cluster left running by an interrupted run answers
// and is used again; a dead one is made anew. Run by hand (no RM_PG_CLUSTER), the test
// binary makes a cluster of its own in a temporary folder and stops it at exit.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace rm::test {

namespace pgdetail {

namespace fs = std::filesystem;

inline std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

// Single quotes for sh.
inline std::string sh_quote(const std::string& s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

// Where Debian put the server's programs: RM_PG_BINDIR, else pg_config's bindir when it has
// initdb (libpq-dev's pg_config may belong to a version whose server is not installed),
// else the newest /usr/lib/postgresql/*/bin.
inline std::string bindir() {
    if (const char* env = std::getenv("RM_PG_BINDIR"); env != nullptr && *env != '\0') return env;
    if (FILE* p = ::popen("pg_config --bindir 2>/dev/null", "r")) {
        char buf[512] = {};
        const bool got = std::fgets(buf, sizeof buf, p) != nullptr;
        ::pclose(p);
        std::string dir = got ? std::string(buf) : std::string();
        while (!dir.empty() && (dir.back() == '\n' || dir.back() == ' ')) dir.pop_back();
        if (!dir.empty() && ::access((dir + "/initdb").c_str(), X_OK) == 0) return dir;
    }
    std::vector<std::pair<int, std::string>> found;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator("/usr/lib/postgresql", ec)) {
        const std::string dir = (e.path() / "bin").string();
        if (::access((dir + "/initdb").c_str(), X_OK) != 0) continue;
        found.emplace_back(std::atoi(e.path().filename().c_str()), dir);
    }
    if (found.empty()) return {};
    return std::max_element(found.begin(), found.end())->second;
}

inline int free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    int port = 0;
    if (fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0) ::close(fd);
    return port;
}

// The server's own user: postgres under root (initdb and postgres refuse root), else us.
inline bool as_postgres() { return ::geteuid() == 0; }

// Runs a shell command as the server's user, its output appended to `log`; true on success.
inline bool run_as_server(const std::string& command, const fs::path& log) {
    const std::string inner = "cd / && " + command + " >>" + sh_quote(log.string()) + " 2>&1";
    const std::string full = as_postgres() ? "runuser -u postgres -- sh -c " + sh_quote(inner) : "sh -c " + sh_quote(inner);
    return std::system(full.c_str()) == 0;
}

// A server folder: `data` (the cluster), the socket, `port`, logs.
class Cluster {
public:
    explicit Cluster(fs::path dir) : dir_(std::move(dir)) {}

    const fs::path& dir() const { return dir_; }
    int port() const { return port_; }

    // Connection string for `db` as the superuser, through the socket.
    std::string conninfo(const std::string& db) const {
        return "host=" + dir_.string() + " port=" + std::to_string(port_) + " user=postgres dbname=" + db +
               " connect_timeout=10";
    }

    // The same over TCP on 127.0.0.1, with the password.
    std::string tcp_conninfo(const std::string& db) const {
        std::string pw = read_file(dir_ / "password");
        while (!pw.empty() && pw.back() == '\n') pw.pop_back();
        return "host=127.0.0.1 port=" + std::to_string(port_) + " user=postgres password=" + pw + " dbname=" + db +
               " connect_timeout=10";
    }

    // Uses a server answering in the folder, or makes and starts one. Throws with the
    // server's output when it cannot.
    void ensure_running() {
        make_folder();
        const int lock = ::open((dir_ / "lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (lock < 0 || ::flock(lock, LOCK_EX) != 0) throw std::runtime_error("cannot lock " + (dir_ / "lock").string());
        try {
            if (!answering()) start();
        } catch (...) {
            ::close(lock);
            throw;
        }
        ::close(lock);
    }

    // Stops the server (fast shutdown: the tests' connections are cut).
    void stop() const {
        if (!fs::exists(dir_ / "data" / "postmaster.pid")) return;
        run_as_server(sh_quote(pg_ctl_) + " stop -w -m fast -D " + sh_quote((dir_ / "data").string()),
                      dir_ / "server.log");
    }

private:
    void make_folder() const {
        struct stat st {};
        if (::lstat(dir_.c_str(), &st) == 0) {
            if (!S_ISDIR(st.st_mode)) throw std::runtime_error(dir_.string() + " is not a folder");
        } else if (::mkdir(dir_.c_str(), 0700) != 0 && errno != EEXIST) {
            throw std::runtime_error("cannot make " + dir_.string());
        }
        if (as_postgres()) {
            const passwd* pw = ::getpwnam("postgres");
            if (pw == nullptr)
                throw std::runtime_error("no `postgres` user: install Debian's postgresql package to run the "
                                         "PostgreSQL tests as root");
            if (::chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0)
                throw std::runtime_error("cannot give " + dir_.string() + " to postgres");
        }
    }

    bool answering() {
        const std::string port = read_file(dir_ / "port");
        if (port.empty()) return false;
        port_ = std::atoi(port.c_str());
        return PQping(conninfo("postgres").c_str()) == PQPING_OK;
    }

    void start() {
        const std::string bin = bindir();
        if (bin.empty() || ::access((bin + "/initdb").c_str(), X_OK) != 0)
            throw std::runtime_error("no PostgreSQL server programs (initdb, pg_ctl) in " +
                                     (bin.empty() ? std::string("pg_config --bindir or /usr/lib/postgresql/*/bin") : bin) +
                                     ": install Debian's postgresql package");
        pg_ctl_ = bin + "/pg_ctl";
        const fs::path data = dir_ / "data";
        if (fs::exists(data / "postmaster.pid")) stop();  // a server of an earlier run, not answering
        std::error_code ec;
        fs::remove_all(data, ec);
        fs::remove(dir_ / "port", ec);
        const fs::path log = dir_ / "server.log";
        write_password();
        // Throwaway data: no fsync, so that a test's CREATE DATABASE costs no disk flushes.
        if (!run_as_server(sh_quote(bin + "/initdb") + " -D " + sh_quote(data.string()) +
                               " -U postgres -E UTF8 --locale=C --no-sync --no-instructions --auth-local=trust"
                               " --auth-host=scram-sha-256 --pwfile=" + sh_quote((dir_ / "password").string()),
                           log)) {
            throw std::runtime_error("initdb failed:\n" + read_file(log));
        }
        for (int attempt = 0; attempt < 5; ++attempt) {  // the free port may be taken meanwhile
            port_ = free_port();
            const std::string opts = "-c listen_addresses=127.0.0.1 -p " + std::to_string(port_) + " -k " +
                                     dir_.string() + " -c fsync=off -c full_page_writes=off -c max_connections=200";
            if (run_as_server(sh_quote(pg_ctl_) + " start -w -t 60 -D " + sh_quote(data.string()) + " -l " +
                                  sh_quote(log.string()) + " -o " + sh_quote(opts),
                              dir_ / "pg_ctl.log")) {
                std::ofstream(dir_ / "port") << port_ << "\n";
                return;
            }
        }
        throw std::runtime_error("the PostgreSQL server did not start:\n" + read_file(dir_ / "pg_ctl.log") +
                                 read_file(log));
    }

    // The superuser's password for logins over TCP (the socket needs none).
    void write_password() const {
        std::random_device rd;
        std::string pw;
        for (int i = 0; i < 24; ++i) pw += "abcdefghijklmnopqrstuvwxyz0123456789"[rd() % 36];
        const fs::path p = dir_ / "password";
        std::ofstream(p) << pw << "\n";
        if (as_postgres()) {
            const passwd* pw_entry = ::getpwnam("postgres");
            if (pw_entry == nullptr || ::chown(p.c_str(), pw_entry->pw_uid, pw_entry->pw_gid) != 0)
                throw std::runtime_error("cannot give " + p.string() + " to postgres");
        }
        ::chmod(p.c_str(), 0600);
    }

    fs::path dir_;
    int port_ = 0;
    std::string pg_ctl_ = bindir() + "/pg_ctl";
};

// The cluster of this process: the shared one under ctest, else one of its own, stopped
// and removed at exit.
inline Cluster& cluster() {
    struct Private {
        std::string dir;
        std::unique_ptr<Cluster> cluster;
        ~Private() {
            if (!cluster) return;
            cluster->stop();
            std::error_code ec;
            fs::remove_all(dir, ec);
        }
    };
    static Private owned;
    static Cluster* shared = [] {
        if (const char* env = std::getenv("RM_PG_CLUSTER"); env != nullptr && *env != '\0') {
            return new Cluster(env);  // lives to the end of the process; the cleanup test stops it
        }
        std::string tmpl = (fs::temp_directory_path() / "rm-pg-XXXXXX").string();
        if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("cannot make a temporary folder");
        owned.dir = tmpl;
        owned.cluster = std::make_unique<Cluster>(tmpl);
        return owned.cluster.get();
    }();
    return *shared;
}

struct ConnCloser {
    void operator()(PGconn* c) const { PQfinish(c); }
};
using Conn = std::unique_ptr<PGconn, ConnCloser>;

inline Conn connect(const std::string& conninfo) {
    Conn c(PQconnectdb(conninfo.c_str()));
    if (PQstatus(c.get()) != CONNECTION_OK)
        throw std::runtime_error("cannot connect to the test server: " + std::string(PQerrorMessage(c.get())));
    return c;
}

// Runs one statement; throws with the server's message when it fails.
inline void exec(PGconn* c, const std::string& sql) {
    std::unique_ptr<PGresult, decltype(&PQclear)> r(PQexec(c, sql.c_str()), &PQclear);
    const auto status = PQresultStatus(r.get());
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
        throw std::runtime_error(sql + ": " + PQerrorMessage(c));
}

}  // namespace pgdetail

// The first column of the first row of a query that returns one number (a count).
inline std::int64_t pg_count(PGconn* c, const std::string& sql) {
    std::unique_ptr<PGresult, decltype(&PQclear)> r(PQexec(c, sql.c_str()), &PQclear);
    EXPECT_EQ(PQresultStatus(r.get()), PGRES_TUPLES_OK) << sql << ": " << PQerrorMessage(c);
    if (PQresultStatus(r.get()) != PGRES_TUPLES_OK || PQntuples(r.get()) < 1) return -1;
    return std::atoll(PQgetvalue(r.get(), 0, 0));
}

// A database of its own for one test, on the shared server; dropped at the end.
class PgDatabase {
public:
    PgDatabase() {
        auto& c = pgdetail::cluster();
        try {
            c.ensure_running();
        } catch (const std::exception& e) {
            throw std::runtime_error(std::string("no PostgreSQL server for the tests: ") + e.what());
        }
        static std::atomic<int> serial{0};
        name_ = "rmtest_" + std::to_string(::getpid()) + "_" + std::to_string(serial++) + "_" +
                std::to_string(std::random_device{}() % 100000);
        auto admin = pgdetail::connect(c.conninfo("postgres"));
        pgdetail::exec(admin.get(), "CREATE DATABASE " + name_);
        conninfo_ = c.conninfo(name_);
    }
    ~PgDatabase() {
        try {
            auto admin = pgdetail::connect(pgdetail::cluster().conninfo("postgres"));
            pgdetail::exec(admin.get(), "DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
        } catch (...) {
            // The server went away: the cleanup test removes what is left.
        }
    }
    PgDatabase(const PgDatabase&) = delete;
    PgDatabase& operator=(const PgDatabase&) = delete;

    const std::string& conninfo() const { return conninfo_; }
    // The same database over TCP, with a password.
    std::string tcp_conninfo() const { return pgdetail::cluster().tcp_conninfo(name_); }
    const std::string& name() const { return name_; }

private:
    std::string name_;
    std::string conninfo_;
};

}  // namespace rm::test
