// Scratch folders, configs and indexes for the retentionctl unit tests.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>

#include "core/config.hpp"
#include "core/period.hpp"
#include "db/index.hpp"
#include "index_test_util.hpp"
#include "temp_dir.hpp"

namespace ctltest {

using rm::test::TempDir;

inline void write_file(const std::string& path, const std::string& text, mode_t mode = 0640) {
    std::ofstream(path, std::ios::trunc) << text;
    ::chmod(path.c_str(), mode);
}

inline void make_dir(const std::string& path, mode_t mode) {
    std::filesystem::create_directories(path);
    ::chmod(path.c_str(), mode);
}

inline void make_maildir(const std::string& path) {
    for (const char* sub : {"cur", "new", "tmp"}) std::filesystem::create_directories(path + "/" + sub);
}

// The shipped example config, as an admin would start from it.
inline std::string example_config_text() {
    std::ifstream in(std::string(RM_SOURCE_DIR) + "/conf/retention.toml");
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

inline std::string replace_all(std::string s, const std::string& from, const std::string& to) {
    for (size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos; pos += to.size()) s.replace(pos, from.size(), to);
    return s;
}

// A config whose every path lies under `root`, and that passes `check` on a system
// where root exists (tests run as any user: the user and group are the caller's).
struct Scene {
    TempDir dir;
    std::string config_path = dir / "retention.toml";
    std::map<std::string, std::string> values;

    Scene();
    std::string text() const;
    void write() const { write_file(config_path, text()); }
    std::string state() const { return dir / "state"; }
    std::string index_path() const { return dir / "state/index.sqlite3"; }
    std::string key_path() const { return dir / "etc/index.key"; }
};

inline std::string user_name() {
    const char* u = std::getenv("USER");
    if (::getuid() == 0) return "root";
    return u ? u : "root";
}

inline Scene::Scene() {
    make_dir(dir / "state", 02770);
    make_dir(dir / "etc", 0750);
    make_dir(dir / "sock", 0750);
    make_dir(dir / "letters", 02770);
    make_maildir(dir / "mail/info");
    make_maildir(dir / "mail/staff/alice");
    make_dir(dir / "logrotate.d", 0755);
}

inline std::string Scene::text() const {
    auto get = [&](const std::string& k, const std::string& def) {
        const auto it = values.find(k);
        return it == values.end() ? def : it->second;
    };
    const std::string d = dir.path().string();
    return "[milter]\n"
           "socket = \"" + get("socket", "unix:" + d + "/sock/milter.sock") + "\"\n"
           "user = \"" + get("user", user_name()) + "\"\n" +
           (get("socket_group", "").empty() ? "" : "socket_group = \"" + get("socket_group", "") + "\"\n") +
           "[index]\n"
           "path = \"" + get("index", d + "/state/index.sqlite3") + "\"\n"
           "key_file = \"" + get("key", d + "/etc/index.key") + "\"\n"
           "[log]\nsink = \"stderr\"\n"
           "[policy.email]\nretain = \"" + get("email", "6 months") + "\"\n"
           "[policy.letter-response]\nretain = \"" + get("letters_period", "2 months") + "\"\n"
           "[[line]]\ntag = \"respect-phoneline\"\nname = \"Respect Phoneline\"\n"
           "addresses = [\"info@respectphoneline.org.uk\"]\npolicy = \"email\"\n" +
           get("extra_line", "") +
           "[sweep]\n" + get("sweep_extra", "") +
           "[[sweep.mailbox]]\npath = \"" + get("mailbox", d + "/mail/info") + "\"\nkind = \"shared\"\nline = \"respect-phoneline\"\n"
           "[[sweep.mailbox]]\npath = \"" + get("personal", d + "/mail/staff/*") + "\"\nkind = \"personal\"\nuser = \"{name}@respect.org.uk\"\n"
           "[[sweep.files]]\npath = \"" + get("letters", d + "/letters") + "\"\npolicy = \"letter-response\"\n" +
           get("tail", "");
}

// A fresh index with its own key, in a scratch folder.
struct IndexScene {
    TempDir dir;
    std::unique_ptr<rm::test::TestIndex> index =
        rm::test::TestIndex::open(dir / "index.sqlite3", {.create = true, .read_only = false, .busy_timeout_ms = 1000});
    rm::DigestKey key = rm::DigestKey::from_bytes(std::string(32, '\x42'));

    // Inserts one row for `message_id` (the key as the milter makes it).
    std::int64_t add(const std::string& message_id_key, const std::string& lines, rm::Date passed, rm::Date until,
                     const std::string& direction = "inbound") {
        rm::MessageRow r;
        r.digest = key.digest(message_id_key);
        r.queue_id = "4ABCDEF";
        r.lines = lines;
        r.direction = direction;
        r.policy = "email";
        r.passed_on = passed;
        r.retain_until = until;
        return index->insert({r}).front();
    }
};

inline rm::Date date(int y, unsigned m, unsigned d) { return rm::Date{std::chrono::year{y}, std::chrono::month{m}, std::chrono::day{d}}; }

inline std::chrono::system_clock::time_point at(rm::Date d, int hour = 12) {
    return std::chrono::sys_days{d} + std::chrono::hours{hour};
}

}  // namespace ctltest
