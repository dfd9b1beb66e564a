// Mail addresses as the policy sees them: normalised for matching against lines.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace rm {

struct Address {
    std::string local;   // unquoted, lower-cased, without a "+detail" part
    std::string domain;  // lower-cased, without trailing dots
    std::string text() const { return local + "@" + domain; }
};

// Normalises an envelope address or a header address for matching:
// angle brackets and surrounding space removed, a source route (@a,@b:user@host)
// dropped, a quoted local part unquoted, "+detail" removed (Postfix's default
// recipient_delimiter), case folded, trailing dots of the domain removed.
// The null sender "<>", an address without a domain, or garbage gives nothing.
std::optional<Address> parse_address(std::string_view raw);

// The first address of a From: header value ("Name <a@b>", "a@b (Name)", groups...).
std::optional<Address> parse_from_header(std::string_view value);

// A normalised domain entry for config: lower case, trailing dots removed, a leading
// "." kept (it means "subdomains too"). Gives nothing for an invalid domain.
std::optional<std::string> normalise_domain_entry(std::string_view raw);

// Whether `domain` is matched by the config entry `entry`: an entry "example.org"
// matches that domain only; ".example.org" matches example.org and every subdomain.
bool domain_matches(std::string_view entry, std::string_view domain);

}  // namespace rm
