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

// A header value as libmilter hands it over: up to its first NUL byte. The sweeper reads
// the file's bytes and cuts them the same way, so both key the same text.
std::string_view up_to_nul(std::string_view value);

// The id in a Message-ID header value (read up to a NUL), or nothing when the value holds
// no usable id: empty, "<>", a lone "<", white space inside a bare id...
std::optional<std::string> usable_message_id(std::string_view value);

// The key the index uses for a Message-ID header value: usable_message_id() when it
// finds an id, else the value with its white space removed (how a malformed id was keyed
// before the milter replaced such ids; a pasted id is keyed the same way). Empty for an
// empty value.
std::string message_id_key(std::string_view value);

// The Message-ID a header block is indexed by, given every Message-ID value in order: the
// first usable one. The milter deletes the unusable ones before it, so it is also the one
// mail clients show. With none usable, message_id_key() of the first; empty with none.
std::string indexed_message_id(const std::vector<std::string_view>& values);
// How many leading Message-ID headers are unusable (all of them when none is usable).
size_t unusable_message_ids_first(const std::vector<std::string_view>& values);

}  // namespace rm
