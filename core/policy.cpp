#include "core/policy.hpp"

#include <algorithm>

#include "core/address.hpp"
#include "core/strings.hpp"

namespace rm {

const char* to_string(Direction d) {
    switch (d) {
        case Direction::Inbound: return "inbound";
        case Direction::Outbound: return "outbound";
        case Direction::Internal: return "internal";
    }
    return "inbound";
}

std::optional<Direction> parse_direction(std::string_view s) {
    if (s == "inbound") return Direction::Inbound;
    if (s == "outbound") return Direction::Outbound;
    if (s == "internal") return Direction::Internal;
    return std::nullopt;
}

std::string Decision::line_tags() const {
    std::vector<std::string> tags;
    for (const Line* l : lines) tags.push_back(l->tag);
    return join(tags, ",");
}

bool is_trusted_client(const MilterSection& m, const std::string& auth_authen,
                       const std::string& client_addr, const std::string& daemon_name) {
    if (!auth_authen.empty()) return true;
    if (!daemon_name.empty() &&
        std::find(m.originating_daemons.begin(), m.originating_daemons.end(), daemon_name) !=
            m.originating_daemons.end())
        return true;
    return std::any_of(m.internal_hosts.begin(), m.internal_hosts.end(),
                       [&](const Cidr& c) { return cidr_contains(c, client_addr); });
}

namespace {

bool line_has(const Line& l, const Address& a) {
    const std::string text = a.text();
    if (std::find(l.addresses.begin(), l.addresses.end(), text) != l.addresses.end()) return true;
    return std::any_of(l.domains.begin(), l.domains.end(),
                       [&](const std::string& d) { return domain_matches(d, a.domain); });
}

std::vector<const Line*> lines_of(const Config& c, const std::optional<Address>& a) {
    std::vector<const Line*> out;
    if (!a) return out;
    for (const Line& l : c.lines) {
        if (line_has(l, *a)) out.push_back(&l);
    }
    return out;
}

void add_unique(std::vector<const Line*>& to, const std::vector<const Line*>& from) {
    for (const Line* l : from) {
        if (std::find(to.begin(), to.end(), l) == to.end()) to.push_back(l);
    }
}

}  // namespace

std::vector<const Line*> lines_of_address(const Config& c, std::string_view raw_address) {
    return lines_of(c, parse_address(raw_address));
}

Decision decide(const Config& c, const MessageFacts& facts) {
    Decision d;
    std::vector<const Line*> rcpt_lines;
    bool every_rcpt_a_helpline_address = !facts.recipients.empty();
    for (const auto& r : facts.recipients) {
        const auto ls = lines_of_address(c, r);
        if (ls.empty()) every_rcpt_a_helpline_address = false;
        add_unique(rcpt_lines, ls);
    }

    // Staff often "send as" a helpline with their own envelope address, so the header
    // From counts when it names a line; otherwise the envelope sender does.
    std::vector<const Line*> sender_lines;
    if (facts.header_from) sender_lines = lines_of(c, parse_from_header(*facts.header_from));
    if (sender_lines.empty()) sender_lines = lines_of_address(c, facts.envelope_sender);

    if (facts.trusted) {
        add_unique(d.lines, rcpt_lines);
        add_unique(d.lines, sender_lines);
        d.direction = every_rcpt_a_helpline_address ? Direction::Internal : Direction::Outbound;
    } else {
        // An outsider cannot make mail outbound by claiming a helpline sender.
        d.lines = rcpt_lines;
        d.direction = Direction::Inbound;
        d.spoof_attempt = !sender_lines.empty() && !rcpt_lines.empty();
    }
    if (d.lines.empty()) return d;

    // Config order, so the header reads the same whichever address matched first.
    std::sort(d.lines.begin(), d.lines.end());

    d.passed_on = utc_date(facts.passed_at);
    bool first = true;
    for (const Line* l : d.lines) {
        const PolicyDef& p = c.policy_of(*l);
        const Date until = add_period(d.passed_on, p.retain);
        // The latest date wins; on a tie the earlier line in the config names the policy.
        if (first || until > d.retain_until) {
            d.retain_until = until;
            d.policy = p.name;
            first = false;
        }
    }
    d.stamp = d.direction != Direction::Outbound || c.milter.stamp_outbound;
    return d;
}

}  // namespace rm
