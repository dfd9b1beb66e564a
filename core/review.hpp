// Review sampling: a line with a review_mailbox gets a blind copy of a share
// (review_sample) of its outbound replies, for its managers to review. The milter adds
// the mailbox as a recipient at end of message; nothing is recorded about which replies
// were sampled.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/policy.hpp"

namespace rm {

// A uniform random number in [0, 1), for sampling replies. Injected so tests can choose.
using UniformRandom = std::function<double()>;
double secure_uniform();  // from OpenSSL's generator

// Which review mailboxes get a blind copy of an outbound reply: each line with a
// review_mailbox samples its share of replies independently. Only outbound mail is
// sampled: the policy speaks of monitoring replies.
std::vector<std::string> review_recipients(const Decision& decision, const UniformRandom& uniform);

// Whether any line samples replies for review: only then does the milter ask the MTA
// for the right to add recipients.
bool samples_reviews(const Config& config);

}  // namespace rm
