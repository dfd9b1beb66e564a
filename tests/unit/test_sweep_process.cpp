// The real retention-sweep binary: its command line, exit codes, the process clock set
// with faketime, and runs killed with SIGKILL at random moments over a generated store.
#include <signal.h>
#include <spawn.h>
#include <sys/file.h>
#include <sys/wait.h>

#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#include "sweep_test_util.hpp"

using namespace sweeptest;

extern char** environ;

namespace {

struct Ran {
    int code = -1;
    std::string out, err;
};

// Starts the binary with `args` (after an optional wrapper such as faketime), its output
// going to files in `dir`. Returns the pid.
pid_t start(const fs::path& dir, const std::vector<std::string>& args, const std::vector<std::string>& wrapper = {}) {
    std::vector<std::string> all = wrapper;
    all.push_back(RM_SWEEP_BIN);
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, (dir / "out").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&fa, 2, (dir / "err").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    pid_t pid = -1;
    const int rc = posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) throw std::runtime_error("cannot start " + all.front());
    return pid;
}

Ran run(const World& w, const std::vector<std::string>& args, const std::vector<std::string>& wrapper = {}) {
    const pid_t pid = start(w.dir, args, wrapper);
    int status = 0;
    ::waitpid(pid, &status, 0);
    Ran r;
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.out = slurp(w.dir / "out");
    r.err = slurp(w.dir / "err");
    return r;
}

[[maybe_unused]] bool have_faketime() { return ::system("command -v faketime >/dev/null 2>&1") == 0; }

// The tests that set the process clock need faketime, whose LD_PRELOAD cannot come before
// a sanitizer's runtime.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SKIP_UNLESS_FAKETIME_WORKS() GTEST_SKIP() << "libfaketime's LD_PRELOAD cannot come before the sanitizer's runtime"
#else
#define SKIP_UNLESS_FAKETIME_WORKS() \
    if (!have_faketime()) GTEST_SKIP() << "faketime is not installed"
#endif

// The run stopped with exit `code` and told the admin why (`says`, on stderr).
::testing::AssertionResult stops_with(const Ran& r, int code, const std::string& says) {
    if (r.code == code && r.err.find(says) != std::string::npos) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "exit " << r.code << " (want " << code << " saying \"" << says
                                         << "\")\nstderr: " << r.err << "\nstdout: " << r.out;
}

std::string today_plus(int days_from_now) {
    return rm::format_date(rm::Date{floor<days>(system_clock::now()) + days{days_from_now}});
}

}  // namespace

// --- the command line ----------------------------------------------------------------

TEST(SweepBinary, NowIsOnlyAWhatIfForDryRuns) {
    World w;
    const std::string cfg = w.write_config();
    Ran r = run(w, {"-c", cfg, "--now", "2030-01-01"});
    EXPECT_TRUE(stops_with(r, 2, "--dry-run"));
    r = run(w, {"-c", cfg, "--dry-run", "--now", "2030-02-30"});
    EXPECT_TRUE(stops_with(r, 2, "YYYY-MM-DD"));
    r = run(w, {"-c", cfg, "--dry-run", "--now", "2030-01-01", "--json"});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(nlohmann::json::parse(r.out)["today"], "2030-01-01");
}

TEST(SweepBinary, BadUsageAndBadConfigAreExitTwo) {
    World w;
    EXPECT_EQ(run(w, {"--no-such-flag"}).code, 2);
    const Ran r = run(w, {"-c", (w.dir / "missing.toml").string()});
    EXPECT_TRUE(stops_with(r, 2, "missing.toml"));
}

TEST(SweepBinary, AMissingIndexIsARuntimeFailure) {
    World w;
    const std::string cfg = w.write_config();
    w.index.reset();
    fs::remove(w.index_path);
    const Ran r = run(w, {"-c", cfg});
    EXPECT_EQ(r.code, 1);
    EXPECT_FALSE(r.err.empty());
}

TEST(SweepBinary, PrintsTheSummaryAndJson) {
    World w;
    const std::string cfg = w.write_config();
    w.deliver(w.shared_a, "due@x");
    w.row("due@x", today_plus(-1).c_str());
    Ran r = run(w, {"-c", cfg, "--dry-run"});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("respect-phoneline"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("dry run"), std::string::npos);
    EXPECT_EQ(r.out.find(w.dir.string()), std::string::npos);
    r = run(w, {"-c", cfg, "--json"});
    EXPECT_EQ(r.code, 0) << r.err;
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["lines"]["respect-phoneline"]["destroyed"], 1);
    EXPECT_TRUE(w.copies("due@x").empty());
}

TEST(SweepBinary, ABusyLockIsASafetyStop) {
    World w;
    const std::string cfg = w.write_config();
    const int fd = ::open((w.index_path + ".sweep.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0660);
    ASSERT_EQ(::flock(fd, LOCK_EX), 0);
    const Ran r = run(w, {"-c", cfg});
    ::close(fd);
    EXPECT_TRUE(stops_with(r, 3, "another retention-sweep"));
}

TEST(SweepBinary, TheProcessClockSetWithFaketimeDecidesWhatIsDestroyed) {
    SKIP_UNLESS_FAKETIME_WORKS();
    World w;
    const std::string cfg = w.write_config();
    const auto msg = w.deliver(w.shared_a, "future@x");
    w.row("future@x", "2031-03-01");
    Ran r = run(w, {"-c", cfg, "--json"}, {"faketime", "2031-02-28 12:00:00"});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(nlohmann::json::parse(r.out)["today"], "2031-02-28");
    EXPECT_TRUE(fs::exists(msg));
    r = run(w, {"-c", cfg, "--json"}, {"faketime", "2031-03-01 02:00:00"});
    EXPECT_EQ(r.code, 0) << r.err << r.out;
    expect_gone(w, {msg}, {"future@x"});
    // And the real clock is now "earlier than the last sweep".
    r = run(w, {"-c", cfg});
    EXPECT_TRUE(stops_with(r, 3, "earlier than the last sweep"));
}

// A clock ten years ahead (a dead RTC battery, a bad NTP answer) would make every
// row look expired. The real binary under that clock stops with exit 3 and destroys nothing.
TEST(SweepBinary, AClockTenYearsAheadStopsAndDestroysNothing) {
    SKIP_UNLESS_FAKETIME_WORKS();
    World w;
    const std::string cfg = w.write_config();
    Ran r = run(w, {"-c", cfg});
    ASSERT_EQ(r.code, 0) << r.err;  // a last run today
    const auto soon = w.deliver(w.shared_a, "soon@x");
    w.row("soon@x", today_plus(30).c_str());
    const auto later = w.deliver(w.shared_a, "later@x");
    w.row("later@x", today_plus(365 * 5).c_str());
    r = run(w, {"-c", cfg}, {"faketime", today_plus(3653) + " 12:00:00"});
    EXPECT_TRUE(stops_with(r, 3, "max_clock_jump"));
    EXPECT_TRUE(fs::exists(soon));
    EXPECT_TRUE(fs::exists(later));
    EXPECT_FALSE(w.destroyed("soon@x"));
    EXPECT_FALSE(w.destroyed("later@x"));
    // Back on the right clock, the next run goes on as if nothing happened.
    r = run(w, {"-c", cfg});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_TRUE(fs::exists(soon));
}

// --- killed at random moments ------------------------------------------------------------

namespace {

// One generated message and what must become of it.
struct Expect {
    std::string id;
    bool must_go = false;        // expired and not held
    enum Where { Shared, PersonalSent, PersonalTrash } where = Shared;
    fs::path shared_box;         // the line's shared mailbox
    std::vector<fs::path> paths;  // where it was put
};

struct Store {
    std::vector<Expect> messages;
    std::map<fs::path, std::string> untouchable;  // staff's own mail and orphans, with their bytes
};

Store generate(World& w, int n, std::mt19937& rng) {
    Store store;
    std::uniform_real_distribution<double> u(0, 1);
    std::uniform_int_distribution<int> age(0, 120);
    const std::vector<std::string> staff = {"alice", "bob", "carol", "dave", "erin"};
    const std::vector<std::string> folders = {"", ".Sent", ".Archive", ".Deleted Items", ".Old.2024"};
    make_maildir(w.shared_a / ".Sent");  // shared_b has none: the first move creates it
    for (int i = 0; i < n; ++i) {
        Expect e;
        e.id = "m" + std::to_string(i) + "@gen.example";
        const bool a = i % 2 == 0;
        e.shared_box = a ? w.shared_a : w.shared_b;
        const std::string line = a ? "respect-phoneline" : "mens-advice-line";
        const bool expired = u(rng) < 0.3;
        const bool held = expired && u(rng) < 0.07;
        e.must_go = expired && !held;
        const double kind = u(rng);
        e.where = kind < 0.7 ? Expect::Shared : kind < 0.9 ? Expect::PersonalSent : Expect::PersonalTrash;
        const std::string& person = staff[static_cast<size_t>(i) % staff.size()];
        const std::string sub = u(rng) < 0.2 ? "new" : "cur";
        if (e.where == Expect::Shared) {
            const fs::path folder = e.shared_box / folders[static_cast<size_t>(i) % folders.size()];
            e.paths.push_back(w.deliver(folder, e.id, sub));
            if (u(rng) < 0.1) {  // a Dovecot copy into another folder: a hard link
                make_maildir(e.shared_box / ".Copies");
                const fs::path link = e.shared_box / ".Copies" / "cur" / e.paths[0].filename();
                fs::create_hard_link(e.paths[0], link);
                e.paths.push_back(link);
            }
        } else if (e.where == Expect::PersonalSent) {
            e.paths.push_back(w.deliver(w.staff / person / (i % 3 ? ".Sent" : ".Sent Items"), e.id, sub));
        } else {
            // A stamped copy a staff member received and deleted: it carries its record token.
            e.paths.push_back(w.deliver(w.staff / person / ".Trash", e.id, sub, World::record_header(World::token(e.id))));
        }
        const int days_off = expired ? -age(rng) : 1 + age(rng);
        w.row(e.id, today_plus(days_off).c_str(), line, e.where == Expect::PersonalSent ? "outbound" : "inbound",
              e.where == Expect::PersonalTrash ? World::token(e.id) : "");
        if (held) w.index->hold(w.digest(e.id), "safeguarding", "CASE-" + std::to_string(i), "tester", system_clock::now());
        store.messages.push_back(std::move(e));
    }
    // The staff's own mail (no index row) and orphans in the shared mailboxes.
    for (int i = 0; i < n / 5; ++i) {
        const std::string& person = staff[static_cast<size_t>(i) % staff.size()];
        const fs::path folder = w.staff / person / (i % 3 == 0 ? "" : i % 3 == 1 ? ".Sent" : ".Trash");
        const auto p = w.deliver(folder, "own" + std::to_string(i) + "@staff.example");
        store.untouchable[p] = slurp(p);
    }
    for (int i = 0; i < n / 10; ++i) {
        const auto p = w.deliver(i % 2 ? w.shared_a : w.shared_b, "orphan" + std::to_string(i) + "@old.example");
        store.untouchable[p] = slurp(p);
    }
    return store;
}

// Every file below `root` whose name is ours: nothing may be left half-done.
std::vector<fs::path> our_leftovers(const fs::path& root) {
    std::vector<fs::path> out;
    for (const auto& e : fs::recursive_directory_iterator(root)) {
        if (e.path().filename().string().rfind(".retention-sweep.", 0) == 0) out.push_back(e.path());
    }
    return out;
}

// Message-ID -> every file that carries it, in one pass over the stores.
std::map<std::string, std::vector<fs::path>> all_copies(const fs::path& root) {
    std::map<std::string, std::vector<fs::path>> out;
    for (const auto& e : fs::recursive_directory_iterator(root)) {
        if (e.is_symlink() || !e.is_regular_file()) continue;
        const std::string bytes = slurp(e.path());
        const auto at = bytes.find("Message-ID: <");
        if (at == std::string::npos) continue;
        const auto end = bytes.find('>', at);
        out[bytes.substr(at + 13, end - at - 13)].push_back(e.path());
    }
    return out;
}

int env_int(const char* name, int fallback) {
    const char* v = std::getenv(name);
    return v && *v ? std::atoi(v) : fallback;
}

// The regular files below root, counted without reading them: cheap enough to poll while a
// run changes the tree (entries that vanish meanwhile are skipped).
size_t count_files(const fs::path& root) {
    size_t n = 0;
    std::error_code ec;
    for (fs::recursive_directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
        std::error_code type_ec;
        n += it->is_regular_file(type_ec);
    }
    return n;
}

// Starts a run and kills it as soon as it has changed the store, so that one kill lands in
// the acting phase (phase 2) even when that phase is too short for random moments to hit.
// True when the run was killed after changing the store.
bool kill_while_acting(const fs::path& dir, const std::string& cfg) {
    const size_t before = count_files(dir / "vmail");
    const pid_t pid = start(dir, {"-c", cfg});
    int status = 0;
    while (::waitpid(pid, &status, WNOHANG) == 0) {
        if (count_files(dir / "vmail") != before) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &status, 0);
            break;
        }
        std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL && count_files(dir / "vmail") != before;
}

}  // namespace

// Kills `kills` runs at random moments, then checks the store and the index. The body of
// the two tests below, one per secure_delete mode (they destroy by different steps).
static void kill_runs_and_check(const std::string& sweep_extra, int kills) {
    const int messages = env_int("RM_SWEEP_KILL_MESSAGES", 300);
    const unsigned seed = static_cast<unsigned>(env_int("RM_SWEEP_KILL_SEED", static_cast<int>(std::random_device{}())));
    SCOPED_TRACE("seed " + std::to_string(seed) + " (RM_SWEEP_KILL_SEED reproduces it)");
    std::mt19937 rng(seed);
    World w;
    w.sweep_extra = sweep_extra;
    const std::string cfg = w.write_config();
    const Store store = generate(w, messages, rng);

    // Kill anywhere from the start to well past the scan: a dry run takes as long as the
    // scan (phase 1); the acting phase follows it.
    const auto t_dry = steady_clock::now();
    ASSERT_EQ(run(w, {"-c", cfg, "--dry-run"}).code, 0);
    const int dry_ms = static_cast<int>(duration_cast<milliseconds>(steady_clock::now() - t_dry).count());
    const int max_ms = env_int("RM_SWEEP_KILL_MAX_MS", std::max(50, dry_ms * 5 / 2));
    std::uniform_int_distribution<int> delay(0, max_ms);
    int killed = 0, killed_acting = 0, left_markers = 0;
    // RM_SWEEP_KILL_AIMED=0 leaves every kill to chance (with RM_SWEEP_KILL_MAX_MS=1 none
    // lands in phase 2, and the test must say so).
    int runs = kills;
    if (env_int("RM_SWEEP_KILL_AIMED", 1) != 0) {
        ++runs;
        if (kill_while_acting(w.dir, cfg)) {
            ++killed;
            ++killed_acting;
        }
    }
    size_t files = tree(w.dir / "vmail").size();
    for (int i = 0; i < kills; ++i) {
        const pid_t pid = start(w.dir, {"-c", cfg});
        std::this_thread::sleep_for(std::chrono::microseconds(delay(rng) * 1000 + delay(rng) * 10));
        ::kill(pid, SIGKILL);
        int status = 0;
        ::waitpid(pid, &status, 0);
        // How far the killed runs got: a run killed after it changed the store was killed
        // while acting (phase 2), the moment the test is for; one that left a destruction
        // half-done was killed inside a step.
        const size_t now_files = tree(w.dir / "vmail").size();
        const bool was_killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
        killed += was_killed;
        killed_acting += was_killed && now_files != files;
        files = now_files;
        left_markers += was_killed && !our_leftovers(w.dir / "vmail").empty();
        if (WIFEXITED(status)) {
            EXPECT_TRUE(WEXITSTATUS(status) == 0) << "run " << i << " exited " << WEXITSTATUS(status) << ": "
                                                  << slurp(w.dir / "err");
        }
    }
    const auto t0 = steady_clock::now();
    const Ran last = run(w, {"-c", cfg, "--json"});
    const auto took = duration_cast<milliseconds>(steady_clock::now() - t0).count();
    ASSERT_EQ(last.code, 0) << last.err << last.out;
    std::cout << "[ sigkill  ] " << killed << " of " << runs << " runs killed; " << killed_acting
              << " of them after changing the store, " << left_markers
              << " left a destruction half-done; the final run took " << took << " ms (kills within " << max_ms
              << " ms of the start); seed " << seed << "\n";
    // A test whose kills all land before or after the acting phase proves nothing about it.
    EXPECT_GT(killed, 0) << "no run was killed: every one ended before its kill";
    EXPECT_GT(killed_acting, 0) << "no kill landed while a run was changing the store (phase 2)";

    // Nothing of ours left half-done, anywhere.
    EXPECT_TRUE(our_leftovers(w.dir / "vmail").empty());

    const auto found = all_copies(w.dir / "vmail");
    for (const Expect& e : store.messages) {
        SCOPED_TRACE(e.id);
        const auto it = found.find(e.id);
        const std::vector<fs::path> copies = it == found.end() ? std::vector<fs::path>{} : it->second;
        if (e.must_go) {
            EXPECT_TRUE(copies.empty()) << copies.front();
            EXPECT_TRUE(w.destroyed(e.id));
            continue;
        }
        EXPECT_FALSE(w.destroyed(e.id));
        for (const auto& r : w.rows(e.id)) EXPECT_EQ(r.state, rm::RowState::Present);
        if (e.where == Expect::PersonalSent) {
            // Moved: exactly one copy, in the line's shared mailbox, stamped at its top.
            ASSERT_EQ(copies.size(), 1u);
            EXPECT_EQ(copies[0].parent_path().parent_path().parent_path(), e.shared_box);
            EXPECT_EQ(slurp(copies[0]).rfind("X-Helpline-Line: ", 0), 0u);
            EXPECT_EQ(rm::maildir_base(copies[0].filename().string()), rm::maildir_base(e.paths[0].filename().string()));
        } else {
            std::set<fs::path> now(copies.begin(), copies.end());
            for (const auto& p : e.paths) {
                // Dovecot does not run here, so nothing renames files: each copy is where it was.
                EXPECT_TRUE(now.count(p)) << p;
            }
            EXPECT_EQ(copies.size(), e.paths.size());
        }
    }
    for (const auto& [path, bytes] : store.untouchable) {
        ASSERT_TRUE(fs::exists(path)) << path;
        EXPECT_EQ(slurp(path), bytes) << path;
    }
    // A clean run over the finished store changes nothing more.
    const auto before = tree(w.dir / "vmail");
    EXPECT_EQ(run(w, {"-c", cfg}).code, 0);
    EXPECT_EQ(tree(w.dir / "vmail"), before);
}

TEST(SweepBinary, RunsKilledAtRandomMomentsLoseNothingAndTheNextRunFinishes) {
    kill_runs_and_check("", env_int("RM_SWEEP_KILL_RUNS", 30));
}

// secure_delete = "unlink" (no markers): a third as many runs, to keep the test command short.
TEST(SweepBinary, RunsKilledInUnlinkModeLoseNothingEither) {
    kill_runs_and_check("secure_delete = \"unlink\"\n", std::max(10, env_int("RM_SWEEP_KILL_RUNS", 30) / 3));
}
