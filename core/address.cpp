#include "core/address.hpp"

#include "core/strings.hpp"

namespace rm {

namespace {

bool valid_domain(std::string_view d) {
    if (d.empty() || d.size() > 253) return false;
    for (const std::string& label : split(d, '.')) {
        if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
        for (char c : label) {
            const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
            if (!ok) return false;
        }
    }
    return true;
}

// Removes a quoted-string's quotes and backslash escapes.
std::string unquote(std::string_view q) {
    std::string out;
    for (size_t i = 1; i + 1 < q.size(); ++i) {
        if (q[i] == '\\' && i + 2 < q.size()) ++i;
        out += q[i];
    }
    return out;
}

// The position of the '@' that separates local part from domain: the last one
// outside a quoted local part.
size_t find_at(std::string_view s) {
    bool quoted = false;
    size_t at = std::string_view::npos;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\' && quoted) { ++i; continue; }
        if (s[i] == '"') quoted = !quoted;
        else if (s[i] == '@' && !quoted) at = i;
    }
    return at;
}

}  // namespace

std::optional<Address> parse_address(std::string_view raw) {
    std::string_view s = trim(raw);
    if (s.size() > 1024) return std::nullopt;
    if (s.size() >= 2 && s.front() == '<' && s.back() == '>') s = trim(s.substr(1, s.size() - 2));
    // RFC 5321 source route: "@relay1,@relay2:user@host".
    if (!s.empty() && s.front() == '@') {
        const auto colon = s.find(':');
        if (colon == std::string_view::npos) return std::nullopt;
        s = s.substr(colon + 1);
    }
    const size_t at = find_at(s);
    if (at == std::string_view::npos || at == 0) return std::nullopt;
    std::string_view local = s.substr(0, at);
    std::string domain = to_lower(s.substr(at + 1));
    while (!domain.empty() && domain.back() == '.') domain.pop_back();
    if (!valid_domain(domain)) return std::nullopt;

    const bool quoted = local.size() >= 2 && local.front() == '"' && local.back() == '"';
    // A quote outside a quoted-string is no address: "\"+x\"@y" was cut at its '+'
    // to a local part of one quote (found by tests/fuzz/fuzz_address).
    if (!quoted && local.find('"') != std::string_view::npos) return std::nullopt;
    // Nor are other specials outside quotes: "@:@:help@x" left "@:help" as a local part
    // that read back as the source route "@:" before "help@x" (tests/fuzz/fuzz_address).
    if (!quoted && local.find_first_of("()<>[]:;@\\, \t") != std::string_view::npos) return std::nullopt;
    std::string l = quoted ? unquote(local) : std::string(local);
    if (l.empty()) return std::nullopt;
    for (char c : l) {
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return std::nullopt;
    }
    // "info+urgent@" is delivered to "info@"; so it belongs to the same line.
    if (const auto plus = l.find('+'); plus != std::string::npos && plus > 0) l.resize(plus);
    return Address{to_lower(l), domain};
}

std::optional<Address> parse_from_header(std::string_view value) {
    // Folded header values arrive with embedded line breaks; unfold first.
    std::string v;
    for (char c : value) v += (c == '\r' || c == '\n') ? ' ' : c;
    // Drop comments "(...)" and the contents of quoted display names, so that an
    // address-like display name ("info@helpline" <x@y>) cannot pose as the address.
    std::string cleaned;
    int depth = 0;
    bool quoted = false;
    for (size_t i = 0; i < v.size(); ++i) {
        const char c = v[i];
        if (c == '\\' && i + 1 < v.size()) {
            if (depth == 0 && !quoted) { cleaned += c; cleaned += v[i + 1]; }
            ++i;
            continue;
        }
        if (quoted) {
            if (c == '"') quoted = false;
            continue;
        }
        if (c == '(') { ++depth; continue; }
        if (c == ')' && depth > 0) { --depth; continue; }
        if (depth > 0) continue;
        if (c == '"') { quoted = true; continue; }
        cleaned += c;
    }
    const auto lt = cleaned.find('<');
    if (lt != std::string::npos) {
        const auto gt = cleaned.find('>', lt);
        if (gt == std::string::npos) return std::nullopt;
        return parse_address(std::string_view(cleaned).substr(lt + 1, gt - lt - 1));
    }
    // A group "Team: a@b, c@d;" or a list "a@b, c@d": take the first mailbox.
    std::string_view rest = cleaned;
    if (const auto colon = rest.find(':'); colon != std::string_view::npos) rest = rest.substr(colon + 1);
    const auto comma = rest.find_first_of(",;");
    return parse_address(rest.substr(0, comma));
}

std::optional<std::string> normalise_domain_entry(std::string_view raw) {
    std::string d = to_lower(trim(raw));
    while (!d.empty() && d.back() == '.') d.pop_back();
    const bool subdomains = !d.empty() && d.front() == '.';
    if (!valid_domain(subdomains ? std::string_view(d).substr(1) : std::string_view(d))) return std::nullopt;
    return d;
}

bool domain_matches(std::string_view entry, std::string_view domain) {
    if (!entry.empty() && entry.front() == '.') {
        const std::string_view base = entry.substr(1);
        if (domain == base) return true;
        return domain.size() > entry.size() && domain.substr(domain.size() - entry.size()) == entry;
    }
    return entry == domain;
}

}  // namespace rm
