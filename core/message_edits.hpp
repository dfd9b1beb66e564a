// The milter's end-of-message edits, as a pure function of what the MTA told it: the
// policy decision, the header edits, the Message-ID to index, the review recipients.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/headers.hpp"
#include "core/message_id_key.hpp"
#include "core/policy.hpp"
#include "core/review.hpp"

namespace rm {

struct MessagePlan {
    Decision decision;
    std::vector<HeaderEdit> edits;
    std::string message_id;  // normalised; empty when the message is not helpline mail
    bool added_message_id = false;
    // Stamped helpline mail: the token of kHdrRecord, whose digest the index row keeps.
    std::string record_token;
    // Review mailboxes to add as blind recipients: managers' occasional sample of replies.
    std::vector<std::string> review_recipients;
    // More than kMaxForgedCopies copies of our headers: the message is refused for good,
    // nothing is recorded or edited (the other fields are left empty).
    bool refuse_forged = false;
    // Helpline mail with more than kMaxForgedCopies Message-ID headers: refused for good
    // likewise (all but one would have to be deleted).
    bool refuse_message_ids = false;
};

// `host` names the MTA (macro j) for a Message-ID we have to add.
MessagePlan plan_message(const Config& config, const MessageFacts& facts, const HeaderTracker& headers,
                         const std::string& host, const UniformRandom& uniform = secure_uniform);

}  // namespace rm
