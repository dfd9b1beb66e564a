// Mail headers as the milter and the sweeper see them: our four headers, the forged
// copies to remove, and Message-IDs.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/policy.hpp"

namespace rm {

inline constexpr std::string_view kHdrLine = "X-Helpline-Line";
inline constexpr std::string_view kHdrDirection = "X-Helpline-Direction";
inline constexpr std::string_view kHdrRetainUntil = "X-Retain-Until";
inline constexpr std::string_view kHdrPolicy = "X-Retention-Policy";
inline constexpr std::array<std::string_view, 4> kOurHeaders = {kHdrLine, kHdrDirection, kHdrRetainUntil,
                                                                 kHdrPolicy};

// A message arriving with more copies of our headers than this, all of them counted
// together, is refused for good (5.7.1): no mail client or list server writes them, so
// only forgery gets there, and each copy would cost the MTA a header deletion.
inline constexpr int kMaxForgedCopies = 20;

// Which of our headers `name` is (any case, surrounding space ignored), if any.
std::optional<size_t> our_header_slot(std::string_view name);

// The header that ties a stamped copy to its own index record: a random token whose keyed
// digest the record keeps. Incoming copies of it are removed like our four headers, so a
// copy that carries one was stamped here, and the sweeper matches it to that record alone
// (a sender can reuse a Message-ID, never a record token).
inline constexpr std::string_view kHdrRecord = "X-Retention-Record";
bool is_record_header(std::string_view name);
// A new token for kHdrRecord: 16 random bytes in lower-case hex.
std::string make_record_token();
// The token in a kHdrRecord value (surrounding space removed), or nothing when the value
// is not one we could have written.
std::optional<std::string> record_token_of(std::string_view value);

// The Message-ID as the index keys it: the first <...> token of the header value with
// any folding white space removed, without the angle brackets. Also accepts a bare id
// (as staff copy it from a mail client, with or without brackets and spaces).
// Gives nothing when no plausible id is there.
std::optional<std::string> normalise_message_id(std::string_view value);

// A new Message-ID value "<...@domain>" for a message that arrived without one.
std::string make_message_id(std::string_view domain);

// Headers of one message, gathered one by one as the MTA passes them.
class HeaderTracker {
public:
    // Message-ID values kept; a message with more keeps counting them (message_id_count).
    static constexpr size_t kMaxMessageIds = 64;

    void add(std::string_view name, std::string_view value);
    int count(size_t slot) const { return ours_[slot]; }
    int record_count() const { return records_; }  // incoming copies of kHdrRecord
    // Copies of all of our headers together (the four and kHdrRecord).
    int ours_total() const;
    bool too_many_forged() const { return ours_total() > kMaxForgedCopies; }
    // More Message-ID headers than any honest message has (it has one): each but one would
    // cost the MTA a header deletion.
    bool too_many_message_ids() const { return message_id_count_ > kMaxForgedCopies; }
    const std::optional<std::string>& from() const { return from_; }
    // Every Message-ID value, in order (the first kMaxMessageIds).
    const std::vector<std::string>& message_ids() const { return message_ids_; }
    int message_id_count() const { return message_id_count_; }
    size_t total() const { return total_; }

private:
    std::array<int, kOurHeaders.size()> ours_{};
    int records_ = 0;
    std::optional<std::string> from_;
    std::vector<std::string> message_ids_;
    int message_id_count_ = 0;
    size_t total_ = 0;
};

struct HeaderEdit {
    enum class Kind { Delete, Add };
    Kind kind;
    std::string name;
    int index = 0;      // Delete: 1-based instance among headers of this name
    std::string value;  // Add
    bool operator==(const HeaderEdit&) const = default;
};

// How the milter settles a helpline message's identity (see plan_message).
struct IdentityEdits {
    std::optional<std::string> record_token;    // stamped mail: the kHdrRecord value to add
    int message_ids = 0;                        // Message-ID instances in the message
    int keep_message_id = 0;                    // the instance kept (1-based); every other is deleted
    std::optional<std::string> new_message_id;  // a Message-ID to add
};

// The edits that make a message carry exactly our headers (when `stamp`) or none of
// them: every incoming copy (ours and kHdrRecord) deleted, highest instance first (Postfix
// shifts later instances after a deletion), every Message-ID but the one kept deleted
// likewise, then ours added, then a Message-ID if one is needed.
std::vector<HeaderEdit> plan_header_edits(const HeaderTracker& seen, const Decision& decision,
                                          const IdentityEdits& identity);

// The four header values for a decision, in kOurHeaders order.
std::array<std::string, 4> our_header_values(const Decision& decision);

}  // namespace rm
