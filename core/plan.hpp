// Everything the milter decides at end-of-message, as a pure function of what the MTA
// told it: the policy decision, the header edits, and the Message-ID to index.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/headers.hpp"
#include "core/policy.hpp"

namespace rm {

struct MessagePlan {
    Decision decision;
    std::vector<HeaderEdit> edits;
    std::string message_id;  // normalised; empty when the message is not helpline mail
    bool added_message_id = false;
    // Review mailboxes to add as blind recipients: managers' occasional sample of replies.
    std::vector<std::string> review_recipients;
    // More than kMaxForgedCopies copies of our headers: the message is refused for good,
    // nothing is recorded or edited (the other fields are left empty).
    bool refuse_forged = false;
};

// A uniform random number in [0, 1), for sampling replies. Injected so tests can choose.
using UniformRandom = std::function<double()>;
double secure_uniform();  // from OpenSSL's generator

// `host` names the MTA (macro j) for a Message-ID we have to add.
MessagePlan plan_message(const Config& config, const MessageFacts& facts, const HeaderTracker& headers,
                         const std::string& host, const UniformRandom& uniform = secure_uniform);

// Which review mailboxes get a blind copy of an outbound reply: each line with a
// review_mailbox samples its share of replies independently. Only outbound mail is
// sampled: the policy speaks of monitoring replies.
std::vector<std::string> review_recipients(const Decision& decision, const UniformRandom& uniform);

// The key the index uses for a Message-ID header value: normalise_message_id() when it
// finds an id, else the value with its white space removed (so even a malformed id
// that arrived with the message is found again by the sweeper). Empty for an empty value.
std::string message_id_key(std::string_view value);

}  // namespace rm
