// A generated world for sweeper tests: a temp folder with Maildir++ stores, an index with
// its key, and a config naming them. Dates are relative to a fixed "now", passed to the
// sweep as its clock, so no test needs clock games.
#pragma once

#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <atomic>
#include <cstdlib>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/maildir.hpp"
#include "core/message_id_key.hpp"
#include "core/strings.hpp"
#include "db/index.hpp"
#include "db/journal.hpp"
#include "index_test_util.hpp"
#include "sweeper/sweep.hpp"

namespace sweeptest {

namespace fs = std::filesystem;
using namespace std::chrono;

inline std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

inline void spit(const fs::path& p, const std::string& bytes) {
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary | std::ios::trunc) << bytes;
}

inline void make_maildir(const fs::path& p) {
    for (const char* sub : {"cur", "new", "tmp"}) fs::create_directories(p / sub);
}

inline rm::Date date(const char* text) { return *rm::parse_date(text); }

inline system_clock::time_point at(const char* day, int hour = 3) {
    return sys_days{date(day)} + hours{hour};
}

// Every regular file and symlink under `root` with its bytes (symlinks: their target),
// for "nothing changed" comparisons.
inline std::map<std::string, std::string> tree(const fs::path& root) {
    std::map<std::string, std::string> out;
    for (const auto& e : fs::recursive_directory_iterator(root)) {
        const std::string rel = fs::relative(e.path(), root).string();
        if (e.is_symlink()) out[rel] = "-> " + fs::read_symlink(e.path()).string();
        else if (e.is_regular_file()) out[rel] = slurp(e.path());
        else if (e.is_directory()) out[rel + "/"] = "";
    }
    return out;
}

// The sweeper tests' fixed clock: rows dated kPast are due at kNow, rows dated kFuture not yet.
inline const auto kNow = at("2026-06-15");
inline constexpr const char* kPast = "2026-06-01";
inline constexpr const char* kFuture = "2026-07-01";

// How many files a sweep skipped for that reason.
inline long skips(const rm::sweep::Summary& s, rm::sweep::Skip why) {
    const auto it = s.skips.find(why);
    return it == s.skips.end() ? 0 : it->second;
}

class World {
public:
    World() {
        std::string t = (fs::temp_directory_path() / "rm-sweep-XXXXXX").string();
        if (!::mkdtemp(t.data())) throw std::runtime_error("mkdtemp");
        dir = t;
        fs::create_directories(dir / "state");
        fs::create_directories(dir / "etc");
        index_path = (dir / "state" / "index.sqlite3").string();
        key_path = (dir / "etc" / "index.key").string();
        key = std::make_unique<rm::DigestKey>(rm::DigestKey::load_or_create(key_path, index_path, true));
        index = rm::test::TestIndex::open(index_path, {.create = true, .read_only = false, .busy_timeout_ms = 5000});
        // The sweep logs through spdlog's default logger; RM_TEST_LOG=1 shows it.
        if (!std::getenv("RM_TEST_LOG")) spdlog::set_level(spdlog::level::off);
        shared_a = dir / "vmail" / "respectphoneline.org.uk" / "info";
        shared_b = dir / "vmail" / "mensadviceline.org.uk" / "info";
        staff = dir / "vmail" / "respect.org.uk";
        letters = dir / "letters";
        // Both lines' shared mailboxes exist, empty; tests remove one to see it missing.
        make_maildir(shared_a);
        make_maildir(shared_b);
        fs::create_directories(staff);  // the staff domain's folder, no mailbox in it yet
    }
    ~World() {
        index.reset();
        std::error_code ec;
        fs::remove_all(dir, ec);
    }

    fs::path dir;
    std::string index_path, key_path;
    std::unique_ptr<rm::DigestKey> key;
    std::unique_ptr<rm::test::TestIndex> index;
    fs::path shared_a, shared_b, staff, letters;
    std::string sweep_extra;    // lines added under [sweep]
    std::string mailbox_extra;  // more [[sweep.mailbox]] / [[sweep.files]] tables
    std::string shared_b_extra;  // keys added to the mens-advice-line shared mailbox's entry
    bool with_files = false;

    // The config: two lines, their shared mailboxes, the staff glob.
    std::string config_text() const {
        std::string t = "[index]\npath = \"" + index_path + "\"\nkey_file = \"" + key_path +
                        "\"\n[log]\nsink = \"stderr\"\nlevel = \"off\"\n"
                        "[policy.email]\nretain = \"6 months\"\n[policy.letter-response]\nretain = \"2 months\"\n"
                        "[[line]]\ntag = \"respect-phoneline\"\naddresses = [\"info@respectphoneline.org.uk\"]\n"
                        "policy = \"email\"\n"
                        "[[line]]\ntag = \"mens-advice-line\"\naddresses = [\"info@mensadviceline.org.uk\"]\n"
                        "policy = \"email\"\n"
                        "[sweep]\n" + sweep_extra +
                        "\n[[sweep.mailbox]]\npath = \"" + shared_a.string() +
                        "\"\nkind = \"shared\"\nline = \"respect-phoneline\"\nuser = \"info@respectphoneline.org.uk\"\n"
                        "[[sweep.mailbox]]\npath = \"" + shared_b.string() +
                        "\"\nkind = \"shared\"\nline = \"mens-advice-line\"\n" + shared_b_extra +
                        "[[sweep.mailbox]]\npath = \"" + (staff / "*").string() +
                        "\"\nkind = \"personal\"\nuser = \"{name}@respect.org.uk\"\n";
        if (with_files) t += "[[sweep.files]]\npath = \"" + letters.string() + "\"\npolicy = \"letter-response\"\n";
        return t + mailbox_extra;
    }

    rm::Config config() const { return rm::parse_config(config_text(), (dir / "etc" / "retention.toml").string()); }

    std::string write_config() const {
        const std::string p = (dir / "etc" / "retention.toml").string();
        spit(p, config_text());
        return p;
    }

    // A message file as a delivery agent writes it; returns its path.
    fs::path deliver(const fs::path& folder, const std::string& message_id, const std::string& sub = "cur",
                     const std::string& extra_headers = "", std::int64_t delivered = 1700000000,
                     const std::string& flags = ":2,S") {
        make_maildir(folder);
        const std::string name = std::to_string(delivered) + ".M" + std::to_string(++serial_) + "P" +
                                 std::to_string(::getpid()) + ".testhost,S=100" + (sub == "cur" ? flags : "");
        const std::string body = "Return-Path: <x@example.org>\nMessage-ID: <" + message_id +
                                 ">\nSubject: confidential " + message_id + "\n" + extra_headers +
                                 "\nThe body of " + message_id + ".\n";
        spit(folder / sub / name, body);
        return folder / sub / name;
    }

    rm::Digest digest(const std::string& message_id) const {
        const std::string value = "<" + message_id + ">";
        return key->digest(legacy_keys ? rm::raw_message_id_key(value) : rm::message_id_key(value));
    }
    // Rows (and their lookups) keyed as the milter keyed them before keys took the form
    // Dovecot's JSON gives: the bytes as they are.
    bool legacy_keys = false;

    // The record token the milter would stamp on a message (`n` tells apart messages that
    // share a Message-ID), and the header line that carries it.
    static std::string token(const std::string& message_id, int n = 0) {
        std::string t = rm::to_hex(std::to_string(std::hash<std::string>{}(message_id + "#" + std::to_string(n))));
        t.resize(32, '0');
        return t;
    }
    static std::string record_header(const std::string& token) { return "X-Retention-Record: " + token + "\n"; }

    // An index row as the milter writes it; with `record_token`, one whose copies were stamped.
    void row(const std::string& message_id, const char* retain_until, const std::string& lines = "respect-phoneline",
             const std::string& direction = "inbound", const std::string& record_token = "") {
        rm::MessageRow r;
        r.digest = digest(message_id);
        if (!record_token.empty()) r.record = key->record_digest(record_token);
        r.queue_id = "Q" + std::to_string(++serial_);
        r.lines = lines;
        r.direction = direction;
        r.policy = "email";
        r.retain_until = date(retain_until);
        r.passed_on = rm::Date{sys_days{r.retain_until} - days{182}};
        index->insert({r});
    }

    std::vector<rm::MessageRow> rows(const std::string& message_id) const { return index->rows_for(digest(message_id)); }

    bool destroyed(const std::string& message_id) const {
        const auto r = rows(message_id);
        if (r.empty()) return false;
        for (const auto& x : r)
            if (x.state != rm::RowState::Destroyed) return false;
        return true;
    }

    rm::sweep::Summary sweep(system_clock::time_point now, rm::sweep::SweepOptions o = {}) {
        last_error.clear();
        return rm::sweep::run_sweep(config(), o, now, last_error);
    }

    // The same in a child process that, when we are root, becomes "nobody" (uid 65534)
    // after handing it the world, so that file modes bind. Only the exit code and the
    // skip counts come back.
    rm::sweep::Summary sweep_as_unprivileged(system_clock::time_point now) {
        if (::geteuid() != 0) return sweep(now);
        constexpr uid_t kNobody = 65534;
        for (const auto& e : fs::recursive_directory_iterator(dir)) {
            if (::lchown(e.path().c_str(), kNobody, kNobody) != 0) throw std::runtime_error("lchown");
        }
        if (::chown(dir.c_str(), kNobody, kNobody) != 0) throw std::runtime_error("chown");
        const fs::path result = dir / "child-result";
        const pid_t pid = ::fork();
        if (pid == 0) {
            if (::setgroups(0, nullptr) != 0 || ::setgid(kNobody) != 0 || ::setuid(kNobody) != 0) _exit(99);
            const auto s = sweep(now);
            std::ofstream out(result);
            out << s.exit_code << "\n";
            for (const auto& [why, n] : s.skips) out << static_cast<int>(why) << " " << n << "\n";
            for (const auto& [tag, c] : s.lines) out << "destroyed " << tag << " " << c.destroyed << "\n";
            out << "error " << last_error << "\n";
            out.close();
            _exit(0);
        }
        int status = 0;
        ::waitpid(pid, &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) throw std::runtime_error("the unprivileged sweep failed");
        rm::sweep::Summary s;
        std::ifstream in(result);
        in >> s.exit_code;
        std::string word;
        long n = 0;
        while (in >> word && word != "error") {
            if (word == "destroyed") {
                std::string tag;
                in >> tag >> n;
                s.lines[tag].destroyed = n;
                continue;
            }
            in >> n;
            s.skips[static_cast<rm::sweep::Skip>(std::stoi(word))] = n;
        }
        std::getline(in, last_error);
        return s;
    }

    // Every file anywhere in the stores whose header names `message_id`.
    std::vector<fs::path> copies(const std::string& message_id) const {
        std::vector<fs::path> out;
        for (const auto& e : fs::recursive_directory_iterator(dir / "vmail")) {
            if (!e.is_regular_file() || e.is_symlink()) continue;
            if (slurp(e.path()).find("Message-ID: <" + message_id + ">") != std::string::npos) out.push_back(e.path());
        }
        return out;
    }

    std::string last_error;

private:
    int serial_ = 0;
};

// What most tests check after a run: the copies are gone and the messages' rows are
// marked destroyed.
inline void expect_gone(const World& w, std::initializer_list<fs::path> copies,
                        std::initializer_list<std::string> message_ids) {
    for (const auto& c : copies) EXPECT_FALSE(fs::exists(c)) << c;
    for (const auto& id : message_ids) EXPECT_TRUE(w.destroyed(id)) << id;
}

// A run that skipped one thing for `why`, and so ended with exit code 4.
inline void expect_one_skip(const rm::sweep::Summary& s, rm::sweep::Skip why) {
    EXPECT_EQ(s.exit_code, 4);
    EXPECT_EQ(skips(s, why), 1);
}

}  // namespace sweeptest
