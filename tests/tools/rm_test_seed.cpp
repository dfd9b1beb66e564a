// rm-test-seed: puts rows, destructions, receipts and journal lines into a real index,
// through the db library, so tests can drive the real retentionctl without an MTA.
// Test-only: never installed. Makes the index and key when missing, as the milter does.
//
//   rm-test-seed CONFIG row MESSAGE-ID LINES DIRECTION POLICY PASSED RETAIN_UNTIL
//   rm-test-seed CONFIG pending MESSAGE-ID LINES DIRECTION POLICY PASSED RETAIN_UNTIL
//   rm-test-seed CONFIG destroy MESSAGE-ID YYYY-MM-DD
//   rm-test-seed CONFIG receipt HOURS-AGO EXIT-CODE
//   rm-test-seed CONFIG remember-key          (what the milter does at start)
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/message_id_key.hpp"
#include "db/index.hpp"
#include "db/journal.hpp"
#include "../unit/index_test_util.hpp"

namespace {

using namespace rm;

Date date_arg(const std::string& s) {
    const auto d = parse_date(s);
    if (!d) throw std::runtime_error("not a date: " + s);
    return *d;
}

MessageRow row_of(const DigestKey& key, const std::vector<std::string>& a) {
    MessageRow r;
    r.digest = key.digest(message_id_key(a[0]));
    r.queue_id = "4QSEED" + std::to_string(a[0].size());
    r.lines = a[1];
    r.direction = a[2];
    r.policy = a[3];
    r.passed_on = date_arg(a[4]);
    r.retain_until = date_arg(a[5]);
    return r;
}

int run(const std::string& config_path, const std::string& what, const std::vector<std::string>& a) {
    const Config c = load_config(config_path);
    const DigestKey key = DigestKey::load_or_create(c.index.key_file, c.index.path, true);
    if (what == "pending" && a.size() == 6) {
        PendingJournal(c.index).append(row_of(key, a));
        return 0;
    }
    auto index = test::TestIndex::open(c.index.path, {.create = true, .read_only = false, .busy_timeout_ms = 5000});
    if (what == "row" && a.size() == 6) {
        index->insert({row_of(key, a)});
    } else if (what == "destroy" && a.size() == 2) {
        index->mark_destroyed(key.digest(message_id_key(a[0])), std::chrono::sys_days{date_arg(a[1])}, 2);
    } else if (what == "receipt" && a.size() == 2) {
        Receipt r;
        r.run_at = std::chrono::system_clock::now() - std::chrono::hours(std::stoi(a[0]));
        r.exit_code = std::stoi(a[1]);
        r.counts_json = R"({"destroyed":0})";
        index->add_receipt(r, {});
    } else if (what == "remember-key" && a.empty()) {
        index->remember_key(key);
    } else {
        std::fprintf(stderr, "rm-test-seed: bad arguments for %s\n", what.c_str());
        return 2;
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: rm-test-seed CONFIG row|pending|destroy|receipt ARGS...\n");
        return 2;
    }
    try {
        return run(argv[1], argv[2], std::vector<std::string>(argv + 3, argv + argc));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "rm-test-seed: %s\n", e.what());
        return 1;
    }
}
