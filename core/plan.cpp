#include "core/plan.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <stdexcept>

#include "core/strings.hpp"

namespace rm {

std::string message_id_key(std::string_view value) {
    if (auto id = normalise_message_id(value)) return *id;
    std::string out;
    for (char c : value) {
        if (c != ' ' && c != '\t' && c != '\r' && c != '\n') out += c;
    }
    return out;
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
    std::optional<std::string> new_id;
    if (plan.decision.helpline()) {
        if (headers.message_id()) plan.message_id = message_id_key(*headers.message_id());
        // Every copy of a helpline message must be findable later, so one without a
        // usable Message-ID gets one of ours.
        if (plan.message_id.empty()) {
            new_id = make_message_id(host);
            plan.message_id = *normalise_message_id(*new_id);
            plan.added_message_id = true;
        }
    }
    plan.edits = plan_header_edits(headers, plan.decision, new_id);
    plan.review_recipients = review_recipients(plan.decision, uniform);
    // An empty Message-ID header is replaced rather than joined by a second one.
    if (plan.added_message_id && headers.message_id()) {
        plan.edits.insert(plan.edits.end() - 1, {HeaderEdit::Kind::Delete, "Message-ID", 1, {}});
    }
    return plan;
}

}  // namespace rm
