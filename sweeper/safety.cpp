#include "sweeper/safety.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>
#include <vector>


namespace rm::sweep {

using namespace std::chrono;

std::optional<std::string> clock_problem(std::optional<std::int64_t> last_run, std::int64_t now, const Period& max_jump) {
    if (!last_run) return std::nullopt;  // the first run: nothing to compare with
    const auto last = system_clock::time_point(seconds(*last_run));
    const auto current = system_clock::time_point(seconds(now));
    if (now < *last_run)
        return "the clock (" + format_date(utc_date(current)) + ") is earlier than the last sweep (" +
               format_date(utc_date(last)) + "): check the system clock (NTP, RTC battery); run with --force "
               "once it is right";
    // The limit is on dates, like the policy: a run on the day max_clock_jump after the last is fine.
    if (utc_date(current) > add_period(utc_date(last), max_jump))
        return "the clock (" + format_date(utc_date(current)) + ") is more than max_clock_jump (" + max_jump.text() +
               ") after the last sweep (" + format_date(utc_date(last)) +
               "): check the system clock; if the sweeper really has not run for that long, check what it would "
               "do with --dry-run, then run with --force";
    return std::nullopt;
}

int run_command(const std::vector<std::string>& argv, seconds timeout, std::string& error) {
    if (argv.empty()) {
        error = "empty command";
        return -1;
    }
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    const pid_t pid = ::fork();
    if (pid < 0) {
        error = std::string("fork: ") + std::strerror(errno);
        return -1;
    }
    if (pid == 0) {
        // Its output must not mix with our summary (which may be JSON) on stdout.
        ::dup2(STDERR_FILENO, STDOUT_FILENO);
        ::execvp(args[0], args.data());
        _exit(127);
    }
    const auto deadline = steady_clock::now() + timeout;
    int status = 0;
    while (true) {
        const pid_t r = ::waitpid(pid, &status, WNOHANG);
        if (r == pid) break;
        if (r < 0 && errno != EINTR) {
            error = std::string("waitpid: ") + std::strerror(errno);
            return -1;
        }
        if (steady_clock::now() > deadline) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &status, 0);
            error = "took longer than " + std::to_string(timeout.count()) + " seconds and was killed";
            return -1;
        }
        std::this_thread::sleep_for(milliseconds(20));
    }
    if (WIFEXITED(status)) {
        if (WEXITSTATUS(status) == 127) error = "could not be run (not found?)";
        else if (WEXITSTATUS(status) != 0) error = "exited with status " + std::to_string(WEXITSTATUS(status));
        return WEXITSTATUS(status);
    }
    error = "killed by signal " + std::to_string(WTERMSIG(status));
    return -1;
}

}  // namespace rm::sweep
