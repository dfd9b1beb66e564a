#include "core/message_edits.hpp"

namespace rm {

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
