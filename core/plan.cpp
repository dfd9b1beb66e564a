#include "core/plan.hpp"

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

MessagePlan plan_message(const Config& config, const MessageFacts& facts, const HeaderTracker& headers,
                         const std::string& host) {
    MessagePlan plan;
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
    // An empty Message-ID header is replaced rather than joined by a second one.
    if (plan.added_message_id && headers.message_id()) {
        plan.edits.insert(plan.edits.end() - 1, {HeaderEdit::Kind::Delete, "Message-ID", 1, {}});
    }
    return plan;
}

}  // namespace rm
