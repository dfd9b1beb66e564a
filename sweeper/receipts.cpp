#include "sweeper/receipts.hpp"

#include <algorithm>
#include <charconv>
#include <optional>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "core/strings.hpp"
#include "sweeper/sweep.hpp"

namespace rm::sweep {

using std::chrono::seconds;
using std::chrono::system_clock;

void Receipts::add(const Digest& d) {
    if (seen_.insert(d).second) digests_.push_back(d);
}

system_clock::time_point Receipts::recover_interrupted(const Index& index, system_clock::time_point now) {
    const auto text = index.get_meta(kMetaInProgress);
    if (!text || text->empty()) return now;
    const auto j = nlohmann::json::parse(*text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return now;
    const auto last = index.last_receipt();
    // The killed run got as far as its own receipt: nothing to recover.
    if (j.value("after_receipt", std::int64_t{0}) != (last ? last->id : 0)) return now;
    const auto started = system_clock::time_point(seconds(j.value("started", std::int64_t{0})));
    for (const auto& h : j.value("digests", std::vector<std::string>{})) {
        const auto d = from_hex(h);
        if (!d) continue;
        const auto rows = index.rows_for(*d);
        const bool destroyed_then = !rows.empty() && std::all_of(rows.begin(), rows.end(), [&](const MessageRow& r) {
            return r.state == RowState::Destroyed && r.destroyed_at && *r.destroyed_at >= started;
        });
        if (destroyed_then) add(*d);
    }
    spdlog::info("an earlier sweep was interrupted; {} message(s) it destroyed join this run's receipt",
                 digests_.size());
    return std::min(started, now);
}

void Receipts::write_in_progress(Index& index, const Plan& plan, system_clock::time_point started,
                                 const OwnFiles& own) const {
    nlohmann::json j;
    j["started"] = epoch_seconds(started);
    const auto last = index.last_receipt();
    j["after_receipt"] = last ? last->id : 0;
    std::set<std::string> hex;
    for (const auto& d : digests_) hex.insert(to_hex(d));
    for (const auto& d : plan.destroys)
        if (d.kind == DestroyKind::Message) hex.insert(to_hex(d.digest));
    for (const auto& u : plan.unseen) hex.insert(to_hex(u.digest));
    j["digests"] = hex;
    j["own"] = nlohmann::json::parse(own.to_json());
    index.set_meta(kMetaInProgress, j.dump());
}

void Receipts::append(Index& index, system_clock::time_point run_at, Date today, const Summary& summary,
                      int exit_code) const {
    Receipt r;
    r.run_at = run_at;
    r.today = today;
    r.counts_json = receipt_counts_json(summary);
    r.destroyed = static_cast<std::int64_t>(digests_.size());
    r.exit_code = exit_code;
    index.add_receipt(r, digests_);
}

}  // namespace rm::sweep
