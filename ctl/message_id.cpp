#include "ctl/message_id.hpp"

#include "core/config.hpp"
#include "core/headers.hpp"
#include "core/message_id_key.hpp"
#include "core/strings.hpp"
#include "ctl/error.hpp"

namespace rm::ctl {

namespace {

constexpr size_t kMaxLength = 998;  // RFC 5322's longest line
constexpr std::string_view kHeaderName = "message-id:";

// Staff sometimes copy the whole header line from "view source"; the name is not
// part of the id, so it goes before the milter's own rules see the value.
std::string_view without_header_name(std::string_view v) {
    v = trim(v);
    if (v.size() >= kHeaderName.size() && iequals(v.substr(0, kHeaderName.size()), kHeaderName))
        v = trim(v.substr(kHeaderName.size()));
    return v;
}

// Tabs and line breaks are folding white space (a long header copied from "view
// source" spans lines); the milter's key drops them. Other control bytes never belong.
bool has_control_characters(std::string_view v) {
    for (char c : v) {
        const auto u = static_cast<unsigned char>(c);
        if ((u < 0x20 && c != '\t' && c != '\r' && c != '\n') || u == 0x7f) return true;
    }
    return false;
}

// The text with its line breaks made spaces, for the UTF-8 check (which refuses them).
std::string unfolded(std::string_view v) {
    std::string out(v);
    for (char& c : out) {
        if (c == '\r' || c == '\n') c = ' ';
    }
    return out;
}

}  // namespace

PastedId parse_pasted_message_id(std::string_view pasted) {
    const std::string_view v = without_header_name(pasted);
    if (v.empty())
        throw CtlError(kExitConfig,
                       "no Message-ID given: paste the value of the message's Message-ID header, "
                       "for example <20260101.abc123@mail.example.org>");
    if (v.size() > kMaxLength)
        throw CtlError(kExitConfig, "the Message-ID given is longer than any mail header line (" +
                                        std::to_string(kMaxLength) + " characters): copy only the Message-ID header's value");
    if (has_control_characters(v) || !is_clean_utf8(unfolded(v)))
        throw CtlError(kExitConfig,
                       "the Message-ID given contains control characters or invalid text: copy it again "
                       "from the message's headers (\"view source\" or \"show all headers\")");
    return PastedId{message_id_key(v), normalise_message_id(v).has_value()};
}

}  // namespace rm::ctl
