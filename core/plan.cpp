#include "core/plan.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <stdexcept>

#include "core/strings.hpp"

namespace rm {

std::string_view up_to_nul(std::string_view value) { return value.substr(0, value.find('\0')); }

std::optional<std::string> usable_message_id(std::string_view value) {
    return normalise_message_id(up_to_nul(value));
}

std::string message_id_key(std::string_view value) {
    value = up_to_nul(value);
    if (auto id = normalise_message_id(value)) return *id;
    std::string out;
    for (char c : value) {
        if (c != ' ' && c != '\t' && c != '\r' && c != '\n') out += c;
    }
    return out;
}

size_t unusable_message_ids_first(const std::vector<std::string_view>& values) {
    size_t n = 0;
    while (n < values.size() && !usable_message_id(values[n])) ++n;
    return n;
}

std::string indexed_message_id(const std::vector<std::string_view>& values) {
    const size_t first = unusable_message_ids_first(values);
    if (first < values.size()) return *usable_message_id(values[first]);
    return values.empty() ? std::string() : message_id_key(values.front());
}

double secure_uniform() {
    std::uint64_t r = 0;
    unsigned char buf[sizeof r];
    if (RAND_bytes(buf, sizeof buf) != 1) throw std::runtime_error("no randomness for review sampling");
    std::memcpy(&r, buf, sizeof r);
    return static_cast<double>(r >> 11) / static_cast<double>(std::uint64_t{1} << 53);
}

std::vector<std::string> review_recipients(const Decision& decision, const UniformRandom& uniform) {
    std::vector<std::string> out;
    if (decision.direction != Direction::Outbound) return out;
    for (const Line* l : decision.lines) {
        if (!l->review_mailbox || l->review_sample <= 0.0) continue;
        if (uniform() >= l->review_sample) continue;
        const std::string rcpt = "<" + *l->review_mailbox + ">";
        if (std::find(out.begin(), out.end(), rcpt) == out.end()) out.push_back(rcpt);
    }
    return out;
}

namespace {

// A helpline message keeps the first usable Message-ID it came with and no other: unusable
// ones are deleted, not joined by another (clients show the first), and so are later ones
// (a copy then has one id, the one indexed). One with none usable gets one of ours, so
// every copy can be found later. Stamped mail also gets a record token.
IdentityEdits settle_identity(const HeaderTracker& headers, const std::string& host, MessagePlan& plan) {
    IdentityEdits identity;
    identity.message_ids = headers.message_id_count();
    const std::vector<std::string_view> ids(headers.message_ids().begin(), headers.message_ids().end());
    const size_t unusable = unusable_message_ids_first(ids);
    if (unusable < ids.size()) {
        plan.message_id = *usable_message_id(ids[unusable]);
        identity.keep_message_id = static_cast<int>(unusable) + 1;
    } else {
        identity.new_message_id = make_message_id(host);
        plan.message_id = *normalise_message_id(*identity.new_message_id);
        plan.added_message_id = true;
    }
    if (plan.decision.stamp) {
        plan.record_token = make_record_token();
        identity.record_token = plan.record_token;
    }
    return identity;
}

}  // namespace

MessagePlan plan_message(const Config& config, const MessageFacts& facts, const HeaderTracker& headers,
                         const std::string& host, const UniformRandom& uniform) {
    MessagePlan plan;
    if (headers.too_many_forged()) {
        plan.refuse_forged = true;
        return plan;
    }
    MessageFacts f = facts;
    f.header_from = headers.from();
    plan.decision = decide(config, f);
    if (plan.decision.helpline() && headers.too_many_message_ids()) {
        plan.refuse_message_ids = true;
        return plan;
    }
    IdentityEdits identity;
    if (plan.decision.helpline()) identity = settle_identity(headers, host, plan);
    plan.edits = plan_header_edits(headers, plan.decision, identity);
    plan.review_recipients = review_recipients(plan.decision, uniform);
    return plan;
}

}  // namespace rm
