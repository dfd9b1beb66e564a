// Everything the milter decides at end-of-message, as a pure function of what the MTA
// told it: the policy decision, the header edits, and the Message-ID to index.
#pragma once

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
};

// `host` names the MTA (macro j) for a Message-ID we have to add.
MessagePlan plan_message(const Config& config, const MessageFacts& facts, const HeaderTracker& headers,
                         const std::string& host);

// The key the index uses for a Message-ID header value: normalise_message_id() when it
// finds an id, else the value with its white space removed (so even a malformed id
// that arrived with the message is found again by the sweeper). Empty for an empty value.
std::string message_id_key(std::string_view value);

}  // namespace rm
