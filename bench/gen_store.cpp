// gen-store: makes a Maildir++ store and a matching retention index for the sweeper
// benchmark (scripts/bench.sh). Deterministic for a given --messages and --seed, so the
// same tree can be made again for the `find -delete` floor.
//
// Layout under --dir (spread as a real helpline install would be):
//   mail/<line-domain>/info/{cur,new}, .Sent/cur, .Trash/cur       shared mailboxes (kind shared)
//   mail/respect.test/<staffN>/{cur}, .Sent/cur, .Trash/cur         personal mailboxes
//   state/index.sqlite3, state/index.key                           the index, rows to match
//   retention.toml                                                 a config for retention-sweep
//   expired.list                                                   every file the sweep will destroy
//
// What each message is (about --expired of them expire):
//   shared mailboxes, every folder: a helpline message with a row, stamped with its record
//                  token as the milter stamps it; expired or not
//   personal Sent: a mail client's copy of a reply with an expired outbound row (destroyed),
//                  or the member's own mail (no row, never touched); never a live helpline
//                  copy, which would be moved and so change the store between the sweep and
//                  the floor
//   personal Trash: a stamped helpline copy with a row, expired or not (kept)
//   personal INBOX: own mail (not looked at: personal mailboxes are swept in Sent and Trash)
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/period.hpp"
#include "core/message_id_key.hpp"
#include "db/index.hpp"

namespace fs = std::filesystem;

namespace {

struct Options {
    std::string dir;
    long messages = 10000;
    double expired = 0.30;
    int lines = 2;
    int staff = 20;
    unsigned seed = 1;
    int body_bytes = 1500;
};

void write_file(const std::string& path, const std::string& data) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) throw std::runtime_error("cannot create " + path);
    size_t off = 0;
    while (off < data.size()) {
        const ssize_t n = ::write(fd, data.data() + off, data.size() - off);
        if (n <= 0) {
            ::close(fd);
            throw std::runtime_error("cannot write " + path);
        }
        off += static_cast<size_t>(n);
    }
    ::close(fd);
}

void maildir(const std::string& path) {
    for (const char* sub : {"cur", "new", "tmp"}) fs::create_directories(path + "/" + sub);
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"gen-store: a Maildir++ store and its index for the sweeper benchmark"};
    Options o;
    app.add_option("-d,--dir", o.dir, "output folder (must not exist)")->required();
    app.add_option("-n,--messages", o.messages, "messages in all")->capture_default_str();
    app.add_option("-e,--expired", o.expired, "fraction of helpline messages already expired")->capture_default_str();
    app.add_option("--staff", o.staff, "personal mailboxes")->capture_default_str();
    app.add_option("--seed", o.seed, "random seed")->capture_default_str();
    app.add_option("--body-bytes", o.body_bytes, "body size of each message")->capture_default_str();
    CLI11_PARSE(app, argc, argv);
    try {
        if (fs::exists(o.dir)) throw std::runtime_error(o.dir + " exists");
        const std::string mail = o.dir + "/mail", state = o.dir + "/state";
        fs::create_directories(state);
        const std::string index_path = state + "/index.sqlite3", key_path = state + "/index.key";
        const rm::DigestKey key = rm::DigestKey::load_or_create(key_path, index_path, true);
        auto index = rm::Index::open(index_path, {.create = true});
        index->remember_key(key);

        const std::vector<std::string> tags = {"respect-phoneline", "mens-advice-line"};
        const std::vector<std::string> domains = {"respectphoneline.test", "mensadviceline.test"};
        // Folders: {mailbox path, folder ('' = INBOX), kind}
        struct Folder {
            std::string path;  // the Maildir folder
            int line;          // shared: the line; personal: -1
            enum Kind { Shared, PersonalSent, PersonalTrash, PersonalInbox } kind;
        };
        std::vector<Folder> folders;
        for (int l = 0; l < 2; ++l) {
            const std::string box = mail + "/" + domains[static_cast<size_t>(l)] + "/info";
            for (const char* f : {"", "/.Sent", "/.Trash"}) {
                maildir(box + f);
                folders.push_back({box + f, l, Folder::Shared});
            }
        }
        for (int s = 0; s < o.staff; ++s) {
            const std::string box = mail + "/respect.test/staff" + std::to_string(s);
            maildir(box);
            maildir(box + "/.Sent");
            maildir(box + "/.Trash");
            folders.push_back({box, -1, Folder::PersonalInbox});
            folders.push_back({box + "/.Sent", -1, Folder::PersonalSent});
            folders.push_back({box + "/.Trash", -1, Folder::PersonalTrash});
        }

        std::mt19937 rng(o.seed);
        std::uniform_real_distribution<double> u(0, 1);
        const rm::Date today = rm::utc_date(std::chrono::system_clock::now());
        const auto days = [&](int n) { return rm::Date{std::chrono::sys_days{today} + std::chrono::days{n}}; };
        const std::string body(static_cast<size_t>(o.body_bytes), 'b');
        std::ofstream expired_list(o.dir + "/expired.list");
        // Rows in the order the milter would have written them: the older (expired) ones
        // first, so that they share the index's first pages as on a real server, rather
        // than being spread over every page of it.
        std::vector<rm::MessageRow> rows, later_rows;
        long n_expired = 0, n_rows = 0;
        const std::int64_t t0 = 1700000000;
        const time_t now_s = ::time(nullptr);
        for (long i = 0; i < o.messages; ++i) {
            // 70% of messages in shared mailboxes, 30% in personal ones.
            const size_t fi = u(rng) < 0.7 ? static_cast<size_t>(rng() % 6)
                                            : 6 + static_cast<size_t>(rng() % (folders.size() - 6));
            const Folder& folder = folders[fi];
            const Folder* f = &folder;
            bool has_row = false, expired = false;
            switch (f->kind) {
                case Folder::Shared:
                case Folder::PersonalTrash:
                    has_row = true;
                    expired = u(rng) < o.expired;
                    break;
                case Folder::PersonalSent:
                    has_row = u(rng) < o.expired * 2;  // expired helpline copy, else own mail
                    expired = has_row;
                    break;
                case Folder::PersonalInbox: break;
            }
            const int line = f->line >= 0 ? f->line : static_cast<int>(rng() % 2);
            const std::string mid = "<bench-" + std::to_string(o.seed) + "-" + std::to_string(i) + "@respect.test>";
            std::string msg = "Return-Path: <caller@example.net>\n"
                              "Delivered-To: info@" + domains[static_cast<size_t>(line)] + "\n"
                              "Received: from mx.respect.test (localhost [127.0.0.1])\n"
                              "\tby mx.respect.test (Postfix) with ESMTP id 4Q" + std::to_string(i) + "\n"
                              "\tfor <info@" + domains[static_cast<size_t>(line)] + ">; Mon, 1 Jan 2024 10:00:00 +0000 (UTC)\n"
                              "From: Caller <caller@example.net>\n"
                              "To: info@" + domains[static_cast<size_t>(line)] + "\n"
                              "Subject: bench message " + std::to_string(i) + "\n"
                              "Date: Mon, 1 Jan 2024 10:00:00 +0000\n"
                              "Message-ID: " + mid + "\n";
            // A copy the milter stamped carries its record token; a personal Sent copy is the
            // one a mail client saved of a reply, without our headers.
            const bool reply = f->kind == Folder::PersonalSent;
            char token[33];
            std::snprintf(token, sizeof token, "%016llx%016llx", static_cast<unsigned long long>(o.seed),
                          static_cast<unsigned long long>(i));
            if (has_row && !reply) {
                msg += "X-Helpline-Line: " + tags[static_cast<size_t>(line)] + "\nX-Helpline-Direction: inbound\n"
                       "X-Retention-Policy: email\nX-Retention-Record: " + std::string(token) + "\n";
            }
            msg += "\n" + body + "\n";
            const bool in_new = f->kind == Folder::Shared && f->path.find("/.") == std::string::npos && u(rng) < 0.2;
            const std::string name = std::to_string(t0 + i) + ".M" + std::to_string(i) + "P1.bench,S=" +
                                     std::to_string(msg.size()) + (in_new ? "" : ":2,S");
            const std::string path = f->path + (in_new ? "/new/" : "/cur/") + name;
            write_file(path, msg);
            // The file's time is its delivery time, as on a real store: expired messages are
            // 200 days old, the rest 10 (so `find -mtime +180` selects the expired ones).
            const timespec when{now_s - 86400L * (expired ? 200 : 10), 0};
            const timespec times[2] = {when, when};
            if (::utimensat(AT_FDCWD, path.c_str(), times, 0) != 0) throw std::runtime_error("cannot set the time of " + path);
            if (has_row) {
                rm::MessageRow r;
                r.digest = key.digest(rm::message_id_key(mid));
                r.queue_id = "4Q" + std::to_string(i);
                r.lines = tags[static_cast<size_t>(line)];
                r.direction = reply ? "outbound" : "inbound";
                if (!reply) r.record = key.record_digest(token);
                r.policy = "email";
                r.passed_on = expired ? days(-200) : days(-10);
                r.retain_until = expired ? days(-17) : days(170);
                (expired ? rows : later_rows).push_back(std::move(r));
                ++n_rows;
                if (rows.size() >= 20000) {
                    index->insert(rows);
                    rows.clear();
                }
            }
            if (expired) {
                expired_list << path << '\n';
                ++n_expired;
            }
        }
        if (!rows.empty()) index->insert(rows);
        for (size_t from = 0; from < later_rows.size(); from += 20000) {
            const auto end = later_rows.begin() + static_cast<std::ptrdiff_t>(std::min(later_rows.size(), from + 20000));
            index->insert(std::vector<rm::MessageRow>(later_rows.begin() + static_cast<std::ptrdiff_t>(from), end));
        }
        index.reset();

        std::ofstream toml(o.dir + "/retention.toml");
        toml << "[index]\npath = \"" << index_path << "\"\nkey_file = \"" << key_path << "\"\n\n"
             << "[log]\nsink = \"stderr\"\nlevel = \"warn\"\n\n"
             << "[policy.email]\nretain = \"6 months\"\n\n";
        for (int l = 0; l < 2; ++l) {
            toml << "[[line]]\ntag = \"" << tags[static_cast<size_t>(l)] << "\"\nname = \"Line " << l
                 << "\"\naddresses = [\"info@" << domains[static_cast<size_t>(l)] << "\"]\ndomains = [\""
                 << domains[static_cast<size_t>(l)] << "\"]\npolicy = \"email\"\n\n";
        }
        toml << "[sweep]\nsecure_delete = \"unlink\"\nmax_destroy_per_run = 100000000\norphans = \"keep\"\n\n";
        for (int l = 0; l < 2; ++l) {
            toml << "[[sweep.mailbox]]\npath = \"" << mail << "/" << domains[static_cast<size_t>(l)]
                 << "/info\"\nkind = \"shared\"\nline = \"" << tags[static_cast<size_t>(l)] << "\"\n\n";
        }
        toml << "[[sweep.mailbox]]\npath = \"" << mail << "/respect.test/*\"\nkind = \"personal\"\n";
        std::printf("messages=%ld rows=%ld expired=%ld\n", o.messages, n_rows, n_expired);
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "gen-store: %s\n", e.what());
        return 1;
    }
}
