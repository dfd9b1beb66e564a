// The retention policy applied to one message: which lines it touches, which way it
// goes, and the first day on which it may be destroyed. Pure functions of the facts.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "core/config.hpp"

namespace rm {

enum class Direction { Inbound, Outbound, Internal };
const char* to_string(Direction d);
std::optional<Direction> parse_direction(std::string_view s);

// What the MTA told us about one message.
struct MessageFacts {
    std::string envelope_sender;          // as given at MAIL FROM, "<>" for bounces
    std::vector<std::string> recipients;  // as given at RCPT TO
    std::optional<std::string> header_from;  // the raw value of the first From: header
    bool trusted = false;                 // see is_trusted_client()
    std::chrono::system_clock::time_point passed_at;
};

struct Decision {
    // The lines the message touches, in config order (the X-Helpline-Line order).
    std::vector<const Line*> lines;
    Direction direction = Direction::Inbound;
    std::string policy;  // the policy that gives the latest date
    Date passed_on{};
    Date retain_until{};
    bool stamp = false;           // write our headers into the message
    bool spoof_attempt = false;   // an untrusted client claimed a helpline sender

    bool helpline() const { return !lines.empty(); }
    std::string line_tags() const;  // "a,b"
};

// The MTA-side facts that make a client trusted: SMTP AUTH, an internal address,
// or a submission service named by {daemon_name}.
bool is_trusted_client(const MilterSection& m, const std::string& auth_authen,
                       const std::string& client_addr, const std::string& daemon_name);

// The lines an address belongs to, in config order (normally zero or one).
std::vector<const Line*> lines_of_address(const Config& c, std::string_view raw_address);

Decision decide(const Config& c, const MessageFacts& facts);

}  // namespace rm
